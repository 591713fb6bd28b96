"""Tiny builders shared by the tests: synthetic motions made with the SMD's own forward kinematics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import smd
from smd.skeleton import MIRROR_PERMUTATION

REPO = Path(__file__).resolve().parents[1]
# `smd train` that SIGKILLs its own process in the KILL_AT_STEP-th optimizer step (on every process of
# a multi-process run): a run killed mid-epoch, for the resume tests
KILLING_TRAINER = """
import os, signal, sys, torch
calls = 0
step = torch.optim.AdamW.step
def killing_step(self, *a, **k):
    global calls
    calls += 1
    if calls == int(os.environ["KILL_AT_STEP"]):
        os.kill(os.getpid(), signal.SIGKILL)
    return step(self, *a, **k)
torch.optim.AdamW.step = killing_step
from harness.train.main import main
sys.exit(main(sys.argv[1:]))
"""
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def run_lm_eval_cli(
    model: Path, tasks: str, data_root: Path, out: Path, limit: int, *extra: str
) -> tuple[dict, Path]:
    """`lm_eval --model hf` on the project's tasks (chat template, CPU, offline) as a user runs it:
    (its `results` section, the output folder). A non-zero exit fails with the tail of its stderr."""
    metadata = json.dumps({"smd_variant": "v5_top3", "data_root": str(data_root)})
    cmd = [
        sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={model}",
        "--tasks", tasks, "--include_path", str(REPO / "tasks"), "--metadata", metadata,
        "--apply_chat_template", "--limit", str(limit), "--device", "cpu", "--output_path", str(out),
        *extra,
    ]  # fmt: skip
    env = {**os.environ, **OFFLINE_ENV}
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=out.parent, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(next(out.rglob("results_*.json")).read_text())["results"], out


@contextmanager
def interrupt_optimizer_at(monkeypatch, call: int):
    """Within it, AdamW's `call`-th step raises KeyboardInterrupt (Ctrl-C in the middle of training,
    in this process)."""
    import torch

    step, calls = torch.optim.AdamW.step, []

    def interrupting_step(self, *a, **k):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return step(self, *a, **k)

    with monkeypatch.context() as patch:
        patch.setattr(torch.optim.AdamW, "step", interrupting_step)
        yield


def fixtures_dir() -> Path | None:
    """`$SMD_FIXTURES`, else ../shared/fixtures beside the repository; None when absent."""
    path = Path(os.environ.get("SMD_FIXTURES", REPO.parent / "shared" / "fixtures"))
    return path if path.is_dir() else None


def standing_root(n: int, height: float = 0.92) -> np.ndarray:
    return np.tile([0.0, height, 0.0], (n, 1))


def times(duration: float, fps: float) -> np.ndarray:
    return np.arange(int(round(duration * fps))) / fps


def piecewise(t: np.ndarray, knots: list[tuple[float, float]]) -> np.ndarray:
    """Piecewise-linear curve through (time, value) knots, smoothed at the corners by a cosine ease."""
    ts, vs = zip(*knots)
    out = np.interp(t, ts, vs)
    for (t0, v0), (t1, v1) in zip(knots[:-1], knots[1:]):
        inside = (t >= t0) & (t <= t1)
        if t1 > t0 and v1 != v0:
            u = (t[inside] - t0) / (t1 - t0)
            out[inside] = v0 + (v1 - v0) * (1 - np.cos(np.pi * u)) / 2
    return out


def walk(
    duration: float = 6.0, fps: float = 20.0, *, speed: float = 1.2, cadence_hz: float = 0.9
) -> np.ndarray:
    """A straight walk along +Z: alternating hip/knee flexion, counter-swinging arms."""
    t = times(duration, fps)
    phase = 2 * np.pi * cadence_hz * t
    angles = {
        "left_hip_flexion": 25 * np.sin(phase),
        "right_hip_flexion": -25 * np.sin(phase),
        "left_knee_flexion": 30 + 30 * np.sin(phase - 1.2),
        "right_knee_flexion": 30 - 30 * np.sin(phase - 1.2),
        "left_shoulder_flexion": -20 * np.sin(phase),
        "right_shoulder_flexion": 20 * np.sin(phase),
        "left_elbow_flexion": np.full_like(t, 20.0),
        "right_elbow_flexion": np.full_like(t, 20.0),
    }
    root = np.stack([np.zeros_like(t), 0.9 + 0.02 * np.cos(2 * phase), speed * t], axis=1)
    return smd.forward_kinematics(angles, root)


def arm_raise(fps: float = 20.0) -> np.ndarray:
    """Hold, raise the right arm forward to 90 degrees, hold, lower it, hold: 6 s."""
    t = times(6.0, fps)
    flex = piecewise(t, [(0, 0), (1.5, 0), (2.5, 90), (4.0, 90), (5.0, 0), (6.0, 0)])
    return smd.forward_kinematics({"right_shoulder_flexion": flex}, standing_root(t.size))


def turn_and_squat(fps: float = 20.0) -> np.ndarray:
    """Turn 90 degrees left while stepping, then squat twice: 7 s, every body part a little busy."""
    t = times(7.0, fps)
    yaw = piecewise(t, [(0, 0), (1, 0), (3, 90), (7, 90)])
    knee = piecewise(t, [(0, 0), (3, 0), (3.8, 90), (4.6, 0), (5.4, 90), (6.2, 0), (7, 0)])
    angles = {
        "pelvis_rotation": yaw,
        "left_knee_flexion": knee,
        "right_knee_flexion": knee,
        "left_hip_flexion": knee * 0.9,
        "right_hip_flexion": knee * 0.9,
        "left_ankle_dorsiflexion": knee * 0.3,
        "right_ankle_dorsiflexion": knee * 0.3,
        "lumbar_extension": -knee * 0.3,
        "left_shoulder_flexion": knee * 0.8,
        "right_shoulder_flexion": knee * 0.8,
        "left_elbow_flexion": np.full_like(t, 30.0),
        "right_elbow_flexion": 30 + 40 * np.sin(2 * np.pi * 0.5 * t) ** 2,
        "neck_flexion": 10 * np.sin(2 * np.pi * 0.3 * t),
    }
    drop = 0.9 * (1 - np.cos(np.radians(knee * 0.9))) * 0.45
    root = np.stack([0.3 * np.clip(t - 1, 0, 2) / 2, 0.92 - drop, 0.2 * np.clip(t - 1, 0, 2) / 2], axis=1)
    return smd.forward_kinematics(angles, root)


def mirror(joints: np.ndarray) -> np.ndarray:
    """Negate the lateral (x) axis of Y-up joints and swap left/right joints."""
    out = joints[:, list(MIRROR_PERMUTATION)].copy()
    out[..., 0] *= -1
    return out


def rotate_about_up(joints: np.ndarray, degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return joints @ rot.T


def to_z_up(joints: np.ndarray) -> np.ndarray:
    """Y-up -> Z-up by the proper rotation (x, y, z) -> (x, -z, y)."""
    x, y, z = joints[..., 0], joints[..., 1], joints[..., 2]
    return np.stack([x, -z, y], axis=-1)


def write_qa_dataset(root: Path, motions: dict[str, np.ndarray], questions_per_motion: int = 2) -> Path:
    """A tiny BABEL-QA-style dataset (IMoRe lists, Z-up 30 fps motions) for the given Y-up motions."""
    import json

    qdir = root / "questions"
    qdir.mkdir(parents=True, exist_ok=True)
    actions = ["walk", "sit", "jump", "kick", "wave", "run", "squat", "throw", "jog", "kneel", "crouch"]
    vocab = {a: i for i, a in enumerate(actions)}
    rows = {"train": [], "val": [], "test": []}
    splits = list(rows)
    n = 0
    for i, (motion_id, joints) in enumerate(sorted(motions.items())):
        folder = root / "motion_sequences" / motion_id
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "joints.npy", to_z_up(joints).astype(np.float32))
        for k in range(questions_per_motion):
            answer = actions[(i + k) % len(actions)]
            program = ["[0]=scene(motion_seq)", "?=query_action([0])"]
            rows[splits[i % 3]].append(
                [f"{n:06d}", "What action does the person do?", program, motion_id, answer]
            )
            n += 1
    for split, items in rows.items():
        (qdir / f"imore_TINY_{split}.json").write_text(json.dumps(items))
    (qdir / "imore_TINY_action_answer_vocab.json").write_text(json.dumps(vocab))
    (qdir / "imore_TINY_body_part_answer_vocab.json").write_text(json.dumps({"left arm": 0, "right arm": 1}))
    (qdir / "imore_TINY_direction_answer_vocab.json").write_text(json.dumps({"left": 0, "right": 1}))
    return root


def tiny_eval_request(demo, folder: Path, **fields):
    """An `EvalRequest` of the demo's tiny backbone on 3 BABEL-QA docs (generation, v5_top3), its params
    file, results and samples under `folder`; `fields` replace any of its own."""
    from dataclasses import replace

    import yaml

    from harness.evaluate.plan import EvalRequest

    params = folder / "params.yaml"
    params.write_text(
        yaml.safe_dump({"backbones": {"tiny": {"path": str(demo["model"]), "dtype": "float32"}}})
    )
    base = EvalRequest(
        task="smd_babel_qa",
        benchmark="demo_babel_qa",
        data_root=demo["qa"],
        preset="v5_top3",
        backbone="tiny",
        params=params,
        results=folder / "results",
        samples_dir=folder / "samples",
        limit=3,
    )
    return replace(base, **fields)
