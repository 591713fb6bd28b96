"""Resumable checkpoints and adapters of a training run.

A checkpoint holds what a resumed run needs to replay the same arithmetic: the trainable weights,
AdamW and scheduler state, the run's `TrainState` and every RNG (one file per process). It is written
to a temporary folder and renamed into place, so a run killed at any moment keeps its previous one.
Everything in it loads with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

from harness.core import atomic_output, atomic_write_text, read_text

from .state import TrainState


class TrainingError(RuntimeError):
    """A run that cannot start or go on (bad backbone, empty data, checkpoint of another run)."""


def _rng_state() -> dict:
    import numpy as np
    import torch

    name, keys, pos, has_gauss, gauss = np.random.get_state()
    # numpy's state as plain lists, so that the checkpoint loads with torch.load(weights_only=True)
    numpy_state = [name, keys.tolist(), pos, has_gauss, gauss]
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": numpy_state}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(out: Path, state: TrainState, *, accelerator, model, optimizer, scheduler) -> Path:
    """Write a checkpoint to a temporary folder, rename it into place, then point `latest` at it: a
    process killed at any moment leaves the previous checkpoint intact."""
    import torch

    ckpts = out / "checkpoints"
    tag = state.tag
    tmp = ckpts / f".tmp-{tag}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    with atomic_output(tmp / f"rng_{accelerator.process_index}.pt", binary=True) as f:
        torch.save(_rng_state(), f)
    if accelerator.is_main_process:
        trainable = {
            n: p.detach().cpu().clone()
            for n, p in accelerator.unwrap_model(model).named_parameters()
            if p.requires_grad
        }
        with atomic_output(tmp / "state.pt", binary=True) as f:
            torch.save(
                {
                    "trainable": trainable,
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "progress": state.to_checkpoint(),
                },
                f,
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


def load_checkpoint(out: Path, *, accelerator, model, optimizer, scheduler) -> TrainState | None:
    """Restore the newest complete checkpoint into the model, optimizer, scheduler and RNGs; its
    `TrainState`, or None when there is none.

    Raises:
        TrainingError: the checkpoint does not fit the model or the world size, or its progress record is
            not one this version reads (naming the file).
    """
    import torch

    latest = out / "checkpoints" / "latest"
    if not latest.is_file():
        return None
    folder = out / "checkpoints" / read_text(latest).strip()
    saved = torch.load(folder / "state.pt", map_location="cpu", weights_only=True)
    try:
        # read first: an unreadable record is reported as such, with nothing half-restored
        progress = TrainState.from_checkpoint(saved.get("progress"))
    except ValueError as e:
        raise TrainingError(
            f"{folder / 'state.pt'}: not a checkpoint this version can resume ({e}); "
            "delete its checkpoints/ folder to start over"
        ) from e
    # the unwrapped model's names: DDP's wrapper prefixes its own with "module."
    net = accelerator.unwrap_model(model)
    missing, unexpected = net.load_state_dict(saved["trainable"], strict=False)
    if unexpected or set(saved["trainable"]) - {n for n, _ in net.named_parameters()} - set(missing):
        raise TrainingError(f"{folder}: checkpoint weights do not match the model ({unexpected[:3]})")
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    rng = folder / f"rng_{accelerator.process_index}.pt"
    if not rng.is_file():
        raise TrainingError(
            f"{folder}: no RNG state for process {accelerator.process_index} (world size changed?)"
        )
    _set_rng_state(torch.load(rng, weights_only=True))
    return progress


def save_adapter(folder: Path, accelerator, model, tokenizer) -> None:
    if accelerator.is_main_process:
        tmp = folder.with_name(f".tmp-{folder.name}")
        shutil.rmtree(tmp, ignore_errors=True)
        accelerator.unwrap_model(model).save_pretrained(tmp)
        if (tmp / "adapter_config.json").is_file():  # a stage-1 encoder run has no LoRA adapter
            _sort_target_modules(tmp / "adapter_config.json")
        tokenizer.save_pretrained(tmp)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    accelerator.wait_for_everyone()


def _sort_target_modules(config: Path) -> None:
    """peft keeps `target_modules` as a set and writes it in hash order, which differs from process to
    process: sorted, the same adapter is the same bytes (the run folder is a DVC output)."""
    data = json.loads(read_text(config))
    if isinstance(data.get("target_modules"), list):
        data["target_modules"] = sorted(data["target_modules"])
        atomic_write_text(config, json.dumps(data, indent=2, sort_keys=True) + "\n")
