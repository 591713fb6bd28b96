"""User mistakes on the command line end in one line naming the culprit (exit 2), within seconds."""

import subprocess
import sys
import time

import numpy as np
import pytest

from tests.builders import OFFLINE_ENV, REPO

SMD = [sys.executable, "-m", "harness.cli"]


def _smd(*args: str, cwd=REPO, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**__import__("os").environ, **OFFLINE_ENV, "PYTHONPATH": str(REPO)}
    return subprocess.run([*SMD, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _one_line_error(run: subprocess.CompletedProcess, *words: str) -> None:
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    last = run.stderr.strip().splitlines()[-1]
    assert "error: " in last and all(w in last for w in words), run.stderr


def test_describe_refuses_an_absurd_frame_rate_at_once(tmp_path):
    from smd import forward_kinematics

    motion = tmp_path / "m.npy"
    np.save(motion, forward_kinematics({}, np.tile([0.0, 0.92, 0.0], (40, 1))))
    started = time.monotonic()
    _one_line_error(_smd("describe", str(motion), "--fps", "1e-300"), "--fps", "[1, 1000]")
    assert time.monotonic() - started < 30  # before: killed for memory (22 GB)


def test_describe_refuses_coordinates_no_body_has(tmp_path):
    from smd import forward_kinematics

    motion = tmp_path / "huge.npy"
    np.save(motion, forward_kinematics({}, np.tile([0.0, 0.92, 0.0], (40, 1))).astype(np.float64) * 1e300)
    _one_line_error(_smd("describe", str(motion)), str(motion), "not positions in metres")


def test_evaluate_never_sends_a_missing_local_folder_to_the_hub(demo, tmp_path):
    (tmp_path / "models").mkdir()
    started = time.monotonic()
    run = _smd(
        "evaluate", "--task", "smd_babel_qa_mc", "--benchmark", "babel_qa_mc", "--data-root", str(demo["qa"]),
        "--variant", "v5_top3", "--backbone", "models/nope", "--results", str(tmp_path / "r"),
        "--params", str(REPO / "params.yaml"), cwd=tmp_path,
    )  # fmt: skip
    _one_line_error(run, "models/nope", "no such folder")
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("name", ["org/model", "Qwen/Qwen2.5-7B-Instruct"])
def test_a_hub_id_stays_a_hub_id(tmp_path, monkeypatch, name):
    from harness.models import get_backbone

    monkeypatch.chdir(tmp_path)  # no folder called org/ or Qwen/ here
    assert get_backbone(name, params={}).path == name
