"""`smd train`: LoRA fine-tuning of any causal LM on SMD prompt docs, through its chat template.

QA trains jointly on several QA datasets' docs (e.g. BABEL-QA + HuMMan-QA) and validates by greedy
generation + the lm-eval tasks' answer extraction; captioning trains one sample per reference caption
and validates by loss. Prompts come from `harness.data.prompts.build_messages`, the builder lm-eval uses,
and the loss is on the assistant answer only. Settings: `params.yaml` `train:` (typed, see
`harness.train.config.TrainConfig`), backbones by name from `params.yaml` `backbones:`.

One machine, one GPU or CPU:

    python -m harness.train --task qa --backbone qwen2.5-7b -o runs/qa-qwen7b \\
        --docs data/babel_qa/docs/v5_top3/train.jsonl data/humman_qa/docs/v5_top3/train.jsonl \\
        --val-docs data/babel_qa/docs/v5_top3/val.jsonl data/humman_qa/docs/v5_top3/val.jsonl
    python -m harness.train --task caption --backbone qwen2.5-7b -o runs/cap-qwen7b \\
        --docs data/humanml3d/docs/v5/train.jsonl --val-docs data/humanml3d/docs/v5/val.jsonl

Several GPUs (the same command under accelerate: DDP; each process takes every n-th batch, the batch
size is per process, so the effective batch is batch_size x grad_accum x processes):

    accelerate launch --multi_gpu --num_processes 4 -m harness.train --task qa ... [--set grad_accum=1]
    accelerate launch --config_file fsdp.yaml -m harness.train ...     # FSDP / DeepSpeed configs as usual

(Checkpoints gather the LoRA weights on the main process: DDP and ZeRO-1/2 resume exactly; under FSDP
with sharded state, use `accelerate`'s own state saving.) A killed run resumes from `OUT/checkpoints`
when started again with the same arguments; a finished run (`OUT/run.json` status success) is not
redone. Outputs: `OUT/best/` and `OUT/last/` (adapter + tokenizer; `lm_eval --model_args
pretrained=BASE,peft=OUT/best`), `OUT/run.json`. Exit status: 0 done, 1 the run failed (run.json says
why), 2 bad input (nothing trained), 130 canceled.

The stage is `run_training(TrainRequest)`; `main` only turns argv into that request, and `smd stage
train` (harness.pipeline) builds it from params.yaml and calls `run_stage` without an argv between.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core import OUTPUT_OPTION, Params, add_renamed_option, load_params, parse_overrides
from harness.models import Backbone, default_params, get_backbone

from .config import TrainConfig, load_train_config

__all__ = ["Backbone", "TrainConfig", "TrainRequest", "main", "run_stage", "run_training"]


@dataclass(frozen=True)
class TrainRequest:
    """One training run, as `smd train` and `smd stage train` ask for it.

    Attributes:
        task: `qa` or `caption`.
        docs / val_docs: prompt-doc JSONL files (several QA datasets are trained jointly).
        backbone: a name of `params.yaml` `backbones:`, a model folder or a hub id.
        out: output folder (resumes from its checkpoints; returns at once if its run finished).
        params: params file or an already read `Params` (default: the repository's `params.yaml` when
            present, else paper defaults). It is read once, by `run_training`.
        overrides: `TrainConfig` fields to override (`--set`), values as `--set` parses them.
        restart_changed: start over when `out` holds a run of other inputs (else an error).
    """

    task: str
    docs: tuple[Path, ...]
    val_docs: tuple[Path, ...]
    backbone: str
    out: Path
    params: Params | Path | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    restart_changed: bool = False


def run_training(request: TrainRequest) -> dict:
    """Train one adapter; returns the run record (also `out/run.json`).

    Raises:
        ValueError: bad config key/value or docs of the wrong task.
        FileNotFoundError: missing docs, backbone folder or params file.
        harness.train.TrainingError: the backbone cannot load, no example fits, or `out` holds
            another run's checkpoint.
    """
    from .loop import train

    loaded = load_params(request.params, default_params())
    resolved: Backbone = get_backbone(request.backbone, loaded)
    cfg = load_train_config(loaded, request.task, dict(request.overrides), backbone=resolved)
    return train(
        cfg,
        docs=list(request.docs),
        val_docs=list(request.val_docs),
        backbone=resolved,
        out=Path(request.out),
        restart_changed=request.restart_changed,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smd train", description=main.__doc__)
    parser.add_argument("--task", choices=("qa", "caption"), required=True)
    parser.add_argument("--docs", type=Path, nargs="+", required=True, help="training prompt-doc JSONL files")
    parser.add_argument("--val-docs", type=Path, nargs="+", required=True, help="validation prompt-doc files")
    parser.add_argument("--backbone", required=True, help="params.yaml backbone name, model folder or hub id")
    add_renamed_option(
        parser,
        *OUTPUT_OPTION,
        old=("--out",),
        type=Path,
        required=True,
        metavar="DIR",
        help="output folder (resumed if it holds a run)",
    )
    parser.add_argument(
        "--params", type=Path, help="params file (default: ./params.yaml, else the checkout's)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a train: setting, e.g. --set lr=2e-4 --set epochs=1",
    )
    parser.add_argument(
        "--restart-changed",
        action="store_true",
        help="start over when OUT holds a run of another config, backbone or data (default: error)",
    )
    return parser


def parse_request(argv: list[str] | None = None, *, params: Params | None = None) -> TrainRequest:
    """The request `smd train ARGV` asks for; `params`, when given, stands for `--params`.

    Raises:
        SystemExit: bad arguments (argparse's message and exit status 2).
        ValueError: a `--set` that is not KEY=VALUE.
    """
    args = build_parser().parse_args(argv)
    return TrainRequest(
        task=args.task,
        docs=tuple(args.docs),
        val_docs=tuple(args.val_docs),
        backbone=args.backbone,
        out=args.output,
        params=params if params is not None else args.params,
        overrides=parse_overrides(args.overrides),
        restart_changed=args.restart_changed,
    )


def run_stage(request: TrainRequest) -> int:
    """The stage as `smd` runs it: `run_training`, its outcome in one line, errors as the exit status
    (0 done, 1 the run failed and its run.json says why, 2 bad input and nothing trained, 130 canceled)."""
    from .loop import TrainingError

    try:
        record = run_training(request)
    except KeyboardInterrupt:
        print("training canceled; start it again with the same arguments to resume", file=sys.stderr)
        return 130
    except (TrainingError, ValueError, FileNotFoundError) as e:
        print(f"smd train: error: {e}", file=sys.stderr)
        return 1 if isinstance(e, TrainingError) else 2
    best = record.get("best") or {}
    metric = {k: v for k, v in best.items() if k.startswith("val_")}
    print(f"{request.out}: {record['status']}; best epoch {best.get('epoch')}: {metric}")
    return 0


def main(argv: list[str] | None = None, *, params: Params | None = None) -> int:
    """`smd train --task qa|caption --docs D.jsonl ... --val-docs V.jsonl ... --backbone NAME -o DIR`.

    `params`: the params file already read by the caller, used instead of `--params`."""
    try:
        request = parse_request(argv, params=params)
    except ValueError as e:  # a malformed --set
        print(f"smd train: error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return run_stage(request)


if __name__ == "__main__":
    sys.exit(main())
