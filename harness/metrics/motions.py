"""The motions of caption samples, for the T2M evaluator's R-Precision / MM-Dist: a sample id (whole
motion or HumanML3D sub-span) to its frames of 263-d features, from a features or a joints folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .readers import ScoreError

__all__ = ["load_motion_features", "motion_span"]


def motion_span(sample_id: str, motion_id: str | None = None) -> tuple[str, int | None, int | None]:
    """(motion id, first frame, end frame) of a sample: T2M's span ids read `[int(start*20), int(end*20))`."""
    # imported here: harness.data imports smd (scipy), and importing harness.metrics stays cheap
    from harness.data import parse_span_id, span_frames

    span = parse_span_id(sample_id)
    if span and (motion_id is None or motion_id == span[0]):
        return span[0], *span_frames(span[1], span[2])
    return motion_id or sample_id, None, None


def load_motion_features(root: Path | str, sample_id: str, motion_id: str | None = None) -> np.ndarray:
    """Raw 263-d features of a sample, from `root/[new_joint_vecs/]<id>.npy` or `root/[new_joints/]<id>.npy`.

    Joint arrays `(T, 22, 3)` (HumanML3D canonical joints, 20 fps) are turned into features with
    HumanML3D's own recipe (`harness.data.motion_features`, retargeted to the SMD skeleton, whose bone lengths
    are HumanML3D's target skeleton's, left/right averaged). A sub-span sample takes its frames of the
    features, as T2M slices `new_joint_vecs`.
    """
    root = Path(root)
    motion, first, end = motion_span(sample_id, motion_id)
    if not motion or "/" in motion or "\\" in motion or motion in (".", ".."):
        raise ScoreError(f"invalid motion id {motion!r}")
    for folder in (root / "new_joint_vecs", root / "new_joints", root):
        path = folder / f"{motion}.npy"
        if path.is_file():
            break
    else:
        raise FileNotFoundError(f"no motion file for {sample_id!r}: {motion}.npy not found under {root}")
    arr = np.load(path, allow_pickle=False)
    if arr.ndim == 3 and arr.shape[1:] == (22, 3):
        from harness.data import joints_to_features, target_skeleton

        arr = joints_to_features(arr, target_skeleton())
    elif not (arr.ndim == 2 and arr.shape[1] == 263):
        raise ScoreError(f"{path}: expected 263-d features (T, 263) or joints (T, 22, 3), got {arr.shape}")
    return arr if first is None else arr[first:end]
