"""Sequencing actions into one continuous motion, with per-segment BABEL-QA labels.

A `Motion` is a continuous definition: the actions' curves, where each starts, a blend width, a
body size, an initial heading and a smooth noise term. `sample_motion(motion, fps)` evaluates it at
`k / fps`: angle curves are cross-faded over `blend` seconds around every boundary, the root path is
integrated from the (cross-faded) body-frame velocities and yaw rate on a fine 120 Hz grid (whose
nodes include every 20 and 30 fps frame, so both rates see the same path), and each frame is lowered
so that its lowest joint touches the floor, then raised by the jump lift. Nothing here reads or
writes files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

import smd
from smd.kinematics import POSE_KEYS

from .actions import LIBRARY, build_action, label, random_params
from .curves import REST, ActionCurve, ActionParams

GRID_HZ = 120.0  # root-path integration grid; a multiple of 20 and 30 fps
MIN_DURATION_S, MAX_DURATION_S = 2.0, 9.9  # 9.9: HumanML3D's loader keeps motions under 200 frames
ROOT_HEIGHT = 1.0  # before the floor rule lowers each frame


@dataclass(frozen=True)
class Step:
    """One planned action: a library kind, its duration (seconds, a multiple of 0.1) and parameters."""

    kind: str
    duration: float
    params: ActionParams


@dataclass(frozen=True)
class SegmentLabel:
    """A labelled stretch of a motion, in seconds, with the library kind that made it."""

    start: float
    end: float
    kind: str
    params: ActionParams
    attributes: dict[str, list[str]]

    def frames(self, fps: float) -> tuple[int, int]:
        return int(round(self.start * fps)), int(round(self.end * fps))


@dataclass(frozen=True, eq=False)
class Motion:
    """A continuous motion definition (see the module docstring)."""

    steps: tuple[Step, ...]
    curves: tuple[ActionCurve, ...]
    starts: tuple[float, ...]
    scale: float
    heading_deg: float
    noise: np.ndarray  # (26, k, 3): amplitude (deg), frequency (Hz), phase (rad) per angle
    blend: float

    @property
    def duration(self) -> float:
        return self.starts[-1] + self.steps[-1].duration

    def n_frames(self, fps: float) -> int:
        """Frames at `fps`: times 0, 1/fps, ..., duration (both ends), so every rate spans the same time."""
        return int(round(self.duration * fps)) + 1


def _end_pose(curve: ActionCurve) -> tuple[tuple[str, float], ...]:
    sample = curve(np.array([curve.duration]))
    return tuple(sorted((k, float(v[0])) for k, v in sample.angles.items()))


def build_motion(
    steps: Sequence[Step],
    rng: np.random.Generator,
    *,
    scale: float = 1.0,
    heading_deg: float = 0.0,
    noise_deg: float = 1.0,
    blend: float = 0.4,
) -> Motion:
    """Build the curves of `steps` (random details from `rng`) into one motion.

    A "stand up" without an explicit start pose rises from the previous action's last pose.

    Raises:
        ValueError: no steps, a step shorter than the blend, or an unknown kind.
    """
    if not steps:
        raise ValueError("a motion needs at least one step")
    curves, starts, built, t = [], [], [], 0.0
    for step in steps:
        if step.duration < blend:
            raise ValueError(f"step {step.kind!r} lasts {step.duration}s, shorter than the blend {blend}s")
        if step.kind == "stand up" and step.params.start_pose is None and curves:
            step = replace(step, params=replace(step.params, start_pose=_end_pose(curves[-1])))
        curves.append(build_action(step.kind, step.duration, rng, step.params))
        starts.append(round(t, 6))
        built.append(step)
        t += step.duration
    k = 3
    noise = np.stack(
        [
            noise_deg * rng.uniform(0.3, 0.6, size=(len(POSE_KEYS), k)),
            rng.uniform(0.15, 0.8, size=(len(POSE_KEYS), k)),
            rng.uniform(0, 2 * np.pi, size=(len(POSE_KEYS), k)),
        ],
        axis=-1,
    )
    return Motion(tuple(built), tuple(curves), tuple(starts), float(scale), float(heading_deg), noise, blend)


def random_steps(rng: np.random.Generator) -> list[Step]:
    """1-4 actions (a "stand up" follows a sit / kneel / crouch that is not last), 2-9.9 s in all.

    No library kind is used twice, so most filters of a question name exactly one segment.
    """
    n = int(rng.choice([1, 2, 3, 4], p=[0.1, 0.2, 0.35, 0.35]))
    steps: list[Step] = []
    used: set[str] = set()
    while len(steps) < n:
        if steps and LIBRARY[steps[-1].kind].ends_low:
            kind = "stand up"
        else:
            kinds = [d.kind for d in LIBRARY.values() if d.weight > 0 and d.kind not in used]
            weights = np.array([LIBRARY[k].weight for k in kinds])
            kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
        lo, hi = LIBRARY[kind].durations
        steps.append(Step(kind, round(float(rng.uniform(lo, hi)), 1), random_params(kind, rng)))
        used.add(kind)
    total = sum(s.duration for s in steps)
    if total > MAX_DURATION_S:  # shrink, but no action below its shortest; then drop from the end
        f = MAX_DURATION_S / total
        steps = [
            replace(s, duration=max(LIBRARY[s.kind].durations[0], float(np.floor(s.duration * f * 10) / 10)))
            for s in steps
        ]
        while sum(s.duration for s in steps) > MAX_DURATION_S:
            steps.pop()
    elif total < MIN_DURATION_S:
        last = steps[-1]
        steps[-1] = replace(last, duration=round(last.duration + MIN_DURATION_S - total, 1))
    return steps


def random_motion(rng: np.random.Generator) -> Motion:
    """A random motion: steps, body size 0.85-1.15, initial heading, ~1 degree of noise."""
    steps = random_steps(rng)
    scale = float(rng.uniform(0.85, 1.15))
    heading = float(rng.uniform(-180.0, 180.0))
    blend = float(rng.uniform(0.3, 0.5))
    return build_motion(steps, rng, scale=scale, heading_deg=heading, blend=blend)


def _weights(motion: Motion, t: np.ndarray) -> np.ndarray:
    """(n_steps, T) cross-fade weights; they sum to 1 at every time."""
    h = motion.blend / 2
    ups = [np.ones_like(t)] + [
        (1 - np.cos(np.pi * np.clip((t - b + h) / (2 * h), 0, 1))) / 2 for b in motion.starts[1:]
    ]
    ups.append(np.zeros_like(t))
    return np.stack([ups[i] * (1 - ups[i + 1]) for i in range(len(motion.steps))])


def evaluate(motion: Motion, t: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Blended angles (degrees, every SMD key) and (T, 4) forward, left, yaw rate, lift at times `t`."""
    t = np.asarray(t, dtype=np.float64)
    w = _weights(motion, t)
    angles = {k: np.zeros_like(t) for k in POSE_KEYS}
    extra = np.zeros((t.size, 4))
    for wi, curve, start in zip(w, motion.curves, motion.starts):
        active = wi > 0
        if not active.any():
            continue
        s = curve(t[active] - start)
        if unknown := set(s.angles) - set(POSE_KEYS):
            raise ValueError(f"an action produced unknown angle names: {sorted(unknown)}")
        for key in POSE_KEYS:
            angles[key][active] += wi[active] * s.angles.get(key, REST.get(key, 0.0))
        extra[active] += wi[active, None] * np.stack([s.forward, s.left, s.yaw_rate, s.lift], axis=1)
    for i, key in enumerate(POSE_KEYS):
        amp, freq, phase = motion.noise[i].T
        angles[key] += (amp[:, None] * np.sin(2 * np.pi * freq[:, None] * t + phase[:, None])).sum(axis=0)
    return angles, extra


