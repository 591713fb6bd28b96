"""What a training run is made of: its inputs (`RunData`), what `loop.prepare` builds from them once
(`Run`), and its two records: its progress (`TrainState`, what a checkpoint saves and a resumed run
starts from) and its `run.json` (`RunRecord`, what a reader of the run folder sees).

`TrainState` goes into a checkpoint as a plain dict under the same keys the loop's progress dict had
before it became a dataclass, so checkpoints written by earlier versions resume unchanged, and the file
still loads with `torch.load(weights_only=True)` (which refuses arbitrary classes).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core import atomic_write_json, now_utc

from .config import TrainConfig
from .data import Example


@dataclass(frozen=True)
class RunData:
    """A run's docs as read from its files, the files' records and the fingerprint they give the run."""

    train_docs: list[dict]
    val_rows: list[dict]
    files: dict
    fingerprint: str


@dataclass(frozen=True)
class Run:
    """What `prepare` builds once and every epoch reads. Nothing here changes during a run (the
    model's weights and the optimizer's moments do, inside their objects): what does is `TrainState`."""

    cfg: TrainConfig
    accelerator: Any
    model: Any
    tokenizer: Any
    optimizer: Any
    scheduler: Any
    params: list  # the trainable parameters: AdamW's, and what gradient clipping clips
    keep: bool  # the model takes `logits_to_keep` (see loss.loss_sum)
    examples: list[Example]
    val_examples: list[Example]
    val_rows: list[dict]
    lengths: list[int]
    max_length: int
    chat_kwargs: dict
    n_batches: int  # micro-batches per epoch on each process (equal on all: no uneven last step); packed:
    # steps_epoch x grad_accum, the slots a step counts as (the position a checkpoint resumes from)
    steps_epoch: int
    total_steps: int
    fingerprint: str
    packed: bool = False  # shared-prefix packing (training.packing): micro-batches of packs

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id

    @property
    def log_every(self) -> int:
        return max(1, self.steps_epoch // 10)


@dataclass
class TrainState:
    """Everything about a run's progress that changes as it trains (the weights, optimizer and RNGs
    are checkpointed beside it). Mutable: the loop advances it once per optimizer step."""

    fingerprint: str  # the run it belongs to (see loop.fingerprint): a checkpoint resumes only its own
    epoch: int = 0  # epochs finished, i.e. the 0-based epoch to train next
    batch: int = 0  # this process's micro-batches of `epoch` already trained (a multiple of grad_accum)
    global_step: int = 0  # optimizer steps taken over the whole run
    step_losses: list[float] = field(default_factory=list)  # one per optimizer step, token-mean
    history: list[dict] = field(default_factory=list)  # one entry per finished epoch
    best: dict | None = None  # the history entry the `best/` adapter was saved at

    @property
    def tag(self) -> str:
        """The checkpoint folder name: sorts by position, and names where a resumed run starts."""
        return f"e{self.epoch:03d}-b{self.batch:06d}"

    def position(self) -> dict:
        """Where the run stands, as run.json's `resumed_from` records it."""
        return {"epoch": self.epoch, "batch": self.batch, "step": self.global_step}

    def finish_step(self, loss: float, *, batch: int) -> None:
        """One optimizer step taken, of token-mean `loss`; `batch` micro-batches of the epoch now done."""
        self.global_step += 1
        self.step_losses.append(loss)
        self.batch = batch

    def finish_epoch(self, entry: dict, *, best: bool) -> None:
        """The epoch validated: `entry` (its 1-based `epoch`, step, losses and metrics) joins the
        history, and is the best one when `best`; the next epoch starts at its first batch."""
        self.history.append(entry)
        if best:
            self.best = entry
        self.epoch, self.batch = entry["epoch"], 0

    def to_checkpoint(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_checkpoint(cls, progress: object) -> TrainState:
        """The state a checkpoint saved (`to_checkpoint`'s dict, or the same dict an older version wrote).

        Raises:
            ValueError: not such a dict (missing or unknown keys); the caller names the file.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(progress, dict):
            raise ValueError(f"progress is a {type(progress).__name__}, not a mapping")
        missing, unknown = sorted(names - set(progress)), sorted(set(progress) - names)
        if missing or unknown:
            raise ValueError(
                f"progress keys do not match this version's (missing: {', '.join(missing) or 'none'}; "
                f"unknown: {', '.join(map(str, unknown)) or 'none'})"
            )
        return cls(**progress)


def run_log_path(out: Path) -> Path:
    """The run log of the run folder `out`, beside it: `<out>.run.json` (git commit, hardware, times).

    Outside the folder because the folder is the pipeline's tracked output: what is in it is what the
    inputs decide (re-running the same inputs rewrites it byte for byte), when and where it ran is not.
    """
    return out.parent / f"{out.name}.run.json"


@dataclass
class RunRecord:
    """`run.json` as it is being written: every update is written through at once (main process only),
    so a run killed at any point leaves a record that says how far it got. `log` (the run log: commit,
    hardware, start and end) is written beside the run folder, at the start and at the end."""

    path: Path
    data: dict
    main_process: bool
    started: float  # time.perf_counter() when the run started: `wall_s` counts from it
    log: dict = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        return run_log_path(self.path.parent)

    def write_log(self, **fields) -> None:
        self.log.update(fields)
        if self.main_process:
            atomic_write_json(self.log_path, self.log)

    def update(self, **fields) -> None:
        """Change the record without writing it: the next `write` or `finish` carries the change."""
        self.data.update(fields)

    def write(self, **fields) -> None:
        self.data.update(fields)
        if self.main_process:
            atomic_write_json(self.path, self.data)

    def finish(self, status: str, **fields) -> None:
        """The last write of a run: its status, `fields`, and when and how long after the start it ended."""
        self.write(status=status, **fields)
        self.write_log(status=status, finished=now_utc(), wall_s=round(time.perf_counter() - self.started, 2))
