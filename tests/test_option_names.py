"""One name per idea on the command line: an SMD variant is `--variant` (`--variants`), an output is
`-o/--output`, the results key a cell is filed under is its benchmark (`smd evaluate --benchmark`),
lm-eval's metadata key is `smd_variant`. The old spellings live only as deprecated aliases
(`old=(...)` of `harness.core.add_renamed_option`); this test reads the code and the documents for any
other use.

dvc.yaml is left out: its stage commands still use the old spellings, and changing a stage's command
re-runs the stage, so they are renamed when the pipeline is re-run and re-locked.
"""

import ast
import re

from tests.builders import REPO

OLD_VARIANT_FLAG = re.compile(r"--presets?\b")
# `smd evaluate --dataset` was the benchmark; `smd stage evaluate --dataset` names a registry dataset
OLD_BENCHMARK_FLAG = re.compile(r"--dataset\b")
OUTPUT_SPELLINGS = {"-o", "--output"}


def _python_sources():
    for folder in ("harness", "benchmarks", "smd", "tasks"):
        yield from sorted((REPO / folder).rglob("*.py"))


def _documents():
    yield REPO / "README.md"
    yield from sorted((REPO / "docs").glob("*.md"))
    yield from sorted((REPO / "profiles").iterdir())
    yield from sorted((REPO / ".ci").glob("*"))
    yield from sorted((REPO / "benchmarks").glob("*.sh"))


def _option_strings(call: ast.Call) -> list[str]:
    return [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def test_no_command_spells_an_old_variant_flag_outside_its_deprecated_alias():
    found = []
    for path in [*_python_sources(), *(p for p in _documents() if p.is_file())]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if OLD_VARIANT_FLAG.search(line) and "old=(" not in line:
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def _logical_lines(path):
    """(line number, line) with shell continuations (`\\` at the end) joined to their command."""
    start, parts = None, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        start = start or number
        parts.append(line.rstrip().removesuffix("\\"))
        if not line.rstrip().endswith("\\"):
            yield start, " ".join(parts)
            start, parts = None, []
    if parts:
        yield start, " ".join(parts)


def test_smd_evaluate_spells_the_benchmark_option_benchmark_outside_its_deprecated_alias():
    """`--dataset` of `smd evaluate` (the cell's benchmark, `demo_babel_qa_mc`) is a deprecated alias of
    `--benchmark`: no `smd evaluate` command, nor the evaluate stage's code, spells it otherwise. The
    pipeline's `smd stage evaluate --dataset babel_qa` names a registry dataset, a data folder: it stays."""
    found = []
    evaluate = REPO / "harness" / "evaluate"
    for path in [*_python_sources(), *(p for p in _documents() if p.is_file())]:
        for number, line in _logical_lines(path):
            command = re.search(r"\bsmd evaluate\b.*--dataset\b", line)
            in_stage = path.is_relative_to(evaluate) and OLD_BENCHMARK_FLAG.search(line)
            if (command or in_stage) and "old=(" not in line:
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
    probe = (REPO / "benchmarks" / "probe_smd_swap.py").read_text(encoding="utf-8")  # builds evaluate's argv
    assert '"--benchmark"' in probe and '"--dataset"' not in probe


def test_every_output_option_is_spelled_o_output():
    """No `--out`, `--out-dir` or output positional beside `-o/--output`, but as a deprecated alias (an old
    flag in `old=`, an old positional with its help suppressed)."""
    found = []
    for path in _python_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if called not in ("add_argument", "add_renamed_option"):
                continue
            names = _option_strings(node)
            output_like = [n for n in names if n == "-o" or n.startswith("--out") or n in ("out", "output")]
            keywords = {k.arg: k.value for k in node.keywords}
            hidden = isinstance(keywords.get("help"), ast.Attribute) and keywords["help"].attr == "SUPPRESS"
            if output_like and not (set(output_like) == OUTPUT_SPELLINGS or hidden):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {names}")
    assert not found, "\n".join(found)


def test_the_shared_spellings_are_used_by_the_commands_that_take_them():
    """Every stage that writes a file or folder, or reads a variant, takes the shared spelling."""
    from harness.core import OUTPUT_OPTION, VARIANT_OPTION

    assert OUTPUT_OPTION == ("-o", "--output") and VARIANT_OPTION == "--variant"
    writers = ("data/build_smd", "demo/generate", "train/main", "models/tiny", "models/gguf", "results/table")
    for module in (*writers, "attention/main"):
        assert "OUTPUT_OPTION" in (REPO / "harness" / f"{module}.py").read_text(), module
    for module in ("data/build_smd", "data/prompt_docs", "evaluate/main", "attention/main", "pipeline"):
        assert "VARIANT_OPTION" in (REPO / "harness" / f"{module}.py").read_text(), module


def test_lm_eval_metadata_names_the_variant_smd_variant_everywhere():
    """The task YAMLs' default, `smd evaluate`'s metadata and every documented `--metadata` agree."""
    for task in sorted((REPO / "tasks").glob("*.yaml")):
        keys = re.findall(r"^\s+(\w+):", task.read_text(encoding="utf-8"), flags=re.M)
        assert not [k for k in keys if "preset" in k], task.name
    examples = []
    for path in [*_documents(), *_python_sources()]:
        if path.is_file():
            examples += re.findall(r"--metadata '(\{[^']*\})'", path.read_text(encoding="utf-8"))
    assert any('"smd_variant"' in e for e in examples)
    for example in examples:
        keys = set(re.findall(r'"(\w+)":', example))
        assert "preset" not in " ".join(keys), example
    assert '"smd_variant"' in (REPO / "harness" / "evaluate" / "plan.py").read_text()  # the run's metadata