def root_path(motion: Motion, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relative heading (deg) and horizontal root position (T, 2) as x, z at times `t`.

    Integrated on the GRID_HZ grid from time 0 and read at `t` (exactly, where `t` is a node).
    """
    n = int(np.ceil(motion.duration * GRID_HZ)) + 1
    grid = np.arange(n) / GRID_HZ
    _, extra = evaluate(motion, grid)
    dt = 1.0 / GRID_HZ

    def integrate(x):
        return np.concatenate([[0.0], np.cumsum((x[1:] + x[:-1]) / 2) * dt])

    heading = integrate(extra[:, 2])
    yaw = np.radians(heading)
    vx = extra[:, 0] * np.sin(yaw) + extra[:, 1] * np.cos(yaw)  # forward (sin, cos), left (cos, -sin)
    vz = extra[:, 0] * np.cos(yaw) - extra[:, 1] * np.sin(yaw)
    pos = np.stack([integrate(vx), integrate(vz)], axis=1)
    idx = t * GRID_HZ
    exact = np.abs(idx - np.round(idx)) < 1e-6
    if exact.all():
        i = np.round(idx).astype(int)
        return heading[i], pos[i]
    return np.interp(t, grid, heading), np.stack([np.interp(t, grid, pos[:, j]) for j in range(2)], axis=1)


def sample_motion(motion: Motion, fps: float) -> np.ndarray:
    """Joints (T, 22, 3), metres, Y up, at `fps`: initial heading applied, feet on the floor."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    t = np.arange(motion.n_frames(fps)) / fps
    angles, extra = evaluate(motion, t)
    heading, pos = root_path(motion, t)
    angles["pelvis_rotation"] = angles["pelvis_rotation"] + heading
    root = np.stack([pos[:, 0], np.full(t.size, ROOT_HEIGHT), pos[:, 1]], axis=1)
    joints = smd.forward_kinematics(angles, root, scale=motion.scale)
    joints[..., 1] -= joints[..., 1].min(axis=1, keepdims=True)
    joints[..., 1] += extra[:, 3:4]
    a = np.radians(motion.heading_deg)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return joints @ rot.T


def segment_labels(motion: Motion) -> list[SegmentLabel]:
    """One label per step, contiguous from 0 to the motion's end."""
    return [
        SegmentLabel(
            start, round(start + step.duration, 6), step.kind, step.params, label(step.kind, step.params)
        )
        for start, step in zip(motion.starts, motion.steps)
    ]


def labels_json(segments: Sequence[SegmentLabel], fps: float = 30.0) -> list[dict]:
    """HuMMan `*_motion_concepts.json` shape: [{start_f, end_f, attributes{action, body_part, direction}}]."""
    out = []
    for i, seg in enumerate(segments):
        start_f, end_f = seg.frames(fps)
        end_f += i == len(segments) - 1  # the last segment keeps the motion's last frame (at `end`)
        attrs = {k: list(seg.attributes[k]) for k in ("action", "body_part", "direction")}
        out.append({"start_f": start_f, "end_f": end_f, "attributes": attrs})
    return out
