"""Synthetic demo benchmark: forward-kinematics motions with known actions, directions, body parts and
timings, written in BABEL-QA's and HumanML3D's real layouts so every later stage treats it as one more
dataset (docs/data.md).

    smd make-demo -o data/demo --motions 600 --seed 0

Core modules are pure (`actions`: the action library, `compose`: sequencing and sampling, `questions`:
questions and captions); `generate` writes the files. It is imported lazily, so that running it with
`python -m` does not import it twice.
"""

from importlib import import_module

from .actions import (
    BABEL_ACTIONS,
    BODY_PARTS,
    DIRECTIONS,
    LIBRARY,
    SKIPPED,
    ActionDef,
    build_action,
    label,
    random_params,
)
from .compose import (
    Motion,
    SegmentLabel,
    Step,
    build_motion,
    labels_json,
    random_motion,
    random_steps,
    sample_motion,
    segment_labels,
)
from .curves import ActionCurve, ActionParams
from .questions import QUERY_TYPES, RELATIONS, Question, candidate_questions, captions, select_questions

__all__ = [
    "BABEL_ACTIONS",
    "BODY_PARTS",
    "DIRECTIONS",
    "LIBRARY",
    "QUERY_TYPES",
    "RELATIONS",
    "SKIPPED",
    "ActionCurve",
    "ActionDef",
    "ActionParams",
    "Demo",
    "DemoMotion",
    "Motion",
    "Question",
    "SegmentLabel",
    "Step",
    "build_action",
    "build_demo",
    "build_motion",
    "candidate_questions",
    "captions",
    "generate_demo",
    "hml_joints",
    "label",
    "labels_json",
    "main",
    "qa_joints",
    "random_motion",
    "random_params",
    "random_steps",
    "sample_motion",
    "segment_labels",
    "select_questions",
    "write_demo",
]

_GENERATE = (
    "Demo",
    "DemoMotion",
    "build_demo",
    "generate_demo",
    "hml_joints",
    "main",
    "qa_joints",
    "write_demo",
)


def __getattr__(name: str):
    if name in _GENERATE:
        return getattr(import_module(".generate", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
