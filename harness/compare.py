"""`smd compare`: paired comparison of two evaluations of the same docs, and the CIs of one cell.

    smd compare CELL_A CELL_B [--results DIR] [--intersection] [--resamples 10000] [--seed 0] [--json FILE]

CELL_A / CELL_B are cell files (`results/demo_babel_qa_cloze/v5_top3/tiny+lora-text.json`) or cell keys
(`demo_babel_qa_cloze/v5_top3/tiny+lora-text`, looked up under `--results`). Each cell's provenance names
its per-doc samples file (written by `smd evaluate`) and that file's sha256, which is checked. The two
runs are aligned by doc id: different doc sets are an error (`--intersection` compares the common docs
and says how many were dropped), and a doc whose target (QA) or references (captions) differ between the
two files is an error (it is another question under the same id; a generation target, the answer text,
and a log-likelihood target, the answer's index, are not compared). B - A is reported.

**QA** (per-doc 0/1 metrics: `acc`, and `acc_norm`, `invalid_rate`, the per-type `acc_<type>` where both
files carry them, each over the docs that carry it in both):
- accuracy of A and of B, the difference B - A with a **paired percentile-bootstrap 95 % CI**: docs are
  resampled with replacement (the same resample for A and B, which is what makes it paired), B - A is
  taken on each of `--resamples` (default 10,000) resamples, and the CI is the 2.5th and 97.5th
  percentile (numpy's linear interpolation) of those differences;
- the **exact McNemar test**: a two-sided binomial test (`scipy.stats.binomtest`, p = 0.5) of the
  discordant docs (right in one run, wrong in the other); p = 1 when there are none.

**Captions**: BLEU-4, ROUGE-L and CIDEr of A and of B with the project's COCO scorers
(`harness.metrics.coco`: its tokenisation and three-reference policy), the difference B - A and its
paired-bootstrap 95 % CI. Each resample is scored from per-doc statistics, so that 10,000 resamples of
4,400 captions take seconds, not hours:
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
Exit status: 0 done, 2 bad input (missing or altered samples, different docs, mixed QA and captions).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from .io import atomic_write_json, read_json, read_jsonl
from .results import cell_key, cell_path, parse_cell_key, parse_cell_path, provenance_path
from .training.data import sha256_file

__all__ = [
    "CAPTION_CI_METRICS",
    "CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "CaptionStats",
    "CompareError",
    "Run",
    "binary_metrics",
    "bootstrap_caption_metrics",
    "caption_stats",
    "cell_statistics",
    "compare_captions",
    "compare_qa",
    "compare_runs",
    "load_run",
    "main",
    "mcnemar_p",
    "paired_bootstrap_ci",
    "render_comparison",
    "wilson_interval",
]

EXIT_BAD_INPUT = 2
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


class CompareError(ValueError):
    """A user-facing input error (exit 2): the message names the file or doc."""


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

    from .metrics.coco import _check, normalise, three_references

    _check(predictions, references)
    res = {i: [normalise(p)] for i, p in enumerate(predictions)}
    gts = {i: [normalise(r) for r in three_references(refs)] for i, refs in enumerate(references)}
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


# ---------------------------------------------------------------- per-doc samples


@dataclass(frozen=True)
class Run:
    """One evaluation's per-doc samples: `label` (the cell key or path), `rows` by doc id."""

    label: str
    samples: Path
    rows: dict[str, dict]

    @property
    def kind(self) -> str:
        """`captions` when the rows carry references, else `qa`."""
        return "captions" if any("references" in r for r in self.rows.values()) else "qa"


def _resolve_cell(spec: str, results: Path) -> tuple[Path, str]:
    path = Path(spec)
    if spec.endswith(".json"):
        if not path.is_file():
            raise CompareError(f"cell file not found: {path}")
        try:  # results/<dataset>/<variant>/<model>.json: the results folder is two levels up
            label = cell_key(*parse_cell_path(path.parents[2], path))
        except (ValueError, IndexError):
            label = str(path)
        return path, label
    try:
        path = cell_path(results, *parse_cell_key(spec))
    except ValueError as e:
        raise CompareError(f"{spec!r}: neither a cell file (.json) nor a cell key: {e}") from None
    if not path.is_file():
        raise CompareError(f"cell {spec} not found: {path} (--results {results})")
    return path, spec


