"""Small file helpers shared by every stage: the one writer of outputs, and safe reads.

Every output goes through `atomic_output`: a temporary file in the target's folder, flushed and fsynced,
given the permissions any file the user creates there gets (the umask's, not `mkstemp`'s private 0600),
then moved into place with `os.replace`. A killed process or a failed write leaves either the old file or
the new one, never half of one, and no temporary file. A full disk, a folder without write permission or a
read-only file system is an `OutputError`: one line naming the file and what to do, which the `smd`
command prints with exit status 2. `tests/harness/test_writer_coverage.py` fails on a write in the
packages that goes around it.

Every text input goes through `read_text`: UTF-8 with or without a byte-order mark, any line ending
(`\r\n`, `\r`, `\n`) read as `\n`, so a file saved by a Windows editor gives the same records as a clean one.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO, Any

import numpy as np
import yaml

# what the user can do about each OS error a write meets, when it is theirs to fix
_USER_FIXES = {
    errno.ENOSPC: "no space left on the device: free space there or write to another folder",
    errno.EDQUOT: "disk quota exceeded: free space there or write to another folder",
    errno.EACCES: "permission denied: make the folder writable for you or write to another folder",
    errno.EPERM: "operation not permitted: make the folder writable for you or write to another folder",
    errno.EROFS: "read-only file system: write to another folder",
}


class OutputError(Exception):
    """An output that could not be written for a reason the user fixes (disk full, no permission, a
    read-only file system); the message names the file, the reason and the fix, and says that an earlier
    complete file (if any) is untouched."""


@contextmanager
def atomic_output(path: Path | str, *, binary: bool = False) -> Iterator[IO]:
    """The one writer: `with atomic_output(path) as f: f.write(...)` (UTF-8 text, or bytes with `binary`).

    `path` appears, complete, only when the block ends without an error; on any error the temporary
    file is removed and `path` keeps its earlier content. Third-party writers take the file object
    (`np.save(f, ...)`, `torch.save(obj, f)`, `fig.savefig(f, format=...)`). Creates parent folders.

    Raises:
        OutputError: a full disk, a missing permission or a read-only file system (from the block's own
            writes too), naming `path`.
    """
    path = Path(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        # an error about another file (the block reading an input) is not this output's
        if isinstance(e, OSError) and e.filename in (None, tmp, str(path), str(path.parent)):
            _raise_if_users(e, path)
        raise


def _raise_if_users(error: OSError, path: Path) -> None:
    """An `OutputError` naming `path` when `error` is one the user fixes (full disk, permission...)."""
    if error.errno in _USER_FIXES:
        had = "the earlier file is unchanged" if path.exists() else "nothing was written"
        raise OutputError(f"cannot write {path}: {_USER_FIXES[error.errno]} ({had})") from error


class Journal:
    """An append-only file of lines, written as work goes (a build's cache): each line is flushed at once,
    so an interrupted run keeps what it finished, and a line cut short by a kill is for the reader to skip.
    The one output that is not replaced whole by `atomic_output`, since it must grow as it goes; errors the
    user fixes are `OutputError`s all the same.

        with Journal(path) as journal:
            offset = journal.append(line)  # where the line starts, in bytes
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._file: IO[bytes] | None = None

    def __enter__(self) -> Journal:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a+b")  # noqa: SIM115 - closed by __exit__
            self._file.seek(0, os.SEEK_END)
            if self._file.tell():  # an interrupted write may have left a partial line: start a fresh one
                self._file.seek(-1, os.SEEK_END)
                if self._file.read(1) != b"\n":
                    self._file.write(b"\n")
        except OSError as e:
            self.close()
            _raise_if_users(e, self.path)
            raise
        return self

    def append(self, line: str) -> int:
        """Write `line` (which ends with a newline) and flush it; the byte offset where it starts."""
        if self._file is None:
            raise RuntimeError(f"{self.path}: a Journal is written inside its `with` block")
        try:
            offset = self._file.tell()
            self._file.write(line.encode("utf-8"))
            self._file.flush()
        except OSError as e:
            _raise_if_users(e, self.path)
            raise
        return offset

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            file.close()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux's /proc); elsewhere
    set and restored at once, under a lock so that no thread of ours creates a file in between."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
        found = re.search(r"^Umask:\s*([0-7]+)$", status, re.MULTILINE)
        if found:
            return int(found.group(1), 8)
    except OSError:
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def atomic_write_text(path: Path | str, text: str) -> Path:
    """Write `text` to `path` atomically (UTF-8); creates parent folders."""
    with atomic_output(path) as f:
        f.write(text)
    return Path(path)


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Write `data` to `path` atomically (images, archives); creates parent folders."""
    with atomic_output(path, binary=True) as f:
        f.write(data)
    return Path(path)


def atomic_write_npy(path: Path | str, array: np.ndarray) -> Path:
    """One array as `.npy` (no pickles), written atomically."""
    with atomic_output(path, binary=True) as f:
        np.save(f, array, allow_pickle=False)
    return Path(path)


def atomic_write_figure(path: Path | str, fig: Any, **savefig_args: Any) -> Path:
    """A matplotlib figure, written atomically; the format is the file's extension unless given."""
    path = Path(path)
    savefig_args.setdefault("format", path.suffix.lstrip(".").lower() or None)
    with atomic_output(path, binary=True) as f:
        fig.savefig(f, **savefig_args)
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


def read_text(path: Path | str) -> str:
    """A text file as people save it: UTF-8 with or without a byte-order mark, `\r\n` and `\r` read as
    `\n`.

    Raises:
        ValueError: `<path>: not UTF-8 text (...)`.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_json(path: Path | str) -> Any:
    """Parse a JSON file (`read_text`); a ValueError names the file on malformed content."""
    path = Path(path)
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: malformed JSON ({e})") from None


def read_jsonl(path: Path | str) -> list[dict]:
    """Parse a JSONL file (`read_text`); a ValueError names the file and line on malformed content."""
    rows = []
    # split on "\n" only: str.splitlines would also cut at U+2028 and the like, which JSON strings may hold
    for n, line in enumerate(read_text(path).split("\n"), 1):
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
        return yaml.safe_load(read_text(path))
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: malformed YAML ({e})") from None
