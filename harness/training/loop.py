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
import inspect
import json
import logging
import math
import os
import platform
import random
import shutil
import time
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

from ..backbones import Backbone
from ..io import atomic_write_json, atomic_write_text, folder_digest, read_json
from ..lm_eval_tasks import extract_option
from ..prompts import render_prompt
from .config import TrainConfig
from .data import IGNORE, Example, build_examples, collate, epoch_batches, read_docs

LOG = logging.getLogger("smd.train")
# Fields that cannot change the result: a resumed run may differ in them.
_NOT_FINGERPRINTED = ("save_every", "val_batch_size", "extra")


class TrainingError(RuntimeError):
    """A run that cannot start or go on (bad backbone, empty data, checkpoint of another run)."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("torch", "transformers", "peft", "accelerate", "lm_eval", "smd-bench"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def hardware() -> dict:
    import torch

    info = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


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


def _keeps_logits(model) -> bool:
    return "logits_to_keep" in inspect.signature(model.get_base_model().forward).parameters


def loss_sum(model, batch: dict, keep_logits: bool):
    """Summed cross-entropy over the labelled (answer) tokens of a batch, and their count.

    Only the positions that predict a labelled token go through the LM head (`logits_to_keep`): for
    QA that is a few positions out of ~1,000, which saves the head's compute and its logits' memory.
    """
    import torch.nn.functional as F

    shifted = batch["labels"][:, 1:]
    positions = (shifted != IGNORE).any(0).nonzero().squeeze(1)
    kwargs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if keep_logits:
        logits = model(**kwargs, logits_to_keep=positions).logits
    else:
        logits = model(**kwargs).logits[:, positions]
    targets = shifted[:, positions]
    loss = F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),
        targets.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )
    return loss, int((targets != IGNORE).sum())


def fingerprint(cfg: TrainConfig, backbone: Backbone, files: dict) -> str:
    """What makes two runs the same run: config, backbone (its files, for a local folder) and data."""
    conf = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _NOT_FINGERPRINTED}
    model = {"path": backbone.path, "files": folder_digest(backbone.path)}
    blob = json.dumps({"config": conf, "backbone": model, "data": files}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------- checkpoints


def _rng_state() -> dict:
    import numpy as np
    import torch

    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(out: Path, accelerator, model, optimizer, scheduler, progress: dict) -> Path:
    """Write a checkpoint to a temporary folder, rename it into place, then point `latest` at it: a
    process killed at any moment leaves the previous checkpoint intact."""
    import torch

    ckpts = out / "checkpoints"
    tag = f"e{progress['epoch']:03d}-b{progress['batch']:06d}"
    tmp = ckpts / f".tmp-{tag}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    torch.save(_rng_state(), tmp / f"rng_{accelerator.process_index}.pt")
    if accelerator.is_main_process:
        trainable = {
            n: p.detach().cpu().clone()
            for n, p in accelerator.unwrap_model(model).named_parameters()
            if p.requires_grad
        }
        torch.save(
            {
                "trainable": trainable,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "progress": progress,
            },
            tmp / "state.pt",
        )
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        final = ckpts / tag
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        atomic_write_text(ckpts / "latest", tag + "\n")
        for old in ckpts.iterdir():
            if old.is_dir() and old.name != tag:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return ckpts / tag


def load_checkpoint(out: Path, accelerator, model, optimizer, scheduler) -> dict | None:
    """Restore the newest complete checkpoint; its progress record, or None when there is none."""
    import torch

    latest = out / "checkpoints" / "latest"
    if not latest.is_file():
        return None
    folder = out / "checkpoints" / latest.read_text().strip()
    state = torch.load(folder / "state.pt", map_location="cpu", weights_only=False)
    missing, unexpected = accelerator.unwrap_model(model).load_state_dict(state["trainable"], strict=False)
    if unexpected or set(state["trainable"]) - {n for n, _ in model.named_parameters()} - set(missing):
        raise TrainingError(f"{folder}: checkpoint weights do not match the model ({unexpected[:3]})")
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng = folder / f"rng_{accelerator.process_index}.pt"
    if not rng.is_file():
        raise TrainingError(
            f"{folder}: no RNG state for process {accelerator.process_index} (world size changed?)"
        )
    _set_rng_state(torch.load(rng, weights_only=False))
    return state["progress"]


def save_adapter(folder: Path, accelerator, model, tokenizer) -> None:
    if accelerator.is_main_process:
        tmp = folder.with_name(f".tmp-{folder.name}")
        shutil.rmtree(tmp, ignore_errors=True)
        accelerator.unwrap_model(model).save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    accelerator.wait_for_everyone()


# ---------------------------------------------------------------------------------------------- validation


def qa_accuracy(
    model, tokenizer, docs: list[dict], cfg: TrainConfig, chat_kwargs: dict, max_length: int, accelerator
) -> dict:
    """Accuracy by greedy generation of a few tokens and the lm-eval tasks' answer extraction."""
    import torch

    prompts = []
    for doc in docs:
        ids = tokenizer(render_prompt(tokenizer, doc, chat_kwargs), add_special_tokens=False)["input_ids"]
        if len(ids) + cfg.val_max_new_tokens <= max_length:
            prompts.append((doc, ids))
    prompts.sort(key=lambda p: len(p[1]))  # similar lengths per batch: little left padding
    mine = prompts[accelerator.process_index :: accelerator.num_processes]
    net = accelerator.unwrap_model(model)
    net.eval()
    correct = invalid = 0
    with torch.no_grad():
        for i in range(0, len(mine), cfg.val_batch_size):
            chunk = mine[i : i + cfg.val_batch_size]
            batch = collate(
                [Example("", tuple(ids), tuple(ids), len(ids)) for _, ids in chunk],
                tokenizer.pad_token_id,
                left=True,
            )
            generated = net.generate(
                input_ids=batch["input_ids"].to(accelerator.device),
                attention_mask=batch["attention_mask"].to(accelerator.device),
                max_new_tokens=cfg.val_max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            width = batch["input_ids"].shape[1]
            for (doc, _), row in zip(chunk, generated[:, width:], strict=True):
                text = tokenizer.decode(row, skip_special_tokens=True).split("\n\n")[0]  # the task's stop
                idx = extract_option(text, doc["options"])
                correct += int(idx == doc["answer_idx"])
                invalid += int(idx is None)
    net.train()
    totals = accelerator.reduce(torch.tensor([correct, invalid, len(mine)], device=accelerator.device), "sum")
    correct, invalid, n = (int(x) for x in totals.tolist())
    return {
        "val_acc": correct / n if n else float("nan"),
        "val_invalid_rate": invalid / n if n else 0.0,
        "val_n": n,
    }


def mean_loss(model, examples: list[Example], cfg: TrainConfig, pad_id: int, accelerator, keep: bool) -> dict:
    """Token-mean loss over the answer tokens of the validation examples."""
    import torch

    order = sorted(range(len(examples)), key=lambda i: len(examples[i]))
    mine = order[accelerator.process_index :: accelerator.num_processes]
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(mine), cfg.val_batch_size):
            batch = collate([examples[j] for j in mine[i : i + cfg.val_batch_size]], pad_id)
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            loss, n = loss_sum(model, batch, keep)
            total, count = total + float(loss), count + n
    model.train()
    totals = accelerator.reduce(torch.tensor([total, float(count)], device=accelerator.device), "sum")
    total, count = totals.tolist()
    return {"val_loss": total / count if count else float("nan"), "val_n": int(count)}