def load_run(spec: str, results: Path | str = Path("results")) -> Run:
    """A cell's per-doc samples, from the file its provenance names, after checking the file's sha256.

    A relative samples path is looked up from the current folder, then from the folder that holds the
    results folder (where `smd evaluate` ran).

    Raises:
        CompareError: no cell, no provenance, no samples entry, a missing or altered samples file, a
            row without an id or an id listed twice.
    """
    results = Path(results)
    cell, label = _resolve_cell(spec, results)
    prov_file = provenance_path(cell)
    if not prov_file.is_file():
        raise CompareError(f"{cell}: no provenance file {prov_file}")
    provenance = read_json(prov_file)
    samples = provenance.get("samples") if isinstance(provenance, dict) else None
    if not isinstance(samples, dict) or not samples.get("path") or not samples.get("sha256"):
        raise CompareError(f"{prov_file}: no `samples` entry with a path and a sha256")
    recorded = Path(samples["path"])
    candidates = [recorded] if recorded.is_absolute() else [recorded, cell.parents[2].parent / recorded]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        where = " or ".join(str(p) for p in dict.fromkeys(candidates))
        raise CompareError(f"{cell}: samples file not found: {where} (re-run `smd evaluate` for it)")
    digest = sha256_file(found)
    if digest != samples["sha256"]:
        raise CompareError(
            f"{found}: sha256 {digest[:12]}... differs from {samples['sha256'][:12]}... recorded in "
            f"{prov_file} (the samples are not the ones this cell's numbers come from)"
        )
    rows: dict[str, dict] = {}
    for i, row in enumerate(read_jsonl(found), 1):
        doc_id = row.get("id") if isinstance(row, dict) else None
        if doc_id is None:
            raise CompareError(f"{found}: line {i} has no `id`")
        if str(doc_id) in rows:
            raise CompareError(f"{found}: doc id {doc_id} appears twice")
        rows[str(doc_id)] = row
    if not rows:
        raise CompareError(f"{found}: no samples")
    return Run(label, found, rows)


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


def _aligned(a: Run, b: Run, intersection: bool) -> tuple[list[str], dict[str, int]]:
    only_a, only_b = sorted(set(a.rows) - set(b.rows)), sorted(set(b.rows) - set(a.rows))
    if (only_a or only_b) and not intersection:

        def some(ids: list[str]) -> str:
            return ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")

        raise CompareError(
            f"the two runs score different docs: {len(only_a)} only in {a.samples} ({some(only_a)}), "
            f"{len(only_b)} only in {b.samples} ({some(only_b)}); --intersection compares the common docs"
        )
    ids = sorted(set(a.rows) & set(b.rows))
    if not ids:
        raise CompareError(f"{a.samples} and {b.samples} have no doc id in common")
    field = "references" if a.kind == "captions" else "target"
    for doc_id in ids:
        mine, theirs = a.rows[doc_id].get(field), b.rows[doc_id].get(field)
        # a log-likelihood task's target is the answer's index, a generation task's the answer text:
        # two scorings of one question are compared on the id alone
        if type(mine) is type(theirs) and mine != theirs:
            raise CompareError(
                f"doc {doc_id}: {field} differs between {a.samples} and {b.samples} (not the same question)"
            )
    return ids, {"a_only": len(only_a), "b_only": len(only_b)}


# ---------------------------------------------------------------- comparisons


def compare_qa(
    a_rows: Sequence[Mapping], b_rows: Sequence[Mapping], *, resamples: int, seed: int
) -> list[dict[str, Any]]:
    """One entry per 0/1 metric both runs carry, over the docs (aligned pairs) that carry it in both."""
    common = [m for m in binary_metrics(a_rows) if m in binary_metrics(b_rows)]
    out = []
    for metric in common:
        pairs = [(ra[metric], rb[metric]) for ra, rb in zip(a_rows, b_rows) if _finite(ra.get(metric))]
        pairs = [(x, y) for x, y in pairs if _finite(y)]
        if not pairs:
            continue
        a, b = (np.array(v, dtype=np.float64) for v in zip(*pairs))
        low, high = paired_bootstrap_ci(a, b, resamples=resamples, seed=seed)
        a_only, b_only, p = mcnemar_p(a, b)
        out.append(
            {
                "metric": metric,
                "n": len(a),
                "a": float(a.mean()),
                "b": float(b.mean()),
                "diff": float(b.mean() - a.mean()),
                "ci95_low": low,
                "ci95_high": high,
                "a_only": a_only,
                "b_only": b_only,
                "mcnemar_p": p,
            }
        )
    return out


def compare_captions(
    a_rows: Sequence[Mapping], b_rows: Sequence[Mapping], *, resamples: int, seed: int
) -> list[dict[str, Any]]:
    """BLEU-4 / ROUGE-L / CIDEr of both runs and the paired-bootstrap CI of B - A (aligned rows)."""
    references = [list(r["references"]) for r in a_rows]
    stats = [
        caption_stats([str(r.get("prediction", "")) for r in rows], references) for rows in (a_rows, b_rows)
    ]
    full = [_full_caption_scores(s) for s in stats]
    boot_a, boot_b = bootstrap_caption_metrics(stats, resamples=resamples, seed=seed)
    out = []
    for metric in CAPTION_CI_METRICS:
        low, high = _percentile_ci(boot_b[metric] - boot_a[metric])
        a, b = full[0][metric], full[1][metric]
        out.append(
            {
                "metric": metric,
                "n": len(a_rows),
                "a": a,
                "b": b,
                "diff": b - a,
                "ci95_low": low,
                "ci95_high": high,
            }
        )
    return out


