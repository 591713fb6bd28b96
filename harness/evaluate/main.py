"""`smd evaluate`: score one backbone (zero-shot or with a LoRA adapter) on one lm-eval task, one cell.

    smd evaluate --task smd_babel_qa --dataset babel_qa --data-root data/babel_qa --variant v5_top3 \\
        --backbone qwen2.5-7b [--adapter runs/qa/qwen2.5-7b/v5_top3/best] [--limit N]

One call runs `lm_eval.simple_evaluate` on one task with lm-eval's `hf` model (the backbone from the
registry in `params.yaml`, `peft=<adapter>`, the backbone's chat template and its kwargs) and writes:

    results/<dataset>/<variant>/<backbone>[+<adapter-name>].json             numbers only (harness.results)
    results/<dataset>/<variant>/<backbone>[+<adapter-name>].provenance.json  inputs, SMD format, versions
    results/<dataset>/<variant>/<backbone>[+<adapter-name>].samples.jsonl    one line per scored doc
    runs/eval_samples/<dataset>/<variant>/<same name>.run.json               git commit, hardware, times

The committed files hold only what the inputs decide, so re-running a cell on the same inputs rewrites
them byte for byte and `dvc repro` on a fresh clone leaves `git status` clean; when, where and from which
commit it ran goes to the run log with the profile's runs. Evaluating an adapter on docs of another SMD
format or variant than it was trained on is an error naming both (harness.data.smd_files).

The per-doc samples (ids, prediction, target, option log-likelihoods, per-doc metrics; no SMD text) are
committed beside the cell so that `smd compare` and `smd report` work on a fresh clone; a caption
samples file is `smd score-captions`'s input. `--encoder DIR`: the encoder baseline (model
`smd-encoder`) on `motion` docs; `--backbone answer-prior`: the answer-prior baseline (model
`smd-answer-prior`, harness.evaluate.answer_prior).

A cell holds lm-eval's metrics, `n` (docs scored), `skipped` (test docs whose prompt does not fit the
context), and from the samples (harness.results.stats.cell_statistics) `chance`, 95 % CIs, per-type `_n` and
`limit` when `--limit` left docs out. A call whose inputs equal the existing cell's provenance prints "up
to date" and runs nothing (`--force` re-runs). A cell holds one task (MC and generation cannot share one).
Exit status: 0 done or up to date, 2 bad input (nothing written: checked before a model loads; under
`smd`, also a file or folder found missing later); other lm-eval errors propagate. `--kept-only` runs
nothing: it writes what a killed run of the same arguments kept (harness.evaluate.kept).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.core import (
    VARIANT_OPTION,
    Params,
    add_renamed_option,
    atomic_write_json,
    atomic_write_jsonl,
    batch_size,
    folder_digest,
    json_object,
    positive_int,
    read_json,
    read_jsonl,
    sha256_file,
)
from harness.data import TASKS, docs_format, docs_path, parse_result_dataset
from harness.metrics import CAPTION_ASSET_KEYS, check_caption_assets
from harness.models import Backbone, adapter_record, get_backbone
from harness.results import Cell, cell_path, cell_samples_path, cell_statistics, provenance_path, write_cell

from .lm_eval_io import (
    ANSWER_PRIOR,
    ANSWER_PRIOR_MODEL,
    ENCODER_MODEL,
    SEEDS,
    cell_backbone_name,
    cell_metrics,
    encoder_record,
    finish_request_cache,
    lm_eval_task_manager,
    model_args,
    quiet_git_probe,
    request_cache,
    sample_rows,
    samples_path,
    task_version,
)

__all__ = ["EvalInputError", "EvalRequest", "main", "run_evaluation"]

EXIT_BAD_INPUT = 2
_LOG = logging.getLogger("smd.evaluate")
DEFAULT_SAMPLES_DIR = Path("runs/eval_samples")


class EvalInputError(Exception):
    """A user-facing input error (missing docs, adapter or backbone): exit 2, nothing written."""


@dataclass(frozen=True)
class EvalRequest:
    """Everything one `smd evaluate` call needs; see `main` for the meaning of each option."""

    task: str
    dataset: str
    data_root: Path
    preset: str
    backbone: str
    adapter: Path | None = None
    encoder: Path | None = None
    adapter_name: str | None = None
    params: Params | Path | None = None
    results: Path = Path("results")
    samples_dir: Path = DEFAULT_SAMPLES_DIR
    limit: int | None = None
    batch_size: int | str = 1
    metadata: dict[str, Any] = field(default_factory=dict)
    force: bool = False


# ---------------------------------------------------------------- inputs


def _json_safe(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


@dataclass(frozen=True)
class _Plan:
    """A request with everything resolved and checked, before any model is loaded."""

    backbone: Backbone | None  # None: the answer prior (no text model)
    cell: tuple[str, str, str, str | None]  # dataset, variant, backbone, adapter
    docs: Path
    adapter: dict[str, Any] | None
    task_metadata: dict[str, Any]
    inputs: dict[str, Any]  # what decides the numbers: equal inputs, equal cell
    prior_docs: Path | None = None  # the answer prior's training docs (backbone None)


def plan(request: EvalRequest) -> _Plan:
    """Resolve and check a request: task, dataset, docs, backbone, adapter, metadata.

    Raises:
        EvalInputError: anything missing or inconsistent (the message names the path or option).
    """
    if request.task not in TASKS:
        raise EvalInputError(f"unknown task {request.task!r} (known: {', '.join(TASKS)})")
    kind = TASKS[request.task].name
    try:
        name = parse_result_dataset(request.dataset)
    except ValueError as e:
        raise EvalInputError(f"--dataset: {e}") from None
    if name.dataset.name != kind or (name.scoring is not None and name.task != request.task):
        raise EvalInputError(
            f"task {request.task} scores {kind} docs: --dataset {request.dataset!r} names task {name.task}"
        )
    try:
        docs = docs_path(request.data_root, request.preset, "test")
    except ValueError as e:  # not a preset name
        raise EvalInputError(f"--variant: {e}") from None
    if not docs.is_file():
        raise EvalInputError(
            f"test docs not found: {docs} "
            f"(run `smd make-docs {request.data_root} --variant {request.preset}`)"
        )
    root_key = f"{kind}_root"
    clashing = sorted({"smd_variant", "data_root", root_key} & set(request.metadata))
    if clashing:
        raise EvalInputError(f"--metadata may not set {', '.join(clashing)}: use --variant / --data-root")
    if request.task == "smd_humanml3d_caption_full":  # its assets are read only after generation
        try:
            check_caption_assets(*(request.metadata.get(k) for k in CAPTION_ASSET_KEYS))
        except ValueError as e:
            raise EvalInputError(str(e)) from None
    if request.adapter_name and request.adapter is None:
        raise EvalInputError("--adapter-name needs --adapter")
    prior_docs = _answer_prior_docs(request) if request.backbone == ANSWER_PRIOR else None
    try:
        backbone = None if prior_docs else get_backbone(request.backbone, request.params)
    except (FileNotFoundError, ValueError) as e:
        raise EvalInputError(str(e)) from None
    try:
        scored = docs_format(read_jsonl(docs), str(docs))
        adapter = adapter_record(request.adapter, scored, docs) if request.adapter is not None else None
        encoder = encoder_record(request.encoder, scored, docs) if request.encoder is not None else None
    except ValueError as e:
        raise EvalInputError(str(e)) from None
    adapter_name = (request.adapter_name or "lora") if adapter else None
    try:
        cell = (
            request.dataset,
            request.preset,
            cell_backbone_name(backbone) if backbone else ANSWER_PRIOR,
            adapter_name,
        )
        Cell(*cell)  # the names' rules, checked before an hour of evaluation
    except ValueError as e:
        raise EvalInputError(str(e)) from None
    docs_sha = sha256_file(docs)
    inputs = {
        "task": request.task,
        "task_version": task_version(request.task),
        "preset": request.preset,
        "model": backbone.path if backbone else ANSWER_PRIOR,
        "model_files": folder_digest(backbone.path) if backbone else sha256_file(prior_docs),
        "adapter_sha256": adapter["sha256"] if adapter else None,
        **({"encoder_sha256": encoder["sha256"]} if encoder else {}),
        "docs_sha256": docs_sha,
        "smd": scored,
        "limit": request.limit,
        "metadata": _json_safe(request.metadata),
    }
    task_metadata = {"smd_variant": request.preset, root_key: str(request.data_root), **request.metadata}
    return _Plan(backbone, cell, docs, adapter, task_metadata, inputs, prior_docs)


def _answer_prior_docs(request: EvalRequest) -> Path:
    """The training docs the answer prior counts answers in (the test docs' own variant folder)."""
    if TASKS[request.task].kind != "qa":
        raise EvalInputError(f"--backbone {ANSWER_PRIOR} scores QA tasks only, not {request.task}")
    if request.adapter is not None or request.encoder is not None:
        raise EvalInputError(f"--backbone {ANSWER_PRIOR} reads no model: it takes no --adapter or --encoder")
    train = docs_path(request.data_root, request.preset, "train")
    if not train.is_file():
        raise EvalInputError(
            f"the answer prior needs the training docs: {train} not found "
            f"(run `smd make-docs {request.data_root} --variant {request.preset}`)"
        )
    return train


# ---------------------------------------------------------------- the run


def run_evaluation(request: EvalRequest) -> tuple[str, Path]:
    """Evaluate one cell unless it is up to date; returns (`"written"` or `"up to date"`, cell path).

    Raises:
        EvalInputError: bad input, or the cell holds another task's results (without `force`).
    """
    resolved = plan(request)
    path = cell_path(request.results, *resolved.cell)
    previous = _read_provenance(path)
    if previous is not None and not request.force:
        if previous.get("inputs") == resolved.inputs:
            return "up to date", path
        if previous.get("task") not in (None, request.task):
            raise EvalInputError(
                f"{path} holds {previous['task']} results; {request.task} would replace them "
                "(one task per cell; --force to replace)"
            )

    import torch
    from lm_eval import simple_evaluate

    cuda = torch.cuda.is_available()
    if resolved.backbone is None:  # registers lm-eval's model `smd-answer-prior`
        from . import answer_prior  # noqa: F401

        lm = ANSWER_PRIOR_MODEL
        args = {"train_docs": str(resolved.prior_docs)}
    else:
        lm = ENCODER_MODEL if request.encoder else "hf"
        args = model_args(
            resolved.backbone, request.adapter, cuda=cuda, encoder=request.encoder, root=request.data_root
        )
    if request.encoder:  # registers lm-eval's model `smd-encoder`
        from . import encoder_lm  # noqa: F401
    try:  # the task reads its docs (and leaves out those too long) before simple_evaluate loads the model
        task = lm_eval_task_manager(args | resolved.task_metadata).load([request.task])["tasks"][request.task]
    except (FileNotFoundError, ValueError) as e:
        raise EvalInputError(str(e)) from None
    started, clock = datetime.now(timezone.utc), time.monotonic()
    # lm-eval's request cache, keyed by these inputs: every answer is stored as it is produced, so a
    # killed or failed run keeps its generations and the same command resumes from them
    # (the batch size joins the key: batches pad, and padding may move a near-tie)
    cache = request_cache(
        request.samples_dir, resolved.cell, {**resolved.inputs, "batch_size": request.batch_size}
    )
    with quiet_git_probe():
        res = simple_evaluate(
            model=lm,
            model_args=args,
            tasks=[task],
            apply_chat_template=True,
            batch_size=request.batch_size,
            device="cuda" if cuda else "cpu",
            limit=request.limit,
            log_samples=True,
            use_cache=str(cache),
            **SEEDS,
        )
    if res is None:  # a non-main process of a data-parallel run: rank 0 writes
        return "not main process", path
    wall = time.monotonic() - clock
    counts = res["n-samples"][request.task]
    in_split = len(read_jsonl(resolved.docs))
    skipped = in_split - int(counts["original"])
    if skipped:
        print(f"{request.task}: {skipped} of {in_split} test docs left out, prompt too long", file=sys.stderr)
    metrics = cell_metrics(res["results"][request.task], n=int(counts["effective"]), skipped=skipped)

    rows = sample_rows(res["samples"][request.task])
    samples_file = cell_samples_path(path)  # committed beside the cell: compare and report work on a clone
    atomic_write_jsonl(samples_file, rows)
    run_log_file = run_log_path(samples_path(request.samples_dir, resolved.cell))
    # what the tables print beside the scores: chance, 95 % CIs, and whether only a subset was scored
    metrics |= cell_statistics(rows, captions=parse_result_dataset(resolved.cell[0]).scoring is None)
    if request.limit is not None and metrics["n"] < in_split - skipped:
        metrics["limit"] = request.limit

    from harness.core import git_state, hardware, versions

    provenance = {
        "status": "success",
        "task": request.task,
        "task_version": res["versions"].get(request.task),
        "inputs": resolved.inputs,
        "backbone": {"name": ANSWER_PRIOR, "path": None}
        if resolved.backbone is None
        else {"name": resolved.backbone.name, "path": resolved.backbone.path},
        "model_args": _json_safe(args),
        "adapter": resolved.adapter,
        "data": {
            "root": str(request.data_root),
            "docs": {"path": str(resolved.docs), "sha256": resolved.inputs["docs_sha256"], "docs": in_split},
        },
        "task_metadata": _json_safe(resolved.task_metadata),
        "limit": request.limit,
        "seeds": SEEDS,
        "samples": {"path": str(samples_file), "sha256": sha256_file(samples_file), "rows": len(rows)},
        "versions": versions(),
        "lm_eval_config": _json_safe(res.get("config")),
        "run_log": str(run_log_file),
    }
    # when, where and from which commit: with the profile's runs, not in the committed files, which hold
    # only what the inputs decide (a re-run of the same inputs rewrites them byte for byte)
    run_log = {
        "git": git_state(),
        "hardware": hardware(),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 3),
    }
    atomic_write_json(run_log_file, run_log)
    write_cell(request.results, Cell(*resolved.cell, metrics=metrics), provenance)
    finish_request_cache(cache)
    return "written", path


