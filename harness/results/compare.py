"""`smd compare`: paired comparison of two evaluations of the same docs.

    smd compare CELL_A CELL_B [--results DIR] [--intersection] [--resamples 10000] [--seed 0] [--json FILE]

CELL_A / CELL_B are cell files (`results/demo_babel_qa_cloze/v5_top3/tiny+lora-text.json`) or cell keys
(`demo_babel_qa_cloze/v5_top3/tiny+lora-text`, looked up under `--results`). Each cell's provenance names
its per-doc samples file (written by `smd evaluate`) and that file's sha256, which is checked. The two
cells are first checked to be comparable, and refused in one line saying what differs: the task's kind (QA
or captions: from the task the provenance records, else from the samples' rows) and, for two cells of one
SMD preset, the docs file (its sha256 in the provenance: the same preset on other docs is other questions;
across presets the docs differ by their SMD text, and the ids and targets below say whether the questions
are the same). The runs are aligned by doc id: different doc sets are an error (`--intersection` compares
the common docs and says how many were dropped), and a doc whose target (QA) or references (captions)
differ between the two files is an error (it is another question under the same id; a generation target,
the answer text, and a log-likelihood target, the answer's index, are not compared). B - A is reported.

**QA** (per-doc 0/1 metrics: `acc`, and `acc_norm`, `invalid_rate`, the per-type `acc_<type>` where both
files carry them, each over the docs that carry it in both):
- accuracy of A and of B, the difference B - A with a **paired percentile-bootstrap 95 % CI** over docs
  (`--resamples` resamples, default 10,000);
- the **exact McNemar test** of the discordant docs (right in one run, wrong in the other); p = 1 when
  there are none.

**Captions**: BLEU-4, ROUGE-L and CIDEr of A and of B with the project's COCO scorers
(`harness.metrics.coco`: its tokenisation and three-reference policy), the difference B - A and its
paired-bootstrap 95 % CI, each resample scored from per-doc statistics.

The statistics (the bootstrap, McNemar, the caption resampling, and the Wilson intervals of one cell) live
in `harness.results.stats`, whose docstring gives the methods.
Exit status: 0 done, 2 bad input (missing or altered samples, different docs, mixed QA and captions).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.core import atomic_write_json, positive_int, read_json, read_jsonl, sha256_file
from harness.data import TASKS

from .cells import PROVENANCE_SUFFIX, cell_key, cell_path, parse_cell_key, parse_cell_path, provenance_path
from .stats import (
    CAPTION_CI_METRICS,
    CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    _finite,
    _full_caption_scores,
    _percentile_ci,
    binary_metrics,
    bootstrap_caption_metrics,
    caption_stats,
    mcnemar_p,
    paired_bootstrap_ci,
)

__all__ = [
    "CompareError",
    "CellSamples",
    "check_comparable",
    "compare_captions",
    "compare_qa",
    "compare_runs",
    "load_run",
    "main",
    "render_comparison",
]

EXIT_BAD_INPUT = 2


class CompareError(ValueError):
    """A user-facing input error (exit 2): the message names the file or doc."""


# ---------------------------------------------------------------- per-doc samples


@dataclass(frozen=True)
class CellSamples:
    """One evaluation's per-doc samples: `label` (the cell key or path), `rows` by doc id."""

    label: str
    samples: Path
    rows: dict[str, dict]
    provenance: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def task(self) -> str | None:
        task = self.provenance.get("task")
        return task if isinstance(task, str) else None

    @property
    def kind(self) -> str:
        """`qa` or `captions`: the kind of the task the provenance records, else `captions` when the rows
        carry references."""
        if self.task in TASKS:
            return "qa" if TASKS[self.task].kind == "qa" else "captions"
        return "captions" if any("references" in r for r in self.rows.values()) else "qa"

    @property
    def docs(self) -> tuple[str | None, str | None, str | None]:
        """(SMD preset, docs file, its sha256) as the provenance records them (None where it does not)."""
        inputs = self.provenance.get("inputs") or {}
        docs = (self.provenance.get("data") or {}).get("docs") or {}
        return inputs.get("preset"), docs.get("path"), docs.get("sha256") or inputs.get("docs_sha256")


def check_comparable(a: CellSamples, b: CellSamples) -> None:
    """Raise a one-line CompareError saying what differs unless the two cells score the same kind of task
    and, being of one SMD preset, the same docs file."""
    if a.kind != b.kind:
        raise CompareError(
            f"not comparable: {a.label} scores {a.kind}{_task(a)}, {b.label} scores {b.kind}{_task(b)}: "
            "nothing to pair"
        )
    (preset_a, docs_a, sha_a), (preset_b, docs_b, sha_b) = a.docs, b.docs
    if preset_a == preset_b and sha_a and sha_b and sha_a != sha_b:
        raise CompareError(
            f"not comparable: {a.label} and {b.label} (both preset {preset_a}) scored different docs: "
            f"{docs_a} (sha256 {sha_a[:12]}...) vs {docs_b} (sha256 {sha_b[:12]}...)"
        )


def _task(run: CellSamples) -> str:
    return f" (task {run.task})" if run.task else ""


def _resolve_cell(spec: str, results: Path) -> tuple[Path, str]:
    path = Path(spec)
    if spec.endswith(".json"):
        if not path.is_file():
            raise CompareError(f"cell file not found: {path}")
        try:  # results/<benchmark>/<variant>/<model>.json: the results folder is two levels up
            label = cell_key(*parse_cell_path(path.parents[2], path))
        except (ValueError, IndexError):
            label = str(path)
        return path, label
    try:
        path = cell_path(results, *parse_cell_key(spec))
    except ValueError as e:
        raise CompareError(f"{spec!r}: neither a cell file (.json) nor a cell key: {e}") from None
    if not path.is_file():
        there = sorted(
            f.name.removesuffix(".json")
            for f in path.parent.glob("*.json")
            if not f.name.endswith(PROVENANCE_SUFFIX)
        )
        known = f"; cells there: {', '.join(there)}" if there else ""
        raise CompareError(f"cell {spec} not found: {path} (--results {results}){known}")
    return path, spec


def load_run(spec: str, results: Path | str = Path("results")) -> CellSamples:
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
    return CellSamples(label, found, rows, provenance)


def _aligned(a: CellSamples, b: CellSamples, intersection: bool) -> tuple[list[str], dict[str, int]]:
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
    a: CellSamples,
    b: CellSamples,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    intersection: bool = False,
) -> dict[str, Any]:
    """The comparison of B with A as a JSON-ready dict (see the module docstring).

    Raises:
        CompareError: a QA run against a caption run, two runs of one preset on different docs files, or
            docs that do not align.
    """
    if resamples < 1:
        raise CompareError(f"--resamples must be >= 1, got {resamples}")
    check_comparable(a, b)
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


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """`smd compare CELL_A CELL_B`: paired bootstrap CI of B - A and McNemar's test on the same docs."""
    p = argparse.ArgumentParser(prog="smd compare", description=main.__doc__)
    p.add_argument("cell_a", metavar="CELL_A", help="cell file (.json) or key <benchmark>/<variant>/<model>")
    p.add_argument("cell_b", metavar="CELL_B", help="the run compared with A (B - A is reported)")
    p.add_argument("--results", type=Path, default=Path("results"), help="where cell keys are looked up")
    p.add_argument(
        "--intersection", action="store_true", help="compare the docs both runs scored (default: an error)"
    )
    p.add_argument("--resamples", type=positive_int, default=DEFAULT_RESAMPLES, help="bootstrap resamples")
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
