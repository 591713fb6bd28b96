"""Structured Motion Descriptions: joint positions -> deterministic, rule-based text.

Pure functions over numpy arrays: no file or network I/O, no mutable globals.
"""

from .analysis import MotionAnalysis, analyze
from .angles import ANGLES, GROUPS, AngleSpec
from .canonical import canonicalize
from .kinematics import forward_kinematics
from .presets import PRESETS, Variant, resolve_variant
from .render import FORMAT_VERSION, describe, render, render_variants
from .segments import Segment

__all__ = [
    "ANGLES",
    "FORMAT_VERSION",
    "GROUPS",
    "PRESETS",
    "AngleSpec",
    "MotionAnalysis",
    "Segment",
    "Variant",
    "analyze",
    "canonicalize",
    "describe",
    "forward_kinematics",
    "render",
    "render_variants",
    "resolve_variant",
]
