"""The LoRA training loop: plain PyTorch under an `accelerate.Accelerator`, resumable exactly.

Exact resume rests on three facts: the batches of an epoch are a pure function of (seed, epoch)
(`data.epoch_batches`), a checkpoint is taken only between optimizer steps, and it holds everything
else that changes (LoRA weights, AdamW and scheduler state, every RNG: dropout draws from torch's,
and the run's `TrainState`). A resumed run therefore replays the same arithmetic as an uninterrupted one.

A run is `prepare` (docs, examples, model, optimizer: built the same way whether the run is fresh or
resumed), `resume` (the `TrainState` to start from), then per epoch `train_epoch` and `validate`.

Output folder:
    run.json                 config, data hashes, SMD format, versions, history, status: what the
                             inputs decide, so the same inputs rewrite it byte for byte
    ../<out>.run.json        the run log beside the folder: git commit, hardware, start, end, wall_s
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

from harness.core import code_digest, folder_digest, git_state, hardware, now_utc, read_json, versions
from harness.models import Backbone

from .checkpoints import TrainingError, load_checkpoint, save_adapter, save_checkpoint
from .config import TrainConfig, packs
from .data import IGNORE, Example, build_examples, collate, epoch_batches, read_docs, single_format
from .encoder_model import check_docs_format, encoder_inputs, encoder_model
from .loss import keeps_logits, loss_sum
from .model import add_lora, context_length, load_backbone, use_bf16
from .packing import check_attention, collate_packed, epoch_steps, motions, pack_length
from .state import Run, RunData, RunRecord, TrainState
from .validation import better, cloze_accuracy, mean_loss, qa_accuracy

LOG = logging.getLogger("smd.train")
# the module `smd train` runs: its import closure is the code a run's fingerprint covers
TRAINING_ENTRY = "harness.train.main"
# Fields that cannot change the result: a resumed run may differ in them.
_NOT_FINGERPRINTED = ("save_every", "val_batch_size", "extra")


def fingerprint(cfg: TrainConfig, backbone: Backbone, files: dict) -> str:
    """What makes two runs the same run: config, backbone (its files, for a local folder), data and the
    training code (the modules `smd train` runs: a run folder of other code is not this run's)."""
    conf = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _NOT_FINGERPRINTED}
    model = {"path": backbone.path, "files": folder_digest(backbone.path), "cpu_dtype": backbone.cpu_dtype}
    code = code_digest([TRAINING_ENTRY])
    inputs = {"config": conf, "backbone": model, "data": files, "code": code}
    if cfg.encoder != "none":  # what the config names by path: stage 1's folder, the statistics, the joints
        inputs["encoder"] = encoder_inputs(cfg, files)
    blob = json.dumps(inputs, sort_keys=True, default=str)
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
    train_docs, train_files = read_docs(docs, cfg.task)
    val_rows, val_files = read_docs(val_docs, cfg.task)
    files = {"train": train_files, "val": val_files}
    smd_format = single_format(train_files + val_files)  # one adapter, one SMD format and preset
    check_docs_format(cfg, smd_format)
    data = RunData(train_docs, val_rows, files, fingerprint(cfg, backbone, files))
    finished = _finished_run(out, data.fingerprint, restart_changed=restart_changed)
    if finished is not None:
        return finished
    from accelerate import Accelerator

    bf16 = use_bf16(cfg, backbone)
    accelerator = Accelerator(mixed_precision="bf16" if bf16 else "no", cpu=not _cuda())
    started = time.perf_counter()  # wall_s includes collecting the provenance below
    fields = {
        "status": "running",
        "task": cfg.task,
        "smd": smd_format,
        # as run.json holds it (tuples as lists), so a finished run's record reads back equal
        "config": json.loads(json.dumps(dataclasses.asdict(cfg))),
        "backbone": {"name": backbone.name, **backbone.kwargs(), "path": backbone.path},
        "versions": versions(),
    }
    record = RunRecord(out / "run.json", fields, main_process=accelerator.is_main_process, started=started)
    record.write_log(
        started=now_utc(), git=git_state(), hardware={**hardware(), "processes": accelerator.num_processes}
    )
    try:
        run = prepare(cfg, data=data, backbone=backbone, accelerator=accelerator, bf16=bf16, record=record)
        state = resume(out, run, record=record)
        record.write(status="running")
        fit(run, state, out=out, record=record)
    except KeyboardInterrupt:
        record.finish("canceled")
        raise
    except BaseException as e:
        record.finish("failed", error=f"{type(e).__name__}: {e}")
        raise
    return record.data


