"""The README a newcomer reads: its first screen's commands work, the test command is on that screen,
its demo table is the committed cells, and its links (and the documents' links) resolve inside the
repository."""

import os
import re
import shlex
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

from tests.builders import OFFLINE_ENV, REPO

README = REPO / "README.md"
FIRST_SCREEN = 40  # lines: what a newcomer reads before scrolling
TEST_COMMAND = "python -m pytest -q"


def _first_screen_commands() -> list[str]:
    """Each command of the ```bash blocks that start on the first screen, split at `&&`, comments cut."""
    lines = README.read_text().splitlines()
    commands, inside = [], False
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            inside = line.strip() == "```bash" and number <= FIRST_SCREEN if not inside else False
            continue
        if inside:
            line = line.split("  #")[0].strip()
            commands += [c.strip() for c in line.split("&&") if c.strip()]
    return commands


def _smd(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **OFFLINE_ENV, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _check_pip_install(args: list[str]) -> None:
    """The pins are what this environment installed, and each extra is one the package declares."""
    pyproject = (REPO / "pyproject.toml").read_text()
    section = pyproject.split("[project.optional-dependencies]")[1].split("\n[")[0]
    declared = set(re.findall(r"^(\w+) = ", section, flags=re.M))
    if "-c" in args:  # the constraints file pins every package to what this environment installed
        constraints = REPO / args.pop(args.index("-c") + 1)
        pins = dict(
            line.split("==")
            for line in constraints.read_text().splitlines()
            if line and not line.startswith("#")
        )
        # what decides the numbers is pinned (a newer transformers changed every cache key once)
        assert {"torch", "transformers", "peft", "lm_eval", "dvc", "numpy"} <= set(pins), sorted(pins)
        for name, pinned in pins.items():
            try:
                installed = version(name)
            except PackageNotFoundError:  # pinned but not required by these extras
                continue
            assert installed.split("+")[0] == pinned, (
                f"{constraints.name}: {name}=={pinned}, installed {installed}"
            )
    for arg in args:
        if arg.startswith("-"):
            continue
        if "==" in arg:
            name, pinned = arg.split("==")
            # `==2.13.0` admits a local build such as 2.13.0+cpu (PEP 440), so compare the public part
            installed = version(name).split("+")[0]
            assert installed == pinned, f"{arg}: this environment has {name} {version(name)}"
        else:
            extras = re.fullmatch(r"\.(?:\[([\w,]+)\])?", arg.strip('"'))
            assert extras, arg
            for extra in (extras.group(1) or "").split(","):
                assert not extra or extra in declared, extra


def _check(command: str, cwd: Path) -> None:
    argv = shlex.split(command)
    if argv[:2] == ["pip", "install"]:
        _check_pip_install(argv[2:])
    elif argv[0] == "smd":  # run as written, in a folder of its own
        run = _smd(argv[1:], cwd)
        assert run.returncode == 0, (command, run.stderr[-2000:])
        assert run.stdout.strip(), command
        for flag, path in zip(argv, argv[1:]):
            if flag in ("-o", "--output"):
                assert (cwd / path).stat().st_size > 10_000, command  # a real figure
    elif argv[:2] == ["dvc", "repro"]:
        # 20-30 min, so not run here: dvc must resolve the pipeline and find the stage that writes the tables
        # (CI runs `dvc repro --dry` against the lock and a reduced demo whole, .ci/run)
        stages = subprocess.run(
            ["dvc", "stage", "list"], cwd=REPO, capture_output=True, text=True, timeout=300
        )
        assert stages.returncode == 0, stages.stderr[-2000:]
        assert re.search(r"^tables\s.*reports/tables.md", stages.stdout, flags=re.M), stages.stdout
    elif argv[0] == "cat":
        assert (REPO / argv[1]).is_file(), command
    elif command == TEST_COMMAND:  # the suite cannot run itself: it must collect without an error
        collected = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert collected.returncode == 0, collected.stdout[-2000:]
    else:
        pytest.fail(f"the README's first screen runs {command!r}: give it a check here")


def test_ci_installs_as_the_readme_says():
    """CI's install line is the README's (with pip's -q), constraints included: what CI tests is what a
    newcomer installs."""
    ci = (REPO / ".ci" / "run").read_text()
    assert 'pip install -q -c constraints.txt ".[all]"' in ci
    assert 'pip install -c constraints.txt ".[all]"' in README.read_text()


def test_the_test_command_is_on_the_first_screen():
    head = README.read_text().splitlines()[:FIRST_SCREEN]
    assert any(line.endswith(f"&& {TEST_COMMAND}") for line in head), "the test command moved below line 40"
    assert (REPO / ".ci" / "run").read_text().count(f"\n{TEST_COMMAND}\n") == 1  # CI runs it as written


def test_every_command_of_the_first_screen_works(tmp_path):
    commands = _first_screen_commands()
    assert {"smd describe", "smd plot -o motion.png", TEST_COMMAND} <= set(commands), commands
    for command in commands:
        _check(command, tmp_path)


def test_the_demo_table_is_the_committed_cells():
    """Each row's real and blind accuracies with their Wilson CIs, and chance, as the cells hold them."""
    import json

    rows = {
        "zero-shot, letters (`_mc`)": ("demo_babel_qa_mc", "tiny"),
        "zero-shot, option texts (cloze)": ("demo_babel_qa_cloze", "tiny"),
        "+ LoRA, letters (`_mc`)": ("demo_babel_qa_mc", "tiny+lora"),
        "+ LoRA on answer texts, option texts (cloze)": ("demo_babel_qa_cloze", "tiny+lora-text"),
        "answer prior (no model: the training split's most frequent answer of the question's type)": (
            "demo_babel_qa_cloze",
            "answer-prior",
        ),
    }
    readme = README.read_text()
    for label, (dataset, model) in rows.items():
        shown = []
        for variant in ("v5_top3", "v5_top3-blind"):
            cell = json.loads((REPO / "results" / dataset / variant / f"{model}.json").read_text())
            low, high = cell["acc_ci95_low"], cell["acc_ci95_high"]
            shown.append(f"{100 * cell['acc']:.1f} [{100 * low:.1f}, {100 * high:.1f}]")
        assert f"| {label} | {shown[0]} | {shown[1]} | {100 * cell['chance']:.1f} |" in readme, label


def _links(path: Path) -> list[str]:
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text())
    return [link for link in links if "://" not in link]


def test_readme_and_documents_link_only_to_files_inside_the_repository():
    local = _links(README)
    assert "docs/glossary.md" in local and "docs/data.md" in local and "docs/protocols.md" in local
    documents = sorted((REPO / "docs").glob("*.md"))
    assert {f"docs/{d.name}" for d in documents} <= set(local), "a document the README does not name"
    missing = [link for link in local if not (REPO / link).exists()]
    missing += [
        f"{d.name}: {link}" for d in documents for link in _links(d) if not (d.parent / link).exists()
    ]
    assert not missing, missing
    for text in (README.read_text(), *(d.read_text() for d in documents)):
        assert "DESIGN.md" not in text  # the design document is not part of the repository
