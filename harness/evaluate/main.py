"""`smd evaluate`: score one backbone (zero-shot or with a LoRA adapter) on one lm-eval task, one cell.

    smd evaluate --task smd_babel_qa --benchmark babel_qa --data-root data/babel_qa --variant v5_top3 \\
        --backbone qwen2.5-7b [--adapter runs/qa/qwen2.5-7b/v5_top3/best] [--limit N]

One call runs `lm_eval.simple_evaluate` on one task with `smd-hf`, lm-eval's `hf` model scoring a
question's options over one pass of its prompt (harness.evaluate.shared_context_lm; the backbone from the
registry in `params.yaml`, `peft=<adapter>`, the backbone's chat template and its kwargs) and writes:

    results/<benchmark>/<variant>/<backbone>[+<adapter-name>].json            numbers only (harness.results)
    results/<benchmark>/<variant>/<backbone>[+<adapter-name>].provenance.json inputs, SMD format, versions
    results/<benchmark>/<variant>/<backbone>[+<adapter-name>].samples.jsonl   one line per scored doc
    runs/eval_samples/<benchmark>/<variant>/<same name>.run.json              git commit, hardware, times

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

The stage is `run_evaluation(EvalRequest)`: a plan (`.plan`: the request resolved and checked, nothing
loaded), the run (`.run`: lm-eval), the record (`.record`: cell, samples, provenance, run log). `main`
only turns argv into the request; `smd stage evaluate` (harness.pipeline) builds the request from
params.yaml and calls `run_stage` without an argv between.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from harness.core import (
    VARIANT_OPTION,
    Params,
    add_renamed_option,
    batch_size,
    json_object,
    positive_int,
    read_json,
)
from harness.data import TASKS

from .plan import DEFAULT_SAMPLES_DIR, EvalInputError, EvalRequest, plan_evaluation
from .record import read_provenance, record_evaluation
from .run import run_lm_eval

__all__ = ["EvalInputError", "EvalRequest", "main", "parse_request", "run_evaluation", "run_stage"]

EXIT_BAD_INPUT = 2


def run_evaluation(request: EvalRequest) -> tuple[str, Path]:
    """Evaluate one cell unless it is up to date; returns (`"written"`, `"up to date"` or `"not main
    process"`, cell path).

    Raises:
        EvalInputError: bad input, or the cell holds another task's results (without `force`).
    """
    plan = plan_evaluation(request)
    path = plan.cell_file
    previous = read_provenance(path)
    if previous is not None and not request.force:
        if previous.get("inputs") == plan.inputs:
            return "up to date", path
        if previous.get("task") not in (None, request.task):
            raise EvalInputError(
                f"{path} holds {previous['task']} results; {request.task} would replace them "
                "(one task per cell; --force to replace)"
            )
    run = run_lm_eval(plan)
    if run is None:  # a non-main process of a data-parallel run: rank 0 writes
        return "not main process", path
    record_evaluation(plan, run)
    return "written", path


def _write_kept(request: EvalRequest) -> int:
    """`--kept-only`: write what a killed run of this request kept; nothing runs."""
    from .kept import write_kept

    try:
        out, kept, docs = write_kept(plan_evaluation(request))
    except (EvalInputError, ValueError) as e:
        print(f"smd evaluate: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"{kept} of {docs} docs kept -> {out}; score them with `smd score-captions {out}`")
    return 0


# ---------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="smd evaluate", description="Score one backbone (+ adapter) on one lm-eval task; write its cell."
    )
    p.add_argument("--task", required=True, choices=tuple(TASKS))
    benchmark = "the cell's benchmark, the first part of its key: [prefix_]<dataset>[_mc|_cloze]"
    add_renamed_option(p, "--benchmark", old=("--dataset",), required=True, help=benchmark)
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
    samples = f"run logs and request caches go to DIR/<benchmark>/<variant>/ (default: {DEFAULT_SAMPLES_DIR})"
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


def parse_request(argv: list[str] | None = None, *, params: Params | None = None) -> EvalRequest:
    """The request `smd evaluate ARGV` asks for (`--kept-only`, a way of running it, is not part of it);
    `params`, when given, stands for `--params`.

    Raises:
        SystemExit: bad arguments (argparse's message and exit status 2).
    """
    return _request(build_parser().parse_args(argv), params)


def _request(args: argparse.Namespace, params: Params | None) -> EvalRequest:
    return EvalRequest(
        task=args.task,
        benchmark=args.benchmark,
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


def run_stage(request: EvalRequest) -> int:
    """The stage as `smd` runs it: `run_evaluation`, the cell's numbers (or "up to date") in one line,
    bad input as exit status 2."""
    try:
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


def main(argv: list[str] | None = None, *, params: Params | None = None) -> int:
    """`smd evaluate --task T --benchmark B --data-root DIR --variant V --backbone B [--adapter DIR]`.

    `params`: the params file already read by the caller, used instead of `--params`."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    request = _request(args, params)
    return _write_kept(request) if args.kept_only else run_stage(request)


if __name__ == "__main__":
    sys.exit(main())
