"""The project's layout rules, read from the code itself (docs/architecture.md, "The house"):

- `smd/` imports nothing of `harness/`;
- public faces: `harness/` is feature packages, and a package's modules are its own. Inside a package,
  modules import each other freely; from outside, code imports the package (the names its `__init__`
  lists in `__all__`), or a module or subpackage that `__all__` names (`harness.evaluate.tasks`,
  `harness.models.encoder`), level by level. The rules come from the `__init__`s: no table here;
- stages: a module `smd COMMAND` runs (`harness.cli.STAGES`) is imported by the drivers only
  (`harness.cli`, `harness.pipeline`, a package's `__main__`): no face and no other stage imports one;
- floors: drawn with a room per feature package (`smd/` one room, the drivers one), the imports run one
  way (no arrow back up) over at most six floors, and no modules import each other in a circle;
- every code file a `dvc.yaml` stage runs lies in one of its `deps` (else `dvc repro` would not re-run
  it when that code changes), listed as whole feature packages (`harness/data`, `smd`, `tasks`, or a
  top-level module such as `harness/pipeline.py`), and it lists no package it does not import.

Imports are read with `ast`, inside functions too (a lazy import is still a dependency), by
`harness.core.code_deps`: the closure training fingerprints its runs with.

    python -m tests.test_layout            # the drawing, and each dvc.yaml stage's code deps
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import pytest
import yaml

from harness.cli import STAGES
from harness.core import import_closure, module_files
from harness.core import imports as code_imports
from harness.pipeline import STAGE_MODULES
from tests.builders import REPO

# the entry point every command passes through: it maps a command to its module and runs it
ENTRY = {"harness", "harness.cli"}
# the modules `smd COMMAND` runs (`smd stage` runs the driver harness.pipeline)
STAGE_ROOTS = frozenset(module for module, _ in STAGES.values())
# what a stage loads without importing it: `smd evaluate` hands lm-eval the task folder, whose
# utils.py imports the task functions
RUNTIME_LOADS = {STAGES["evaluate"][0]: ("tasks.utils",)}
MAX_FLOORS = 6

MODULES = module_files(REPO, ("smd", "harness", "tasks"))


def imports(module: str) -> frozenset[str]:
    """The project modules `module` imports (package `__init__`s included: importing runs them)."""
    return code_imports(module, MODULES)


def closure(roots: tuple[str, ...]) -> set[str]:
    return import_closure(roots, MODULES, also_loads=RUNTIME_LOADS, stop_at=ENTRY)


# ---------------------------------------------------------------- public faces, stages and drivers


@cache
def _face(init: Path) -> frozenset[str]:
    """The names a package's `__init__` lists in `__all__` (none without one)."""
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == "__all__" and node.value is not None:
            return frozenset(ast.literal_eval(node.value))
    return frozenset()


def is_driver(module: str) -> bool:
    return module in ("harness.cli", "harness.pipeline") or module.rpartition(".")[2] == "__main__"


def _home(module: str, modules: Mapping[str, Path]) -> list[str]:
    """The package a module belongs to (a package's `__init__`: the package itself), as parts."""
    parts = module.split(".")
    return parts if modules[module].name == "__init__.py" else parts[:-1]


def refusal(
    importer: str, imported: str, modules: Mapping[str, Path], stages: Iterable[str] = STAGE_ROOTS
) -> str | None:
    """Why `importer` may not import `imported`; None when it may."""
    if importer.startswith("smd"):
        return None if imported.startswith("smd") else "smd/ imports nothing of harness/"
    if not imported.startswith("harness."):
        return None  # smd, the `harness` package itself
    home = _home(importer, modules)
    parts = imported.split(".")
    if parts == home[: len(parts)]:
        return None  # a package above it: running it is what importing the module does anyway
    if is_driver(imported) or imported in stages:
        what = "a driver" if is_driver(imported) else "a stage"
        return None if is_driver(importer) else f"{what}: only the drivers import it"
    common = 0
    while common < min(len(parts), len(home)) and parts[common] == home[common]:
        common += 1
    # the first step below the common package is a sibling (inside `harness`: a feature package), free;
    # every deeper step must be named by the `__all__` of the package above it
    for i in range(max(common + 1, 2), len(parts)):
        package = ".".join(parts[:i])
        if parts[i] not in _face(modules[package]):
            return f"private to {package} (not in its __all__)"
    return None


