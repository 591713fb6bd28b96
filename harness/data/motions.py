"""A doc's motion as its SMD describes it: the joints of a QA doc's motion or of a caption doc's
sample (a whole HumanML3D motion or a sub-span), in the SMD's canonical frame. What the case viewer
draws and what a motion encoder reads."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.core import load_npy
from smd.canonical import canonicalize

from .humanml3d import load_joints, parse_span_id, span_frames
from .qa import find_motion

if TYPE_CHECKING:  # the registry imports this package: a type only, no import cycle
    from .registry import Dataset

__all__ = ["load_canonical"]


def load_canonical(root: Path | str, dataset: Dataset, doc: dict) -> np.ndarray:
    """A doc's joints in the SMD's canonical frame (Y up, facing +Z at frame 0, feet on the floor),
    the sub-span of a caption sample only: what its SMD describes, from time 0.

    Raises:
        FileNotFoundError: the motion file is missing; ValueError: an invalid id or an unreadable file.
    """
    motion_id = str(doc.get("motion_id", ""))
    if dataset.kind == "qa":
        joints = load_npy(find_motion(Path(root), motion_id))
    else:
        joints = load_joints(root, motion_id)
        span = parse_span_id(str(doc.get("doc_id", "")))
        if span is not None and span[0] == motion_id:
            first, end = span_frames(span[1], span[2])
            joints = joints[first:end]
    return canonicalize(joints, dataset.fps, dataset.up_axis)
