"""Every output of the packages goes through the one writer, `harness.core.files.atomic_output`.

The scan reads the sources (ast) of `smd/` and `harness/` and lists each call that writes a file on its
own: `open(..., "w"/"a"/"x"/"+")` (and `Path.open`), `.write_text`, `.write_bytes`, `json.dump`,
`np.save`/`np.savez`, `torch.save`, `.savefig`. Such a call is fine where it writes into a file object the
writer hands out (`with atomic_output(path) as f: torch.save(obj, f)`) or into memory (`io.BytesIO()`).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("smd", "harness")
WRITER_MODULE = Path("harness/core/files.py")

# (file, line's call) -> why it may write on its own; keep it short
ALLOWED = {
    ("harness/cli.py", "open"): "sys.stdout pointed at os.devnull after a broken pipe: no output file",
}

_WRITE_MODES = set("wax+")
# call name -> index of the argument that says where it writes (None: the object it is called on)
_DESTINATION = {"json.dump": 1, "np.save": 0, "numpy.save": 0, "np.savez": 0, "np.savez_compressed": 0}
_DESTINATION |= {"torch.save": 1, "savefig": 0}
_DESTINATION_KEYWORD = {"json.dump": "fp", "np.save": "file", "numpy.save": "file", "torch.save": "f"}
_DESTINATION_KEYWORD |= {"savefig": "fname", "np.savez": "file", "np.savez_compressed": "file"}


def _name(func: ast.expr) -> str:
    """`json.dump`, `np.save`, `open`; a method call by its attribute alone (`savefig`, `write_text`)."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        if isinstance(func.value, ast.Name) and func.value.id in {"json", "np", "numpy", "torch"}:
            return f"{func.value.id}.{func.attr}"
        return func.attr
    return ""


def _mode(call: ast.Call, position: int) -> str | None:
    """The mode string of an `open` call, when written as a constant."""
    for kw in call.keywords:
        if kw.arg == "mode" and isinstance(kw.value, ast.Constant):
            return kw.value.value
    if len(call.args) > position and isinstance(call.args[position], ast.Constant):
        return call.args[position].value
    return None


def _destination(call: ast.Call, name: str) -> ast.expr | None:
    keyword = _DESTINATION_KEYWORD.get(name)
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    index = _DESTINATION[name]
    return call.args[index] if len(call.args) > index else None


def _safe_names(function: ast.AST) -> set[str]:
    """Names bound to a file the writer hands out (`with atomic_output(...) as f`) or to memory."""
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if isinstance(call, ast.Call) and _name(call.func) == "atomic_output":
                    if isinstance(item.optional_vars, ast.Name):
                        names.add(item.optional_vars.id)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            if _name(node.value.func) in {"BytesIO", "StringIO"}:
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def bypasses(source: str, file: str) -> list[str]:
    """`file:line: call` of every write in `source` that goes around the writer."""
    tree = ast.parse(source)
    found = []
    scopes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]
    safe_in = {}  # call node -> the names safe in the innermost function holding it
    for scope in [tree, *scopes]:  # inner functions come later and win
        names = _safe_names(scope)
        for node in ast.walk(scope):
            if isinstance(node, ast.Call):
                safe_in[node] = names
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name == "open":
            # open(path, mode) or path.open(mode)
            mode = _mode(node, 1 if isinstance(node.func, ast.Name) else 0)
            writes = mode is not None and bool(_WRITE_MODES & set(mode))
        elif name in {"write_text", "write_bytes"}:
            writes = True
        elif name in _DESTINATION:
            target = _destination(node, name)
            writes = not (isinstance(target, ast.Name) and target.id in safe_in[node])
        else:
            writes = False
        if writes and (file, name) not in ALLOWED:
            found.append(f"{file}:{node.lineno}: {name}")
    return found


def _sources(root: Path):
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if relative != WRITER_MODULE:
                yield relative.as_posix(), path.read_text(encoding="utf-8")


def scan(root: Path = ROOT) -> list[str]:
    """Every bypass in the packages under `root`."""
    return [b for file, source in _sources(root) for b in bypasses(source, file)]


def test_every_output_goes_through_the_writer():
    found = scan()
    assert not found, "writes around harness.core.atomic_output (use it or its helpers):\n" + "\n".join(found)


def test_every_allowance_is_still_used():
    found = [(file, b) for file, source in _sources(ROOT) for b in _unfiltered(source, file)]
    used = {(file, b.rsplit(": ", 1)[1]) for file, b in found}
    assert set(ALLOWED) <= used, f"allowances nothing needs any more: {set(ALLOWED) - used}"


def _unfiltered(source: str, file: str) -> list[str]:
    saved = dict(ALLOWED)
    ALLOWED.clear()
    try:
        return bypasses(source, file)
    finally:
        ALLOWED.update(saved)


PLANTED = """
import json, io
import numpy as np
from pathlib import Path
from harness.core import atomic_output

def bad(path, obj, fig, arr):
    with open(path, "w") as f:
        f.write("x")
    Path(path).write_text("x")
    json.dump(obj, open(path, mode="a"))
    np.save(path, arr)
    fig.savefig(path)

def good(path, obj, fig, arr):
    with atomic_output(path) as f:
        json.dump(obj, f)
    with atomic_output(path, binary=True) as f:
        np.save(f, arr)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    with open(path) as f, open(path, "rb") as g:
        return f.read(), g.read()
"""


def test_a_planted_bypass_makes_the_scan_fail(tmp_path):
    package = tmp_path / "harness" / "planted"
    package.mkdir(parents=True)
    (package / "writes.py").write_text(PLANTED, encoding="utf-8")
    found = sorted(scan(tmp_path), key=lambda b: int(b.split(":")[1]))
    # the bad function's six writes (lines 8-13: `open` twice on line 11's json.dump), none of the good one's
    assert [b.split(":", 1)[1] for b in found] == [
        "8: open",
        "10: write_text",
        "11: json.dump",
        "11: open",
        "12: np.save",
        "13: savefig",
    ]
    assert all(b.startswith("harness/planted/writes.py:") for b in found)