def _allowed(importer: str, imported: str) -> bool:
    return refusal(importer, imported, MODULES) is None


def violations(modules: Mapping[str, Path], stages: Iterable[str] = STAGE_ROOTS) -> list[str]:
    stages = frozenset(stages)
    return [
        f"{importer} imports {imported}: {why}"
        for importer in modules
        for imported in sorted(code_imports(importer, modules))
        if (why := refusal(importer, imported, modules, stages))
    ]


def test_imports_go_through_the_public_faces():
    broken = violations(MODULES)
    assert not broken, "\n".join(broken)


def test_the_face_rules_can_fail():
    # the checker itself: the arrows the rules forbid are refused
    assert not _allowed("smd.render", "harness.core.files")
    assert not _allowed("harness.models.backbones", "harness.train.config")  # another package's module
    assert not _allowed("harness.evaluate.lm_eval_io", "harness.models.encoder.folder")  # a subpackage's
    assert not _allowed("harness.evaluate.main", "harness.results.compare")  # a stage
    assert not _allowed("harness.evaluate.tasks", "harness.data.prompt_docs")  # a stage, in a face's package
    assert not _allowed("harness.data.registry", "harness.cli")  # a driver
    assert _allowed("harness.train.main", "harness.train.loop")
    assert _allowed("harness.pipeline", "harness.train.main")
    assert _allowed("harness.evaluate.main", "harness.models.encoder")  # named by harness.models' __all__
    assert _allowed("tasks.utils", "harness.evaluate.tasks")  # named by harness.evaluate's __all__
    assert _allowed("harness.train.__main__", "harness.train.main")


def _tree(root: Path, files: dict[str, str]) -> Mapping[str, Path]:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return module_files.__wrapped__(root, ("harness",))


def test_a_planted_violation_is_found_from_the_inits(tmp_path):
    # the rules are read from the `__init__`s: a name in `__all__` is public, a module is not
    modules = _tree(
        tmp_path,
        {
            "harness/__init__.py": "",
            "harness/a/__init__.py": '__all__ = ["f", "sub"]\nfrom .m import f\n',
            "harness/a/m.py": "def f(): ...\n",
            "harness/a/stage.py": "def main(): ...\n",
            "harness/a/sub/__init__.py": "__all__ = []\n",
            "harness/a/sub/s.py": "",
            "harness/b/__init__.py": "__all__ = []\n",
            "harness/b/ok.py": "from harness.a import f\nfrom harness.a import sub\n",
            "harness/b/bad.py": "def g():\n    from harness.a.m import f\n",
            "harness/b/deep.py": "import harness.a.sub.s\n",
            "harness/b/runs.py": "from harness.a.stage import main\n",
        },
    )
    assert violations(modules, stages={"harness.a.stage"}) == [
        "harness.b.bad imports harness.a.m: private to harness.a (not in its __all__)",
        "harness.b.deep imports harness.a.sub.s: private to harness.a.sub (not in its __all__)",
        "harness.b.runs imports harness.a.stage: a stage: only the drivers import it",
    ]


def test_every_name_a_face_lists_is_there():
    missing = []
    for module, path in MODULES.items():
        if module.startswith("harness") and path.name == "__init__.py":
            package = importlib.import_module(module)
            for name in sorted(_face(path)):  # a name it defines or imports, or a submodule it names
                if not hasattr(package, name) and f"{module}.{name}" not in MODULES:
                    missing.append(f"{module}.{name}")
    assert not missing, missing


# ---------------------------------------------------------------- the drawing: rooms, arrows, floors


def room(module: str) -> str | None:
    """A module's room in the drawing: its feature package, `smd`, or `drivers`; None: not drawn
    (`harness/__init__.py`, which is empty, and `tasks/`, lm-eval's door into harness.evaluate)."""
    parts = module.split(".")
    if parts[0] == "smd":
        return "smd"
    if parts[0] != "harness" or len(parts) == 1:
        return None
    return "drivers" if is_driver(module) and len(parts) == 2 else ".".join(parts[:2])


