"""`render`: MotionAnalysis + variant -> the Structured Motion Description text."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .analysis import MotionAnalysis, analyze
from .angles import ANGLES
from .presets import Variant, resolve_variant
from .segments import CYCLES, HOLD, KINDS, Segment, SegmentTable
from .trajectory import TRAJECTORY_CURVES

# Bump on ANY change to the text: adapters are trained on one format.
FORMAT_VERSION = "smd-text-3"
TRAJECTORY_HEADING = "Global Trajectory:"  # the line above the trajectory axes
ANGLES_HEADING = "Joint Angles:"  # the line above the body-part groups

_HEADS = tuple(f"{spec.name} ({spec.gloss}):" for spec in ANGLES)  # each angle's first line


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


# `f"{k / 10:.1f}"` for the first minute in tenths of a second, made once (an immutable constant):
# most clips' times are all in it, and formatting the table again for each motion costs a few
# percent of its rendering
_TENTHS = tuple(f"{k / 10:.1f}" for k in range(601))


def _tenths_table(analysis: MotionAnalysis) -> tuple[str, ...] | list[str]:
    """`f"{k / 10:.1f}"` for every k up to (at least) the clip's duration in tenths of a second: the
    times of a block come from this table rather than from thousands of float formats."""
    last = round(analysis.duration * 10)
    return _TENTHS if last < len(_TENTHS) else [f"{k / 10:.1f}" for k in range(last + 1)]


def _angle_lines(table: SegmentTable, tenths) -> list[str]:
    """The line of every segment of a joint angle table, with the rounding done on the arrays and
    the times looked up in `tenths`: the renderer's innermost loop.

    Values are the continuous curve's: every coordinate is charted so that its curve stays in its
    natural range (the shoulder's globe has no pole where arms go), and a value is never shown
    wrapped into (-180, 180], which would read back as a turn that did not happen."""
    a = np.rint(table.t0 * 10).astype(np.int64)  # rint and round() both round half to even
    b = np.rint(table.t1 * 10).astype(np.int64)
    d = b - a
    if a.size and (a.min() < 0 or d.min() < 0 or b.max() >= len(tenths)):
        # not expected (times lie in [0, duration] and end after they start), but exact anyway
        tenths = {k: f"{k / 10:.1f}" for k in {*a.tolist(), *b.tolist(), *d.tolist()}}
    lo = np.rint(table.start).astype(np.int64).tolist()
    hi = np.rint(table.end).astype(np.int64).tolist()
    a, b, d = a.tolist(), b.tolist(), d.tolist()
    lines = [
        f"holds at {v0}° [{tenths[i0]}s–{tenths[i1]}s] ({tenths[di]}s)"
        if kind == 0
        else f"{KINDS[kind]}: {v0}° → {v1}° [{tenths[i0]}s–{tenths[i1]}s] ({tenths[di]}s)"
        for kind, i0, i1, di, v0, v1 in zip(table.kind.tolist(), a, b, d, lo, hi)
    ]
    cyc = np.flatnonzero(table.cycles)  # cycles (a few per curve at most) get their own line
    for r, cycles, t0, t1 in zip(
        cyc.tolist(), *(x[cyc].tolist() for x in (table.cycles, table.t0, table.t1))
    ):
        lines[r] = (
            f"repeats {cycles} cycles between {lo[r]}° and {hi[r]}° [{tenths[a[r]]}s–{tenths[b[r]]}s] "
            f"(period {_snap((t1 - t0) / cycles):.1f}s)"  # Segment.period
        )
    return lines


def _angle_blocks(analysis: MotionAnalysis, delta: float, memo: dict) -> list[str]:
    """The text of every angle at threshold `delta`: its name line and segment lines."""
    key = ("blocks", float(delta))
    if key not in memo:
        table = analysis.angle_table(delta)
        if "tenths" not in memo:
            memo["tenths"] = _tenths_table(analysis)
        lines = _angle_lines(table, memo["tenths"])
        bounds = np.searchsorted(table.col, np.arange(len(ANGLES) + 1)).tolist()
        blocks = []
        for i, (head, ok) in enumerate(zip(_HEADS, analysis.determined.tolist())):
            if ok:
                blocks.append("\n".join([head, *lines[bounds[i] : bounds[i + 1]]]))
            else:
                blocks.append(f"{head}\nundetermined throughout ({ANGLES[i].undetermined})")
        memo[key] = blocks
    return memo[key]


def _angles_text(analysis: MotionAnalysis, delta: float, selected: tuple[int, ...], memo: dict) -> str:
    """The joint angle section (presets of one delta and one selection share it)."""
    key = ("angles_text", float(delta), selected)
    if key not in memo:
        blocks = _angle_blocks(analysis, delta, memo)
        lines = [ANGLES_HEADING]
        group = None
        for i in selected:
            if ANGLES[i].group != group:
                group = ANGLES[i].group
                lines.append(f"[{group}]")
            lines.append(blocks[i])
        memo[key] = "\n".join(lines)
    return memo[key]


def _trajectory_text(analysis: MotionAnalysis, memo: dict) -> str:
    """The trajectory sections (every preset with a trajectory shows the same)."""
    key = ("trajectory_text",)
    if key not in memo:
        memo[key] = "\n".join(_trajectory_lines(analysis))
    return memo[key]


def _trajectory_lines(analysis: MotionAnalysis) -> list[str]:
    s = analysis.summary
    lines = [
        f"Trajectory: displacement {_metres(s.displacement)}, height change {_signed(s.height_change)}m, "
        f"avg height {_metres(s.mean_height)}",
        TRAJECTORY_HEADING,
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
    ranking = np.argsort(-analysis.activity, kind="stable").tolist()  # stable: ties keep canonical order
    return sorted(ranking[: variant.top_k])


def render(analysis: MotionAnalysis, variant: str | Variant = "v5") -> str:
    """The SMD text of an analysed motion for a preset name or a Variant."""
    return render_variants(analysis, [variant])[0]


def render_variants(analysis: MotionAnalysis, variants: Iterable[str | Variant]) -> list[str]:
    """`[render(analysis, v) for v in variants]`, with the parts variants share (the trajectory, an
    angle section of one threshold) rendered once: how every preset of a motion is rendered in use."""
    memo: dict = {}  # this call's own: the analysis is never written to
    header = f"Motion: {analysis.duration:.1f}s ({analysis.n_frames} frames at {analysis.fps:g} FPS)"
    texts = []
    for variant in variants:
        v = resolve_variant(variant)
        lines = [header]
        if v.trajectory == "full":
            lines.append(_trajectory_text(analysis, memo))
        lines.append(_angles_text(analysis, v.delta, tuple(selected_angles(analysis, v)), memo))
        texts.append("\n".join(lines) + "\n")
    return texts


def describe(
    joints: np.ndarray, *, fps: float = 20.0, up_axis: str = "y", variant: str | Variant = "v5"
) -> str:
    """`render(analyze(joints, fps=fps, up_axis=up_axis), variant)`."""
    return render(analyze(joints, fps=fps, up_axis=up_axis), variant)
