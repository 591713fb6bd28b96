"""`smd score-captions`: score a file of generated captions offline, with the corpus scores of
`harness.metrics.score`.

    smd score-captions FILE [--references REFS.json] [--skip-missing] [--filter NAME]
                            [--bertscore-model PATH] [--evaluator DIR --motions DIR] [--seed N]

FILE is either a JSONL of `{"id", "prediction", "references": [...]}` lines (`references` and an
optional `motion_id` may be left out), or an lm-eval `samples_<task>_<date>.jsonl` (lm-eval 0.4.13:
one line per doc and filter, with `doc` (our caption docs: `doc_id`, `motion_id`, `references`),
`filter`, `resps` (a list per request of the raw generations) and `filtered_resps` (a list per request
of the filtered generation)). Prints one JSON object: `bleu_1..bleu_4`, `rouge_l`, `cider` (COCO
scale, fractions), `sacrebleu` (0-100) and `sacrebleu_signature`; `bertscore_f1` with
`--bertscore-model`; `r_precision_top1/2/3` and `mm_dist` with `--evaluator` and `--motions`.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path
from typing import Any

from .motions import load_motion_features
from .readers import ScoreError, load_references, read_predictions
from .score import _all_scores

EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="smd score-captions",
        description="Score generated captions: BLEU@1-4, ROUGE-L, CIDEr, sacreBLEU; optionally BERTScore "
        "and the T2M evaluator's R-Precision / MM-Dist. Prints one JSON object.",
    )
    p.add_argument(
        "file", type=Path, help="JSONL of {id, prediction, references} or an lm-eval samples_*.jsonl"
    )
    p.add_argument("--references", type=Path, help="JSON {id: [references]} for lines without references")
    p.add_argument(
        "--skip-missing", action="store_true", help="skip predictions without references (reported)"
    )
    p.add_argument("--filter", dest="filter_name", help="lm-eval filter to read when the file has several")
    p.add_argument("--bertscore-model", type=Path, help="local roberta-large folder: adds bertscore_f1")
    p.add_argument(
        "--bertscore-layers", type=int, default=17, help="layer of the model to compare (17: roberta-large's)"
    )
    p.add_argument("--bertscore-batch-size", type=int, default=64)
    p.add_argument(
        "--evaluator", type=Path, help="T2M evaluator folder (finest.tar, our_vab_*, t2m_mean/std)"
    )
    p.add_argument("--motions", type=Path, help="motion features (new_joint_vecs) or joints folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the R-Precision groups (default 0)")
    p.add_argument("--device", default=None, help="torch device for BERTScore and the evaluator")
    return p


def _score(args: argparse.Namespace) -> dict[str, Any]:
    if (args.evaluator is None) != (args.motions is None):
        raise ScoreError("--evaluator and --motions go together")
    items = read_predictions(args.file, filter_name=args.filter_name)
    seen: set[str] = set()
    dupes = sorted({it.id for it in items if it.id in seen or seen.add(it.id)})
    if dupes:
        raise ScoreError(f"{args.file}: duplicate ids: {', '.join(dupes[:10])}")
    refs_map = load_references(args.references) if args.references else {}
    kept, missing = [], []
    for it in items:
        refs = it.references or refs_map.get(it.id)
        if refs:
            kept.append((it, list(refs)))
        else:
            missing.append(it.id)
    if missing:
        listing = ", ".join(missing[:20]) + (f" ... ({len(missing)} in all)" if len(missing) > 20 else "")
        if not args.skip_missing:
            raise ScoreError(f"{len(missing)} predictions have no references: {listing}")
        print(f"skipped {len(missing)} predictions without references: {listing}", file=sys.stderr)
    if not kept:
        raise ScoreError("no prediction left to score")
    evaluator = motions = None
    if args.evaluator is not None:
        from .t2m_evaluator import T2MEvaluator

        motions, absent = [], []
        for it, _ in kept:
            try:
                motions.append(load_motion_features(args.motions, it.id, it.motion_id))
            except FileNotFoundError:
                absent.append(it.id)
        if absent:
            raise ScoreError(
                f"no motion under {args.motions} for {len(absent)} samples: {', '.join(absent[:20])}"
            )
        evaluator = T2MEvaluator.from_dir(args.evaluator, device=args.device or "cpu")
    options = {
        "batch_size": args.bertscore_batch_size,
        "device": args.device,
        "num_layers": args.bertscore_layers,
    }
    scores, signature = _all_scores(
        [it.id for it, _ in kept],
        [it.prediction for it, _ in kept],
        [r for _, r in kept],
        bertscore_model=args.bertscore_model,
        bertscore_options=options,
        evaluator=evaluator,
        motions=motions,
        seed=args.seed,
    )
    out: dict[str, Any] = dict(scores)
    out["sacrebleu_signature"] = signature
    out["n_samples"] = len(kept)
    out["n_skipped"] = len(missing)
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        out = _score(args)
    except (ScoreError, ValueError, OSError, KeyError, RuntimeError, pickle.UnpicklingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps(out, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