def arrows(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    drawn: dict[str, set[str]] = {}
    for module in modules:
        if (a := room(module)) is not None:
            drawn.setdefault(a, set())
            for imported in code_imports(module, modules):
                if (b := room(imported)) is not None and b != a:
                    drawn[a].add(b)
    return drawn


def circles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One circle through each node that lies on one (depth-first; a circle found once per start)."""
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            found.append(path[path.index(node) :] + [node])
            return
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, [*path, node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return found


def floors(graph: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Each room's floor: 1 for a room that imports no other, else one above the highest it imports."""
    floor: dict[str, int] = {}

    def of(node: str) -> int:
        if node not in floor:
            floor[node] = 1 + max((of(b) for b in graph.get(node, ())), default=0)
        return floor[node]

    for node in graph:
        of(node)
    return floor


def drawing(graph: Mapping[str, Iterable[str]]) -> str:
    floor = floors(graph)
    lines = []
    for level in range(max(floor.values()), 0, -1):
        rooms = sorted(r for r, f in floor.items() if f == level)
        lines.append(f"floor {level}: " + ", ".join(f"{r} -> {sorted(graph[r]) or '-'}" for r in rooms))
    return "\n".join(lines)


def test_no_arrow_runs_back_up_and_the_house_has_at_most_six_floors():
    graph = arrows(MODULES)
    assert not circles(graph), f"arrows that run back up: {circles(graph)}"
    height = max(floors(graph).values())
    assert height <= MAX_FLOORS, f"{height} floors:\n{drawing(graph)}"


def test_no_modules_import_each_other_in_a_circle():
    named = {m: code_imports(m, MODULES, packages=False) for m in MODULES}
    assert not circles(named), circles(named)


def test_the_drawing_checks_can_fail(tmp_path):
    graph = {"harness.a": {"harness.b"}, "harness.b": {"smd"}, "smd": set()}
    assert not circles(graph) and floors(graph) == {"harness.a": 3, "harness.b": 2, "smd": 1}
    assert circles({**graph, "harness.b": {"smd", "harness.a"}}) == [["harness.a", "harness.b", "harness.a"]]
    # a face that imports the module that imports the face back
    modules = _tree(
        tmp_path,
        {
            "harness/__init__.py": "",
            "harness/a/__init__.py": "from .m import f\n",
            "harness/a/m.py": "from harness.a import g\n",
        },
    )
    named = {m: code_imports(m, modules, packages=False) for m in modules}
    assert circles(named) == [["harness.a", "harness.a.m", "harness.a"]]


# ---------------------------------------------------------------- dvc.yaml code dependencies


def _stages() -> dict[str, dict]:
    data = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))
    return {name: stage.get("do", stage) for name, stage in data["stages"].items()}


def stage_modules(cmd: str) -> tuple[str, ...]:
    """The modules a stage's `smd ...` command runs first."""
    words = cmd.split()
    assert words[0] == "smd", f"a stage runs the smd command: {cmd!r}"
    module = STAGES[words[1]][0]
    if words[1] == "stage":  # `smd stage train|evaluate`: the driver, then the stage it runs
        return (module, STAGE_MODULES[words[2]])
    return (module,)


def _code_path(path: Path) -> str:
    return str(path.relative_to(REPO))


def _covered(file: str, deps: list[str]) -> bool:
    return any(file == d or file.startswith(d.rstrip("/") + "/") for d in deps)


CODE_ROOTS = ("harness", "smd", "tasks")


def code_files(cmd: str) -> set[str]:
    """The project files a stage's command runs (and, for lm-eval, reads)."""
    modules = closure(stage_modules(cmd))
    files = {_code_path(MODULES[m]) for m in modules}
    if "tasks.utils" in modules:
        files |= {_code_path(p) for p in (REPO / "tasks").glob("*.yaml")}  # lm-eval reads the YAMLs
    return files


