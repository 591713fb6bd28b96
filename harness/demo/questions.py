"""BABEL-QA-style questions and HumanML3D-style captions from segment labels.

Questions use BABEL-QA's templates and IMoRe program strings exactly: a query (action, direction,
body part) about the segment that a filter (an action, a direction or a body part) names, or about
the segment right before / right after it, or the one between two filtered segments. A question is
made only when it has one answer: every filter value occurs in exactly one segment of the motion and
the queried segment carries exactly one value of the queried type. Captions are templated
paraphrases with `word/POS` tokens (nouns and verbs lemmatised, as HumanML3D's spaCy pass does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .actions import BABEL_ACTIONS, BODY_PARTS, DIRECTIONS

QUERY_TYPES = ("action", "direction", "body_part")
RELATIONS = ("no_relation", "before", "after", "in_between")
VOCAB = {"action": BABEL_ACTIONS, "direction": DIRECTIONS, "body_part": BODY_PARTS}
# BABEL-QA never filters by "jumping jacks" ("after they jumping jacks" is not English).
UNFILTERABLE = {"jumping jacks"}

_HEAD = {
    "action": "What action does the person do",
    "direction": "What direction does the person move",
    "body_part": "What body part does the person use",
}
_CLAUSE = {"action": "they {}", "direction": "they move {}", "body_part": "they use their {}"}


@dataclass(frozen=True)
class Question:
    motion_id: str
    question: str
    program: tuple[str, ...]
    answer: str
    query_type: str
    relation: str


@dataclass(frozen=True)
class _Filter:
    kind: str  # attribute type
    value: str
    index: int  # the one segment it names


def _filters(segments: Sequence[Mapping]) -> list[_Filter]:
    """Every (type, value) that names exactly one segment of the motion."""
    where: dict[tuple[str, str], list[int]] = {}
    for i, seg in enumerate(segments):
        for kind in QUERY_TYPES:
            for value in seg["attributes"].get(kind, []):
                where.setdefault((kind, value), []).append(i)
    return [
        _Filter(kind, value, idx[0])
        for (kind, value), idx in where.items()
        if len(idx) == 1 and value not in UNFILTERABLE
    ]


def _answer(segments: Sequence[Mapping], i: int, kind: str) -> str | None:
    if not 0 <= i < len(segments):
        return None
    values = segments[i]["attributes"].get(kind, [])
    return values[0] if len(values) == 1 else None


def _question(motion_id, query, relation, clauses, answer) -> Question:
    """`clauses`: [(relation word, filter)] in question order; the program follows that order."""
    text = " and ".join(f"{word} {_CLAUSE[f.kind].format(f.value)}" for word, f in clauses)
    program = ["[0]=scene(motion_seq)"]
    ends = []
    for word, f in clauses:
        program.append(f"[{len(program)}]=filter_{f.kind}([0], {f.value})")
        if word != "while":
            program.append(f"[{len(program)}]=relate([{len(program) - 1}], {word})")
        ends.append(len(program) - 1)
    if len(ends) == 2:
        program.append(f"[{len(program)}]=intersect([{ends[0]}, {ends[1]}])")
        ends = [len(program) - 1]
    program.append(f"?=query_{query}([{ends[0]}])")
    return Question(motion_id, f"{_HEAD[query]} {text}?", tuple(program), answer, query, relation)


def candidate_questions(
    motion_id: str, segments: Sequence[Mapping], rng: np.random.Generator
) -> list[Question]:
    """Every well-defined question about one motion (labels in the `labels.json` shape)."""
    out = []
    filters = _filters(segments)
    for query in QUERY_TYPES:
        for f in filters:
            if f.kind != query and (ans := _answer(segments, f.index, query)):
                out.append(_question(motion_id, query, "no_relation", [("while", f)], ans))
            if ans := _answer(segments, f.index - 1, query):
                out.append(_question(motion_id, query, "before", [("before", f)], ans))
            if ans := _answer(segments, f.index + 1, query):
                out.append(_question(motion_id, query, "after", [("after", f)], ans))
        for later in filters:
            for earlier in filters:
                if later.index - earlier.index == 2 and (ans := _answer(segments, later.index - 1, query)):
                    clauses = [("before", later), ("after", earlier)]
                    if rng.random() < 0.5:
                        clauses.reverse()
                    out.append(_question(motion_id, query, "in_between", clauses, ans))
    return out


def select_questions(candidates: Sequence[Question], target: int, rng: np.random.Generator) -> list[Question]:
    """About `target` questions balanced over the 12 (query type, relation) cells.

    Each cell gets an equal share (what a cell cannot fill goes to the others); within a cell,
    motions take turns so that questions spread over motions. Keeps the candidates' order.
    """
    cells: dict[tuple[str, str], list[int]] = {(q, r): [] for q in QUERY_TYPES for r in RELATIONS}
    for i, c in enumerate(candidates):
        cells[(c.query_type, c.relation)].append(i)
    ordered = {}
    for cell, idx in cells.items():
        by_motion: dict[str, list[int]] = {}
        for i in rng.permutation(idx).tolist() if idx else []:
            by_motion.setdefault(candidates[i].motion_id, []).append(i)
        turns = [lst for _, lst in sorted(by_motion.items(), key=lambda kv: kv[0])]
        order_m = rng.permutation(len(turns)).tolist() if turns else []
        ordered[cell] = [
            turns[m][k] for k in range(max(map(len, turns), default=0)) for m in order_m if k < len(turns[m])
        ]
    quota = dict.fromkeys(cells, 0)
    left = target
    while left > 0:
        open_cells = [c for c in cells if quota[c] < len(ordered[c])]
        if not open_cells:
            break
        share = max(1, left // len(open_cells))
        for c in open_cells:
            take = min(share, len(ordered[c]) - quota[c], left)
            quota[c] += take
            left -= take
    chosen = sorted(i for c in cells for i in ordered[c][: quota[c]])
    return [candidates[i] for i in chosen]


# ---------------------------------------------------------------- captions

_SUBJECTS = (
    ("a person", "their"),
    ("the person", "their"),
    ("someone", "their"),
    ("a man", "his"),
    ("a woman", "her"),
    ("a human", "their"),
)
_CONNECT = (", then", " and then", ", and then", ", after that", " and", " before he")

# word -> (token, POS); nouns and verbs are lemmatised like HumanML3D's tokens.
_LEX_SPEC = """
a:DET an:DET the:DET their:DET his:DET her:DET its:DET person:NOUN human:NOUN man:NOUN woman:NOUN figure:NOUN
someone:PRON something:PRON he:PRON and:CCONJ then:ADV after:ADP that:PRON before:ADP with:ADP to:ADP
on:ADP from:ADP up:ADP down:ADP back:ADV forward:ADV backwards:ADV backward:ADV ahead:ADV out:ADP
straight:ADV sideways:ADV quickly:ADV slowly:ADV low:ADV in:ADP place:NOUN few:ADJ some:DET one:NUM
both:DET into:ADP over:ADP short:ADJ distance:NOUN ground:NOUN object:NOUN ball:NOUN door:NOUN
steps:VERB,step side:NOUN knee:NOUN knees:NOUN,knee arm:NOUN hand:NOUN leg:NOUN foot:NOUN jump:NOUN
squat:NOUN crouch:NOUN seat:NOUN jumping:VERB,jump jacks:NOUN,jack
walks:VERB,walk takes:VERB,take jogs:VERB,jog runs:VERB,run sprints:VERB,sprint
moves:VERB,move jumps:VERB,jump leaps:VERB,leap hops:VERB,hop does:VERB,do performs:VERB,perform
squats:VERB,squat stands:VERB,stand crouches:VERB,crouch gets:VERB,get kneels:VERB,kneel goes:VERB,go
sits:VERB,sit kicks:VERB,kick throws:VERB,throw waves:VERB,wave raises:VERB,raise catches:VERB,catch
reaches:VERB,reach knocks:VERB,knock places:VERB,place bends:VERB,bend puts:VERB,put picks:VERB,pick
lifts:VERB,lift lowers:VERB,lower turns:VERB,turn around:ADV it:PRON finally:ADV
"""


def _lexicon(spec: str) -> dict[str, tuple[str, str]]:
    out = {}
    for item in spec.split():
        word, tag = item.split(":")
        pos, _, lemma = tag.partition(",")
        out[word] = (lemma or word, pos)
    return out


LEXICON: dict[str, tuple[str, str]] = _lexicon(_LEX_SPEC)
_LIMBS = {"arm", "hand", "leg", "foot", "knee", "knees", "side"}


def _phrases(kind: str, params, pos: str) -> list[str]:
    s, d, part = params.side, params.direction, params.part
    limb = f"{s} {part}" if part and s else None
    other = {"hand": "arm", "arm": "hand", "leg": "foot", "foot": "leg"}.get(part or "", "")
    loco = {
        ("walk", "forward"): ["walks forward", "walks straight ahead", "takes a few steps forward"],
        ("walk", "backwards"): ["walks backwards", "steps backwards", "walks backward a few steps"],
        ("jog", "forward"): ["jogs forward", "jogs ahead", "jogs forward a short distance"],
        ("jog", "backwards"): ["jogs backwards", "jogs backward", "runs slowly backwards"],
        ("run", "forward"): ["runs forward", "runs ahead quickly", "sprints forward"],
        ("run", "backwards"): ["runs backwards", "runs backward quickly", "moves backwards quickly"],
        ("jump", None): ["jumps up", "jumps in place", "does a jump"],
        ("jump", "forward"): ["jumps forward", "leaps forward", "jumps ahead"],
        ("jump", "backwards"): ["jumps backwards", "hops backwards", "jumps back"],
    }
    if (kind, d) in loco:
        return loco[(kind, d)]
    table = {
        "walk": [f"steps to the {d}", f"walks sideways to the {d}", f"steps sideways to {pos} {d}"],
        "jump": [f"jumps to the {d}", f"jumps to {pos} {d}", f"hops sideways to the {d}"],
        "jumping jacks": ["does jumping jacks", "does a few jumping jacks", "performs some jumping jacks"],
        "squat": ["squats down and stands back up", "does a squat", "squats down and up"],
        "crouch": ["crouches down", "crouches low", "gets down into a crouch"],
        "sit": ["sits down", "sits down on something", "takes a seat"],
        "stand up": ["stands up", "gets back up", "stands back up"],
        "kick": [
            f"kicks with {pos} {limb}",
            f"kicks forward with {pos} {s} {other}",
            f"kicks something with the {limb}",
        ],
        "throw": [
            f"throws something with {pos} {limb}",
            f"throws an object with {pos} {s} {other}",
            f"throws a ball with the {limb}",
        ],
        "wave": [f"waves {pos} {limb}", f"waves with {pos} {limb}", f"raises {pos} {s} arm and waves"],
        "catch": [
            f"catches something with {pos} {limb}",
            f"reaches out and catches an object with {pos} {s} hand",
            f"catches a ball with the {limb}",
        ],
        "knock": [
            f"knocks on a door with {pos} {limb}",
            f"knocks on something with {pos} {s} hand",
            f"raises {pos} {s} hand and knocks",
        ],
        "place something": [
            f"places something down with {pos} {limb}",
            f"bends over and puts an object down with {pos} {s} hand",
            f"puts something on the ground with the {limb}",
        ],
        "take/pick something up": [
            f"picks something up with {pos} {limb}",
            f"bends down and picks up an object with {pos} {s} hand",
            f"picks up something from the ground with the {limb}",
        ],
        "raise arm": [
            f"raises {pos} {s} arm and lowers it",
            f"lifts {pos} {s} arm up and puts it down",
            f"raises the {s} arm",
        ],
        "turn": [f"turns to the {d}", f"turns {d}", f"turns around to {pos} {d}"],
    }
    if kind == "kneel":
        if s:
            return [f"kneels down on {pos} {s} knee", "kneels on one knee", f"goes down on {pos} {s} knee"]
        return ["kneels down", f"gets down on {pos} knees", "kneels on both knees"]
    return table[kind]


def tokens(caption: str) -> str:
    """HumanML3D's token field: alphabetic words as `token/POS`, punctuation dropped."""
    words = [w for w in caption.replace(",", " ").replace(".", " ").split() if w.isalpha()]
    out = []
    for i, w in enumerate(words):
        if w in ("left", "right"):
            nxt = words[i + 1] if i + 1 < len(words) else ""
            prev = words[i - 1] if i else ""
            pos = (
                "ADJ" if nxt in _LIMBS else "NOUN" if prev in ("the", "their", "his", "her", "its") else "ADV"
            )
            out.append(f"{w}/{pos}")
            continue
        if w not in LEXICON:
            raise KeyError(f"caption word {w!r} is not in the demo lexicon")
        token, pos = LEXICON[w]
        out.append(f"{token}/{pos}")
    return " ".join(out)


def captions(segments: Sequence, rng: np.random.Generator, n: int = 3) -> list[str]:
    """`n` paraphrased HumanML3D caption lines (`caption#tokens#0.0#0.0`) for one motion.

    `segments`: `compose.SegmentLabel`s (a kind and its parameters each).
    """
    subjects = rng.permutation(len(_SUBJECTS))[:n]
    variants = [rng.permutation(3) for _ in segments]
    lines = []
    for k in range(n):
        subject, pos = _SUBJECTS[int(subjects[k % len(subjects)])]
        parts = [_phrases(seg.kind, seg.params, pos)[int(v[k % 3])] for seg, v in zip(segments, variants)]
        text = f"{subject} {parts[0]}"
        for i, phrase in enumerate(parts[1:], 1):
            options = _CONNECT if pos == "his" else _CONNECT[:-1]
            conn = (
                ", and finally"
                if i == len(parts) - 1 and len(parts) > 2
                else options[int(rng.integers(len(options)))]
            )
            text += f"{conn} {phrase}"
        text += "."
        lines.append(f"{text}#{tokens(text)}#0.0#0.0")
    return lines
