"""Where each part of an SMD text lies: the character spans of its header, of each trajectory axis and
of each body-part group, for analyses that ask which part of the description a model reads.

The parts follow the text's own headings (`render`): lines up to and including `Global Trajectory:`
and the `Joint Angles:` line are the header; a line that starts with a trajectory axis' label opens
that axis; a `[Group]` line opens that body-part group. Every character, newlines included, belongs to
exactly one part.
"""

from __future__ import annotations

from .angles import GROUPS
from .render import ANGLES_HEADING, TRAJECTORY_HEADING
from .trajectory import TRAJECTORY_CURVES

__all__ = ["HEADER", "section_spans"]

HEADER = "header"
_GROUP_LINES = {f"[{group}]": f"body part: {group}" for group in GROUPS}


def _axis(line: str) -> str | None:
    for curve in TRAJECTORY_CURVES:
        if line.startswith(f"{curve.label}:"):
            return f"trajectory: {curve.label}"
    return None


def section_spans(text: str) -> list[tuple[str, int, int]]:
    """(part, start, end) character spans that tile `text` in order; consecutive lines of one part
    form one span. Parts: "header", "trajectory: <axis label>", "body part: <group>"."""
    spans: list[tuple[str, int, int]] = []
    part, in_trajectory, start = HEADER, False, 0
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\n")
        if bare == TRAJECTORY_HEADING:
            part, in_trajectory = HEADER, True
        elif bare == ANGLES_HEADING:
            part, in_trajectory = HEADER, False
        elif bare in _GROUP_LINES:
            part = _GROUP_LINES[bare]
        elif in_trajectory and _axis(bare):
            part = _axis(bare)
        if spans and spans[-1][0] == part:
            spans[-1] = (part, spans[-1][1], start + len(line))
        else:
            spans.append((part, start, start + len(line)))
        start += len(line)
    return spans
