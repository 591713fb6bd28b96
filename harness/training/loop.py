"""The LoRA training loop: plain PyTorch under an `accelerate.Accelerator`, resumable exactly.

Exact resume rests on three facts: the batches of an epoch are a pure function of (seed, epoch)
(`data.epoch_batches`), a checkpoint is taken only between optimizer steps, and it holds everything
else that changes (LoRA weights, AdamW and scheduler state, every RNG: dropout draws from torch's).
A resumed run therefore replays the same arithmetic as an uninterrupted one.

Output folder:
    run.json                 config, data hashes, versions, hardware, history, status
    best/  last/             LoRA adapter + tokenizer (best: by val accuracy (QA) or val loss (caption))
    checkpoints/<tag>/       resumable state; checkpoints/latest names the newest complete one
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import random
import shutil
import time
from contextlib import nullcontext
from pathlib import Path

from ..backbones import Backbone
from ..io import atomic_write_json, folder_digest, read_json
from ..provenance import git_state, hardware, now_utc, versions
from .checkpoints import TrainingError, load_checkpoint, save_adapter, save_checkpoint
from .config import TrainConfig
from .data import IGNORE, build_examples, collate, epoch_batches, read_docs
from .loss import keeps_logits, loss_sum
from .validation import better, cloze_accuracy, mean_loss, qa_accuracy

LOG = logging.getLogger("smd.train")
# Fields that cannot change the result: a resumed run may differ in them.
_NOT_FINGERPRINTED = ("save_every", "val_batch_size", "extra")


def use_bf16(cfg: TrainConfig) -> bool:
    import torch

    if cfg.precision == "fp32":
        return False
    cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if cfg.precision == "bf16" and not cuda_bf16:
        raise TrainingError("precision bf16 needs a GPU with bfloat16 support; use precision=fp32 on CPU")
    return cuda_bf16


def load_backbone(backbone: Backbone, cfg: TrainConfig, *, bf16: bool):
    """(model, tokenizer) of a backbone, with SDPA attention; a clear TrainingError if it cannot load."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = torch.float32
    if bf16:
        dtype = (
            getattr(torch, backbone.dtype) if backbone.dtype not in ("auto", "float32") else torch.bfloat16
        )
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
    if cfg.max_length:
        return cfg.max_length
    if backbone.context_length:
        return backbone.context_length
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    for attr in ("max_position_embeddings", "n_positions", "seq_length", "n_ctx"):
        if getattr(config, attr, None):
            return int(getattr(config, attr))
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if limit and limit < 10**9 else 2048


def add_lora(model, cfg: TrainConfig, backbone: Backbone):
    from peft import LoraConfig, get_peft_model

    targets = backbone.lora_target_modules or cfg.target_modules
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
        modules_to_save=list(cfg.modules_to_save or backbone.modules_to_save) or None,
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as e:
        raise TrainingError(f"backbone {backbone.name!r}: LoRA targets {targets} not found ({e})") from e


