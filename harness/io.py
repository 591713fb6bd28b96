"""Small file helpers shared by every stage: atomic writes and safe reads.

Every output is written to a temporary file in the same folder and moved into place with
`os.replace`, so a killed process leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np


def atomic_write_text(path: Path | str, text: str) -> Path:
    """Write `text` to `path` atomically (UTF-8); creates parent folders."""
    return _atomic_write(path, text, mode="w", encoding="utf-8")


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Write `data` to `path` atomically (images, archives); creates parent folders."""
    return _atomic_write(path, data, mode="wb")


def _atomic_write(path: Path | str, data: str | bytes, **open_args: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, **open_args) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: Path | str, obj: Any, *, indent: int | None = 1) -> Path:
    """JSON with sorted keys (stable diffs), written atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=True, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path: Path | str, rows: Iterable[dict]) -> Path:
    """One JSON object per line, in the given order, written atomically."""
    return atomic_write_text(
        path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    )


def read_json(path: Path | str) -> Any:
    """Parse a JSON file; a ValueError names the file on malformed content."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: malformed JSON ({e})") from None


def read_jsonl(path: Path | str) -> list[dict]:
    """Parse a JSONL file; a ValueError names the file and line on malformed content."""
    rows = []
    with Path(path).open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}: line {n}: malformed JSON ({e})") from None
    return rows


def load_npy(path: Path | str) -> np.ndarray:
    """`np.load` without pickles; a ValueError names the file when it is not a readable array."""
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"{path}: not a readable .npy array ({e})") from None
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{path}: expected one array, found an archive")
    return arr
