"""Read an SMD text back into angle curves, and measure how far they lie from the measured ones.

A faithful description can be drawn again from its words alone. `read_back` parses the rendered
text, and nothing else, into one curve per described angle, the way a reader would draw it: a hold
is constant at its value, a ramp is linear between its end values over its span, and a run of
cycles is a triangle wave between its two values (starting at the first) with its period. Times
are the text's, to 0.1 s. `readback_error` compares those curves with the angles `analyze`
measured: the mean absolute error per angle is the distortion of a variant, its length the rate.

The parser reads only the text, so it also catches rendering mistakes: a line it cannot read is
an error naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .angles import ANGLES

__all__ = ["ReadBack", "angle_errors", "read_back"]

_HEADER = re.compile(r"^Motion: (?P<duration>[\d.]+)s \((?P<frames>\d+) frames at (?P<fps>[\d.]+) FPS\)$")
_NUM = r"(-?\d+)"
_SPAN = r"\[(?P<t0>[\d.]+)s–(?P<t1>[\d.]+)s\]"
_HOLD = re.compile(rf"^holds at {_NUM}° {_SPAN} \([\d.]+s\)$")
_RAMP = re.compile(
    rf"^(?P<kind>increases|decreases): {_NUM}° → {_NUM}°(?: \((?P<through>\d+)° through ±180°\))? "
    rf"{_SPAN} \([\d.]+s\)$"
)
_CYCLES = re.compile(
    rf"^repeats (?P<n>\d+) cycles between {_NUM}° and {_NUM}° {_SPAN} \(period (?P<period>[\d.]+)s\)$"
)
_UNDETERMINED = "undetermined throughout"
_BY_HEAD = {f"{spec.name} ({spec.gloss}):": i for i, spec in enumerate(ANGLES)}


@dataclass(frozen=True)
class ReadBack:
    """The curves a text describes.

    Attributes:
        fps, n_frames: the clip's sampling, from the text's first line.
        curves: angle index (ANGLES order) -> (n_frames,) degrees, for every angle the text
            describes with segments.
        undetermined: indices of the angles the text calls undetermined.
    """

    fps: float
    n_frames: int
    curves: dict[int, np.ndarray]
    undetermined: tuple[int, ...]


def _pieces_curve(pieces: list[tuple], t: np.ndarray) -> np.ndarray:
    """Evaluate (t0, t1, kind, a, b, n) pieces at times `t`: each time takes the last piece that
    starts at or before it (the text's pieces tile the clip to 0.1 s)."""
    out = np.empty(t.size)
    starts = np.array([p[0] for p in pieces])
    which = np.clip(np.searchsorted(starts, t + 1e-9, side="right") - 1, 0, len(pieces) - 1)
    for k, (t0, t1, kind, a, b, n) in enumerate(pieces):
        at = which == k
        if not at.any():
            continue
        span = max(t1 - t0, 1e-9)
        u = np.clip((t[at] - t0) / span, 0.0, 1.0)
        if kind == "hold":
            out[at] = a
        elif kind == "ramp":
            out[at] = a + (b - a) * u
        else:  # n cycles a -> b -> a
            phase = (u * n) % 1.0
            phase[u >= 1.0] = 1.0  # the run ends where it started
            out[at] = a + (b - a) * (1.0 - np.abs(2.0 * phase - 1.0))
    return out


def _continue_cycles(pieces: list[tuple]) -> list[tuple]:
    """Cycles start at the bound nearer to where the piece before them ended (a reader keeps the
    curve continuous); the first value where nothing comes before."""
    out = list(pieces)
    for k in range(1, len(out)):
        t0, t1, kind, a, b, n = out[k]
        end = out[k - 1][4]
        if kind == "cycles" and abs(end - b) < abs(end - a):
            out[k] = (t0, t1, kind, b, a, n)
    return out


def _piece(line: str, number: int) -> tuple:
    if m := _HOLD.match(line):
        v = float(m.group(1))
        return float(m["t0"]), float(m["t1"]), "hold", v, v, 0
    if m := _RAMP.match(line):
        a, b = float(m.group(2)), float(m.group(3))
        if m["through"] is not None:  # the end value is shown wrapped: it moved this far
            b = a + (1.0 if m["kind"] == "increases" else -1.0) * float(m["through"])
        return float(m["t0"]), float(m["t1"]), "ramp", a, b, 0
    if m := _CYCLES.match(line):
        return float(m["t0"]), float(m["t1"]), "cycles", float(m.group(2)), float(m.group(3)), int(m["n"])
    raise ValueError(f"line {number}: not a segment line: {line!r}")


def read_back(text: str) -> ReadBack:
    """Parse an SMD text's header and joint-angle section into curves sampled like the clip.

    Raises:
        ValueError: the text has no `Motion:` header, an angle line comes before any angle, or
            a line under an angle is not a segment line (naming the line).
    """
    lines = text.splitlines()
    head = _HEADER.match(lines[0]) if lines else None
    if head is None:
        raise ValueError(f"line 1: not an SMD header ('Motion: ...s (N frames at F FPS)'): {lines[:1]!r}")
    fps, n_frames = float(head["fps"]), int(head["frames"])
    try:
        start = lines.index("Joint Angles:") + 1
    except ValueError:
        raise ValueError("no 'Joint Angles:' line") from None
    pieces: dict[int, list[tuple]] = {}
    undetermined: list[int] = []
    current: int | None = None
    for number, line in enumerate(lines[start:], start + 1):
        if line.startswith("[") and line.endswith("]"):
            current = None
        elif line in _BY_HEAD:
            current = _BY_HEAD[line]
            pieces[current] = []
        elif current is None:
            raise ValueError(f"line {number}: a segment line outside any angle: {line!r}")
        elif line.startswith(_UNDETERMINED):
            undetermined.append(current)
            del pieces[current]
            current = None
        else:
            pieces[current].append(_piece(line, number))
    t = np.arange(n_frames) / fps
    curves = {i: _pieces_curve(_continue_cycles(p), t) for i, p in pieces.items() if p}
    return ReadBack(fps=fps, n_frames=n_frames, curves=curves, undetermined=tuple(undetermined))


def angle_errors(text: str, measured: np.ndarray) -> dict[int, float]:
    """Mean absolute error (degrees) between each angle the text describes and the measured
    curve (T, 26) in ANGLES order (`MotionAnalysis.angles`)."""
    back = read_back(text)
    if measured.shape[0] != back.n_frames:
        raise ValueError(
            f"the text describes {back.n_frames} frames, the measured curves have {measured.shape[0]}"
        )
    # angles are compared as angles: a text may show a value a whole turn away from the unwrapped curve
    return {
        i: float(np.mean(np.abs((curve - measured[:, i] + 180.0) % 360.0 - 180.0)))
        for i, curve in back.curves.items()
    }
