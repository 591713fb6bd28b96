"""Small file helpers shared by every stage: atomic writes and safe reads.

Every output is written to a temporary file in the same folder and moved into place with
`os.replace`, so a killed process leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import yaml


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
    # allow_nan=False: NaN and Infinity are not JSON; a number that is not finite is an error here,
    # not a file other tools refuse
    text = json.dumps(obj, indent=indent, sort_keys=True, ensure_ascii=False, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def atomic_write_jsonl(path: Path | str, rows: Iterable[dict]) -> Path:
    """One JSON object per line, in the given order, written atomically."""
    return atomic_write_text(
        path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True, allow_nan=False) + "\n" for r in rows)
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


def load_npy(path: Path | str, *, mmap_mode: str | None = None) -> np.ndarray:
    """`np.load` without pickles (memory-mapped with `mmap_mode`); a ValueError names the file when it is
    not a readable array: empty, cut short, not NumPy, a pickle, or an `.npz` archive whatever its name."""
    path = Path(path)
    try:
        arr = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"{path}: not a readable .npy array ({e})") from None
    if not isinstance(arr, np.ndarray):
        arr.close()
        raise ValueError(f"{path}: expected one array, found an .npz archive")
    return arr


def folder_digest(path: str | Path, full_hash_limit: int = 256 * 2**20) -> str | None:
    """sha256 over a local model folder (None when `path` is no folder, e.g. a hub id): a backbone
    rebuilt at the same path is another backbone. Files above `full_hash_limit` bytes count by name
    and size, so a 15 GB checkpoint is not re-read at every start."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for file in sorted(f for f in folder.rglob("*") if f.is_file()):
        size = file.stat().st_size
        digest.update(f"{file.relative_to(folder).as_posix()}:{size}:".encode())
        if size <= full_hash_limit:
            content = hashlib.sha256()
            with open(file, "rb") as f:
                for block in iter(partial(f.read, 1 << 20), b""):
                    content.update(block)
            digest.update(content.digest())
    return digest.hexdigest()


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_yaml(path: Path | str, what: str) -> Any:
    """A YAML file through `yaml.safe_load` (None when empty).

    Raises:
        FileNotFoundError: `<what> not found: <path>`.
        ValueError: `<path>: malformed YAML (...)`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: malformed YAML ({e})") from None
