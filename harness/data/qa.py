"""BABEL-QA / HuMMan-QA question loaders, for both published forms of the question files.

Layout of a dataset root (docs/data.md):

    root/questions/   NSPose: `*questions.json` (a dict qid -> record) + `*split_question_ids.json`,
                      or IMoRe: `*_train.json`, `*_val.json`, `*_test.json` (lists of
                      `[question_id, question, program_strs, babel_id, answer]`);
                      plus the answer vocabularies `*_{action,body_part,direction}_answer_vocab.json`
                      and optionally an all-answer `*_answer_vocab.json`.
    root/joints/<id>.npy  or  root/motion_sequences/<id>/joints.npy   (Z up, 30 fps)

Bad questions are skipped and listed as `Problem`s; a dataset that cannot be read at all raises
`DataError`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core import DataError, Problem, read_text

ANSWER_TYPES = ("action", "direction", "body_part")
RELATIONS = ("no_relation", "before", "after", "in_between")
SPLITS = ("train", "val", "test")
QA_FPS = 30.0
QA_UP_AXIS = "z"

_TYPED_VOCAB = re.compile(r"^(?:.*_)?(action|direction|body_part)_answer_vocab\.json$")
_ALL_VOCAB = re.compile(r"^(?:.*_)?answer_vocab\.json$")
_LIST_FILE = re.compile(r"^.+_(train|val|test)\.json$")
# One IMoRe program step: "[2]=relate([1], before)" or "?=query_body_part([5])".
_STEP = re.compile(r"^\s*(\[\s*\d+\s*\]|\?)\s*=\s*(\w+)\s*\((.*)\)\s*$")
_RELATE_ARGS = re.compile(r"^\s*\[\s*\d+\s*\]\s*,\s*(\w+)\s*$")
_NSPOSE_KEYS = ("babel_id", "question", "answer", "query_type", "relation_type")


@dataclass(frozen=True)
class QAQuestion:
    """One question about one motion; `answer` is always in its type's answer pool."""

    qid: str
    question: str
    motion_id: str
    answer: str
    answer_type: str  # one of ANSWER_TYPES
    relation: str  # one of RELATIONS
    split: str


@dataclass
class QADataset:
    """The questions that loaded, the answer pools per type, and what was skipped."""

    name: str
    root: Path
    questions: list[QAQuestion]
    vocab: dict[str, list[str]]
    problems: list[Problem] = field(default_factory=list)

    def split(self, name: str) -> list[QAQuestion]:
        """Questions of one split, in load order.

        Args:
            name: "train", "val", "test", or any other split the split file defines.

        Raises:
            KeyError: for a split name this dataset does not know (catches typos such as "valid").
        """
        known = set(SPLITS) | {q.split for q in self.questions}
        if name not in known:
            raise KeyError(f"unknown split {name!r} in {self.name}; known: {sorted(known)}")
        return [q for q in self.questions if q.split == name]


@dataclass(frozen=True)
class _Record:
    """A parsed question before the split and vocabulary checks."""

    source: Path
    qid: str
    question: str
    motion_id: str
    answer: str
    answer_type: str
    relation: str
    file_split: str | None  # IMoRe: from the file name; NSPose: None


