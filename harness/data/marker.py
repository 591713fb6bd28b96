"""The text that stands for a clip's soft tokens in a prompt: `<motion:ID>` (no torch: docs need it)."""

from __future__ import annotations

import re

__all__ = ["MARKER", "MOTION_FORMAT", "motion_marker"]

MARKER = re.compile(r"<motion:([A-Za-z0-9_.#+\-]+)>")
MOTION_FORMAT = "motion-marker-1"  # the docs' `smd_format` (the format contract) when they carry markers


def motion_marker(clip: str) -> str:
    """`<motion:ID>` for a clip id (harness.models.encoder.features.clip_key)."""
    if not MARKER.fullmatch(f"<motion:{clip}>"):
        raise ValueError(f"clip id {clip!r} cannot be a motion marker (letters, digits, _ . # + - only)")
    return f"<motion:{clip}>"
