"""Input validation and canonicalisation of joint positions.

After `canonicalize`, every motion is in one frame whatever its source: +Y up, floor at y=0
(lowest joint of the clip), the pelvis at the horizontal origin in frame 0, and frame 0 facing +Z
with the body's left along +X. Facing is HumanML3D's: perpendicular to the hip and shoulder lines.
"""

from __future__ import annotations

import numpy as np

from .rotation import median_first, normalize, rot_y
from .skeleton import N_JOINTS, J

UP_AXES = ("y", "z")
_AXIS_INDEX = {"x": 0, "y": 1, "z": 2}

# Z-up (BABEL-QA, HuMMan-QA) to Y-up: a proper rotation (x, y, z) -> (x, z, -y), so left stays left.
_Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


# Last dimensions of the HumanML3D and KIT-ML feature vectors: a common wrong input.
_FEATURE_DIMS = {263: "HumanML3D", 251: "KIT-ML"}
BODY_HEIGHT_RANGE_M = (0.5, 2.5)  # head-to-floor height of the standing-ish body, plausible range
# Frame rates a motion-capture clip can have; outside, the analysis's resampling to its 20 fps grid
# would make a few frames into billions of samples (or none).
MIN_FPS, MAX_FPS = 1.0, 1000.0
# Positions beyond this are not a body in metres (millimetres of a 2 m person are 2e3), and their
# squares would overflow: refused rather than turned into NaN angles.
MAX_COORDINATE_M = 1e6
SMOOTHING_WINDOW_S = 0.25  # the analysis's moving average (smd.analysis.SMOOTH_S reads it)


def validate(joints: np.ndarray, fps: float, up_axis: str) -> np.ndarray:
    """Check a motion and return it as float64; raise ValueError naming the problem."""
    arr = np.asarray(joints)
    if arr.ndim == 2 and arr.shape[-1] in _FEATURE_DIMS:
        raise ValueError(
            f"joints must have shape (T, {N_JOINTS}, 3), got {arr.shape}: this looks like a "
            f"{_FEATURE_DIMS[arr.shape[-1]]} feature file ({arr.shape[-1]}-d vectors, new_joint_vecs/), "
            "not joint positions; use the matching file under new_joints/"
        )
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
    largest = float(np.abs(arr).max())
    if largest > MAX_COORDINATE_M:  # squares and cross products of such numbers overflow to inf
        raise ValueError(
            f"joint coordinates reach {largest:.3g}: not positions in metres (at most {MAX_COORDINATE_M:g})"
        )
    if not (isinstance(fps, (int, float)) and MIN_FPS <= fps <= MAX_FPS):
        raise ValueError(f"fps must be a number in [{MIN_FPS:g}, {MAX_FPS:g}], got {fps!r}")
    if up_axis not in UP_AXES:
        raise ValueError(f"up_axis must be one of {UP_AXES}, got {up_axis!r}")
    return arr


def _stature(joints: np.ndarray, axis: int) -> tuple[float, float]:
    """(median head-to-floor height, median head-above-pelvis) along one axis of raw joints, in metres."""
    up = joints[..., axis]
    return (
        float(median_first(up[:, J["head"]] - up.min(axis=1))[0]),
        float(median_first(up[:, J["head"]] - up[:, J["pelvis"]])[0]),
    )


def plausibility_warnings(
    joints: np.ndarray, canonical: np.ndarray, fps: float, up_axis: str
) -> tuple[str, ...]:
    """Warnings about valid input that is probably wrong: units, up axis, a clip too short.

    `joints`: the input as given; `canonical`: the output of `canonicalize` (Y-up); `up_axis`: the one
    the caller gave. A body that stands up along the other axis is told as a wrong up axis, not as
    wrong units: a Y-up file read with `--up-axis z` is a body lying down, ~0.1 m tall."""
    out = []
    low, high = BODY_HEIGHT_RANGE_M
    height, head_above = _stature(canonical, 1)
    other = "z" if up_axis == "y" else "y"
    other_height, other_head_above = _stature(np.asarray(joints, dtype=np.float64), _AXIS_INDEX[other])
    stands_on_other = low <= other_height <= high and other_head_above > 0
    if (not low <= height <= high or head_above <= 0) and stands_on_other:
        out.append(
            f"the body stands along {other}, not {up_axis} (its height along {up_axis} {height:.2f} m, along "
            f"{other} {other_height:.2f} m): wrong up axis? (try --up-axis {other}; "
            "BABEL-QA and HuMMan-QA are Z-up, HumanML3D Y-up)"
        )
        return tuple(out) + _short_clip(canonical, fps)
    if not low <= height <= high:
        hint = "millimetres or centimetres?" if height > high else "not metres?"
        out.append(f"body height {height:.2f} m is outside {low}-{high} m: joints must be in metres ({hint})")
    if head_above <= 0:
        out.append(
            f"the head is not above the pelvis along the {up_axis} axis (median "
            f"{head_above:+.2f}): wrong up axis? (try --up-axis {other}; "
            "BABEL-QA and HuMMan-QA are Z-up, HumanML3D Y-up)"
        )
    return tuple(out) + _short_clip(canonical, fps)


def _short_clip(canonical: np.ndarray, fps: float) -> tuple[str, ...]:
    duration = canonical.shape[0] / fps
    if duration < SMOOTHING_WINDOW_S:
        return (
            f"the clip lasts {duration:.2f} s ({canonical.shape[0]} frames at {fps:g} fps), shorter than "
            f"the {SMOOTHING_WINDOW_S} s smoothing window: segments are unreliable",
        )
    return ()


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
