"""Corpus-level caption scores: BLEU, ROUGE-L, CIDEr (COCO), sacreBLEU, BERTScore and the T2M
evaluator's R-Precision / MM-Dist over one corpus, and `corpus_metric`, the lm-eval aggregation that
scores each corpus once. The offline scorer `smd score-captions` is `harness.metrics.score_cli`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .coco import coco_scores, sacrebleu_score
from .motions import load_motion_features

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
