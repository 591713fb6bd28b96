"""`render`: MotionAnalysis + variant -> the Structured Motion Description text."""

from __future__ import annotations

import numpy as np

from .analysis import MotionAnalysis, analyze
from .angles import ANGLES
from .presets import Variant, resolve_variant
from .segments import CYCLES, HOLD, Segment
from .trajectory import TRAJECTORY_CURVES

# Bump on ANY change to the text: adapters are trained on one format.
FORMAT_VERSION = "smd-text-1"


def _snap(v: float) -> float:
    # Values that are exactly on a rounding boundary (common in synthetic motions) would otherwise
    # round up or down with the last bit of float noise from a rotation; snapping first makes the
    # text the same for the same movement in any frame.
    return round(float(v), 6)


def _fixed(v: float, decimals: int) -> str:
    s = f"{_snap(v):.{decimals}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s


def _signed(v: float) -> str:
    s = _fixed(v, 2)
    return s if s.startswith("-") else f"+{s}"


def _deg(v: float) -> str:
    return f"{round(v)}°"  # an int: never "-0"


def _metres(v: float, decimals: int = 2) -> str:
    return f"{_fixed(v, decimals)}m"


def _tenths(t0: float, t1: float) -> tuple[int, int]:
    # shown times and durations come from the same integers, so they always agree
    return round(t0 * 10), round(t1 * 10)


def _span(s: Segment) -> str:
    i0, i1 = _tenths(s.t0, s.t1)
    return f"[{i0 / 10:.1f}s–{i1 / 10:.1f}s] ({(i1 - i0) / 10:.1f}s)"


def _segment_line(s: Segment, fmt) -> str:
    if s.kind == HOLD:
        return f"holds at {fmt(s.start)} {_span(s)}"
    if s.kind == CYCLES:
        i0, i1 = _tenths(s.t0, s.t1)
        return (
            f"repeats {s.cycles} cycles between {fmt(s.start)} and {fmt(s.end)} "
            f"[{i0 / 10:.1f}s–{i1 / 10:.1f}s] (period {_snap(s.period):.1f}s)"
        )
    return f"{s.kind}: {fmt(s.start)} → {fmt(s.end)} {_span(s)}"


def _angle_block(analysis: MotionAnalysis, delta: float, i: int) -> str:
    key = ("block", float(delta), i)
    cache = analysis._cache
    if key not in cache:
        spec = ANGLES[i]
        head = f"{spec.name} ({spec.gloss}):"
        if not analysis.determined[i]:
            cache[key] = f"{head}\nundetermined throughout (the limb stays too straight to define it)"
        else:
            lines = [_segment_line(s, _deg) for s in analysis.angle_segments(delta)[i]]
            cache[key] = "\n".join([head, *lines])
    return cache[key]


def _trajectory_lines(analysis: MotionAnalysis) -> list[str]:
    s = analysis.summary
    lines = [
        f"Trajectory: displacement {_metres(s.displacement)}, height change {_signed(s.height_change)}m, "
        f"avg height {_metres(s.mean_height)}",
        "Global Trajectory:",
    ]
    for curve, segs in zip(TRAJECTORY_CURVES, analysis.trajectory_segments()):
        fmt = _deg if curve.unit == "deg" else _metres
        if len(segs) == 1 and segs[0].kind == HOLD:
            static = _deg(segs[0].start) if curve.unit == "deg" else _metres(segs[0].start, 3)
            lines.append(f"{curve.label}: static at {static} throughout")
        else:
            lines.append(f"{curve.label}:")
            lines.extend(_segment_line(seg, fmt) for seg in segs)
    return lines


def selected_angles(analysis: MotionAnalysis, variant: Variant) -> list[int]:
    """Indices of the angles a variant renders, in canonical order."""
    n = len(ANGLES)
    if variant.top_k is None or variant.top_k >= n:
        return list(range(n))
    # stable sort: ties keep canonical order
    ranked = np.argsort(-analysis.activity, kind="stable")[: variant.top_k]
    return sorted(ranked.tolist())


def render(analysis: MotionAnalysis, variant: str | Variant = "v5") -> str:
    """The SMD text of an analysed motion for a preset name or a Variant."""
    v = resolve_variant(variant)
    fps = f"{analysis.fps:g}"
    lines = [f"Motion: {analysis.duration:.1f}s ({analysis.n_frames} frames at {fps} FPS)"]
    if v.trajectory == "full":
        lines.extend(_trajectory_lines(analysis))
    lines.append("Joint Angles:")
    group = None
    for i in selected_angles(analysis, v):
        if ANGLES[i].group != group:
            group = ANGLES[i].group
            lines.append(f"[{group}]")
        lines.append(_angle_block(analysis, v.delta, i))
    return "\n".join(lines) + "\n"


def describe(
    joints: np.ndarray, *, fps: float = 20.0, up_axis: str = "y", variant: str | Variant = "v5"
) -> str:
    """`render(analyze(joints, fps=fps, up_axis=up_axis), variant)`."""
    return render(analyze(joints, fps=fps, up_axis=up_axis), variant)
