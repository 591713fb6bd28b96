"""What one evaluation will run, decided before any model loads: the request as asked (`EvalRequest`),
then resolved and checked into an `EvalPlan` (the cell, the test docs, the backbone, the adapter, the
inputs that decide the numbers, the request cache's key, the lm-eval model and its arguments).

A bad request fails here, as an `EvalInputError` naming the path or option, so that nothing is written
and no hour of evaluation is spent on it; the run (`.run`) and the record (`.record`) only read the plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core import Params, folder_digest, read_jsonl, sha256_file
from harness.data import TASKS, docs_format, docs_path, parse_benchmark
from harness.metrics import CAPTION_ASSET_KEYS, check_caption_assets
from harness.models import Backbone, adapter_record, get_backbone
from harness.results import Cell, cell_path

from .lm_eval_io import (
    ANSWER_PRIOR,
    ANSWER_PRIOR_MODEL,
    ENCODER_MODEL,
    SHARED_CONTEXT_MODEL,
    cell_backbone_name,
    encoder_record,
    model_args,
    request_cache,
    task_version,
)

__all__ = ["DEFAULT_SAMPLES_DIR", "EvalInputError", "EvalPlan", "EvalRequest", "json_safe", "plan_evaluation"]

DEFAULT_SAMPLES_DIR = Path("runs/eval_samples")


class EvalInputError(Exception):
    """A user-facing input error (missing docs, adapter or backbone): exit 2, nothing written."""


@dataclass(frozen=True)
class EvalRequest:
    """Everything one `smd evaluate` call needs; see `harness.evaluate.main` for each option's meaning."""

    task: str
    benchmark: str
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


def json_safe(obj: Any) -> Any:
    """`obj` as strict JSON reads it back (paths and other objects as strings): what provenance records."""
    return json.loads(json.dumps(obj, default=str))


@dataclass(frozen=True)
class EvalPlan:
    """A request with everything resolved and checked, before any model is loaded.

    Attributes:
        request: the request as asked.
        backbone: the text model; None for the answer prior, which reads no model.
        cell: the cell's benchmark, variant, backbone and adapter names.
        docs: the test docs; `docs_count` of them in the split.
        adapter: the adapter's path and hash (None: zero-shot).
        task_metadata: what the task YAMLs read (`smd_variant`, the dataset root, `--metadata`).
        inputs: what decides the numbers: equal inputs, equal cell (a cell's provenance holds them).
        prior_docs: the answer prior's training docs (backbone None).
    """

    request: EvalRequest
    backbone: Backbone | None
    cell: tuple[str, str, str, str | None]
    docs: Path
    docs_count: int
    adapter: dict[str, Any] | None
    task_metadata: dict[str, Any]
    inputs: dict[str, Any]
    prior_docs: Path | None = None

    @property
    def cell_file(self) -> Path:
        return cell_path(self.request.results, *self.cell)

    @property
    def request_cache(self) -> Path:
        """The prefix of lm-eval's request cache of this plan, keyed by its inputs, the batch size and the
        lm-eval model (batches pad, and `smd-hf` runs the options in other shapes than `hf`: either may
        move a near-tie by a rounding): the run writes it, `--kept-only` reads it."""
        return request_cache(
            self.request.samples_dir,
            self.cell,
            {**self.inputs, "batch_size": self.request.batch_size, "lm_eval_model": self.lm_eval_model},
        )

    @property
    def lm_eval_model(self) -> str:
        """The lm-eval model that scores the cell, one of ours (the run registers it): a backbone is
        scored by `smd-hf`, lm-eval's `hf` with each question's options over one pass of its prompt
        (its log-likelihoods are `hf`'s, its generation is `hf`'s own code)."""
        if self.backbone is None:
            return ANSWER_PRIOR_MODEL
        return ENCODER_MODEL if self.request.encoder else SHARED_CONTEXT_MODEL

    def model_args(self, *, cuda: bool) -> dict[str, Any]:
        """The lm-eval model's arguments (the dtype depends on `cuda`: the entry's `cpu_dtype` on a CPU)."""
        if self.backbone is None:
            return {"train_docs": str(self.prior_docs)}
        request = self.request
        return model_args(
            self.backbone, request.adapter, cuda=cuda, encoder=request.encoder, root=request.data_root
        )


def plan_evaluation(request: EvalRequest) -> EvalPlan:
    """Resolve and check a request: task, benchmark, docs, backbone, adapter, metadata.

    Raises:
        EvalInputError: anything missing or inconsistent (the message names the path or option).
    """
    if request.task not in TASKS:
        raise EvalInputError(f"unknown task {request.task!r} (known: {', '.join(TASKS)})")
    kind = TASKS[request.task].name
    try:
        name = parse_benchmark(request.benchmark)
    except ValueError as e:
        raise EvalInputError(f"--benchmark: {e}") from None
    if name.dataset.name != kind or (name.scoring is not None and name.task != request.task):
        raise EvalInputError(
            f"task {request.task} scores {kind} docs: "
            f"--benchmark {request.benchmark!r} names task {name.task}"
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
        rows = read_jsonl(docs)
        scored = docs_format(rows, str(docs))
        adapter = adapter_record(request.adapter, scored, docs) if request.adapter is not None else None
        encoder = encoder_record(request.encoder, scored, docs) if request.encoder is not None else None
    except ValueError as e:
        raise EvalInputError(str(e)) from None
    adapter_name = (request.adapter_name or "lora") if adapter else None
    try:
        cell = (
            request.benchmark,
            request.preset,
            cell_backbone_name(backbone) if backbone else ANSWER_PRIOR,
            adapter_name,
        )
        Cell(*cell)  # the names' rules, checked before an hour of evaluation
    except ValueError as e:
        raise EvalInputError(str(e)) from None
    inputs = {
        "task": request.task,
        "task_version": task_version(request.task),
        "preset": request.preset,
        "model": backbone.path if backbone else ANSWER_PRIOR,
        "model_files": folder_digest(backbone.path) if backbone else sha256_file(prior_docs),
        "adapter_sha256": adapter["sha256"] if adapter else None,
        **({"encoder_sha256": encoder["sha256"]} if encoder else {}),
        "docs_sha256": sha256_file(docs),
        "smd": scored,
        "limit": request.limit,
        "metadata": json_safe(request.metadata),
    }
    task_metadata = {"smd_variant": request.preset, root_key: str(request.data_root), **request.metadata}
    return EvalPlan(request, backbone, cell, docs, len(rows), adapter, task_metadata, inputs, prior_docs)


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
