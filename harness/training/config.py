"""Typed training configuration: the `train:` section of `params.yaml`, checked key by key.

`params.yaml` holds the paper's defaults; `train.qa` and `train.caption` override fields per task
(the paper's batch 2 x 4 for QA and 1 x 8 for captioning); `--set key=value` overrides last.
Unknown keys and values outside a `Literal` are errors that name the key, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..io import read_yaml
from ..prompts import QaTarget

TaskName = Literal["qa", "caption"]
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class TrainConfig:
    """One training run's settings (paper defaults; see DESIGN.md "training settings").

    Attributes:
        task: `qa` (validated by accuracy) or `caption` (validated by loss).
        qa_target: what a QA example answers (harness.prompts): `letter`, the gold option's letter after
            the lettered prompt (the paper's protocol; tasks `smd_*_qa`, `smd_*_qa_mc`), or `text`, the
            gold option's text after the cloze prompt (no options listed; task `smd_*_qa_cloze`). A text
            run validates the cloze way: argmax of the options' log-likelihoods. Captions ignore it.
        lora_r / lora_alpha / lora_dropout: LoRA rank, scale and dropout.
        target_modules: module names (or one regex) LoRA adapts; a backbone entry may override them.
        modules_to_save: modules trained in full next to LoRA (peft `modules_to_save`), e.g. `norm` and
            `lm_head` for the randomly initialised tiny backbone, whose frozen final norm and small tied
            embeddings cap its logits near uniform; pretrained backbones need none.
        epochs, lr, weight_decay, scheduler, warmup_ratio, max_grad_norm: optimisation (AdamW).
        batch_size, grad_accum: micro-batch size per process and micro-batches per optimizer step.
        max_length: context limit in tokens; None takes the model's. Longer examples are skipped.
        grouping: `length` sorts examples of similar length into one batch (little padding);
            `none` is plain shuffled batches (the paper's configuration, for the benchmark).
        precision: `auto` is bf16 on a GPU that supports it and float32 otherwise.
        attn_implementation: attention kernel handed to `from_pretrained`.
        gradient_checkpointing: recompute activations in the backward pass (less memory, ~30% slower).
        save_every: optimizer steps between resumable checkpoints (also saved at every epoch end).
        seed: seeds LoRA initialisation, dropout and the data order.
        val_batch_size, val_max_new_tokens, val_limit: validation batch, greedy tokens generated per
            QA answer, and an optional cap on validation docs.
        train_limit: train on a seeded random sample of this many training docs (None: all), in their
            file order; sized runs of a slow backbone (a random sample, not the first docs, because a
            split lists each motion's questions together).
    """

    task: TaskName = "qa"
    qa_target: QaTarget = "letter"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = LORA_TARGETS
    modules_to_save: tuple[str, ...] = ()
    epochs: int = 5
    lr: float = 1e-4
    weight_decay: float = 0.0
    scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "linear"
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    batch_size: int = 2
    grad_accum: int = 4
    max_length: int | None = None
    grouping: Literal["length", "none"] = "length"
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa"
    gradient_checkpointing: bool = False
    save_every: int = 50
    seed: int = 0
    val_batch_size: int = 8
    val_max_new_tokens: int = 4
    val_limit: int | None = None
    train_limit: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes copied into run.json

    def __post_init__(self):
        positive = ("lora_r", "epochs", "batch_size", "grad_accum", "save_every", "val_batch_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.lora_dropout < 1.0 or not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError("train.lora_dropout and train.warmup_ratio must be in [0, 1)")
        for name in ("val_limit", "train_limit"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1 or null, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"train.lr must be > 0, got {self.lr}")


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """`value` checked against a type hint (the subset configs use); raises ValueError naming `where`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin is Literal:
        if value not in args:
            raise ValueError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, where)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0])
    if origin is tuple:
        if isinstance(value, str):  # one regex or one module name
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        # YAML 1.1 reads `1e-4` (no dot) as a string: accept any number written as text
        if isinstance(value, bool):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: expected a number, got {value!r}") from None
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{where}: unsupported type {hint!r}")


def typed_from_mapping(cls: type, mapping: dict, where: str, **fixed: Any):
    """An instance of dataclass `cls` from a mapping: unknown keys and wrong types raise ValueError."""
    if not isinstance(mapping, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - names)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    values = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in mapping.items()}
    return cls(**{**values, **fixed})


def read_params(path: Path | str) -> dict:
    """`params.yaml` as a mapping (safe_load); a missing or malformed file raises a clear error."""
    data = read_yaml(path, "params file") or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """`["lr=2e-4", "epochs=1"]` -> `{"lr": 0.0002, "epochs": 1}` (values parsed as YAML scalars)."""
    out = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
    return out


def load_train_config(
    params: Path | str | dict | None, task: str, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """TrainConfig for `task` from params (path or mapping): `train:` fields, then `train.<task>:`, then
    `overrides`. No params file gives the paper defaults with the task's batch settings.

    Raises:
        ValueError: unknown key, wrong type or value outside its Literal (the message names the key).
    """
    if task not in typing.get_args(TaskName):
        raise ValueError(f"task must be qa or caption, got {task!r}")
    data = params if isinstance(params, dict) else read_params(params) if params is not None else {}
    section = data.get("train") or {}
    if not isinstance(section, dict):
        raise ValueError("params: `train` must be a mapping")
    base = {k: v for k, v in section.items() if k not in ("qa", "caption")}
    per_task = section.get(task) or {}
    if params is None:  # the paper's per-task batches without a params file
        per_task = {"batch_size": 1, "grad_accum": 8} if task == "caption" else {}
    if not isinstance(per_task, dict):
        raise ValueError(f"params: `train.{task}` must be a mapping")
    merged = {**base, **per_task, **(overrides or {})}
    if merged.get("task", task) != task:
        raise ValueError(f"train.task is {merged['task']!r} but the run trains {task!r}")
    merged["task"] = task
    return typed_from_mapping(TrainConfig, merged, "train")
