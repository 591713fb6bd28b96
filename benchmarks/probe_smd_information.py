"""Does the SMD text carry the answers at all? A bag-of-n-grams classifier, trained and scored as an adapter.

    python benchmarks/probe_smd_information.py                       # the demo's BABEL-QA, scored on val
    python benchmarks/probe_smd_information.py --docs data/demo/babel_qa/docs/v5_top3 --split val

When an adapter does no better on real docs than on their motion-blind control (`<preset>-blind`, each
SMD swapped for another motion's), either the text does not say what the answer needs or the model does
not read it. This probe separates the two without a language model: per answer type (action /
direction / body part), a logistic regression (scikit-learn, its defaults) on TF-IDF word 1-3-grams of
the SMD next to those of the question is fit on the train split's docs and predicts, for each doc of
`--split`, the option with the highest probability among that doc's options (10-option QA: the answer
is always one of them). Three inputs, trained and scored the same way:
  - real:     the docs' own SMD + question
  - blind:    the control docs (same questions, another motion's SMD) + question
  - question: the question alone (what the answer priors and the question's wording give)
and it prints each one's accuracy per type and overall (Wilson 95 % CI, chance), then real - blind and
real - question with a paired-bootstrap 95 % CI and McNemar p (`compare_qa`, as `smd compare`).
real above blind means the text carries the motion's answer; an adapter below the probe's real score
has not learnt what the text offers. An option never seen as an answer in training has no class and
cannot be predicted; a doc none of whose options was seen is scored wrong and counted.

Scored on val by default: the probe reports what the text holds, and a test-split figure invites
tuning to it. Needs the demo's prompt docs (`dvc repro`, or `--docs`) and the `bench` extra.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import REPO  # noqa: E402
from harness.core import read_jsonl  # noqa: E402
from harness.results.compare import compare_qa  # noqa: E402
from harness.results.stats import wilson_interval  # noqa: E402

INPUTS = ("real", "blind", "question")
FIELDS = ("doc_id", "answer_type", "question", "smd", "options", "answer")


def fit_and_score(train: list[dict], test: list[dict], with_smd: bool) -> tuple[np.ndarray, int]:
    """Per-doc 0/1 correctness on `test` (its order), and how many test docs had no known option."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    correct = np.zeros(len(test))
    unknown = 0
    for answer_type in sorted({d["answer_type"] for d in train}):
        fit_docs = [d for d in train if d["answer_type"] == answer_type]
        rows = [i for i, d in enumerate(test) if d["answer_type"] == answer_type]
        if not rows:
            continue
        # the question's and the SMD's n-grams in separate vocabularies (the question-only input has no SMD)
        fields = ["question", "smd"] if with_smd else ["question"]
        parts_fit, parts_test = [], []
        for field in fields:
            vectorizer = TfidfVectorizer(ngram_range=(1, 3), sublinear_tf=True)
            parts_fit.append(vectorizer.fit_transform([d[field] for d in fit_docs]))
            parts_test.append(vectorizer.transform([test[i][field] for i in rows]))
        model = LogisticRegression(max_iter=5000)
        model.fit(hstack(parts_fit).tocsr(), [d["answer"] for d in fit_docs])
        proba = model.predict_proba(hstack(parts_test).tocsr())
        index = {c: k for k, c in enumerate(model.classes_)}
        for p, i in zip(proba, rows):
            known = [(p[index[o]], o) for o in test[i]["options"] if o in index]
            if not known:
                unknown += 1
                continue
            correct[i] = float(max(known)[1] == test[i]["answer"])
    return correct, unknown


def _read_docs(path: Path) -> list[dict]:
    """One split's prompt docs; SystemExit naming the file and doc if one lacks a field the probe reads."""
    docs = read_jsonl(path)
    for line, d in enumerate(docs, 1):
        if missing := [f for f in FIELDS if f not in d]:
            raise SystemExit(
                f"{path}:{line} ({d.get('doc_id', '?')}): no {', '.join(missing)} (BABEL-QA-style docs?)"
            )
    return docs


def _aligned_blind(real: list[dict], blind: list[dict], where: Path) -> list[dict]:
    by_id = {d["doc_id"]: d for d in blind}
    missing = [d["doc_id"] for d in real if d["doc_id"] not in by_id]
    if missing:
        raise SystemExit(f"{where}: no control doc for {len(missing)} docs, e.g. {missing[:3]}")
    return [by_id[d["doc_id"]] for d in real]


def _line(name: str, correct: np.ndarray, docs: list[dict]) -> str:
    k, n = int(correct.sum()), len(correct)
    low, high = wilson_interval(k, n)
    chance = float(np.mean([1 / len(d["options"]) for d in docs]))
    interval = f"[{100 * low:4.1f}, {100 * high:4.1f}]"
    return f"{name:<10} {100 * k / n:5.1f} {interval}  n {n:4d}  chance {100 * chance:4.1f}"


def main(argv: list[str] | None = None) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--docs", type=Path, default=REPO / "data/demo/babel_qa/docs/v5_top3")
    parser.add_argument("--blind", type=Path, help="control docs (default: <docs>-blind)")
    parser.add_argument("--split", default="val", choices=["val", "test"])
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    blind_dir = args.blind or args.docs.with_name(args.docs.name + "-blind")
    for folder in (args.docs, blind_dir):
        for split in ("train", args.split):
            if not (folder / f"{split}.jsonl").is_file():
                parser.error(f"no {folder / f'{split}.jsonl'} (run `dvc repro`, or pass --docs/--blind)")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        parser.error("scikit-learn is missing: pip install '.[bench]'")

    train = {"real": _read_docs(args.docs / "train.jsonl")}
    test = {"real": _read_docs(args.docs / f"{args.split}.jsonl")}
    train["blind"] = _aligned_blind(train["real"], _read_docs(blind_dir / "train.jsonl"), blind_dir)
    test["blind"] = _aligned_blind(test["real"], _read_docs(blind_dir / f"{args.split}.jsonl"), blind_dir)
    train["question"], test["question"] = train["real"], test["real"]

    scored = {}
    for name in INPUTS:
        correct, unknown = fit_and_score(train[name], test[name], with_smd=name != "question")
        scored[name] = correct
        if unknown:
            print(f"{name}: {unknown} {args.split} docs have no option seen in training (scored wrong)")

    docs = test["real"]
    print(f"{args.docs} ({args.split}; fit on {len(train['real'])} train docs), accuracy %, Wilson 95 % CI")
    for answer_type in sorted({d["answer_type"] for d in docs}):
        rows = [i for i, d in enumerate(docs) if d["answer_type"] == answer_type]
        print(f"[{answer_type}]")
        for name in INPUTS:
            print("  " + _line(name, scored[name][rows], [docs[i] for i in rows]))
    print("[all]")
    for name in INPUTS:
        print("  " + _line(name, scored[name], docs))
    real_rows = [{"acc": v} for v in scored["real"]]
    for other in ("blind", "question"):
        other_rows = [{"acc": v} for v in scored[other]]
        (c,) = compare_qa(other_rows, real_rows, resamples=args.resamples, seed=args.seed)
        print(
            f"real - {other}: {100 * c['diff']:+.1f} points, paired 95 % CI "
            f"[{100 * c['ci95_low']:+.1f}, {100 * c['ci95_high']:+.1f}], McNemar p = {c['mcnemar_p']:.2g} "
            f"({c['b_only']} docs right only with the real SMD, {c['a_only']} only with the {other} input)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