def _write_kept(request: EvalRequest) -> int:
    from .kept import write_kept

    resolved = plan(request)
    try:
        out, kept, docs = write_kept(request, resolved)
    except ValueError as e:
        raise EvalInputError(str(e)) from None
    print(f"{kept} of {docs} docs kept -> {out}; score them with `smd score-captions {out}`")
    return 0


def run_log_path(samples_file: Path) -> Path:
    """The run log of a cell (git commit, hardware, times): `<samples-dir>/<cell key>.run.json`."""
    return samples_file.with_suffix(".run.json")


def _read_provenance(path: Path) -> dict | None:
    """The provenance of an existing cell; None when either file is missing or unreadable."""
    if not (path.is_file() and provenance_path(path).is_file()):
        return None
    try:
        data = read_json(provenance_path(path))
    except ValueError:
        data = None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="smd evaluate", description="Score one backbone (+ adapter) on one lm-eval task; write its cell."
    )
    p.add_argument("--task", required=True, choices=tuple(TASKS))
    p.add_argument("--dataset", required=True, help="the cell's dataset name: [prefix_]<dataset>[_mc|_cloze]")
    p.add_argument("--data-root", type=Path, required=True, help="dataset folder holding docs/<variant>/")
    add_renamed_option(
        p, VARIANT_OPTION, old=("--preset",), required=True, help="docs variant (the cell's), e.g. v5_top3"
    )
    p.add_argument("--backbone", required=True, help="params.yaml backbone name, model folder or hub id")
    p.add_argument("--adapter", type=Path, help="PEFT adapter folder (omitted: zero-shot)")
    p.add_argument("--encoder", type=Path, help="encoder folder: the encoder baseline (on `motion` docs)")
    p.add_argument("--adapter-name", help="the cell's adapter name (default: lora)")
    p.add_argument(
        "--params", type=Path, help="file with `backbones:` (default: ./params.yaml, or the checkout's)"
    )
    p.add_argument("--results", type=Path, default=Path("results"), help="results folder (default: results)")
    p.add_argument("--limit", type=positive_int, help="score only the first N test docs (recorded)")
    p.add_argument("--batch-size", type=batch_size, default=1, help="int or auto (default: 1)")
    samples = f"run logs and request caches go to DIR/<dataset>/<variant>/ (default: {DEFAULT_SAMPLES_DIR})"
    p.add_argument("--samples-dir", type=Path, default=DEFAULT_SAMPLES_DIR, help=samples)
    p.add_argument(
        "--metadata",
        type=json_object,
        default={},
        help="extra task metadata as JSON, e.g. '{\"bertscore_model\": PATH}' for the _full caption task",
    )
    p.add_argument("--force", action="store_true", help="re-run even when the cell is up to date")
    kept = "run nothing: write the captions a killed run of these arguments kept to <samples>.kept.jsonl"
    p.add_argument("--kept-only", action="store_true", help=kept + " (for `smd score-captions`)")
    return p


def main(argv: list[str] | None = None, *, params: Params | None = None) -> int:
    """`smd evaluate --task T --dataset D --data-root DIR --variant V --backbone B [--adapter DIR]`.

    `params`: the params file already read by the caller (`smd stage`), used instead of `--params`."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    request = EvalRequest(
        task=args.task,
        dataset=args.dataset,
        data_root=args.data_root,
        preset=args.variant,
        backbone=args.backbone,
        adapter=args.adapter,
        encoder=args.encoder,
        adapter_name=args.adapter_name,
        params=params if params is not None else args.params,
        results=args.results,
        samples_dir=args.samples_dir,
        limit=args.limit,
        batch_size=args.batch_size,
        metadata=args.metadata,
        force=args.force,
    )
    try:
        if args.kept_only:
            return _write_kept(request)
        status, path = run_evaluation(request)
    except EvalInputError as e:
        print(f"smd evaluate: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if status == "written":
        numbers = ", ".join(f"{k}={v:.4g}" for k, v in sorted(read_json(path).items()))
        print(f"{path}: {numbers}")
    elif status == "up to date":
        print(f"{path}: up to date (--force to re-run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
