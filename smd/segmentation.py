"""Segmentation of smoothed curves into holds, ramps and repeated cycles.

The recipe: smooth with a moving average over a window given in seconds; find peaks and valleys
with `scipy.signal.find_peaks` at a prominence of at least `delta`; cut at those extrema; split a
still stretch off either end of a ramp; label each piece increases / decreases / holds (|change| <
delta); split a ramp whose curve strays farther than `far` from the line between its ends, where it
strays most, so that its text reads back into the curve (`_split_far`), and label its parts the same
way; merge neighbouring holds; collapse runs of similar alternating pieces into cycles. Extremum
times and values, and the read-back cuts, are refined to sub-frame precision with a parabola through
the three samples around them, so the text barely depends on the sampling rate.

`segment_table` runs the recipe on many curves at once (a motion's angles at every threshold and
its trajectory), laid end to end with their pieces in flat arrays: each step is a few array
operations for all of them, not a Python loop per piece. Python loops remain where the recipe is
sequential and the cases few (merging holds, picking cycle runs), and for the means, which use
Python's `sum` to be bit for bit those of a plain loop. tests/smd/test_segment_table.py checks it
all against the plain one-curve-at-a-time implementation.

The smoothing and the extremum cuts are in `smd.extrema`, the `Segment` and `SegmentTable` records
in `smd.segments`; this module cuts, labels, merges and collapses.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .extrema import Cuts
from .segments import _CYCLES, _DOWN, _HOLD, _UP, SegmentTable

# A still stretch may drift: up to this many deltas from end to end (a person resting with the
# knees bent sways by some degrees and still "holds").
STILL_SPAN = 4.0
# `_split_far` cuts no piece shorter than this many frames (0.1 s on the analysis's 20 fps grid).
MIN_SPLIT_FRAMES = 2


def curve_speed(curves: np.ndarray) -> np.ndarray:
    """(n, T) how far the smoothed curves (n, T) move per frame: |np.gradient| along each row (0 for
    curves of one frame). `still_frames` compares it with a speed; a caller that compares the same
    curves with several (as `smd.analysis` does, one per threshold) finds it once."""
    n = curves.shape[1]
    if n < 2:
        return np.zeros(curves.shape)
    # np.gradient's central differences (one-sided at the ends), without its overhead
    step = np.empty_like(curves)
    step[:, 1:-1] = (curves[:, 2:] - curves[:, :-2]) * 0.5
    step[:, 0], step[:, -1] = curves[:, 1] - curves[:, 0], curves[:, -1] - curves[:, -2]
    return np.abs(step)


def still_frames(curves: np.ndarray, fps: float, speed: np.ndarray) -> np.ndarray:
    """(n, T) True where the smoothed curve (n, T) moves slower than `speed` (n,) units per second."""
    if curves.shape[1] < 2:
        return np.ones(curves.shape, dtype=bool)
    return curve_speed(curves) < (speed / fps)[:, None]


class _Pieces(NamedTuple):
    """Pieces of all the curves, in order; frames as in `Cuts`, times in frames from the curve's
    start, `v0`, `v1` the ramps' end values (holds get their means last). Pieces tile their curve:
    a piece continues the curve of the one before it exactly when it starts on that one's end."""

    kind: np.ndarray | None
    f0: np.ndarray
    f1: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    v0: np.ndarray
    v1: np.ndarray


