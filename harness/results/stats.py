"""Statistics of per-doc scores, shared by `smd evaluate` (a cell's CIs) and `smd compare` (B - A).

**Paired bootstrap** (`paired_bootstrap_ci`): docs are resampled with replacement (the same resample for
A and B, which is what makes it paired), B - A is taken on each of `resamples` (default 10,000)
resamples, and the CI is the 2.5th and 97.5th percentile (numpy's linear interpolation) of those
differences.

**Exact McNemar test** (`mcnemar_p`): a two-sided binomial test (`scipy.stats.binomtest`, p = 0.5) of
the discordant docs (right in one run, wrong in the other); p = 1 when there are none.

**Captions** (`caption_stats`, `bootstrap_caption_metrics`): BLEU-4, ROUGE-L and CIDEr with the
project's COCO scorers (`harness.metrics.coco`: its tokenisation and three-reference policy). Each
resample is scored from per-doc statistics, so that 10,000 resamples of 4,400 captions take seconds,
not hours:
- BLEU-4 is a corpus metric: per doc, pycocoevalcap's own cooked counts (hypothesis length, the
  "closest" reference length, guessed and clipped-correct n-grams for n = 1..4); a resample sums them and
  applies pycocoevalcap's formula (with its smoothing constants), so a resampled corpus BLEU is exact;
- ROUGE-L is a mean of per-doc scores (pycocoevalcap's, beta 1.2): a resample is the mean of its docs';
- CIDEr (pycocoevalcap's CIDEr-D) is a mean of per-doc scores whose document frequencies come from the
  references of all docs: the per-doc scores are computed once on the full set and a resample averages
  them. The document frequencies are not re-estimated per resample (a resample with repeated docs would
  inflate them); A and B share them, since the references are the same.

**Cells** (`cell_statistics`, called by `smd evaluate` when it writes a cell): `chance` (QA: the mean over
scored docs of 1 / number of options), a **Wilson score 95 % interval** `<metric>_ci95_low/_high` for every
per-doc 0/1 metric (Wilson rather than a bootstrap: closed form, no seed, and it keeps a sensible width at
small n and at 0 % or 100 %, where a percentile bootstrap collapses to a point; the per-type subsets are
small), with `<metric>_n` and `<metric>_chance` for a metric that only part of the docs carry (the
per-type accuracies: their own docs' count and chance level); for
captions a percentile-bootstrap 95 % CI of `bleu_4`, `rouge_l` and `cider` (the resampling above, seed 0,
10,000 resamples).

Resampling: `numpy.random.default_rng(seed)` (PCG64, the same stream on every platform) draws doc indices
in chunks whose size depends only on the number of docs and of resamples (bounded memory), so equal
inputs, resamples and seed give equal output.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = [
    "CAPTION_CI_METRICS",
    "CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "CaptionStats",
    "binary_metrics",
    "bootstrap_caption_metrics",
    "caption_stats",
    "cell_statistics",
    "mcnemar_p",
    "paired_bootstrap_ci",
    "wilson_interval",
]

DEFAULT_RESAMPLES = 10_000
DEFAULT_SEED = 0
CONFIDENCE = 0.95
CAPTION_CI_METRICS = ("bleu_4", "rouge_l", "cider")
# per-doc fields of a samples row that are not metrics
_ROW_FIELDS = frozenset(
    {"id", "motion_id", "prediction", "target", "references", "loglikelihoods", "n_options"}
)
# resample indices are drawn this many (docs x resamples) at a time: bounded memory, same draws everywhere
_CHUNK_ELEMENTS = 2_000_000
# pycocoevalcap's BleuScorer smoothing constants, so that a resampled BLEU equals its corpus BLEU
_BLEU_TINY, _BLEU_SMALL = 1e-15, 1e-9
_BLEU_N = 4


# ---------------------------------------------------------------- resampling


def _resample_counts(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """(chunk, n) float arrays: how often each doc is drawn in each bootstrap resample of n docs."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, _CHUNK_ELEMENTS // max(n, 1)))
    done = 0
    while done < resamples:
        size = min(chunk, resamples - done)
        idx = rng.integers(0, n, size=(size, n))
        flat = (idx + n * np.arange(size)[:, None]).ravel()
        yield np.bincount(flat, minlength=size * n).reshape(size, n).astype(np.float64)
        done += size