def fingerprint(cfg: TrainConfig, backbone: Backbone, files: dict) -> str:
    """What makes two runs the same run: config, backbone (its files, for a local folder) and data."""
    conf = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _NOT_FINGERPRINTED}
    model = {"path": backbone.path, "files": folder_digest(backbone.path)}
    blob = json.dumps({"config": conf, "backbone": model, "data": files}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------- training


def train(
    cfg: TrainConfig,
    *,
    docs: list[Path],
    val_docs: list[Path],
    backbone: Backbone,
    out: Path,
    restart_changed: bool = False,
) -> dict:
    """Train (or resume, or skip a finished run) and return the run record written to `out/run.json`.

    A run is identified by its fingerprint (config, backbone files, data hashes). `out` holding a run
    with another fingerprint is an error, unless `restart_changed`: then its checkpoints and adapters
    are deleted and training starts over (what a pipeline wants after a parameter or data change).

    Raises:
        TrainingError: the backbone cannot be loaded, no example fits, or `out` holds another run.
        FileNotFoundError / ValueError: a docs file is missing or holds the other task's docs.
    """
    out = Path(out)
    record_path = out / "run.json"
    train_docs, train_files = read_docs(docs, cfg.task)
    val_rows, val_files = read_docs(val_docs, cfg.task)
    files = {"train": train_files, "val": val_files}
    run_fingerprint = fingerprint(cfg, backbone, files)
    if record_path.is_file() or (out / "checkpoints").is_dir():
        previous = read_json(record_path) if record_path.is_file() else {}
        if previous.get("fingerprint") == run_fingerprint and previous.get("status") == "success":
            LOG.info("%s: finished run (run.json status success), not redone", out)
            return previous
        if previous.get("fingerprint") not in (None, run_fingerprint):
            if not restart_changed:
                raise TrainingError(
                    f"{out} holds a run with another config, backbone or data: use another --out, "
                    "delete it, or pass --restart-changed"
                )
            LOG.warning("%s: config, backbone or data changed since its run: starting over", out)
            for stale in ("checkpoints", "best", "last"):
                shutil.rmtree(out / stale, ignore_errors=True)
            record_path.unlink(missing_ok=True)
    from accelerate import Accelerator

    bf16 = use_bf16(cfg)
    accelerator = Accelerator(mixed_precision="bf16" if bf16 else "no", cpu=not _cuda())
    started = time.perf_counter()
    record = {
        "status": "running",
        "task": cfg.task,
        "config": dataclasses.asdict(cfg),
        "started": now_utc(),
        "backbone": {"name": backbone.name, **backbone.kwargs(), "path": backbone.path},
        "versions": versions(),
        "git": git_state(),
        "hardware": {**hardware(), "processes": accelerator.num_processes},
    }

    def write_record(**updates):
        record.update(updates)
        if accelerator.is_main_process:
            atomic_write_json(record_path, record)

    try:
        data = (train_docs, val_rows, files, run_fingerprint)
        result = _run(cfg, data, backbone, out, accelerator, bf16, record, write_record, started)
    except KeyboardInterrupt:
        write_record(status="canceled", finished=now_utc(), wall_s=round(time.perf_counter() - started, 2))
        raise
    except BaseException as e:
        write_record(
            status="failed",
            error=f"{type(e).__name__}: {e}",
            finished=now_utc(),
            wall_s=round(time.perf_counter() - started, 2),
        )
        raise
    return result


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _run(cfg, data, backbone, out, accelerator, bf16, record, write_record, started) -> dict:
    import torch
    from accelerate.utils import set_seed
    from transformers import get_scheduler

    train_docs, val_rows, files, run_fingerprint = data
    if cfg.val_limit is not None:
        val_rows = val_rows[: cfg.val_limit]
    sample = None
    if cfg.train_limit is not None and cfg.train_limit < len(train_docs):
        kept = sorted(random.Random(cfg.seed).sample(range(len(train_docs)), cfg.train_limit))
        sample = {"of": len(train_docs), "doc_ids": [train_docs[i].get("doc_id") for i in kept]}
        train_docs = [train_docs[i] for i in kept]
    if not train_docs:
        paths = ", ".join(f["path"] for f in files["train"])
        raise TrainingError(f"empty training set: no docs in {paths}")

    set_seed(cfg.seed)  # LoRA initialisation and dropout
    model, tokenizer = load_backbone(backbone, cfg, bf16=bf16)
    max_length = context_length(model, tokenizer, cfg, backbone)
    chat_kwargs = dict(backbone.chat_template_kwargs)
    encoding = {"chat_template_kwargs": chat_kwargs, "backbone": backbone.name, "qa_target": cfg.qa_target}
    examples, skipped = build_examples(tokenizer, train_docs, max_length=max_length, **encoding)
    val_examples, val_skipped = build_examples(tokenizer, val_rows, max_length=max_length, **encoding)
    if skipped:
        LOG.warning(
            "%d of %d training examples skipped: longer than %d tokens (%s%s)",
            len(skipped),
            len(skipped) + len(examples),
            max_length,
            ", ".join(skipped[:5]),
            " ..." * (len(skipped) > 5),
        )
    if not examples:
        raise TrainingError(
            f"empty training set: all {len(skipped)} examples exceed the context ({max_length} tokens)"
        )
    lengths = [len(e) for e in examples]
    n_batches = math.ceil(len(examples) / cfg.batch_size) // accelerator.num_processes
    if n_batches == 0:
        raise TrainingError(
            f"{len(examples)} examples cannot fill a batch on each of {accelerator.num_processes} processes"
        )
    steps_epoch = math.ceil(n_batches / cfg.grad_accum)
    total_steps = steps_epoch * cfg.epochs
    record.update(
        data=files,
        examples={
            "train": len(examples),
            "val": len(val_examples),
            "train_tokens": sum(lengths),
            "skipped_too_long": {"train": len(skipped), "val": len(val_skipped)},
            "skipped_ids": {"train": skipped[:100], "val": val_skipped[:100]},
            "train_sample": sample,  # train_limit: which docs of how many (None: all)
        },
        max_length=max_length,
        steps_per_epoch=steps_epoch,
        total_steps=total_steps,
        fingerprint=run_fingerprint,
    )

    model = add_lora(model, cfg, backbone)
    keep = keeps_logits(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = get_scheduler(
        cfg.scheduler,
        optimizer,
        num_warmup_steps=int(cfg.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    model, optimizer = accelerator.prepare(
        model, optimizer
    )  # the scheduler is stepped by hand, once per step

    progress = load_checkpoint(out, accelerator, model, optimizer, scheduler)
    if progress is not None and progress["fingerprint"] != record["fingerprint"]:
        raise TrainingError(
            f"{out} holds a checkpoint of a different run (config, backbone or data differ): "
            "use another --out or delete its checkpoints/"
        )
    if progress is None:
        progress = {
            "epoch": 0,
            "batch": 0,
            "global_step": 0,
            "step_losses": [],
            "history": [],
            "best": None,
            "fingerprint": record["fingerprint"],
        }
        record["resumed_from"] = None
    else:
        record["resumed_from"] = {
            "epoch": progress["epoch"],
            "batch": progress["batch"],
            "step": progress["global_step"],
        }
        LOG.info(
            "resuming from epoch %d, batch %d (step %d)",
            progress["epoch"],
            progress["batch"],
            progress["global_step"],
        )
    write_record(status="running")

    pad_id = tokenizer.pad_token_id
    log_every = max(1, steps_epoch // 10)
    model.train()
    for epoch in range(progress["epoch"], cfg.epochs):
        batches = epoch_batches(
            lengths, cfg.batch_size, seed=cfg.seed, epoch=epoch, group_by_length=cfg.grouping == "length"
        )
        mine = batches[accelerator.process_index :: accelerator.num_processes][:n_batches]
        windows = [mine[i : i + cfg.grad_accum] for i in range(0, len(mine), cfg.grad_accum)]
        start = progress["batch"]
        for w, window in enumerate(windows):
            first = w * cfg.grad_accum
            if first < start:
                continue
            # token-mean over the whole optimizer step, whatever the split into micro-batches
            n_tokens = sum(x != IGNORE for b in window for i in b for x in examples[i].labels[1:])
            step_loss = 0.0
            for j, b in enumerate(window):
                batch = {
                    k: v.to(accelerator.device) for k, v in collate([examples[i] for i in b], pad_id).items()
                }
                sync = j == len(window) - 1
                # DDP: all-reduce gradients once per optimizer step, not per micro-batch
                ctx = (
                    accelerator.no_sync(model)
                    if not sync and accelerator.num_processes > 1
                    else nullcontext()
                )
                with ctx:
                    with accelerator.autocast():
                        loss, _ = loss_sum(model, batch, keep)
                        loss = loss / max(n_tokens, 1)
                    accelerator.backward(loss)
                step_loss += float(loss.detach())
            if cfg.max_grad_norm > 0:
                accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            progress["global_step"] += 1
            progress["step_losses"].append(step_loss)
            if progress["global_step"] % log_every == 0:
                LOG.info(
                    "epoch %d step %d/%d: loss %.4f",
                    epoch + 1, progress["global_step"], total_steps, step_loss,
                )  # fmt: skip
            progress["batch"] = first + len(window)
            if progress["global_step"] % cfg.save_every == 0 and progress["batch"] < len(mine):
                save_checkpoint(out, accelerator, model, optimizer, scheduler, progress)

        epoch_losses = progress["step_losses"][-len(windows) :]
        if cfg.task == "qa" and cfg.qa_target == "text":
            metrics = cloze_accuracy(model, tokenizer, val_rows, cfg, chat_kwargs, max_length, accelerator)
        elif cfg.task == "qa":
            metrics = qa_accuracy(model, tokenizer, val_rows, cfg, chat_kwargs, max_length, accelerator)
        else:
            metrics = mean_loss(model, val_examples, cfg, pad_id, accelerator, keep)
        entry = {
            "epoch": epoch + 1,
            "step": progress["global_step"],
            "train_loss": sum(epoch_losses) / len(epoch_losses),
            **metrics,
        }
        LOG.info("epoch %d: %s", epoch + 1, json.dumps(entry))
        progress["history"].append(entry)
        if better(cfg.task, metrics, progress["best"]):
            progress["best"] = entry
            save_adapter(out / "best", accelerator, model, tokenizer)
        progress["epoch"], progress["batch"] = epoch + 1, 0
        save_checkpoint(out, accelerator, model, optimizer, scheduler, progress)
        write_record(history=progress["history"], best=progress["best"])

    save_adapter(out / "last", accelerator, model, tokenizer)
    write_record(
        status="success",
        history=progress["history"],
        best=progress["best"],
        step_losses=progress["step_losses"],
        finished=now_utc(),
        wall_s=round(time.perf_counter() - started, 2),
    )
    return record
