"""Global trajectory of the body: pelvis height, forward and lateral position, and heading."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .canonical import facing_yaw
from .skeleton import J

# Default thresholds of the trajectory curves : translation in metres, heading in degrees.
TRANSLATION_DELTA_M = 0.03
HEADING_DELTA_DEG = 15.0


@dataclass(frozen=True)
class TrajectoryCurve:
    key: str
    label: str
    unit: str  # "m" or "deg"
    delta: float


TRAJECTORY_CURVES: tuple[TrajectoryCurve, ...] = (
    TrajectoryCurve("height", "Height", "m", TRANSLATION_DELTA_M),
    TrajectoryCurve("forward", "Forward Position", "m", TRANSLATION_DELTA_M),
    TrajectoryCurve("lateral", "Lateral Position (left +)", "m", TRANSLATION_DELTA_M),
    TrajectoryCurve("heading", "Heading (left turn +)", "deg", HEADING_DELTA_DEG),
)


def trajectory_curves(joints: np.ndarray) -> np.ndarray:
    """(T, 4) height, forward, lateral (metres) and heading (degrees) of canonical joints."""
    root = joints[:, J["pelvis"]]
    heading = np.degrees(np.unwrap(facing_yaw(joints)))
    heading -= heading[0]
    return np.stack([root[:, 1], root[:, 2], root[:, 0], heading], axis=1)


@dataclass(frozen=True)
class TrajectorySummary:
    displacement: float  # horizontal distance between first and last pelvis position, metres
    height_change: float
    mean_height: float


def summarize(curves: np.ndarray) -> TrajectorySummary:
    height, forward, lateral = curves[:, 0], curves[:, 1], curves[:, 2]
    displacement = float(np.hypot(forward[-1] - forward[0], lateral[-1] - lateral[0]))
    return TrajectorySummary(displacement, float(height[-1] - height[0]), float(height.mean()))
