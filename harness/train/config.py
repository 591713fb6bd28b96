"""Typed training configuration: the `train:` section of `params.yaml`, checked key by key.

`params.yaml` holds the paper's defaults; `train.qa` and `train.caption` override fields per task
(the paper's batch 2 x 4 for QA and 1 x 8 for captioning); `--set key=value` overrides last.
Unknown keys and values outside a `Literal` are errors that name the key, never silently ignored.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.core import Params, checked_fields, load_params, typed_from_mapping
from harness.data import QaTarget

TaskName = Literal["qa", "caption"]
# attention implementations packed = separate examples is verified with (tests/harness/test_train_packing.py)
PACKING_ATTENTION = ("eager", "sdpa")
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class TrainConfig:
    """One training run's settings (the paper's defaults; docs/training.md).

    Attributes:
        task: `qa` (validated by accuracy) or `caption` (validated by loss).
        qa_target: what a QA example answers (harness.data.prompts): `letter`, the gold option's letter after
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
        precision: `auto` is bf16 on a GPU that supports it, on a CPU where the backbone's `cpu_dtype` is
            bfloat16, and float32 otherwise.
        attn_implementation: attention kernel handed to `from_pretrained`.
        packing: `shared_prefix` trains each motion's examples together: its SMD prompt run once, then
            each of its questions (captions) as a block on the prompt's cached keys and values, at the
            positions it has alone (training.packing): the same loss and gradients as separate examples,
            for ~1/3 of the tokens. `none` trains each example as its own sequence. `auto` (the default)
            is `shared_prefix` where it is verified exact and supported (eager or SDPA attention; without
            gradient checkpointing, which drops the cache; not the encoder baseline, whose soft tokens
            shift the positions; one process, not DDP), else `none`; asking for `shared_prefix` where it
            is not supported is an error.
        gradient_checkpointing: recompute activations in the backward pass (less memory, ~30% slower).
        save_every: optimizer steps between resumable checkpoints (also saved at every epoch end).
        seed: seeds LoRA initialisation, dropout and the data order.
        val_batch_size, val_max_new_tokens, val_limit: validation batch, greedy tokens generated per
            QA answer, and an optional cap on validation docs.
        train_limit: train on a seeded random sample of this many training docs (None: all), in their
            file order; sized runs of a slow backbone (a random sample, not the first docs, because a
            split lists each motion's questions together).
        encoder: `none` (the SMD), or the encoder baseline's motion encoder (training.encoder_model):
            `small` (trained from scratch) or `mld` (MotionGPT3's, from `encoder_init`, an MLD checkpoint,
            with HumanML3D's Mean.npy / Std.npy in the folder `encoder_stats`). `encoder_init` may also be
            a stage-1 run's `best/`; `encoder_tokens` soft tokens per motion, a projector with
            `projector_hidden` hidden units (0: one Linear, as MotionGPT3's); `encoder_train` trains the
            encoder too (default: `small` yes, `mld` no, frozen as in MotionGPT3); `lora: false` is
            stage 1 (the LLM frozen, only the projector and encoder learn).
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
    packing: Literal["auto", "shared_prefix", "none"] = "auto"
    gradient_checkpointing: bool = False
    save_every: int = 50
    seed: int = 0
    val_batch_size: int = 8
    val_max_new_tokens: int = 4
    val_limit: int | None = None
    train_limit: int | None = None
    encoder: Literal["none", "small", "mld"] = "none"
    encoder_init: str | None = None
    encoder_stats: str | None = None
    encoder_tokens: int = 4
    projector_hidden: int = 1024
    encoder_train: bool | None = None
    lora: bool = True
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
        # NaN compares false with everything, and `lr: .inf` trains a garbage adapter to "success"
        for name in ("lr", "weight_decay", "max_grad_norm", "lora_alpha", "lora_dropout", "warmup_ratio"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"train.{name} must be a finite number, got {getattr(self, name)}")
        if self.encoder_tokens < 1 or self.projector_hidden < 0:
            raise ValueError("train.encoder_tokens must be >= 1 and train.projector_hidden >= 0")
        if not self.lora and self.encoder == "none":
            raise ValueError("train.lora: false trains nothing without an encoder (train.encoder)")
        if self.packing == "shared_prefix" and self.attn_implementation not in PACKING_ATTENTION:
            raise ValueError(
                "train.packing shared_prefix is verified exact with "
                f"{' and '.join(PACKING_ATTENTION)} attention only, not {self.attn_implementation}: "
                "set packing: none (or auto) to train with it"
            )
        if self.packing == "shared_prefix" and self.gradient_checkpointing:
            raise ValueError(
                "train.packing shared_prefix runs each motion's blocks on its prompt's cached keys and "
                "values, which gradient checkpointing drops: set packing: none (or auto) to train with it"
            )
        if self.packing == "shared_prefix" and self.encoder != "none":
            raise ValueError(
                "train.packing shared_prefix is not supported with the encoder baseline (train.encoder): "
                "its soft tokens change the sequence's length and positions; set packing: none (or auto)"
            )
        if self.lr <= 0:
            raise ValueError(f"train.lr must be > 0, got {self.lr}")
        if self.weight_decay < 0 or self.max_grad_norm < 0 or self.lora_alpha <= 0:
            raise ValueError(
                "train.weight_decay and train.max_grad_norm (0: no clipping) must be >= 0, train.lora_alpha "
                f"> 0; got {self.weight_decay}, {self.max_grad_norm}, {self.lora_alpha}"
            )


def load_train_config(
    params: Params | Path | str | dict | None,
    task: str,
    overrides: dict[str, Any] | None = None,
    *,
    backbone=None,
) -> TrainConfig:
    """TrainConfig for `task`, every key by one rule, lowest first: `train:`, `train.<task>:`, the
    backbone entry's `train:` and its `train.<task>:` (`backbone`: a harness.models.backbones.Backbone), then
    `overrides` (`--set`). No params gives the paper defaults with the task's batch settings.

    Raises:
        ValueError: unknown key, wrong type or value outside its Literal, naming the layer and key
            (`train.qa.lr`, `backbones.tiny.train.epochs`, `--set lr`).
    """
    if task not in typing.get_args(TaskName):
        raise ValueError(f"task must be qa or caption, got {task!r}")
    loaded = load_params(params)
    layers = _layers(loaded.section("train"), task, "train")
    if not loaded.data:  # the paper's per-task batches without a params file
        layers.append(({"batch_size": 1, "grad_accum": 8} if task == "caption" else {}, "train"))
    if backbone is not None:
        layers += _layers(dict(backbone.train), task, f"backbones.{backbone.name}.train")
    layers.append((dict(overrides or {}), "--set"))
    merged: dict[str, Any] = {}
    for layer, where in layers:
        if layer.get("task", task) != task:
            raise ValueError(f"{where}.task is {layer['task']!r} but the run trains {task!r}")
        _check_layer(layer, where)
        merged.update(layer)
    merged["task"] = task
    return typed_from_mapping(TrainConfig, merged, "train")


def _layers(section: Any, task: str, where: str) -> list[tuple[dict, str]]:
    """A `train:`-style section as its two layers: the shared keys, then the task's sub-section."""
    if not isinstance(section, dict):
        raise ValueError(f"params: `{where}` must be a mapping")
    task_keys = set(section) & set(typing.get_args(TaskName))
    per_task = section.get(task) or {}
    if not isinstance(per_task, dict):
        raise ValueError(f"params: `{where}.{task}` must be a mapping")
    for other in task_keys - {task}:  # checked too, so a typo in the other task's section fails now
        _check_layer(section[other] or {}, f"{where}.{other}")
    shared = {k: v for k, v in section.items() if k not in task_keys}
    return [(shared, where), (dict(per_task), f"{where}.{task}")]


def _check_layer(layer: Any, where: str) -> None:
    """Each key of one layer is a TrainConfig field of the right type (named `where.key` if not)."""
    if not isinstance(layer, dict):
        raise ValueError(f"params: `{where}` must be a mapping")
    checked_fields(TrainConfig, {k: v for k, v in layer.items() if k != "task"}, where)


def packs(cfg: TrainConfig, processes: int = 1) -> bool:
    """Whether a run trains with shared-prefix packing (`packing`, `auto` resolved) on `processes`
    data-parallel processes.

    Raises:
        ValueError: `shared_prefix` asked for on more than one process. A packed step is filled with
            whole motions up to its answers; split over processes its micro-batches would not be the
            one-process run's (measured: adapters 0.2 apart), so DDP runs unpacked (`auto`) for now.
    """
    if processes > 1:
        if cfg.packing == "shared_prefix":
            raise ValueError(
                f"train.packing shared_prefix is not supported on {processes} processes yet: "
                "set packing: none (or auto, which trains unpacked there)"
            )
        return False
    if cfg.packing == "auto":
        return (
            cfg.attn_implementation in PACKING_ATTENTION
            and cfg.encoder == "none"
            and not cfg.gradient_checkpointing
        )
    return cfg.packing == "shared_prefix"
