"""Helpers shared by the benchmark scripts: one pinned core, best-of-N timing, the fixtures folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def pin_one_cpu() -> str:
    """Pin this process to one core (timings per core); says what it did."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity); single process"


def best_time(fn, repeats: int) -> float:
    """Best wall time of `repeats` calls: the least disturbed run on a noisy machine."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def fixtures_dir() -> Path:
    return Path(os.environ.get("SMD_FIXTURES", REPO.parent / "shared" / "fixtures"))
