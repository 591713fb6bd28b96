"""benchmarks/bench_cpu_dtype.py: float32 and bfloat16 side by side in one table; a missing model is named."""

import re

import pytest

pytest.importorskip("peft")

from benchmarks.bench_cpu_dtype import main  # noqa: E402


def test_it_times_both_dtypes_and_prints_their_ratio(demo, capsys):
    assert main(["--model", str(demo["model"]), "--tokens", "48", "--rounds", "2"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [r.split("|")[1].strip() for r in rows] == ["LoRA training step (fwd + bwd)", "evaluation forward"]
    for row in rows:
        assert re.search(r"\| [\d,]+ \| [\d,]+ \| \d+\.\d\dx \|$", row), row


def test_a_missing_model_is_named_with_the_command_that_builds_it(tmp_path, capsys):
    assert main(["--model", str(tmp_path / "nope")]) == 2
    assert "smd convert-gguf smollm2-135m" in capsys.readouterr().out