def segment_table(
    curves: np.ndarray,
    fps: float,
    delta: float | np.ndarray,
    cuts: Cuts,
    *,
    flat: list[float] | None = None,
    flat_rows: np.ndarray | None = None,
    min_hold_s: float = 0.3,
    cycles: bool = True,
    still_speed: float | np.ndarray | None = None,
    still: np.ndarray | None = None,
    far: float | np.ndarray = np.inf,
) -> SegmentTable:
    """`segment` of all the curves (n, T), one per row, at once, as a table.

    `delta` is one threshold or one per curve; `cuts` were found at a prominence no larger than
    any of them. `flat` may pass `curves.ravel().tolist()` when the caller has it already; where
    curves repeat (the same curves segmented at several thresholds), it may hold each distinct curve
    once, one after another, with `flat_rows` (n,) the row in it of each curve of `curves`.

    `still_speed` (one, or one per curve; units per second) turns on holds as a person sees them:
    a stretch where the curve moves slower than that is still even when it drifts by more than
    delta, up to STILL_SPAN deltas end to end. Such a stretch is a hold, and a ramp out of it starts
    where the movement does. `still` may pass `still_frames(...)` when the caller has it already.
    None keeps the plain rule: a hold changes by less than delta.

    `far` (one, or one per curve; curve units) splits a piece where the curve strays farther than
    that from the line between the piece's ends (`_split_far`); infinite keeps the pieces between
    extrema.
    """
    n_cols, n = curves.shape
    xf = curves.ravel()
    flat = xf.tolist() if flat is None else flat
    # per curve, what turns its flat frames into indices of `flat` (the means are summed from it)
    to_flat = np.zeros(n_cols, dtype=np.intp) if flat_rows is None else (flat_rows - np.arange(n_cols)) * n
    deltas = np.broadcast_to(np.asarray(delta, dtype=np.float64), (n_cols,))
    if still_speed is not None and still is None:
        speed = np.broadcast_to(np.asarray(still_speed, dtype=np.float64), (n_cols,))
        still = still_frames(curves, fps, speed)
    # moving frames counted along the flat curves: a piece [f0, f1] is still when none lies in it
    moving = None if still is None else np.concatenate([[0], np.cumsum(~still.ravel())])
    keep = cuts.prominence >= deltas[cuts.frame // n]
    frame, time, value = cuts.frame[keep], cuts.time[keep], cuts.value[keep]
    # a piece from every cut to the next but from a curve's last (at time T); none of no frames
    s = np.flatnonzero((time[:-1] < n) & (frame[1:] > frame[:-1]))
    p = _Pieces(None, frame[s], frame[s + 1], time[s], time[s + 1], value[s], value[s + 1])
    p = _split_still_ends(xf, n, p, deltas[p.f0 // n], min_hold_s * fps, still, moving)
    far = np.broadcast_to(np.asarray(far, dtype=np.float64), (n_cols,))
    if np.isfinite(far).any():
        # ramps that stray from their line are split, and each part is labelled and has its still
        # ends split off as the pieces between extrema had (holds keep theirs: a mean reads back)
        p = _split_far(
            xf,
            n,
            p,
            np.where(p.kind == _HOLD, np.inf, far[p.f0 // n]),
            still_ends=lambda q: _split_still_ends(
                xf, n, q, deltas[q.f0 // n], min_hold_s * fps, still, moving
            ),
        )
    p = _merge_holds(flat, to_flat, n, p, deltas, moving)
    hold = np.flatnonzero(p.kind == _HOLD)
    if hold.size:  # means in Python, summed frame by frame as a plain loop over the curve would
        shift = to_flat[p.f0[hold] // n]
        means = [
            sum(flat[a : b + 1]) / (b + 1 - a)
            for a, b in zip((p.f0[hold] + shift).tolist(), (p.f1[hold] + shift).tolist())
        ]
        p.v0[hold] = means
        p.v1[hold] = means
    col = p.f0 // n
    table = SegmentTable(col, p.kind, p.t0 / fps, p.t1 / fps, p.v0, p.v1, np.zeros(col.size, dtype=np.intp))
    return _collapse_cycles(table, p, deltas[col]) if cycles else table


def _split_far(xf: np.ndarray, n: int, p: _Pieces, far: np.ndarray, still_ends) -> _Pieces:
    """Split each piece at the frame farthest from the line between its ends while that frame is
    more than `far` (per piece) away from it (Douglas-Peucker).

    A piece is read as that line (a ramp) or as its mean (a hold): a still stretch inside a
    monotonic run (a person who sits, rests, then stands up) or a bend in a long ramp would read
    back far from the curve. Each round looks at the parts the round before made (a part that lies
    within `far` of its line stays as it is) and splits each that strays once, at its farthest
    frame. The parts of a split piece are labelled and have their still ends split off by
    `still_ends` (labelled `_Pieces` -> labelled `_Pieces`), as the pieces between extrema had.
    """
    owner = np.flatnonzero(np.isfinite(far) & (p.f1 - p.f0 > 2 * MIN_SPLIT_FRAMES - 1))
    part = [p.f0[owner], p.f1[owner], p.t0[owner], p.t1[owner], p.v0[owner], p.v1[owner], far[owner]]
    cuts: list[tuple[np.ndarray, ...]] = []  # (owner, frame, and the line it strayed from) per round
    while owner.size:
        f0, f1, t0, t1, v0, v1, limit = part
        # the frames a cut may fall on: at least MIN_SPLIT_FRAMES from either end (times to 0.1 s)
        # (per-part values are spread over its frames with `take`, and each frame's place on its own
        # curve is found without `%`: both cost a fraction of fancy indexing and an integer modulo)
        count = f1 - f0 + 1 - 2 * MIN_SPLIT_FRAMES
        first = np.cumsum(count) - count
        row = np.repeat(np.arange(owner.size), count)
        frame = np.arange(first[-1] + count[-1]) + (f0 + MIN_SPLIT_FRAMES - first).take(row)
        on_curve = frame - (f0 - f0 % n).take(row)  # frame % n
        slope = (v1 - v0) / (t1 - t0)
        gap = np.abs(xf[frame] - (v0.take(row) + slope.take(row) * (on_curve - t0.take(row))))
        widest = np.maximum.reduceat(gap, first)
        strays = widest > limit
        if not strays.any():
            break
        # the first frame of each straying part where its widest gap is reached (gaps are finite:
        # none equals the infinite widest given to the parts that do not stray)
        at = np.flatnonzero(gap == np.where(strays, widest, np.inf).take(row))
        at = at[np.append(True, row[at][1:] != row[at][:-1])]
        k, cut = row[at], frame[at]
        # later rounds draw the parts' lines through the cut's own frame; the cut is placed between
        # frames once, at the end
        t_cut, v_cut = (cut % n).astype(np.float64), xf[cut]
        cuts.append((owner[k], cut, t0[k], v0[k], slope[k]))
        # the two parts of each split one, looked at next round where long enough to split
        halves = [
            np.concatenate(pair)
            for pair in (
                (f0[k], cut),
                (cut, f1[k]),
                (t0[k], t_cut),
                (t_cut, t1[k]),
                (v0[k], v_cut),
                (v_cut, v1[k]),
                (limit[k], limit[k]),
            )
        ]
        owner = np.concatenate([owner[k], owner[k]])
        longer = halves[1] - halves[0] > 2 * MIN_SPLIT_FRAMES - 1
        owner, part = owner[longer], [x[longer] for x in halves]
    if not cuts:
        return p
    # every split piece starts at its own first frame or at one of its cuts, and ends where the
    # next start of the same piece is, or at its own end
    whose, frame, line_t0, line_v0, slope = (np.concatenate(c) for c in zip(*cuts))
    time, value = _refine(xf, frame, n, line_t0, line_v0, slope)
    is_split = np.zeros(p.f0.size, dtype=bool)
    is_split[whose] = True
    split = np.flatnonzero(is_split)  # np.unique(whose), without its sort
    whose = np.concatenate([split, whose])
    f0 = np.concatenate([p.f0[split], frame])
    order = np.argsort(f0, kind="stable")
    whose, f0 = whose[order], f0[order]
    t0 = np.concatenate([p.t0[split], time])[order]
    v0 = np.concatenate([p.v0[split], value])[order]
    last = np.append(whose[1:] != whose[:-1], True)
    nxt = np.minimum(np.arange(1, f0.size + 1), f0.size - 1)
    parts = still_ends(
        _Pieces(
            None,
            f0,
            np.where(last, p.f1[whose], f0[nxt]),
            t0,
            np.where(last, p.t1[whose], t0[nxt]),
            v0,
            np.where(last, p.v1[whose], v0[nxt]),
        )
    )
    keep = ~is_split
    order = np.argsort(np.concatenate([p.f0[keep], parts.f0]), kind="stable")
    return _Pieces(*(np.concatenate([a[keep], b])[order] for a, b in zip(p, parts)))


def _refine(xf, cut, n, t0, v0, slope) -> tuple[np.ndarray, np.ndarray]:
    """The time and value of each cut between frames: the peak of a parabola through the gaps to
    the line it strayed from (through (t0, v0) with `slope`) at the three frames around it, so
    that the cut does not hinge on the frame rate (on a steep curve one frame is many degrees)."""
    x = np.stack([xf[cut - 1], xf[cut], xf[cut + 1]])
    at = (cut % n).astype(np.float64)
    gap = x - (v0 + slope * (at - t0) + slope * np.array([-1.0, 0.0, 1.0])[:, None])
    curvature = gap[0] - 2.0 * gap[1] + gap[2]
    flat = np.abs(curvature) <= 1e-12
    offset = np.clip(np.where(flat, 0.0, 0.5 * (gap[0] - gap[2]) / np.where(flat, 1.0, curvature)), -0.5, 0.5)
    value = x[1] + 0.5 * offset * (x[2] - x[0]) + 0.5 * offset**2 * (x[2] - 2.0 * x[1] + x[0])
    return at + offset, value


def _split_still_ends(
    xf: np.ndarray,
    n: int,
    p: _Pieces,
    delta: np.ndarray,
    min_hold: float,
    still: np.ndarray | None,
    moving: np.ndarray | None = None,
) -> _Pieces:
    """Label pieces holds (|change| < delta) or ramps, and split still stretches off the ramps' ends.

    A still stretch starts at a ramp's first frame and lasts while the curve stays within delta / 2
    of it (likewise backwards from the last frame, but not past the ramp's new first frame); it
    becomes a hold when it lasts `min_hold` frames and the rest still changes by delta. A piece
    becomes up to three: lead hold, itself, tail hold. With `still` (flat, per frame), a frame
    that is still also stays, within STILL_SPAN deltas, and a piece that is still throughout
    and changes by less than STILL_SPAN deltas is a hold.
    """
    f0, f1, v0, v1 = p.f0, p.f1, p.v0, p.v1
    half = delta / 2.0
    min_frames = max(1, math.ceil(min_hold))
    ramp = np.abs(v1 - v0) >= delta
    drift = None
    if still is not None:
        sf = still.ravel()
        if moving is None:
            moving = np.concatenate([[0], np.cumsum(~sf)])
        ramp &= ~((moving[f1 + 1] - moving[f0] == 0) & (np.abs(v1 - v0) < STILL_SPAN * delta))
        drift = STILL_SPAN * delta
    if still is not None:
        # the still stretch's end is placed between frames (below): one that lasts a frame or two
        # less than min_hold in whole frames may still qualify
        min_frames = max(1, min_frames - 2)
    # most ramps move at once: one look min_frames into either end rules out a still stretch there
    long = ramp & (f1 - f0 >= min_frames)

    def near(at, s, h, d):  # frame `at` is still close to frame `s`
        gap = np.abs(xf[at] - xf[s])
        # within h, or within d (> h) where still: one comparison with the band of each frame
        return gap < h if still is None else gap < np.where(sf[at], d, h)

    look_lead = np.flatnonzero(long & near(np.minimum(f0 + min_frames, f1), f0, half, drift))
    look_tail = np.flatnonzero(long & near(np.maximum(f1 - min_frames, f0), f1, half, drift))
    # how long each looked-at end stays within delta / 2: forwards from f0, backwards from f1
    rows = np.concatenate([look_lead, look_tail])
    step = np.repeat([1, -1], [look_lead.size, look_tail.size])[:, None]
    start = np.concatenate([f0[look_lead], f1[look_tail]])[:, None]
    length, h = (f1 - f0)[rows, None], half[rows, None]
    d = None if drift is None else drift[rows, None]

    def stays(r, k):
        s, m = start[r], length[r]
        return near(s + step[r] * np.minimum(k, m), s, h[r], None if d is None else d[r]) & (k <= m)

    run = _run_lengths(stays, rows.size)
    # where, between frames, the curve leaves the delta / 2 band (0 in the plain rule)
    frac = (
        np.zeros(rows.size)
        if still is None
        else _band_exit(xf, start[:, 0], step[:, 0], run, length[:, 0], h[:, 0])
    )
    lead = f0.copy()
    lead[look_lead] += run[: look_lead.size]
    lead_t = (lead % n).astype(np.float64)
    lead_t[look_lead] += frac[: look_lead.size]
    if still is None:
        split_lead = ramp & (lead - f0 >= min_hold) & (np.abs(v1 - xf[lead]) >= delta)
    else:  # a slow ramp is not split into drifting ends: its rest must move
        split_lead = ramp & (lead_t - p.t0 >= min_hold) & (np.abs(v1 - xf[lead]) >= delta)
        split_lead &= moving[f1 + 1] > moving[lead]
    r0 = np.where(split_lead, lead, f0)  # the ramp's own first frame and value
    rv0 = np.where(split_lead, xf[lead], v0)
    trail = f1.copy()
    trail_t = (f1 % n).astype(np.float64)
    r0_tail = r0[look_tail]
    run_tail = run[look_lead.size :]
    back = np.minimum(run_tail, f1[look_tail] - r0_tail)  # not past the ramp's start
    back = np.where(f1[look_tail] - min_frames >= r0_tail, back, 0)
    trail[look_tail] -= back
    trail_t[look_tail] -= back + np.where(back == run_tail, frac[look_lead.size :], 0.0)
    if still is None:
        split_tail = ramp & (f1 - trail >= min_hold) & (np.abs(xf[trail] - rv0) >= delta)
    else:
        split_tail = ramp & (p.t1 - trail_t >= min_hold) & (np.abs(xf[trail] - rv0) >= delta)
        split_tail &= moving[trail + 1] > moving[r0]
    rv1 = np.where(split_tail, xf[trail], v1)
    piece = _Pieces(
        np.where(ramp, np.where(rv1 > rv0, _UP, _DOWN), _HOLD),
        r0,
        np.where(split_tail, trail, f1),
        np.where(split_lead, lead_t, p.t0),
        np.where(split_tail, trail_t, p.t1),
        rv0,
        rv1,
    )
    at_lead, at_tail = np.flatnonzero(split_lead), np.flatnonzero(split_tail)
    if not (at_lead.size or at_tail.size):
        return piece
    lead, trail = lead[at_lead], trail[at_tail]
    no_value = np.full(at_lead.size + at_tail.size, np.nan)  # a hold's value is its mean, later
    holds = _Pieces(
        np.full(no_value.size, _HOLD),
        np.concatenate([f0[at_lead], trail]),
        np.concatenate([lead, f1[at_tail]]),
        np.concatenate([p.t0[at_lead], trail_t[at_tail]]),
        np.concatenate([lead_t[at_lead], p.t1[at_tail]]),
        no_value,
        no_value,
    )
    # lay each lead hold before its piece and each tail hold after it
    order = np.argsort(np.concatenate([3 * np.arange(f0.size) + 1, 3 * at_lead, 3 * at_tail + 2]))
    return _Pieces(*(np.concatenate([a, b])[order] for a, b in zip(piece, holds)))


def _band_exit(xf, start, step, run, length, half) -> np.ndarray:
    """Per run (from flat frame `start`, `run` frames in direction `step`), the fraction of a frame
    after its last frame at which the curve, linearly interpolated, leaves the band of `half` around
    its first frame: the still stretch ends between frames, so its length does not hinge on the
    frame rate. 0 where the run stopped at the piece's end or for another reason."""
    last = start + step * run
    nxt = start + step * np.minimum(run + 1, length)
    g_in, g_out = np.abs(xf[last] - xf[start]), np.abs(xf[nxt] - xf[start])
    rising = (g_out > g_in) & (run < length)
    return np.where(rising, np.clip((half - g_in) / np.where(rising, g_out - g_in, 1.0), 0.0, 1.0), 0.0)


def _run_lengths(test, size: int) -> np.ndarray:
    """Per row r < `size`, for how many k = 1, 2, ... in a row `test(rows, k)` (rows x k bools)
    holds; `test` must fail past some k.

    Tests a short window of k first, then a four times longer one for the rows still going: most
    runs are short, and one window as long as the longest would be mostly waste.
    """
    run = np.zeros(size, dtype=np.intp)
    rows, done, width = np.arange(size), 0, 16
    while rows.size:
        k = np.arange(done + 1, done + width + 1)
        holds = test(rows, k)
        # the leading run of each row: up to its first False, or the whole window (argmin and all
        # cost a third of a logical_and.accumulate along the rows)
        count = np.where(holds.all(axis=1), width, holds.argmin(axis=1))
        run[rows] += count
        rows, done, width = rows[count == width], done + width, 4 * width
    return run


def _merge_holds(
    flat: list[float],
    to_flat: np.ndarray,
    n: int,
    p: _Pieces,
    deltas: np.ndarray,
    moving: np.ndarray | None = None,
) -> _Pieces:
    """Merge neighbouring holds of a curve while the curve under them stays within delta of its mean
    (or, with `moving`, the count of moving frames along the flat curves, is still throughout and
    spans less than STILL_SPAN deltas). Frame f of curve c is `flat[f + to_flat[c]]`."""
    neighbours = (p.kind[1:] == _HOLD) & (p.kind[:-1] == _HOLD) & (p.f0[1:] == p.f1[:-1])
    if not neighbours.any():
        return p
    keep = np.ones(p.kind.size, dtype=bool)
    f0, f1, t1 = p.f0, p.f1.copy(), p.t1.copy()
    head: dict[int, int] = {}  # a merged piece -> the first piece of its hold
    for k in (np.flatnonzero(neighbours) + 1).tolist():
        g = head.get(k - 1, k - 1)
        a, b = int(f0[g]), int(f1[k])
        shift = int(to_flat[a // n])
        span = flat[a + shift : b + 1 + shift]
        low, high, delta = min(span), max(span), deltas[f0[k] // n]
        mean = sum(span) / len(span)
        still = moving is not None and moving[b + 1] == moving[a]
        # one hold when its mean reads back within delta of every frame under it
        if max(high - mean, mean - low) < delta or (still and high - low < STILL_SPAN * delta):
            f1[g], t1[g] = f1[k], t1[k]
            keep[k] = False
            head[k] = g
    return _Pieces(*(a[keep] for a in p._replace(f1=f1, t1=t1)))


def _collapse_cycles(table: SegmentTable, p: _Pieces, delta: np.ndarray, min_cycles: int = 2) -> SegmentTable:
    """Collapse runs of >= `min_cycles` similar up/down pairs into one `repeats` segment.

    A run from segment i goes on while the segments alternate up / down and stay close to segment
    i (low and high within tol, duration within 0.4-2.5x); runs are taken greedily from the start.
    """
    kind, n = table.kind, table.kind.size
    ramp = kind != _HOLD
    turns = np.zeros(n + 1, dtype=bool)  # segment j turns back from segment j-1 (a sentinel at n)
    turns[1:n] = ramp[1:] & ramp[:-1] & (kind[1:] != kind[:-1]) & (p.f0[1:] == p.f1[:-1])
    # the cheap part first: a run starts only where 2 * min_cycles - 1 turns follow
    after = np.arange(1, n + 1)
    stops = np.flatnonzero(~turns)
    chain = stops[np.searchsorted(stops, after)] - after  # turns right after each segment
    starts = np.flatnonzero(chain >= 2 * min_cycles - 1)
    if not starts.size:
        return table
    low, high = np.minimum(table.start, table.end), np.maximum(table.start, table.end)
    duration = table.t1 - table.t0
    # per start: its low, high, duration, tolerance and turns, each a column
    low0, high0, dur0, turns0 = (x[starts, None] for x in (low, high, duration, chain))
    tol = np.maximum(delta[starts, None], 0.25 * (high0 - low0))

    def similar(rows, k):  # segment i + k still turns and stays close to segment i
        j = np.minimum(starts[rows, None] + k, n - 1)
        t, d, dj = tol[rows], dur0[rows], duration[j]
        return (
            (k <= turns0[rows])
            & (np.abs(low[j] - low0[rows]) <= t)
            & (np.abs(high[j] - high0[rows]) <= t)
            & (0.4 * d <= dj)
            & (dj <= 2.5 * d)
        )

    n_cycles = (1 + _run_lengths(similar, starts.size)) // 2
    found = np.flatnonzero(n_cycles >= min_cycles)
    if not found.size:
        return table
    # runs are taken from the start, so none begins inside the one before: from each run, jump
    # to the first start at or after its end
    first, counts = starts[found], n_cycles[found]
    stop = first + 2 * counts
    next_run = np.searchsorted(first, stop).tolist()
    taken, r = [], 0
    while r < len(next_run):
        taken.append(r)
        r = next_run[r]
    first, stop, counts = first[taken], stop[taken], counts[taken]
    lows, highs = low.tolist(), high.tolist()
    lo_mean = [sum(lows[i:j]) / (j - i) for i, j in zip(first.tolist(), stop.tolist())]
    hi_mean = [sum(highs[i:j]) / (j - i) for i, j in zip(first.tolist(), stop.tolist())]
    table.t1[first] = table.t1[stop - 1]
    # a run starts where its first piece does: at its high end when that piece goes down
    falls = kind[first] == _DOWN
    table.start[first] = np.where(falls, hi_mean, lo_mean)
    table.end[first] = np.where(falls, lo_mean, hi_mean)
    kind[first], table.cycles[first] = _CYCLES, counts  # the arrays are this call's own
    inside = np.zeros(n + 1, dtype=np.intp)  # +1 after each run's first segment, -1 after its last
    inside[first + 1], inside[stop] = 1, -1
    keep = np.cumsum(inside[:n]) == 0
    return SegmentTable(*(x[keep] for x in table))