class _Skip(Exception):
    """A question that cannot be used; the message becomes the Problem's message."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8, or not JSON (json.JSONDecodeError)
        raise DataError(f"cannot read JSON file {path}: {exc}") from exc


def _ident(value: Any, what: str) -> str:
    # Ids are strings in both published forms; a bare JSON integer is accepted as its decimal form.
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        raise _Skip(f"{what} must be a non-empty string, got {value!r}")
    return str(value)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Skip(f"{what} must be a non-empty string, got {value!r}")
    return value


def _answer_type(query: Any) -> str:
    if not isinstance(query, str):
        raise _Skip(f"query type must be a string, got {query!r}")
    kind = query.strip().lower().removeprefix("query_").replace(" ", "_")
    if kind not in ANSWER_TYPES:
        raise _Skip(f"unknown query type {query!r} (expected query_{'/query_'.join(ANSWER_TYPES)})")
    return kind


def _parse_program(steps: Any) -> tuple[str, str]:
    """(answer_type, relation) of an IMoRe program given as step strings."""
    if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
        raise _Skip(f"program must be a non-empty list of strings, got {steps!r}")
    parsed = []
    for step in steps:
        match = _STEP.match(step)
        if match is None:
            raise _Skip(f"malformed program step {step!r}")
        parsed.append(match.groups())
    target, function, _ = parsed[-1]
    if target != "?" or any(t == "?" for t, _, _ in parsed[:-1]):
        raise _Skip(f"the program's last step, and only it, must be '?=query_<type>(...)': {steps!r}")
    answer_type = _answer_type(function)
    relations = []
    for _, function, args in parsed:
        if function == "relate":
            match = _RELATE_ARGS.match(args)
            if match is None or match.group(1) not in ("before", "after"):
                raise _Skip(f"malformed relate step arguments {args!r}")
            relations.append(match.group(1))
    if not relations:
        return answer_type, "no_relation"
    if len(relations) == 1:
        return answer_type, relations[0]
    # "after A and before B" is two relate steps joined by intersect: the span in between.
    if sorted(relations) == ["after", "before"] and any(f == "intersect" for _, f, _ in parsed):
        return answer_type, "in_between"
    raise _Skip(f"unsupported relation structure {relations!r} in program {steps!r}")


def _nspose_records(path: Path, data: dict) -> tuple[list[_Record], list[Problem]]:
    records, problems = [], []
    for key, rec in data.items():
        try:
            if not isinstance(rec, dict):
                raise _Skip(f"question record must be a JSON object, got {type(rec).__name__}")
            missing = [k for k in _NSPOSE_KEYS if k not in rec]
            if missing:
                raise _Skip(f"missing key(s) {', '.join(missing)}")
            if "question_id" in rec and str(rec["question_id"]) != key:
                # The split file lists keys; a record naming another id is ambiguous, not guessable.
                raise _Skip(f"question_id {rec['question_id']!r} differs from its key {key!r}")
            relation = rec["relation_type"]
            if relation not in RELATIONS:
                raise _Skip(f"unknown relation_type {relation!r} (expected one of {', '.join(RELATIONS)})")
            records.append(
                _Record(
                    source=path,
                    qid=key,
                    question=_text(rec["question"], "question"),
                    motion_id=_ident(rec["babel_id"], "babel_id"),
                    answer=_text(rec["answer"], "answer"),
                    answer_type=_answer_type(rec["query_type"]),
                    relation=relation,
                    file_split=None,
                )
            )
        except _Skip as exc:
            problems.append(Problem(str(path), key, str(exc)))
    return records, problems


def _imore_records(path: Path, data: Any, split: str) -> tuple[list[_Record], list[Problem]]:
    if not isinstance(data, list):
        raise DataError(f"IMoRe question file {path} must hold a JSON list, got {type(data).__name__}")
    records, problems = [], []
    for index, row in enumerate(data):
        # Name the question by its id when the row has a usable one, else by its position.
        has_id = isinstance(row, list) and row and isinstance(row[0], (str, int))
        item = str(row[0]) if has_id else f"#{index}"
        try:
            if not isinstance(row, list) or len(row) != 5:
                size = len(row) if isinstance(row, list) else type(row).__name__
                raise _Skip(f"expected [question_id, question, program, babel_id, answer], got {size} fields")
            qid, question, program, motion_id, answer = row
            answer_type, relation = _parse_program(program)
            records.append(
                _Record(
                    source=path,
                    qid=_ident(qid, "question_id"),
                    question=_text(question, "question"),
                    motion_id=_ident(motion_id, "babel_id"),
                    answer=_text(answer, "answer"),
                    answer_type=answer_type,
                    relation=relation,
                    file_split=split,
                )
            )
        except _Skip as exc:
            problems.append(Problem(str(path), item, str(exc)))
    return records, problems


def _vocab_entries(path: Path) -> list[str]:
    data = _read_json(path)
    if isinstance(data, dict):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in data.values()):
            raise DataError(f"answer vocabulary {path} must map answer -> integer index")
        answers = [a for a, _ in sorted(data.items(), key=lambda kv: kv[1])]
    elif isinstance(data, list) and all(isinstance(a, str) for a in data):
        answers = data
    else:
        raise DataError(f"answer vocabulary {path} must be a dict answer -> index or a list of answers")
    return list(dict.fromkeys(answers))  # drop repeats, keep first position


def _load_vocab(qdir: Path) -> dict[str, list[str]]:
    typed: dict[str, list[Path]] = {t: [] for t in ANSWER_TYPES}
    everything: list[Path] = []
    for path in sorted(qdir.glob("*answer_vocab.json")):
        match = _TYPED_VOCAB.match(path.name)
        if match:
            typed[match.group(1)].append(path)
        elif _ALL_VOCAB.match(path.name):
            everything.append(path)
    for kind, paths in typed.items():
        if len(paths) != 1:
            found = ", ".join(p.name for p in paths) or "none"
            raise DataError(f"need exactly one *_{kind}_answer_vocab.json in {qdir}, found: {found}")
    if len(everything) > 1:
        names = ", ".join(p.name for p in everything)
        raise DataError(f"more than one all-answer vocabulary in {qdir}: {names}")
    pools = {kind: _vocab_entries(paths[0]) for kind, paths in typed.items()}
    if everything:
        # The typed files can list more than is ever answered (BABEL-QA's action file has 42 entries,
        # only 20 are real answers); distractors must come from real answers only.
        allowed = set(_vocab_entries(everything[0]))
        pools = {kind: [a for a in pool if a in allowed] for kind, pool in pools.items()}
    return pools


def _load_split_file(path: Path) -> tuple[dict[str, str], list[Problem]]:
    data = _read_json(path)
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise DataError(f"split file {path} must be a JSON object {{split: [question_id, ...]}}")
    where: dict[str, str] = {}
    twice: set[str] = set()
    for split, qids in data.items():
        for qid in map(str, qids):
            if qid in where and where[qid] != split:
                twice.add(qid)
            where.setdefault(qid, split)
    problems = [Problem(str(path), qid, "listed in more than one split; skipped") for qid in sorted(twice)]
    return {q: s for q, s in where.items() if q not in twice}, problems


def load_qa(root: Path | str, name: str | None = None) -> QADataset:
    """Load every question of a BABEL-QA-style dataset with its split, answer type and relation.

    NSPose form (a dict-form `*questions.json`) is used when present, else the IMoRe lists.
    A `*split_question_ids.json` decides the splits whenever it exists.

    Args:
        root: dataset folder holding `questions/`.
        name: dataset name for reports; defaults to the folder's name.

    Returns:
        The dataset: questions ordered by split (train, val, test, then any other) and file order,
        answer pools per type, and the skipped questions as problems.

    Raises:
        DataError: no `questions/` folder, no question files, unreadable JSON, a missing or ambiguous
            answer vocabulary, or NSPose questions without a split file.
    """
    root = Path(root)
    qdir = root / "questions"
    if not qdir.is_dir():
        raise DataError(f"questions folder not found: {qdir}")
    split_files = sorted(qdir.glob("*split_question_ids.json"))
    if len(split_files) > 1:
        raise DataError(f"more than one split file in {qdir}: {', '.join(p.name for p in split_files)}")
    dict_files = []
    for path in sorted(qdir.glob("*questions.json")):
        data = _read_json(path)
        if isinstance(data, dict):
            dict_files.append((path, data))
    list_files = sorted(
        (p for p in qdir.glob("*.json") if _LIST_FILE.match(p.name)),
        key=lambda p: (SPLITS.index(_LIST_FILE.match(p.name).group(1)), p.name),
    )
    if not dict_files and not list_files:
        raise DataError(f"no question files (NSPose *questions.json, IMoRe *_train/val/test.json) in {qdir}")
    if dict_files and not split_files:
        raise DataError(f"NSPose questions in {qdir} need a *split_question_ids.json beside them")
    vocab = _load_vocab(qdir)

    records: list[_Record] = []
    problems: list[Problem] = []
    for path, data in dict_files or [(p, _read_json(p)) for p in list_files]:
        found, bad = (
            _nspose_records(path, data)
            if dict_files
            else _imore_records(path, data, _LIST_FILE.match(path.name).group(1))
        )
        records += found
        problems += bad

    split_of: dict[str, str] = {}
    if split_files:
        split_of, bad = _load_split_file(split_files[0])
        problems += bad
    seen: dict[str, _Record] = {}
    questions: list[QAQuestion] = []
    for rec in records:
        split = split_of.get(rec.qid) if split_files else rec.file_split
        first = seen.get(rec.qid)
        if first is not None and first.file_split != rec.file_split:
            message = (
                f"also in {first.source.name} (split {first.file_split!r}): in two splits; the first is kept"
            )
        elif first is not None:
            message = "duplicate question id; the first one is kept"
        elif split is None:
            message = f"not in the split file {split_files[0].name}"
        elif rec.file_split is not None and rec.file_split != split:
            message = f"file says split {rec.file_split!r}, the split file says {split!r}"
        elif rec.answer not in vocab[rec.answer_type]:
            message = f"answer {rec.answer!r} is not in the {rec.answer_type} answer vocabulary"
        else:
            message = ""
        seen.setdefault(rec.qid, rec)
        if message:
            problems.append(Problem(str(rec.source), rec.qid, message))
            continue
        questions.append(
            QAQuestion(rec.qid, rec.question, rec.motion_id, rec.answer, rec.answer_type, rec.relation, split)
        )
    order = {s: i for i, s in enumerate(dict.fromkeys([*SPLITS, *(q.split for q in questions)]))}
    questions.sort(key=lambda q: order[q.split])  # stable: file order within a split
    return QADataset(name or root.name, root, questions, vocab, problems)


def find_motion(root: Path | str, motion_id: str) -> Path:
    """Path of a motion's joints: `root/joints/<id>.npy`, else `root/motion_sequences/<id>/joints.npy`.

    Raises:
        ValueError: an id that is not a plain file name (it would escape the dataset folder).
        FileNotFoundError: neither exists; the message names both candidates.
    """
    if not motion_id or motion_id in (".", "..") or "/" in motion_id or "\\" in motion_id:
        raise ValueError(f"invalid motion id {motion_id!r}")
    root = Path(root)
    candidates = (root / "joints" / f"{motion_id}.npy", root / "motion_sequences" / motion_id / "joints.npy")
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"no joints for motion {motion_id!r}: tried {candidates[0]} and {candidates[1]}")
