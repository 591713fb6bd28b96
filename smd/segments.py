"""Segmentation of one curve into holds, ramps and repeated cycles.

The recipe (DESIGN.md): smooth with a moving average over a window given in seconds; find peaks
and valleys with `scipy.signal.find_peaks` at a prominence of at least `delta`; cut at those
extrema; split a still stretch off either end of a ramp; label each piece increases / decreases /
holds (|change| < delta); merge neighbouring holds; collapse runs of similar alternating pieces
into cycles. Extremum times and values are refined to sub-frame precision with a parabola through
the three samples around them, so the text barely depends on the sampling rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.ndimage import convolve1d
from scipy.signal import find_peaks

HOLD, UP, DOWN, CYCLES = "holds", "increases", "decreases", "repeats"


class Segment(NamedTuple):
    """One described stretch of a curve; times in seconds (a NamedTuple: thousands per motion).

    holds: `start` == `end` is the mean value; increases / decreases: `start` -> `end`;
    repeats: `cycles` alternations between `start` (low) and `end` (high).
    """

    kind: str
    t0: float
    t1: float
    start: float
    end: float
    cycles: int = 0

    @property
    def period(self) -> float:
        return (self.t1 - self.t0) / self.cycles if self.cycles else 0.0


def smooth(x: np.ndarray, fps: float, window_s: float) -> np.ndarray:
    """Centred moving average over exactly `window_s` seconds, along axis 0.

    A box of `window_s * fps` frames: whole frames inside it weigh 1, the two frames it only
    partly covers weigh that fraction. At 20 fps 0.25 s is the usual 5-frame average; at 30 fps
    it is 7.5 frames rather than 7 or 9, so the same movement smooths the same at any rate.
    """
    width = window_s * fps
    x = np.asarray(x, dtype=np.float64)
    if width <= 1.0:
        return x
    reach = int(np.ceil(width / 2 - 0.5))
    k = np.arange(-reach, reach + 1)
    weights = np.clip(np.minimum(k + 0.5, width / 2) - np.maximum(k - 0.5, -width / 2), 0.0, 1.0)
    return convolve1d(x, weights / weights.sum(), axis=0, mode="nearest")


@dataclass(frozen=True)
class Extrema:
    """Candidate cut points of a smoothed curve at the smallest prominence of interest."""

    index: np.ndarray  # frame index of each extremum, ascending
    time: np.ndarray  # refined time (frames, sub-frame precision)
    value: np.ndarray  # refined value
    prominence: np.ndarray


def find_extrema(xs: np.ndarray, min_prominence: float) -> Extrema:
    """Peaks and valleys of `xs` (T,) with prominence >= `min_prominence`, refined by a parabola."""
    return find_extrema_columns(xs[:, None], min_prominence)[0]


def find_extrema_columns(xs: np.ndarray, min_prominence: float) -> list[Extrema]:
    """`find_extrema` of every column of `xs` (T, n), with two `find_peaks` calls in all.

    The columns are laid end to end with a barrier sample between them that is higher than
    anything else, so no peak's prominence search crosses from one curve into the next: the
    result is exactly that of `find_peaks` on each column alone (barriers are dropped).
    """
    n_frames, n_cols = xs.shape
    stride = n_frames + 1
    barrier = 2.0 * float(np.abs(xs).max()) + 1e3
    found = []
    for sign in (1.0, -1.0):
        laid = np.full((n_cols, stride), barrier)
        laid[:, 1:] = sign * xs.T
        flat = np.append(laid.ravel(), barrier)
        pos, props = find_peaks(flat, prominence=min_prominence)
        inside = pos % stride != 0
        found.append((pos[inside], props["prominences"][inside]))
    pos = np.concatenate([found[0][0], found[1][0]])
    prominence = np.concatenate([found[0][1], found[1][1]])
    order = np.argsort(pos, kind="stable")
    pos, prominence = pos[order], prominence[order]
    col, index = pos // stride, pos % stride - 1
    left, mid, right = xs[index - 1, col], xs[index, col], xs[index + 1, col]
    curvature = left - 2.0 * mid + right
    flat_top = np.abs(curvature) <= 1e-12
    offset = np.clip(
        np.where(flat_top, 0.0, 0.5 * (left - right) / np.where(flat_top, 1.0, curvature)), -0.5, 0.5
    )
    value = mid - 0.25 * (left - right) * offset
    bounds = np.searchsorted(col, np.arange(n_cols + 1))
    return [
        Extrema(index=index[a:b], time=index[a:b] + offset[a:b], value=value[a:b], prominence=prominence[a:b])
        for a, b in zip(bounds[:-1], bounds[1:])
    ]


def segment(
    xs: np.ndarray,
    fps: float,
    delta: float,
    *,
    extrema: Extrema | None = None,
    min_hold_s: float = 0.3,
    cycles: bool = True,
) -> tuple[Segment, ...]:
    """Segments of an already smoothed curve `xs` (T,) at threshold `delta` (curve units).

    `extrema` may be precomputed at a smaller prominence and is filtered to `delta` here, so one
    peak search serves every threshold.
    """
    n = xs.shape[0]
    if extrema is None:
        extrema = find_extrema(xs, delta)
    keep = extrema.prominence >= delta
    idx = [0, *extrema.index[keep].tolist(), n - 1]
    times = [0.0, *extrema.time[keep].tolist(), float(n)]
    # plain Python floats from here on: these loops run over a handful of pieces, where
    # list indexing is an order of magnitude cheaper than numpy calls on tiny slices
    x = xs.tolist()
    values = [x[0], *extrema.value[keep].tolist(), x[-1]]
    pieces = _merge_holds(x, _pieces(x, idx, times, values, delta, min_hold_s * fps), delta)
    segs = [Segment(k, t0 / fps, t1 / fps, v0, v1) for k, _, _, t0, t1, v0, v1 in pieces]
    return tuple(_collapse_cycles(segs, delta) if cycles else segs)


def _pieces(x, idx, times, values, delta, min_hold):
    """(kind, i0, i1, t0, t1, v0, v1) between consecutive cuts, with still ends split off."""
    half = delta / 2.0
    min_frames = max(1, math.ceil(min_hold))
    out = []
    for k in range(len(idx) - 1):
        i0, i1, t0, t1, v0, v1 = idx[k], idx[k + 1], times[k], times[k + 1], values[k], values[k + 1]
        if i1 <= i0:
            continue
        if abs(v1 - v0) < delta:
            out.append(_hold(x, i0, i1, t0, t1))
            continue
        lead = i0  # last frame of the still stretch at the start
        # most ramps move at once: one look at frame i0 + min_hold settles it without a scan
        if i0 + min_frames <= i1 and abs(x[i0 + min_frames] - x[i0]) < half:
            while lead < i1 and abs(x[lead + 1] - x[i0]) < half:
                lead += 1
        # split still stretches off the ends, unless what remains would no longer be a ramp
        if lead - i0 >= min_hold and abs(v1 - x[lead]) >= delta:
            out.append(_hold(x, i0, lead, t0, float(lead)))
            i0, t0, v0 = lead, float(lead), x[lead]
        trail = i1  # first frame of the still stretch at the end
        if i1 - min_frames >= i0 and abs(x[i1 - min_frames] - x[i1]) < half:
            while trail > i0 and abs(x[trail - 1] - x[i1]) < half:
                trail -= 1
        tail = None
        if i1 - trail >= min_hold and abs(x[trail] - v0) >= delta:
            tail = _hold(x, trail, i1, float(trail), t1)
            i1, t1, v1 = trail, float(trail), x[trail]
        out.append((UP if v1 > v0 else DOWN, i0, i1, t0, t1, v0, v1))
        if tail:
            out.append(tail)
    return out


def _hold(x, i0, i1, t0, t1):
    mean = sum(x[i0 : i1 + 1]) / (i1 + 1 - i0)
    return (HOLD, i0, i1, t0, t1, mean, mean)


def _merge_holds(x, pieces, delta):
    merged = []
    for p in pieces:
        if merged and p[0] == HOLD and merged[-1][0] == HOLD:
            q = merged[-1]
            span = x[q[1] : p[2] + 1]
            if max(span) - min(span) < delta:
                mean = sum(span) / len(span)
                merged[-1] = (HOLD, q[1], p[2], q[3], p[4], mean, mean)
                continue
        merged.append(p)
    return merged


def _collapse_cycles(segs: list[Segment], delta: float, min_cycles: int = 2) -> list[Segment]:
    """Collapse runs of >= `min_cycles` similar up/down pairs into one `repeats` segment."""
    n = len(segs)
    if n < 2 * min_cycles:
        return segs
    ramp = [s.kind != HOLD for s in segs]
    lows = [min(s.start, s.end) for s in segs]
    highs = [max(s.start, s.end) for s in segs]
    durations = [s.t1 - s.t0 for s in segs]
    out: list[Segment] = []
    i = 0
    while i < n:
        # a run needs at least 2 * min_cycles alternating ramps: check the cheap part first
        if ramp[i] and i + 2 * min_cycles <= n and ramp[i + 1] and segs[i + 1].kind != segs[i].kind:
            run = _similar_run(segs, ramp, lows, highs, durations, i, delta)
        else:
            run = 0
        n_cycles = run // 2
        if n_cycles >= min_cycles:
            j = i + 2 * n_cycles
            lo, hi = lows[i:j], highs[i:j]
            out.append(
                Segment(CYCLES, segs[i].t0, segs[j - 1].t1, sum(lo) / len(lo), sum(hi) / len(hi), n_cycles)
            )
            i = j
        else:
            out.append(segs[i])
            i += 1
    return out


def _similar_run(segs, ramp, lows, highs, durations, i, delta) -> int:
    """Length of the run of alternating ramps from `i` that stay close to the first one."""
    low, high, duration = lows[i], highs[i], durations[i]
    tol = max(delta, 0.25 * (high - low))
    j = i + 1
    while j < len(segs):
        if not ramp[j] or segs[j].kind == segs[j - 1].kind:
            break
        if (
            abs(lows[j] - low) > tol
            or abs(highs[j] - high) > tol
            or not (0.4 * duration <= durations[j] <= 2.5 * duration)
        ):
            break
        j += 1
    return j - i