def compare_runs(
    a: Run,
    b: Run,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    intersection: bool = False,
) -> dict[str, Any]:
    """The comparison of B with A as a JSON-ready dict (see the module docstring).

    Raises:
        CompareError: a QA run against a caption run, or docs that do not align.
    """
    if resamples < 1:
        raise CompareError(f"--resamples must be >= 1, got {resamples}")
    if a.kind != b.kind:
        raise CompareError(f"{a.label} scores {a.kind}, {b.label} scores {b.kind}: nothing to pair")
    ids, dropped = _aligned(a, b, intersection)
    a_rows, b_rows = [a.rows[i] for i in ids], [b.rows[i] for i in ids]
    compare = compare_captions if a.kind == "captions" else compare_qa
    metrics = compare(a_rows, b_rows, resamples=resamples, seed=seed)
    if not metrics:
        raise CompareError(f"{a.samples} and {b.samples} share no per-doc 0/1 metric (acc) to compare")
    return {
        "a": {"cell": a.label, "samples": str(a.samples), "docs": len(a.rows)},
        "b": {"cell": b.label, "samples": str(b.samples), "docs": len(b.rows)},
        "kind": a.kind,
        "n": len(ids),
        "dropped": dropped,
        "resamples": resamples,
        "seed": seed,
        "confidence": CONFIDENCE,
        "ci": "paired percentile bootstrap over docs",
        "test": "exact McNemar (two-sided binomial on discordant docs)" if a.kind == "qa" else None,
        "metrics": metrics,
    }


def render_comparison(result: Mapping[str, Any]) -> str:
    """A plain-text table of a comparison (scores x100)."""
    qa = result["kind"] == "qa"
    lines = [
        f"A: {result['a']['cell']}  ({result['a']['docs']} docs)",
        f"B: {result['b']['cell']}  ({result['b']['docs']} docs)",
        f"{result['n']} paired docs"
        + (
            f" (intersection: {result['dropped']['a_only']} only in A, "
            f"{result['dropped']['b_only']} only in B, left out)"
            if any(result["dropped"].values())
            else ""
        )
        + f"; {result['resamples']:,} paired-bootstrap resamples, seed {result['seed']}, "
        + f"{100 * result['confidence']:g}% percentile CI of B - A"
        + ("; exact McNemar p" if qa else ""),
        "",
    ]
    header = f"{'metric':<16} {'n':>5} {'A':>6} {'B':>6} {'B - A':>7}  {'95% CI':<17}"
    if qa:
        header += f" {'A only':>6} {'B only':>6} {'McNemar p':>9}"
    lines.append(header)
    for m in result["metrics"]:
        ci = f"[{100 * m['ci95_low']:+.1f}, {100 * m['ci95_high']:+.1f}]"
        line = (
            f"{m['metric']:<16} {m['n']:>5} {100 * m['a']:>6.1f} {100 * m['b']:>6.1f} "
            f"{100 * m['diff']:>+7.1f}  {ci:<17}"
        )
        if qa:
            line += f" {m['a_only']:>6} {m['b_only']:>6} {m['mcnemar_p']:>9.3g}"
        lines.append(line)
    return "\n".join(lines) + "\n"


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


# ---------------------------------------------------------------- CLI


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """`smd compare CELL_A CELL_B`: paired bootstrap CI of B - A and McNemar's test on the same docs."""
    p = argparse.ArgumentParser(prog="smd compare", description=main.__doc__)
    p.add_argument("cell_a", metavar="CELL_A", help="cell file (.json) or key <dataset>/<variant>/<model>")
    p.add_argument("cell_b", metavar="CELL_B", help="the run compared with A (B - A is reported)")
    p.add_argument("--results", type=Path, default=Path("results"), help="where cell keys are looked up")
    p.add_argument(
        "--intersection", action="store_true", help="compare the docs both runs scored (default: an error)"
    )
    p.add_argument("--resamples", type=_positive_int, default=DEFAULT_RESAMPLES, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"bootstrap seed (default: {DEFAULT_SEED})")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the comparison as JSON (atomically)")
    args = p.parse_args(argv)
    try:
        a, b = load_run(args.cell_a, args.results), load_run(args.cell_b, args.results)
        result = compare_runs(a, b, resamples=args.resamples, seed=args.seed, intersection=args.intersection)
    except (CompareError, OSError, ValueError) as e:
        print(f"smd compare: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sys.stdout.write(render_comparison(result))
    if args.json:
        atomic_write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
