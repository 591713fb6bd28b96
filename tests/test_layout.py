"""The project's layout rules, read from the imports themselves (docs/architecture.md):

- floors: `smd/` imports nothing of `harness/`; a stage (a module `smd COMMAND` runs) imports only the
  shared floor and its own private package; a floor module imports no stage; only the drivers
  (`harness.cli`, `harness.pipeline`) import stages;
- every code dependency a `dvc.yaml` stage runs is one of its `deps` (else `dvc repro` would not re-run
  it when that code changes), and every code dep it lists is code it runs.

Imports are read with `ast`, inside functions too (a lazy import is still a dependency), by
`harness.code`: the closure training fingerprints its runs with.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.cli import STAGES
from harness.code import import_closure, module_files
from harness.code import imports as code_imports
from harness.pipeline import STAGE_MODULES
from tests.builders import REPO

DRIVERS = {"harness.cli", "harness.__main__", "harness.pipeline"}
# a stage's private package: modules only it (and its package siblings) may import
PRIVATE_PACKAGES = {"harness.train": "harness.training", "harness.demo.generate": "harness.demo"}
# the entry point every command passes through: it maps a command to its module and runs it
ENTRY = {"harness", "harness.cli"}
# what a stage loads without importing it: `smd evaluate` hands lm-eval the task folder, whose
# utils.py imports the task functions
RUNTIME_LOADS = {"harness.evaluate": ("tasks.utils",)}


MODULES = module_files(REPO, ("smd", "harness", "tasks"))


def imports(module: str) -> frozenset[str]:
    """The project modules `module` imports (package `__init__`s included: importing runs them)."""
    return code_imports(module, MODULES)


def closure(roots: tuple[str, ...]) -> set[str]:
    return import_closure(roots, MODULES, also_loads=RUNTIME_LOADS, stop_at=ENTRY)


STAGE_ROOTS = {module for module, _ in STAGES.values()}


def role(module: str) -> str:
    if module.startswith("smd"):
        return "smd"
    if module.startswith("tasks"):
        return "tasks"
    if module in DRIVERS or module == "harness":
        return "driver"
    if module in STAGE_ROOTS:
        return "stage"
    for stage, package in PRIVATE_PACKAGES.items():
        if module == package or module.startswith(package + "."):
            return f"private:{stage}"
    return "floor"


def _allowed(importer: str, imported: str) -> bool:
    a, b = role(importer), role(imported)
    if a == "smd":
        return b == "smd"
    if a in ("driver", "tasks"):
        return True
    if b == "stage":  # only drivers run stages
        return False
    if b.startswith("private:"):  # a private package: its stage and its own modules only
        stage = b.split(":", 1)[1]
        return importer == stage or a == b
    return True  # smd and floor modules: anyone may import them


def test_the_floors_hold():
    broken = [
        f"{importer} ({role(importer)}) imports {imported} ({role(imported)})"
        for importer in MODULES
        for imported in sorted(imports(importer))
        if not _allowed(importer, imported)
    ]
    assert not broken, "\n".join(broken)


def test_the_floor_rules_can_fail():
    # the checker itself: the arrows the floors forbid are refused
    assert not _allowed("smd.render", "harness.io")
    assert not _allowed("harness.backbones", "harness.training.config")
    assert not _allowed("harness.evaluate", "harness.compare")
    assert not _allowed("harness.lm_eval_tasks", "harness.prompt_docs")
    assert _allowed("harness.train", "harness.training.loop") and _allowed(
        "harness.pipeline", "harness.train"
    )


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


@pytest.mark.parametrize("name", sorted(_stages()))
def test_each_stage_depends_on_exactly_the_code_it_runs(name):
    stage = _stages()[name]
    deps = [str(d) for d in stage.get("deps", [])]
    code_deps = [d for d in deps if d.split("/")[0] in CODE_ROOTS]
    files = {_code_path(MODULES[m]) for m in closure(stage_modules(stage["cmd"]))}
    if any(m == "tasks.utils" for m in closure(stage_modules(stage["cmd"]))):
        files |= {_code_path(p) for p in (REPO / "tasks").glob("*.yaml")}  # lm-eval reads the YAMLs
    missing = sorted(f for f in files if not _covered(f, code_deps))
    unused = sorted(d for d in code_deps if not any(_covered(f, [d]) for f in files))
    assert not missing, f"{name}: add to deps (the stage runs them): {missing}"
    assert not unused, f"{name}: deps it does not run: {unused}"


def test_the_deps_check_can_fail():
    # a stage whose deps miss a module it imports, and one listing a module it does not run
    files = {_code_path(MODULES[m]) for m in closure(("harness.prompt_docs",))}
    assert "harness/layout.py" in files and not _covered("harness/layout.py", ["harness/prompt_docs.py"])
    assert "harness/table.py" not in files


def test_a_regular_install_ships_every_package():
    """`pip install .` installs the packages pyproject.toml lists, no more: a package left out works in
    the checkout and fails after a regular install (CI's)."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for top in ("smd", "harness")
        for init in (REPO / top).rglob("__init__.py")
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
