"""The curve primitives of the demo's action library: what an action is and the helpers that shape it.

`ActionParams` says what varies between two performances of an action; an `ActionCurve` is a pure
function of local time (clamped to its duration) that returns a `Sample` of SMD angles and root
motion; a `Builder` makes one from a duration, a random generator and the params. `ease`, `window`
and `keyframes` shape the curves, with `REST` the resting value of any angle a pose leaves out.
The builders that use them are in `builders`, the registry of library kinds in `actions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

REST: dict[str, float] = {
    "left_elbow_flexion": 12.0,
    "right_elbow_flexion": 12.0,
    "left_shoulder_adduction": -6.0,
    "right_shoulder_adduction": -6.0,
}


@dataclass(frozen=True)
class ActionParams:
    """What varies between two performances of one action.

    Attributes:
        speed: tempo factor (cadence, locomotion speed, rhythm of waves and squats), ~0.8-1.25.
        amplitude: factor on the angle excursions, ~0.8-1.2.
        side: "left" / "right" for one-sided actions (kick, throw, wave, ...), else None.
        part: "arm" / "hand" / "leg" / "foot": the body part the label names, else None.
        direction: "forward" / "backwards" / "left" / "right" where the action moves, else None.
        turn_deg: how far a turn turns (degrees, > 0).
        start_pose: for "stand up", the (key, degrees) pose it rises from (the previous action's end).
    """

    speed: float = 1.0
    amplitude: float = 1.0
    side: str | None = None
    part: str | None = None
    direction: str | None = None
    turn_deg: float = 90.0
    start_pose: tuple[tuple[str, float], ...] | None = None


@dataclass(frozen=True)
class Sample:
    """An action evaluated at an array of times (all arrays have the times' shape)."""

    angles: dict[str, np.ndarray]
    forward: np.ndarray
    left: np.ndarray
    yaw_rate: np.ndarray
    lift: np.ndarray


@dataclass(frozen=True)
class ActionCurve:
    duration: float
    fn: Callable[[np.ndarray], Sample]

    def __call__(self, t: np.ndarray) -> Sample:
        return self.fn(np.clip(np.asarray(t, dtype=np.float64), 0.0, self.duration))


Builder = Callable[[float, np.random.Generator, ActionParams], ActionCurve]


# ---------------------------------------------------------------- curve helpers


def ease(x: np.ndarray) -> np.ndarray:
    """0 -> 1 cosine ease on [0, 1], clamped outside."""
    return (1.0 - np.cos(np.pi * np.clip(x, 0.0, 1.0))) / 2.0


def window(t: np.ndarray, a: float, b: float, c: float, d: float) -> np.ndarray:
    """0 before a, rises to 1 at b, holds, falls back to 0 between c and d."""
    return ease((t - a) / max(b - a, 1e-9)) * (1.0 - ease((t - c) / max(d - c, 1e-9)))


def keyframes(t: np.ndarray, knots: Sequence[tuple[float, Mapping[str, float]]]) -> dict[str, np.ndarray]:
    """Poses at increasing times, eased between; keys missing from a knot take their REST value."""
    times = np.array([k[0] for k in knots], dtype=np.float64)
    if np.any(np.diff(times) < 0):
        raise ValueError(f"keyframe times must not decrease: {times}")
    keys = sorted({key for _, pose in knots for key in pose})
    i = np.clip(np.searchsorted(times, t, side="right") - 1, 0, max(len(times) - 2, 0))
    j = np.minimum(i + 1, len(times) - 1)
    span = times[j] - times[i]
    u = ease(np.where(span > 0, (t - times[i]) / np.where(span > 0, span, 1.0), 1.0))
    out = {}
    for key in keys:
        v = np.array([pose.get(key, REST.get(key, 0.0)) for _, pose in knots], dtype=np.float64)
        out[key] = v[i] + (v[j] - v[i]) * u
    return out


def _sample(t, angles, forward=None, left=None, yaw_rate=None, lift=None) -> Sample:
    zero = np.zeros_like(t)
    return Sample(
        angles={k: np.broadcast_to(v, t.shape).astype(np.float64) for k, v in angles.items()},
        forward=zero if forward is None else np.broadcast_to(forward, t.shape).astype(np.float64),
        left=zero if left is None else np.broadcast_to(left, t.shape).astype(np.float64),
        yaw_rate=zero if yaw_rate is None else yaw_rate,
        lift=zero if lift is None else lift,
    )


def _scripted(duration: float, knots, **motion) -> ActionCurve:
    return ActionCurve(
        duration, lambda t: _sample(t, keyframes(t, knots), **{k: f(t) for k, f in motion.items()})
    )


def _other(side: str) -> str:
    return "right" if side == "left" else "left"


def _k(side: str, name: str) -> str:
    return f"{side}_{name}"