def _finished_run(out: Path, run_fingerprint: str, *, restart_changed: bool) -> dict | None:
    """The record of the same run finished in `out` (nothing to do), else None once `out` is fit to
    train in: empty, holding this run's checkpoints, or cleared of another run's (`restart_changed`)."""
    record_path = out / "run.json"
    if not (record_path.is_file() or (out / "checkpoints").is_dir()):
        return None
    previous = read_json(record_path) if record_path.is_file() else {}
    if previous.get("fingerprint") == run_fingerprint and previous.get("status") == "success":
        LOG.info("%s: finished run (run.json status success), not redone", out)
        return previous
    if previous.get("fingerprint") not in (None, run_fingerprint):
        if not restart_changed:
            raise TrainingError(
                f"{out} holds a run with another config, backbone, data or training code: use another "
                "-o/--output, delete it, or pass --restart-changed"
            )
        LOG.warning("%s: config, backbone, data or training code changed since its run: starting over", out)
        for stale in ("checkpoints", "best", "last"):
            shutil.rmtree(out / stale, ignore_errors=True)
        record_path.unlink(missing_ok=True)
    return None


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def prepare(
    cfg: TrainConfig, *, data: RunData, backbone: Backbone, accelerator, bf16: bool, record: RunRecord
) -> Run:
    """The docs sample, examples, LoRA model, AdamW and scheduler of a run, and its data and batch
    counts in `record` (written with the record's next write; a failure after this point reports
    them). Built in the same order, so from the same RNG draws, whether the run is fresh or resumed."""
    import torch
    from accelerate.utils import set_seed
    from transformers import get_scheduler

    val_rows = data.val_rows if cfg.val_limit is None else data.val_rows[: cfg.val_limit]
    train_docs, sample = _train_sample(cfg, data.train_docs)
    if not train_docs:
        paths = ", ".join(f["path"] for f in data.files["train"])
        raise TrainingError(f"empty training set: no docs in {paths}")

    set_seed(cfg.seed)  # LoRA initialisation and dropout
    model, tokenizer = load_backbone(backbone, cfg, bf16=bf16)
    max_length = context_length(model, tokenizer, cfg, backbone)
    chat_kwargs = dict(backbone.chat_template_kwargs)
    encoding = {"chat_template_kwargs": chat_kwargs, "backbone": backbone.name, "qa_target": cfg.qa_target}
    examples, skipped = build_examples(tokenizer, train_docs, max_length=max_length, **encoding)
    val_examples, val_skipped = build_examples(tokenizer, val_rows, max_length=max_length, **encoding)
    _check_examples(examples, skipped, max_length=max_length)
    if not val_examples:  # else every epoch's validation would score nothing: no best epoch
        paths = ", ".join(f["path"] for f in data.files["val"])
        why = "no docs"
        if val_skipped:
            why = f"all {len(val_skipped)} docs exceed the context ({max_length} tokens)"
        raise TrainingError(f"empty validation set: {why} in {paths}")
    lengths = [len(e) for e in examples]
    try:
        packed = packs(cfg, accelerator.num_processes)
    except ValueError as e:
        raise TrainingError(str(e)) from None
    if packed:  # every step but an epoch's last takes batch_size x grad_accum answers (training.packing)
        check_attention(model.config)
        steps_epoch = _batches_per_process(
            len(examples), cfg.batch_size * cfg.grad_accum, accelerator.num_processes
        )
        n_batches = steps_epoch * cfg.grad_accum  # the unpacked run's micro-batch slots: resume positions
        groups = [[examples[i] for i in g] for g in motions(examples)]
        packed_tokens = sum(pack_length(g) for g in groups)
    else:
        n_batches = _batches_per_process(len(examples), cfg.batch_size, accelerator.num_processes)
        steps_epoch = math.ceil(n_batches / cfg.grad_accum)
    total_steps = steps_epoch * cfg.epochs
    record.update(
        data=data.files,
        examples={
            "train": len(examples),
            "val": len(val_examples),
            "train_tokens": sum(lengths),
            # shared_prefix: the motions packed and the tokens a pass over them runs (None: unpacked)
            "train_motions": len(groups) if packed else None,
            "train_packed_tokens": packed_tokens if packed else None,
            "skipped_too_long": {"train": len(skipped), "val": len(val_skipped)},
            "skipped_ids": {"train": skipped[:100], "val": val_skipped[:100]},
            "train_sample": sample,  # train_limit: which docs of how many (None: all)
        },
        max_length=max_length,
        packing="shared_prefix" if packed else "none",
        steps_per_epoch=steps_epoch,
        total_steps=total_steps,
        fingerprint=data.fingerprint,
    )

    if cfg.encoder == "none":
        model = add_lora(model, cfg, backbone)
    else:  # the encoder baseline: soft tokens where the docs' markers stand (training.encoder_model)
        model = encoder_model(cfg, model, tokenizer, data.files, lambda lm: add_lora(lm, cfg, backbone))
    keep = keeps_logits(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = get_scheduler(
        cfg.scheduler,
        optimizer,
        num_warmup_steps=int(cfg.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    # the scheduler stays out of accelerate: it is stepped by hand, once per optimizer step
    model, optimizer = accelerator.prepare(model, optimizer)
    return Run(
        cfg=cfg, accelerator=accelerator, model=model, tokenizer=tokenizer, optimizer=optimizer,
        scheduler=scheduler, params=params, keep=keep, examples=examples, val_examples=val_examples,
        val_rows=val_rows, lengths=lengths, max_length=max_length, chat_kwargs=chat_kwargs,
        n_batches=n_batches, steps_epoch=steps_epoch, total_steps=total_steps, fingerprint=data.fingerprint,
        packed=packed,
    )  # fmt: skip


def _train_sample(cfg: TrainConfig, docs: list[dict]) -> tuple[list[dict], dict | None]:
    """The training docs `train_limit` keeps (a seeded sample, in file order) and which they are."""
    if cfg.train_limit is None or cfg.train_limit >= len(docs):
        return docs, None
    kept = sorted(random.Random(cfg.seed).sample(range(len(docs)), cfg.train_limit))
    return [docs[i] for i in kept], {"of": len(docs), "doc_ids": [docs[i].get("doc_id") for i in kept]}


def _check_examples(examples: list[Example], skipped: list[str], *, max_length: int) -> None:
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


def _batches_per_process(n_examples: int, batch_size: int, processes: int) -> int:
    # every process takes the same number, so that all of them step (and all-reduce) together
    n_batches = math.ceil(n_examples / batch_size) // processes
    if n_batches == 0:
        raise TrainingError(f"{n_examples} examples cannot fill a batch on each of {processes} processes")
    return n_batches


def resume(out: Path, run: Run, *, record: RunRecord) -> TrainState:
    """The state to train from: the newest checkpoint's in `out`, with the model, optimizer, scheduler
    and RNGs restored from it, else a fresh one. Records where the run resumed from."""
    state = load_checkpoint(
        out, accelerator=run.accelerator, model=run.model, optimizer=run.optimizer, scheduler=run.scheduler
    )
    if state is None:
        record.update(resumed_from=None)
        return TrainState(fingerprint=run.fingerprint)
    if state.fingerprint != run.fingerprint:
        raise TrainingError(
            f"{out} holds a checkpoint of a different run (config, backbone, data or training code differ): "
            "use another -o/--output or delete its checkpoints/"
        )
    record.update(resumed_from=state.position())
    LOG.info("resuming from epoch %d, batch %d (step %d)", state.epoch, state.batch, state.global_step)
    return state


def fit(run: Run, state: TrainState, *, out: Path, record: RunRecord) -> None:
    """Train the epochs `state` has not finished, each validated, checkpointed and recorded, then save
    `last/` and record the run a success."""
    run.model.train()
    for epoch in range(state.epoch, run.cfg.epochs):
        train_loss = train_epoch(run, state, epoch=epoch, out=out)
        metrics = validate(run)
        entry = {"epoch": epoch + 1, "step": state.global_step, "train_loss": train_loss, **metrics}
        diverged = [k for k, v in entry.items() if isinstance(v, float) and not math.isfinite(v)]
        if diverged:  # e.g. a validation loss that overflowed: fail the run, never record NaN
            raise TrainingError(f"epoch {epoch + 1}: {', '.join(diverged)} not finite")
        LOG.info("epoch %d: %s", epoch + 1, json.dumps(entry))
        best = better(run.cfg.task, metrics, state.best)
        state.finish_epoch(entry, best=best)
        if best:
            save_adapter(out / "best", run.accelerator, run.model, run.tokenizer)
        _checkpoint(out, run, state)
        record.write(history=state.history, best=state.best)
    save_adapter(out / "last", run.accelerator, run.model, run.tokenizer)
    record.finish("success", history=state.history, best=state.best, step_losses=state.step_losses)


def train_epoch(run: Run, state: TrainState, *, epoch: int, out: Path) -> float:
    """Train `epoch` (0-based) from `state.batch` on, checkpointing every `save_every` steps; the
    epoch's mean step loss, counting the steps a resumed run took before it stopped."""
    cfg = run.cfg
    windows = epoch_windows(run, epoch)
    start = state.batch
    for w, window in enumerate(windows):
        first = w * cfg.grad_accum
        if first < start:
            continue
        step_loss = _optimizer_step(run, window)
        if not math.isfinite(step_loss):  # a too-high lr or an overflow: fail now, never checkpoint NaN
            raise TrainingError(f"step {state.global_step + 1}: loss {step_loss} (diverged; lower lr?)")
        # a packed step counts as grad_accum micro-batches (its number of sequences varies)
        state.finish_step(
            step_loss, batch=min(first + (cfg.grad_accum if run.packed else len(window)), run.n_batches)
        )
        if state.global_step % run.log_every == 0:
            LOG.info(
                "epoch %d step %d/%d: loss %.4f", epoch + 1, state.global_step, run.total_steps, step_loss
            )
        # the epoch's end is checkpointed after validation, with the epoch counted as done
        if state.global_step % cfg.save_every == 0 and w < len(windows) - 1:
            _checkpoint(out, run, state)
    losses = state.step_losses[-len(windows) :]
    return sum(losses) / len(losses)


def epoch_windows(run: Run, epoch: int) -> list[list[list]]:
    """This process's optimizer steps of an epoch, each a window of micro-batches: lists of example
    indices, or of packs (tuples of example indices) when the run packs. A pure function of the epoch."""
    cfg, accelerator = run.cfg, run.accelerator
    grouped = cfg.grouping == "length"
    if run.packed:
        steps = epoch_steps(
            run.examples, answers=cfg.batch_size * cfg.grad_accum, batch_size=cfg.batch_size,
            seed=cfg.seed, epoch=epoch, group_by_length=grouped,
        )  # fmt: skip
        return steps[accelerator.process_index :: accelerator.num_processes][: run.steps_epoch]
    batches = epoch_batches(run.lengths, cfg.batch_size, seed=cfg.seed, epoch=epoch, group_by_length=grouped)
    mine = batches[accelerator.process_index :: accelerator.num_processes][: run.n_batches]
    return [mine[i : i + cfg.grad_accum] for i in range(0, len(mine), cfg.grad_accum)]


def _members(micro: list) -> list[int]:
    """The example indices of a micro-batch (of examples, or of packs)."""
    return [i for unit in micro for i in (unit if isinstance(unit, tuple) else (unit,))]


def micro_batch(run: Run, micro: list) -> dict | list[dict]:
    """The tensors of one micro-batch, on the run's device: one dict, or one per pack."""
    device = run.accelerator.device
    if run.packed:
        packs = collate_packed(run.examples, micro, run.pad_id)
        return [{k: v.to(device) for k, v in tensors.items()} for tensors in packs]
    tensors = collate([run.examples[i] for i in micro], run.pad_id)
    return {k: v.to(device) for k, v in tensors.items()}


def _optimizer_step(run: Run, window: list[list]) -> float:
    """One optimizer step over a window of micro-batches (of examples or packs); its loss."""
    import torch

    accelerator, model, examples = run.accelerator, run.model, run.examples
    # token-mean over the whole optimizer step, whatever its split into micro-batches, packs and
    # processes: DDP averages the processes' gradients, so each scales its token sum by processes / all tokens
    n_tokens = sum(x != IGNORE for b in window for i in _members(b) for x in examples[i].labels[1:])
    processes = accelerator.num_processes
    if processes > 1:
        n_tokens = int(accelerator.reduce(torch.tensor(n_tokens, device=accelerator.device), "sum"))
    step_loss = 0.0
    for j, b in enumerate(window):
        batch = micro_batch(run, b)
        sync = j == len(window) - 1
        # DDP: all-reduce gradients once per optimizer step, not per micro-batch
        ctx = accelerator.no_sync(model) if not sync and processes > 1 else nullcontext()
        with ctx:
            with accelerator.autocast():
                loss, _ = loss_sum(model, batch, run.keep)
                loss = loss / max(n_tokens, 1)
                if processes > 1:
                    loss = loss * processes
            accelerator.backward(loss)
        step_loss += float(loss.detach())
    if run.cfg.max_grad_norm > 0:
        accelerator.clip_grad_norm_(run.params, run.cfg.max_grad_norm)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    if processes > 1:  # the mean of the processes' shares is the step's loss over all its tokens
        step_loss = float(accelerator.reduce(torch.tensor(step_loss, device=accelerator.device), "mean"))
    return step_loss


def validate(run: Run) -> dict:
    """The validation metrics after an epoch, the way the run's lm-eval task scores (see validation)."""
    cfg = run.cfg
    if cfg.task == "qa" and cfg.qa_target == "text":
        return cloze_accuracy(
            run.model, run.tokenizer, run.val_rows, cfg, run.chat_kwargs, run.max_length, run.accelerator
        )
    if cfg.task == "qa":
        return qa_accuracy(
            run.model, run.tokenizer, run.val_rows, cfg, run.chat_kwargs, run.max_length, run.accelerator
        )
    return mean_loss(run.model, run.val_examples, cfg, run.pad_id, run.accelerator, run.keep)


def _checkpoint(out: Path, run: Run, state: TrainState) -> None:
    save_checkpoint(
        out,
        state,
        accelerator=run.accelerator,
        model=run.model,
        optimizer=run.optimizer,
        scheduler=run.scheduler,
    )
