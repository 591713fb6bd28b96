"""Input validation and canonicalisation of joint positions.

After `canonicalize`, every motion is in one frame whatever its source: +Y up, floor at y=0
(lowest joint of the clip), the pelvis at the horizontal origin in frame 0, and frame 0 facing +Z
with the body's left along +X. Facing is HumanML3D's: perpendicular to the hip and shoulder lines.
"""

from __future__ import annotations

import math

import numpy as np

from .rotation import normalize, rot_y
from .skeleton import N_JOINTS, J

UP_AXES = ("y", "z")

# Z-up (BABEL-QA, HuMMan-QA) to Y-up: a proper rotation (x, y, z) -> (x, z, -y), so left stays left.
_Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def validate(joints: np.ndarray, fps: float, up_axis: str) -> np.ndarray:
    """Check a motion and return it as float64; raise ValueError naming the problem."""
    arr = np.asarray(joints)
    if arr.ndim != 3 or arr.shape[1:] != (N_JOINTS, 3):
        raise ValueError(f"joints must have shape (T, {N_JOINTS}, 3), got {arr.shape}")
    if arr.shape[0] < 2:
        raise ValueError(f"a motion needs at least 2 frames, got {arr.shape[0]}")
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"joints must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        frames, joint_ids = np.nonzero(bad.any(axis=2))
        raise ValueError(
            f"joints contain {int(bad.sum())} non-finite values "
            f"(first at frame {int(frames[0])}, joint {int(joint_ids[0])})"
        )
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive finite number, got {fps!r}")
    if up_axis not in UP_AXES:
        raise ValueError(f"up_axis must be one of {UP_AXES}, got {up_axis!r}")
    return arr


def facing_yaw(joints: np.ndarray) -> np.ndarray:
    """Yaw (radians, +turning left) of the body's facing direction per frame, Y-up joints."""
    across = (joints[:, J["left_hip"]] - joints[:, J["right_hip"]]) + (
        joints[:, J["left_shoulder"]] - joints[:, J["right_shoulder"]]
    )
    # forward = left x up; its yaw is atan2(forward_x, forward_z) with forward = (-across_z, 0, across_x).
    return np.arctan2(-across[:, 2], across[:, 0])


def canonicalize(joints: np.ndarray, fps: float = 20.0, up_axis: str = "y") -> np.ndarray:
    """Validated joints in the canonical frame (see module docstring), shape (T, 22, 3) float64."""
    arr = validate(joints, fps, up_axis)
    if up_axis == "z":
        arr = arr @ _Z_UP_TO_Y_UP.T
    across0 = (
        arr[0, J["left_hip"]]
        - arr[0, J["right_hip"]]
        + arr[0, J["left_shoulder"]]
        - arr[0, J["right_shoulder"]]
    )
    _, horizontal = normalize(across0[[0, 2]])
    if horizontal < 1e-6:
        raise ValueError("cannot find the body's facing in frame 0: hip and shoulder lines are vertical")
    yaw0 = facing_yaw(arr[:1])[0]
    arr = arr @ rot_y(-yaw0).T
    arr[..., 1] -= arr[..., 1].min()
    arr[..., [0, 2]] -= arr[0, J["pelvis"], [0, 2]]
    return arr
