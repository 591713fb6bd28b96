"""Where and with what a result was made: UTC time, package versions, hardware, the code's git commit
(training and evaluation records share these)."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .files import read_text

REPO = Path(__file__).resolve().parents[2]


def now_utc() -> str:
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


def git_state() -> dict[str, Any] | None:
    """Commit and dirty flag of the checkout that holds this code; None outside a git checkout.

    Dirty means a tracked file other than the pipeline's own outputs differs from the commit: while
    `dvc repro` runs, the cells and `dvc.lock` it has already rewritten do not make the code dirty.
    """

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        outputs = [f":(exclude){p}" for p in pipeline_outputs()]
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", *outputs))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def pipeline_outputs(lock: Path = REPO / "dvc.lock") -> list[str]:
    """`dvc.lock` itself and every output it lists (cells, tables): what `dvc repro` rewrites."""
    import yaml

    if not lock.is_file():
        return []
    stages = (yaml.safe_load(read_text(lock)) or {}).get("stages") or {}
    outs = {o["path"] for stage in stages.values() for o in stage.get("outs") or [] if "path" in o}
    return [lock.name, *sorted(outs)]