def _better(task: str, metrics: dict, best: dict | None) -> bool:
    key = "val_acc" if task == "qa" else "val_loss"
    value = metrics.get(key)
    if value is None or math.isnan(value):
        return best is None
    if best is None or best.get(key) is None or math.isnan(best[key]):
        return True
    return value > best[key] if task == "qa" else value < best[key]


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
        "started": _now(),
        "backbone": {"name": backbone.name, **backbone.kwargs(), "path": backbone.path},
        "versions": versions(),
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
        write_record(status="canceled", finished=_now(), wall_s=round(time.perf_counter() - started, 2))
        raise
    except BaseException as e:
        write_record(
            status="failed",
            error=f"{type(e).__name__}: {e}",
            finished=_now(),
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
    if not train_docs:
        paths = ", ".join(f["path"] for f in files["train"])
        raise TrainingError(f"empty training set: no docs in {paths}")

    set_seed(cfg.seed)  # LoRA initialisation and dropout
    model, tokenizer = load_backbone(backbone, cfg, bf16=bf16)
    max_length = context_length(model, tokenizer, cfg, backbone)
    chat_kwargs = dict(backbone.chat_template_kwargs)
    examples, skipped = build_examples(
        tokenizer, train_docs, max_length=max_length, chat_template_kwargs=chat_kwargs, backbone=backbone.name
    )
    val_examples, val_skipped = build_examples(
        tokenizer, val_rows, max_length=max_length, chat_template_kwargs=chat_kwargs, backbone=backbone.name
    )
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
        },
        max_length=max_length,
        steps_per_epoch=steps_epoch,
        total_steps=total_steps,
        fingerprint=run_fingerprint,
    )

    model = add_lora(model, cfg, backbone)
    keep = _keeps_logits(model)
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
        if cfg.task == "qa":
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
        if _better(cfg.task, metrics, progress["best"]):
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
        finished=_now(),
        wall_s=round(time.perf_counter() - started, 2),
    )
    return record
