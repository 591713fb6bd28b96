"""10-option multiple choice for BABEL-QA / HuMMan-QA (docs/protocols.md, "10-option QA").

Each question gets its gold answer plus distractors of the same answer type drawn from the
dataset's answer vocabulary: nine of them when the type has more than ten answers, otherwise all
the type's answers. Sampling is seeded by the question id (and a global seed), so the options do
not depend on which other questions are processed, in what order, or on which machine; the gold
position is drawn uniformly.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import chisquare

from .answers import LETTERS, MAX_OPTIONS


def _rng(qid: str, seed: int) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{qid}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def make_options(qid: str, answer: str, pool: Sequence[str], *, seed: int = 0) -> tuple[list[str], int]:
    """(options, index of the gold answer) for one question.

    Raises:
        ValueError: the answer is not in the pool (names the question).
    """
    pool = list(dict.fromkeys(pool))
    if answer not in pool:
        raise ValueError(f"question {qid}: answer {answer!r} is not in its type's vocabulary")
    rng = _rng(qid, seed)
    others = [a for a in pool if a != answer]
    k = min(MAX_OPTIONS - 1, len(others))
    distractors = [others[i] for i in rng.choice(len(others), size=k, replace=False)]
    gold = int(rng.integers(0, k + 1))
    return distractors[:gold] + [answer] + distractors[gold:], gold


@dataclass(frozen=True)
class OptionStats:
    questions: int
    option_counts: dict[int, int]  # number of options -> questions
    gold_positions: dict[int, int]  # gold index -> questions (all questions)
    gold_uniformity_p: float | None  # chi-square p-value of gold positions among 10-option questions
    answers_per_type: dict[str, dict[str, int]]

    def to_dict(self) -> dict:
        return {
            "questions": self.questions,
            "option_counts": {str(k): v for k, v in sorted(self.option_counts.items())},
            "gold_positions": {LETTERS[k]: v for k, v in sorted(self.gold_positions.items())},
            "gold_uniformity_p_10_options": self.gold_uniformity_p,
            "answers_per_type": self.answers_per_type,
        }


def option_stats(rows: Sequence[dict]) -> OptionStats:
    """Statistics of 10-option rows ({options, answer_idx, answer_type, answer})."""
    counts = Counter(len(r["options"]) for r in rows)
    gold = Counter(r["answer_idx"] for r in rows)
    full = [r["answer_idx"] for r in rows if len(r["options"]) == MAX_OPTIONS]
    p = None  # no 10-option question: no test (null in stats.json, which is strict JSON)
    if full:
        observed = np.bincount(full, minlength=MAX_OPTIONS)
        p = float(chisquare(observed).pvalue)
    per_type: dict[str, Counter] = {}
    for r in rows:
        per_type.setdefault(r["answer_type"], Counter())[r["answer"]] += 1
    return OptionStats(
        questions=len(rows),
        option_counts=dict(counts),
        gold_positions=dict(gold),
        gold_uniformity_p=None if p is None else round(p, 6),
        answers_per_type={t: dict(sorted(c.items())) for t, c in sorted(per_type.items())},
    )


def format_stats(name: str, stats: OptionStats) -> str:
    """A few human-readable lines for the console."""
    opts = ", ".join(f"{k}: {v}" for k, v in sorted(stats.option_counts.items()))
    gold = " ".join(f"{LETTERS[k]}={v}" for k, v in sorted(stats.gold_positions.items()))
    types = ", ".join(
        f"{t} {len(a)} answers / {sum(a.values())} q" for t, a in stats.answers_per_type.items()
    )
    return (
        f"{name}: {stats.questions} questions\n"
        f"  options per question: {opts}\n"
        f"  gold position: {gold} (chi-square p over 10-option questions = {stats.gold_uniformity_p})\n"
        f"  {types}"
    )


def options_rows(questions, vocab: dict[str, list[str]], *, seed: int = 0):
    """(rows, problems): one 10-option row per question; answers outside the pool become problems."""
    from harness.core import Problem

    rows, problems = [], []
    for q in questions:
        try:
            options, gold = make_options(q.qid, q.answer, vocab.get(q.answer_type, []), seed=seed)
        except ValueError as e:
            problems.append(Problem(q.answer_type, q.qid, str(e)))
            continue
        rows.append(
            {
                "question_id": q.qid,
                "question": q.question,
                "motion_id": q.motion_id,
                "answer": q.answer,
                "answer_type": q.answer_type,
                "relation": q.relation,
                "options": options,
                "answer_idx": gold,
            }
        )
    return rows, problems


def main(argv: list[str] | None = None) -> int:
    """`smd make-options ROOT`: questions_10opt/{train,val,test}.json and their statistics."""
    import argparse
    from pathlib import Path

    from harness.core import atomic_write_json

    from . import qa

    parser = argparse.ArgumentParser(prog="smd make-options", description=main.__doc__)
    parser.add_argument("root", type=Path, help="QA dataset folder (with questions/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strict", action="store_true", help="exit 1 if any question was skipped")
    args = parser.parse_args(argv)
    dataset = qa.load_qa(args.root)
    out = args.root / "questions_10opt"
    problems = list(dataset.problems)
    stats = {}
    for split in ("train", "val", "test"):
        rows, found = options_rows(dataset.split(split), dataset.vocab, seed=args.seed)
        problems += found
        atomic_write_json(out / f"{split}.json", rows)
        stats[split] = option_stats(rows)
        print(format_stats(f"{dataset.name} {split}", stats[split]))
    report = {
        "seed": args.seed,
        "vocab_sizes": {t: len(v) for t, v in dataset.vocab.items()},
        "splits": {s: st.to_dict() for s, st in stats.items()},
        "problems": [p.to_dict() for p in problems],
    }
    atomic_write_json(out / "stats.json", report)
    print(f"{len(problems)} questions skipped (see {out / 'stats.json'})")
    return 1 if args.strict and problems else 0
