"""The project's own code a module runs: its import closure, read with `ast`, and a digest of it.

Training puts the digest into a run's fingerprint, so that a finished or half-finished run folder made
by other code is another run (what `dvc repro` means when it re-runs a stage because its code changed);
the layout test derives each DVC stage's code dependencies from the same closure.

Imports are read inside functions too (a lazy import is still a dependency); importing a module runs
every package `__init__` above it, so those count as well.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

__all__ = ["code_digest", "import_closure", "imports", "module_files"]

# the installed (or checked-out) top-level packages whose modules are project code
PACKAGES = ("smd", "harness")


@cache
def module_files(root: Path, packages: tuple[str, ...] = PACKAGES) -> Mapping[str, Path]:
    """Dotted module name -> file, for every `.py` under `root/<package>` (packages by their `__init__`)."""
    files = {}
    for top in packages:
        for path in sorted((root / top).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def imports(module: str, files: Mapping[str, Path], *, packages: bool = True) -> frozenset[str]:
    """The modules of `files` that `module` imports, with every package above each of them (importing
    runs their `__init__`s); `packages=False`: only the modules its import statements name (the arrows of
    the layout test's drawing: `from . import m` names `m`, `from pkg import name` names `pkg`)."""
    path = files[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names] + ([base] if packages else [])
        else:
            continue
        for name in names:
            while name and name not in files:  # `from pkg.mod import function` -> pkg.mod
                name = name.rpartition(".")[0]
            if not packages:
                found.update([name] if name else [])
                continue
            while name:
                found.add(name)
                name = name.rpartition(".")[0]
    return frozenset(found - {module})


def import_closure(
    roots: Iterable[str],
    files: Mapping[str, Path],
    *,
    also_loads: Mapping[str, Iterable[str]] | None = None,
    stop_at: Iterable[str] = (),
) -> set[str]:
    """Every module of `files` that importing `roots` runs (a root's own packages included: importing
    `harness.models.gguf` runs `harness/models/__init__.py` first).

    Args:
        also_loads: modules a module loads without importing them (e.g. a task folder lm-eval reads).
        stop_at: modules not followed (an entry point that merely dispatches to the roots).
    """
    extra, stop = also_loads or {}, set(stop_at)
    seen: set[str] = set()
    todo = list(roots)
    for root in list(todo):
        package = root.rpartition(".")[0]
        while package:
            if package in files and package not in stop:
                todo.append(package)
            package = package.rpartition(".")[0]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo += [m for m in imports(module, files) | set(extra.get(module, ())) if m not in stop]
    return seen


def code_digest(roots: Iterable[str], root: Path | None = None) -> str:
    """sha256 of the files `roots` run (paths relative to `root` and their bytes, in name order)."""
    root = Path(__file__).resolve().parents[2] if root is None else root
    files = module_files(root)
    digest = hashlib.sha256()
    for module in sorted(import_closure(roots, files)):
        path = files[module]
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()
