"""The GPU check's dry mode: the script that times the paper's setting on a GPU runs end to end on the CPU."""

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")
pytest.importorskip("peft")

from tests.builders import OFFLINE_ENV, REPO  # noqa: E402


def test_gpu_check_dry_runs_every_step_and_prints_one_table(tmp_path):
    """Both steps on the CPU: the timing table, then a profile run end to end through run_profile.py
    (`dvc repro` in a git-less copy), its cells and their table under $OUT."""
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, **OFFLINE_ENV, "OUT": str(out), "PROFILE_WORKDIR": str(tmp_path / "work")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])  # this venv's python3
    run = subprocess.run(
        ["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--dry"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    with tarfile.open(out / "profile-cells.tar.gz") as tar:
        names = set(tar.getnames())
    cells = {n for n in names if n.endswith(".json") and not n.endswith(".provenance.json")}
    models = ("tiny", "tiny+lora-text")
    variants = ("v5_top3", "v5_top3-blind")
    expected = {f"results/long_babel_qa_cloze/{v}/{m}.json" for v in variants for m in models}
    assert cells == expected, names
    for suffix in (".samples.jsonl", ".provenance.json"):  # each cell's per-doc samples and provenance
        assert {c.replace(".json", suffix) for c in cells} <= names
    profile_table = (out / "profile-table.md").read_text()
    assert "tiny + LoRA (texts)" in profile_table and "blind control" in profile_table
    assert "first 8 docs" in profile_table  # the dry sizes reached the stages
    table = (out / "gpu_check.md").read_text()
    assert table.strip() in run.stdout and "dry run" in table
    lines = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    rows = {line.split("|")[1].strip(): line for line in lines}
    numbers = re.compile(r"\d[\d,]*\.?\d*")
    for what in ("training tokens/s", "padding", "lm-eval `_mc` questions/s"):
        assert what in rows, rows
    assert len(numbers.findall(rows["training tokens/s"].split("|")[2])) == 1  # paper config measured
    assert re.search(r"ratio \d+\.\d\dx", rows["training tokens/s"])
    # packed (smd train's default) next to unpacked, on the same examples and steps
    answers = rows["training answers/s"].split("|")
    assert all(len(numbers.findall(answers[k])) == 1 for k in (2, 3, 4))
    assert re.search(r"packed vs unpacked \d+\.\d\dx", rows["training answers/s"])
    hours = [k for k in rows if k.startswith("projected")]
    assert len(hours) == 2 and all("paper reports" in rows[k] for k in hours)
    assert re.search(r"\| [1-9]\d* questions", rows["lm-eval `_mc` questions/s"])


def test_gpu_check_without_a_gpu_says_so(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the real check would run")
    env = {**os.environ, **OFFLINE_ENV}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    run = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh")], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 2 and "no CUDA device; use --dry" in run.stderr