def _percentile_ci(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def paired_bootstrap_ci(
    a: np.ndarray,
    b: np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """Percentile-bootstrap CI of mean(b) - mean(a) over docs resampled together (a[i], b[i] one doc)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError(
            f"paired per-doc values must be two equal non-empty vectors, got {a.shape}, {b.shape}"
        )
    d = b - a
    diffs = np.concatenate([w @ d for w in _resample_counts(len(d), resamples, seed)]) / len(d)
    return _percentile_ci(diffs, confidence)


def mcnemar_p(a: np.ndarray, b: np.ndarray) -> tuple[int, int, float]:
    """Exact McNemar test of paired 0/1 outcomes: (A only right, B only right, two-sided p); p = 1 with
    no discordant doc."""
    from scipy.stats import binomtest

    a, b = np.asarray(a).astype(bool), np.asarray(b).astype(bool)
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(b & ~a))
    if a_only + b_only == 0:
        return a_only, b_only, 1.0
    return a_only, b_only, float(binomtest(b_only, a_only + b_only, 0.5).pvalue)


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion successes / n."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes} of {n}")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # at 0 or n the bounds are exactly 0 or 1, not float noise beside them
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


# ---------------------------------------------------------------- captions


@dataclass(frozen=True)
class CaptionStats:
    """Per-doc statistics from which any resample's corpus scores follow.

    bleu: (n, 2 + 2 * 4) hypothesis length, closest reference length, guessed n-grams (n = 1..4), clipped
    correct n-grams (n = 1..4); rouge_l, cider: (n,) per-doc scores (CIDEr with the full set's
    document frequencies).
    """

    bleu: np.ndarray
    rouge_l: np.ndarray
    cider: np.ndarray

    def __len__(self) -> int:
        return len(self.rouge_l)


def caption_stats(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> CaptionStats:
    """The per-doc statistics of a corpus, with the COCO scorers' own code and the project's protocol."""
    from pycocoevalcap.bleu.bleu_scorer import cook_refs, cook_test
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    from harness.metrics import check_captions, nlgeval_text, three_references

    check_captions(predictions, references)
    res = {i: [nlgeval_text(p)] for i, p in enumerate(predictions)}
    gts = {i: [nlgeval_text(r) for r in three_references(refs)] for i, refs in enumerate(references)}
    bleu = np.zeros((len(res), 2 + 2 * _BLEU_N))
    for i in range(len(res)):
        cooked = cook_test(res[i][0], cook_refs(gts[i]))
        testlen = cooked["testlen"]
        closest = min((abs(length - testlen), length) for length in cooked["reflen"])[1]
        bleu[i] = [testlen, closest, *cooked["guess"], *cooked["correct"]]
    _, rouge = Rouge().compute_score(gts, res)
    _, cider = Cider().compute_score(gts, res)
    return CaptionStats(bleu, np.asarray(rouge, dtype=np.float64), np.asarray(cider, dtype=np.float64))


def _bleu4(sums: np.ndarray) -> np.ndarray:
    """pycocoevalcap's corpus BLEU-4 from summed per-doc statistics, one row per resample."""
    testlen, reflen = sums[:, 0], sums[:, 1]
    guess, correct = sums[:, 2 : 2 + _BLEU_N], sums[:, 2 + _BLEU_N :]
    score = np.prod((correct + _BLEU_TINY) / (guess + _BLEU_SMALL), axis=1) ** (1 / _BLEU_N)
    ratio = (testlen + _BLEU_TINY) / (reflen + _BLEU_SMALL)
    penalty = np.where(ratio < 1, np.exp(1 - 1 / np.minimum(ratio, 1)), 1.0)
    return score * penalty


def _caption_scores(stats: CaptionStats, weights: np.ndarray) -> dict[str, np.ndarray]:
    """BLEU-4, ROUGE-L, CIDEr of each resample; weights (resamples, n) count each doc's draws."""
    total = weights.sum(axis=1)
    return {
        "bleu_4": _bleu4(weights @ stats.bleu),
        "rouge_l": weights @ stats.rouge_l / total,
        "cider": weights @ stats.cider / total,
    }


def bootstrap_caption_metrics(
    runs: Sequence[CaptionStats], *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> list[dict[str, np.ndarray]]:
    """Each run's BLEU-4 / ROUGE-L / CIDEr on the same bootstrap resamples of docs: metric -> (resamples,)."""
    n = len(runs[0])
    if any(len(r) != n for r in runs) or not n:
        raise ValueError("paired caption runs must score the same non-empty list of docs")
    out: list[dict[str, list]] = [{m: [] for m in CAPTION_CI_METRICS} for _ in runs]
    for weights in _resample_counts(n, resamples, seed):
        for run, acc in zip(runs, out):
            for metric, values in _caption_scores(run, weights).items():
                acc[metric].append(values)
    return [{m: np.concatenate(v) for m, v in acc.items()} for acc in out]


def _full_caption_scores(stats: CaptionStats) -> dict[str, float]:
    return {m: float(v[0]) for m, v in _caption_scores(stats, np.ones((1, len(stats)))).items()}


# ---------------------------------------------------------------- per-doc 0/1 metrics


def binary_metrics(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The per-doc 0/1 metrics of QA rows (`acc` first), in first-seen order."""
    names: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key in _ROW_FIELDS or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            names.setdefault(key)
    out = []
    for name in names:
        values = [row[name] for row in rows if _finite(row.get(name))]
        if values and all(v in (0, 1) for v in values):
            out.append(name)
    return sorted(out, key=lambda m: (m != "acc", m != "acc_norm", m))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# ---------------------------------------------------------------- one cell's statistics


def cell_statistics(
    rows: Sequence[Mapping[str, Any]],
    *,
    captions: bool,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict[str, float]:
    """The numbers a cell carries for the tables, from its per-doc samples (see the module docstring):
    QA `chance`, `<metric>_ci95_low/_high` (Wilson), `<metric>_n` / `_chance` for a metric of part of
    the docs;
    captions `bleu_4/rouge_l/cider_ci95_low/_high` (bootstrap). Empty for no rows."""
    out: dict[str, float] = {}
    if not rows:
        return out
    if captions:
        stats = caption_stats(
            [str(r.get("prediction", "")) for r in rows], [list(r["references"]) for r in rows]
        )
        (boot,) = bootstrap_caption_metrics([stats], resamples=resamples, seed=seed)
        for metric in CAPTION_CI_METRICS:
            out[f"{metric}_ci95_low"], out[f"{metric}_ci95_high"] = _percentile_ci(boot[metric])
        return out
    options = [r.get("n_options") or len(r.get("loglikelihoods") or ()) for r in rows]
    known = all(isinstance(k, int) and k > 0 for k in options)
    if known:
        out["chance"] = float(np.mean([1 / k for k in options]))
    for metric in binary_metrics(rows):
        carried = [i for i, r in enumerate(rows) if _finite(r.get(metric))]
        successes = sum(int(rows[i][metric]) for i in carried)
        out[f"{metric}_ci95_low"], out[f"{metric}_ci95_high"] = wilson_interval(successes, len(carried))
        if len(carried) != len(rows):  # a per-type metric: its own docs' count and chance level
            out[f"{metric}_n"] = len(carried)
            if known:
                out[f"{metric}_chance"] = float(np.mean([1 / options[i] for i in carried]))
    return out
