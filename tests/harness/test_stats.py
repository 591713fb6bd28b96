"""The statistics of per-doc scores: paired bootstrap, McNemar, Wilson, caption resampling, a cell's CIs."""

from __future__ import annotations

import numpy as np
import pytest

from harness.metrics.coco import coco_scores
from harness.results import cell_statistics
from harness.results.stats import (
    _caption_scores,
    bootstrap_caption_metrics,
    caption_stats,
    mcnemar_p,
    paired_bootstrap_ci,
    wilson_interval,
)

WORDS = "a person walks forward slowly then turns left and sits down jumps waves the right hand".split()


def _qa_rows(correct, *, n_options=10, ids=None, types=None):
    ids = ids or [f"q{i:04d}" for i in range(len(correct))]
    rows = []
    for i, (doc_id, c) in enumerate(zip(ids, correct)):
        row = {"id": doc_id, "motion_id": f"m{i}", "prediction": "A", "target": f"t{i}"}
        row |= {"n_options": n_options, "acc": int(c)}
        if types:
            row[f"acc_{types[i]}"] = int(c)
        rows.append(row)
    return rows


def _caption_rows(predictions, references):
    return [
        {"id": f"c{i:04d}", "motion_id": f"m{i}", "prediction": p, "target": r[0], "references": r}
        for i, (p, r) in enumerate(zip(predictions, references))
    ]


def _sentences(rng, n):
    return [" ".join(rng.choice(WORDS, size=rng.integers(3, 10))) for _ in range(n)]


def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_docs():
    a = np.array([1] * 10 + [0] * 2 + [1] * 5)
    b = np.array([0] * 10 + [1] * 2 + [1] * 5)
    a_only, b_only, p = mcnemar_p(a, b)
    # two-sided: 2 * P(X <= 2), X ~ Bin(12, 1/2)
    assert (a_only, b_only) == (10, 2) and p == pytest.approx(2 * (1 + 12 + 66) / 2**12)


def test_bootstrap_is_seeded_and_reproducible():
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 2, 150), rng.integers(0, 2, 150)
    first = paired_bootstrap_ci(a, b, resamples=500, seed=0)
    assert paired_bootstrap_ci(a, b, resamples=500, seed=0) == first
    assert paired_bootstrap_ci(a, b, resamples=500, seed=1) != first


def test_caption_statistics_reproduce_the_coco_corpus_scores():
    rng = np.random.default_rng(4)
    preds = _sentences(rng, 80)
    refs = [_sentences(rng, int(rng.integers(1, 5))) for _ in range(80)]
    stats = caption_stats(preds, refs)
    (scores,) = bootstrap_caption_metrics([stats], resamples=1, seed=0)
    whole = coco_scores(preds, refs)
    ones = np.ones((1, 80))
    full = _caption_scores(stats, ones)
    for metric in ("bleu_4", "rouge_l", "cider"):
        assert full[metric][0] == pytest.approx(whole[metric], rel=1e-12, abs=1e-15), metric
        assert scores[metric].shape == (1,)


def test_caption_statistics_see_the_whitespace_the_corpus_scores_see():
    preds = ["  a man   walks forward. ", "a\tperson jumps\n", "someone  waves  twice"]
    refs = [["a man walks  forward."], ["a person jumps", "someone\thops"], ["someone waves twice "]]
    full = _caption_scores(caption_stats(preds, refs), np.ones((1, 3)))
    whole = coco_scores(preds, refs)
    for metric in ("bleu_4", "rouge_l", "cider"):
        assert full[metric][0] == pytest.approx(whole[metric], rel=1e-12, abs=1e-15), metric


def test_wilson_interval():
    low, high = wilson_interval(41, 100)
    # hand-computed: centre (p + z²/2n) / (1 + z²/n) = 0.4133, half-width 0.0947
    assert low == pytest.approx(0.3187, abs=1e-4) and high == pytest.approx(0.5080, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    assert 0 < wilson_interval(0, 10)[1] < 0.35
    with pytest.raises(ValueError):
        wilson_interval(3, 0)


def test_cell_statistics_for_qa_and_captions():
    rows = _qa_rows([1, 0, 0, 1], types=["action", "action", "direction", "action"])
    rows[0]["n_options"] = 4
    stats = cell_statistics(rows, captions=False)
    assert stats["chance"] == pytest.approx((1 / 4 + 3 / 10) / 4)
    assert (stats["acc_ci95_low"], stats["acc_ci95_high"]) == wilson_interval(2, 4)
    assert (stats["acc_action_ci95_low"], stats["acc_action_n"]) == (wilson_interval(2, 3)[0], 3)
    assert "acc_n" not in stats and stats["acc_direction_n"] == 1
    assert stats["acc_action_chance"] == pytest.approx((1 / 4 + 2 / 10) / 3) and "acc_chance" not in stats
    rng = np.random.default_rng(6)
    refs = [_sentences(rng, 3) for _ in range(30)]
    stats = cell_statistics(_caption_rows(_sentences(rng, 30), refs), captions=True, resamples=200)
    assert set(stats) == {f"{m}_ci95_{s}" for m in ("bleu_4", "rouge_l", "cider") for s in ("low", "high")}
    assert all(stats[f"{m}_ci95_low"] <= stats[f"{m}_ci95_high"] for m in ("bleu_4", "rouge_l", "cider"))
