"""Corpus-level caption scores, and the offline scorer `smd score-captions`.

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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .coco import coco_scores, sacrebleu_score
from .motions import load_motion_features
from .readers import ScoreError, load_references, read_predictions

EXIT_ERROR = 2


# ---------------------------------------------------------------- corpus scores


def _all_scores(
    ids: Sequence[str],
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    bertscore_model: str | Path | None = None,
    bertscore_options: Mapping[str, Any] | None = None,
    evaluator=None,
    motions: Sequence[np.ndarray] | None = None,
    seed: int = 0,
) -> tuple[dict[str, float], str]:
    n = len(ids)
    if not (len(predictions) == len(references) == n) or (motions is not None and len(motions) != n):
        raise ValueError("ids, predictions, references (and motions) must have the same length")
    if len(set(ids)) != n:
        dupes = sorted({i for i in ids if list(ids).count(i) > 1})
        raise ValueError(f"duplicate ids: {', '.join(map(str, dupes[:10]))}")
    # lm-eval concatenates the ranks' docs out of order: a fixed order makes every number reproducible
    order = sorted(range(n), key=lambda i: str(ids[i]))
    preds = [predictions[i] for i in order]
    refs = [list(references[i]) for i in order]
    scores = coco_scores(preds, refs)
    scores["sacrebleu"], signature = sacrebleu_score(preds, refs)
    if bertscore_model is not None:
        from .bertscore import bertscore_f1

        scores["bertscore_f1"] = bertscore_f1(
            preds, refs, model_path=bertscore_model, **(bertscore_options or {})
        )
    if evaluator is not None:
        if motions is None:
            raise ValueError("R-Precision needs the motions of the samples")
        from .retrieval import r_precision

        text_emb = evaluator.encode_texts(preds)
        motion_emb = evaluator.encode_motions([motions[i] for i in order])
        scores.update(r_precision(text_emb, motion_emb, seed=seed))
    return scores, signature


def caption_scores(
    ids: Sequence[str],
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    bertscore_model: str | Path | None = None,
    evaluator=None,
    motions: Sequence[np.ndarray] | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Every caption metric of a corpus, as plain floats (computed once, samples sorted by id).

    Args:
        ids: sample ids (unique); the corpus is scored in sorted-id order whatever the input order.
        predictions: generated captions.
        references: each sample's reference captions (TM2T's three-reference policy is applied).
        bertscore_model: local roberta-large folder; adds `bertscore_f1`.
        evaluator: a `T2MEvaluator`; with `motions` (raw 263-d features per sample, aligned with
            `ids`) adds `r_precision_top1..3`, `mm_dist` and `r_precision_samples`.
        seed: seed of the R-Precision grouping.

    Returns:
        `bleu_1..bleu_4`, `rouge_l`, `cider` (fractions), `sacrebleu` (0-100), and the optional ones.
    """
    scores, _ = _all_scores(
        ids,
        predictions,
        references,
        bertscore_model=bertscore_model,
        evaluator=evaluator,
        motions=motions,
        seed=seed,
    )
    return scores


_CACHE: dict[tuple, dict[str, float]] = {}


def corpus_metric(
    items: Sequence[Sequence[Any]],
    metric: str,
    *,
    bertscore_model: str | None = None,
    evaluator_dir: str | None = None,
    motions_dir: str | None = None,
    seed: int = 0,
    device: str | None = None,
) -> float:
    """One corpus metric from lm-eval per-doc items, every metric computed once per corpus.

    For an lm-eval task whose `process_results` returns, for each metric name, the item
    `(sample_id, prediction, references[, motion_id])`: each metric's aggregation calls this with the
    full item list; the first call scores the corpus (`caption_scores`, samples sorted by id whatever
    order the ranks came back in) and later calls for the same corpus and options reuse the result.

    Args:
        items: `(sample_id, prediction, references)` or `(sample_id, prediction, references, motion_id)`.
        metric: a key of `caption_scores`' result, e.g. "bleu_4", "cider", "bertscore_f1", "mm_dist".
        bertscore_model, evaluator_dir, motions_dir, seed, device: as the `smd score-captions` options.
    """
    rows = sorted(
        (str(it[0]), str(it[1]), tuple(it[2]), (str(it[3]) if len(it) > 3 and it[3] else None))
        for it in items
    )
    key = (tuple(rows), bertscore_model, evaluator_dir, motions_dir, seed, device)
    if key not in _CACHE:
        evaluator = motions = None
        if evaluator_dir is not None:
            if motions_dir is None:
                raise ValueError("evaluator_dir needs motions_dir")
            from .t2m_evaluator import T2MEvaluator

            evaluator = T2MEvaluator.from_dir(evaluator_dir, device=device or "cpu")
            motions = [load_motion_features(motions_dir, sid, mid) for sid, _, _, mid in rows]
        options = {"device": device}
        scores, _ = _all_scores(
            [r[0] for r in rows],
            [r[1] for r in rows],
            [list(r[2]) for r in rows],
            bertscore_model=bertscore_model,
            bertscore_options=options,
            evaluator=evaluator,
            motions=motions,
            seed=seed,
        )
        _CACHE.clear()  # one corpus at a time: the key holds every prediction
        _CACHE[key] = scores
    scores = _CACHE[key]
    if metric not in scores:
        raise KeyError(f"no metric {metric!r} (computed: {', '.join(sorted(scores))})")
    return scores[metric]


# ---------------------------------------------------------------- CLI


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
