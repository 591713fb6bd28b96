"""The record of a run: the cell (lm-eval's metrics and the statistics of its samples), the per-doc
samples beside it, the provenance (what decided the numbers) and the run log (when, where, from which
commit).

The committed files (cell, provenance, samples) hold only what the inputs decide, so a re-run of the
same inputs rewrites them byte for byte; time, host and commit go to the run log with the profile's runs.
The cell is written last: a cell file never exists without its provenance and samples.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.core import (
    atomic_write_json,
    atomic_write_jsonl,
    git_state,
    hardware,
    read_json,
    sha256_file,
    versions,
)
from harness.data import parse_benchmark
from harness.results import Cell, cell_samples_path, cell_statistics, provenance_path, write_cell

from .lm_eval_io import ANSWER_PRIOR, SEEDS, cell_metrics, finish_request_cache, sample_rows, samples_path
from .plan import EvalPlan, json_safe
from .run import LmEvalRun

__all__ = ["read_provenance", "record_evaluation", "run_log_path"]


def record_evaluation(plan: EvalPlan, run: LmEvalRun) -> Path:
    """Write the samples, the run log, the provenance and the cell of a finished run; returns the cell's
    path. The run's request cache is removed: the samples hold every answer now."""
    request, task = plan.request, plan.request.task
    counts = run.results["n-samples"][task]
    skipped = plan.docs_count - int(counts["original"])
    if skipped:
        print(f"{task}: {skipped} of {plan.docs_count} test docs left out, prompt too long", file=sys.stderr)
    metrics = cell_metrics(run.results["results"][task], n=int(counts["effective"]), skipped=skipped)

    rows = sample_rows(run.results["samples"][task])
    # committed beside the cell: compare and report work on a fresh clone
    samples_file = cell_samples_path(plan.cell_file)
    atomic_write_jsonl(samples_file, rows)
    # what the tables print beside the scores: chance, 95 % CIs, and whether only a subset was scored
    metrics |= cell_statistics(rows, captions=parse_benchmark(plan.cell[0]).scoring is None)
    if request.limit is not None and metrics["n"] < plan.docs_count - skipped:
        metrics["limit"] = request.limit

    run_log_file = run_log_path(samples_path(request.samples_dir, plan.cell))
    provenance = _provenance(plan, run, samples_file, len(rows), run_log_file)
    atomic_write_json(run_log_file, _run_log(run))
    path = write_cell(request.results, Cell(*plan.cell, metrics=metrics), provenance)
    finish_request_cache(plan.request_cache)
    return path


def _provenance(
    plan: EvalPlan, run: LmEvalRun, samples_file: Path, samples: int, run_log_file: Path
) -> dict[str, Any]:
    """What decided the cell's numbers: its inputs, the model and data it read, seeds and versions."""
    request, task = plan.request, plan.request.task
    backbone = plan.backbone
    return {
        "status": "success",
        "task": task,
        "task_version": run.results["versions"].get(task),
        "inputs": plan.inputs,
        "backbone": {"name": ANSWER_PRIOR, "path": None}
        if backbone is None
        else {"name": backbone.name, "path": backbone.path},
        "model_args": json_safe(run.model_args),
        "adapter": plan.adapter,
        "data": {
            "root": str(request.data_root),
            "docs": {"path": str(plan.docs), "sha256": plan.inputs["docs_sha256"], "docs": plan.docs_count},
        },
        "task_metadata": json_safe(plan.task_metadata),
        "limit": request.limit,
        "seeds": SEEDS,
        "samples": {"path": str(samples_file), "sha256": sha256_file(samples_file), "rows": samples},
        "versions": versions(),
        "lm_eval_config": json_safe(run.results.get("config")),
        "run_log": str(run_log_file),
    }


def _run_log(run: LmEvalRun) -> dict[str, Any]:
    """When, where and from which commit: with the profile's runs, never in the committed files."""
    return {
        "git": git_state(),
        "hardware": hardware(),
        "started_at": run.started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(run.wall_seconds, 3),
    }


def run_log_path(samples_file: Path) -> Path:
    """The run log of a cell (git commit, hardware, times): `<samples-dir>/<cell key>.run.json`."""
    return samples_file.with_suffix(".run.json")


def read_provenance(path: Path) -> dict | None:
    """The provenance of an existing cell; None when either file is missing or unreadable."""
    if not (path.is_file() and provenance_path(path).is_file()):
        return None
    try:
        data = read_json(provenance_path(path))
    except ValueError:
        data = None
    return data if isinstance(data, dict) else None
