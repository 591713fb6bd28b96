"""Dataset loaders: BABEL-QA / HuMMan-QA questions and HumanML3D captions and joints, and a doc's
motion in the SMD's canonical frame."""

from harness.datasets.humanml3d import (
    HML_FPS,
    HML_UP_AXIS,
    MAX_FRAMES,
    MIN_FRAMES,
    Caption,
    CaptionSample,
    caption_samples,
    load_joints,
    motion_length,
    parse_texts,
    read_split,
)
from harness.datasets.motions import load_canonical
from harness.datasets.qa import (
    ANSWER_TYPES,
    QA_FPS,
    QA_UP_AXIS,
    RELATIONS,
    SPLITS,
    QADataset,
    QAQuestion,
    find_motion,
    load_qa,
)
from harness.problems import DataError, Problem

__all__ = [
    "ANSWER_TYPES",
    "HML_FPS",
    "HML_UP_AXIS",
    "MAX_FRAMES",
    "MIN_FRAMES",
    "QA_FPS",
    "QA_UP_AXIS",
    "RELATIONS",
    "SPLITS",
    "Caption",
    "CaptionSample",
    "DataError",
    "Problem",
    "QADataset",
    "QAQuestion",
    "caption_samples",
    "find_motion",
    "load_canonical",
    "load_joints",
    "load_qa",
    "motion_length",
    "parse_texts",
    "read_split",
]
