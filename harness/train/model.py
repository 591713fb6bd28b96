"""The backbone a run trains: precision, loading (with its chat template checked) and the LoRA wrap."""

from __future__ import annotations

from harness.models import Backbone
from harness.models import context_length as backbone_context_length

from .checkpoints import TrainingError
from .config import TrainConfig


def use_bf16(cfg: TrainConfig, backbone: Backbone) -> bool:
    """Whether the run computes in bf16: on a GPU where it is supported, on a CPU where the backbone's
    `cpu_dtype` is bfloat16 (the same weights dtype evaluation loads there); never with `fp32`."""
    import torch

    if cfg.precision == "fp32":
        return False
    if not torch.cuda.is_available():
        if cfg.precision == "bf16" and backbone.cpu_dtype != "bfloat16":
            raise TrainingError(
                f"precision bf16 on a CPU needs backbone {backbone.name!r} to set cpu_dtype: bfloat16 "
                "(evaluation then loads it in bfloat16 too); or use precision=fp32"
            )
        return backbone.cpu_dtype == "bfloat16"
    cuda_bf16 = torch.cuda.is_bf16_supported()
    if cfg.precision == "bf16" and not cuda_bf16:
        raise TrainingError("precision bf16 needs a GPU with bfloat16 support; use precision=fp32")
    return cuda_bf16


def load_backbone(backbone: Backbone, cfg: TrainConfig, *, bf16: bool):
    """(model, tokenizer) of a backbone, with SDPA attention; a clear TrainingError if it cannot load."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = torch.float32
    if bf16 and torch.cuda.is_available():
        dtype = (
            getattr(torch, backbone.dtype) if backbone.dtype not in ("auto", "float32") else torch.bfloat16
        )
    elif bf16:
        dtype = torch.bfloat16
    try:
        tokenizer = AutoTokenizer.from_pretrained(backbone.path, trust_remote_code=backbone.trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            backbone.path,
            dtype=dtype,
            attn_implementation=cfg.attn_implementation,
            trust_remote_code=backbone.trust_remote_code,
        )
    except (OSError, ValueError) as e:
        raise TrainingError(f"cannot load backbone {backbone.name!r} from {backbone.path}: {e}") from e
    if not getattr(tokenizer, "chat_template", None):
        raise TrainingError(
            f"backbone {backbone.name!r} has no chat template: training renders prompts with it"
        )
    if tokenizer.pad_token_id is None:  # padding positions are masked; any id will do
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def context_length(model, tokenizer, cfg: TrainConfig, backbone: Backbone) -> int:
    return backbone_context_length(model.config, tokenizer, backbone, cfg.max_length)


def add_lora(model, cfg: TrainConfig, backbone: Backbone):
    from peft import LoraConfig, get_peft_model

    targets = cfg.target_modules
    # one entry is a regex (peft matches a str against the full module name), several are names
    target_modules = (
        targets[0] if len(targets) == 1 and any(c in targets[0] for c in ".*|(") else list(targets)
    )
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    config = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=target_modules,
        modules_to_save=list(cfg.modules_to_save) or None,
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as e:
        raise TrainingError(f"backbone {backbone.name!r}: LoRA targets {targets} not found ({e})") from e