def feature_unit(file: str) -> str:
    """The dep that covers a code file: its feature package (`harness/data`, `harness/models` for
    `harness/models/encoder/...`), `smd` or `tasks` whole, or a top-level module (`harness/pipeline.py`)."""
    parts = file.split("/")
    if parts[0] != "harness":
        return parts[0]
    return "/".join(parts[:2])


def expected_deps(files: set[str]) -> list[str]:
    """The code deps to list for `files`: each feature package (or top-level module) they belong to."""
    return sorted({feature_unit(f) for f in files})


def deps_problems(name: str, deps: list[str], files: set[str]) -> list[str]:
    """What is wrong with a stage's code deps: a file it runs that no dep covers, or a dep that is no
    package of its import closure (a package it does not import, or a file inside a package)."""
    code_deps = [d for d in deps if d.split("/")[0] in CODE_ROOTS]
    exact = "\n".join(f"  - {d}" for d in expected_deps(files))
    problems = []
    if missing := sorted(f for f in files if not _covered(f, code_deps)):
        problems.append(f"{name}: add the packages of {missing} (it runs them); its code deps:\n{exact}")
    if unused := sorted(set(code_deps) - set(expected_deps(files))):
        problems.append(f"{name}: deps that are no package it imports: {unused}; its code deps:\n{exact}")
    return problems


@pytest.mark.parametrize("name", sorted(_stages()))
def test_each_stage_depends_on_the_packages_it_imports(name):
    """A stage's code deps are the feature packages of its import closure, whole: a change to any module
    of a package it imports re-runs it (a superset of the modules it runs: never stale), and it names no
    package it does not import (a change there must not re-run it)."""
    stage = _stages()[name]
    problems = deps_problems(name, [str(d) for d in stage.get("deps", [])], code_files(stage["cmd"]))
    assert not problems, "\n".join(problems)


def test_the_deps_check_can_fail():
    # make-docs runs harness.data (prompt_docs among it), harness.core and smd
    files = code_files("smd make-docs ROOT")
    assert "harness/data/layout.py" in files and "harness/results/table.py" not in files
    assert expected_deps(files) == ["harness/core", "harness/data", "smd"]
    assert not deps_problems("docs", ["harness/core", "harness/data", "smd", "data/x"], files)
    # a planted missing package, a package it does not import, a file where the package belongs
    (missing,) = deps_problems("docs", ["harness/core", "smd"], files)
    assert "harness/data/layout.py" in missing
    (unused,) = deps_problems("docs", ["harness/core", "harness/data", "harness/results", "smd"], files)
    assert "harness/results" in unused
    assert deps_problems("docs", ["harness/core", "harness/data", "harness/data/qa.py", "smd"], files)


def test_a_regular_install_ships_every_package():
    """`pip install .` installs the packages pyproject.toml lists, no more, and their package data: a
    package or a data file left out works in the checkout and fails after a regular install (CI's)."""
    import tomllib

    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for top in ("smd", "harness")
        for init in (REPO / top).rglob("__init__.py")
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    data = setuptools.get("package-data", {})
    shipped = {
        _code_path(path)
        for top in ("smd", "harness")
        for path in (REPO / top).rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc")
    }
    listed_data = {
        str(Path(*package.split(".")) / pattern)
        for package, patterns in data.items()
        for pattern in patterns
        if package.split(".")[0] in ("smd", "harness")
    }
    assert shipped <= listed_data, f"add to [tool.setuptools.package-data]: {sorted(shipped - listed_data)}"


if __name__ == "__main__":  # the drawing and each dvc.yaml stage's code deps, as the tests compute them
    print(drawing(arrows(MODULES)), end="\n\n")
    for stage_name, stage_spec in sorted(_stages().items()):
        deps = expected_deps(code_files(stage_spec["cmd"]))
        print(f"{stage_name}:\n" + "\n".join(f"  - {d}" for d in deps))


def test_no_code_cites_a_document_outside_the_repository():
    """A design document outside the repository is no reference: the code cites the repo's own docs."""
    cited = [
        str(path.relative_to(REPO))
        for folder in ("smd", "harness", "tasks", "benchmarks")
        for path in sorted((REPO / folder).rglob("*.py"))
        if "DESIGN.md" in path.read_text(encoding="utf-8")
    ]
    assert not cited, cited
