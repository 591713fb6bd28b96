"""The vectorised segmentation (`segment_table`, `find_cuts`) against a plain reference.

The reference below is the original one-curve-at-a-time implementation (find_peaks on the curve
alone, then Python loops over its pieces), kept here verbatim in substance. The vectorised code
must give exactly the same segments: same kinds, same floats to the last bit (compared by repr,
so that even -0.0 against 0.0 would show), on curves built to hit every branch: holds, ramps with
still ends, neighbouring holds that merge, oscillations that collapse into cycles, flat tops,
plateaus, very short clips.
"""

import math

import numpy as np
import pytest
from scipy.signal import find_peaks

import smd
from smd.extrema import find_cuts, smooth
from smd.segmentation import segment_table
from smd.segments import CYCLES, DOWN, HOLD, UP, Segment
from tests.smd.segment_helpers import find_extrema_columns, segment

# ------------------------------------------------------------------ reference implementation


def ref_extrema(xs, min_prominence):
    """(index, time, value) of the extrema of one curve, find_peaks on it alone."""
    found = [find_peaks(sign * xs, prominence=min_prominence)[0] for sign in (1.0, -1.0)]
    index = np.sort(np.concatenate(found))
    left, mid, right = xs[index - 1], xs[index], xs[index + 1]
    curvature = left - 2.0 * mid + right
    flat_top = np.abs(curvature) <= 1e-12
    offset = np.clip(
        np.where(flat_top, 0.0, 0.5 * (left - right) / np.where(flat_top, 1.0, curvature)), -0.5, 0.5
    )
    return index, index + offset, mid - 0.25 * (left - right) * offset


def ref_segment(xs, fps, delta, min_hold_s=0.3, cycles=True, far=math.inf):
    n = xs.shape[0]
    index, time, value = ref_extrema(xs, delta)
    idx = [0, *index.tolist(), n - 1]
    times = [0.0, *time.tolist(), float(n)]
    x = xs.tolist()
    values = [x[0], *value.tolist(), x[-1]]
    pieces = ref_pieces(x, idx, times, values, delta, min_hold_s * fps)
    relabelled = []
    for p in pieces:
        parts = ref_split_far(x, p, far) if p[0] != HOLD else [p]
        if len(parts) == 1:
            relabelled.append(p)
            continue
        # the parts of a split ramp are labelled, still ends and all, from their cut points
        cut_values = [q[5] for q in parts] + [parts[-1][6]]
        relabelled += ref_pieces(
            x,
            [q[1] for q in parts] + [parts[-1][2]],
            [q[3] for q in parts] + [parts[-1][4]],
            cut_values,
            delta,
            min_hold_s * fps,
        )
    pieces = relabelled
    pieces = ref_merge_holds(x, pieces, delta)
    segs = [Segment(k, t0 / fps, t1 / fps, v0, v1) for k, _, _, t0, t1, v0, v1 in pieces]
    return tuple(ref_collapse_cycles(segs, delta) if cycles else segs)


def ref_pieces(x, idx, times, values, delta, min_hold):
    half = delta / 2.0
    min_frames = max(1, math.ceil(min_hold))
    out = []
    for k in range(len(idx) - 1):
        i0, i1, t0, t1, v0, v1 = idx[k], idx[k + 1], times[k], times[k + 1], values[k], values[k + 1]
        if i1 <= i0:
            continue
        if abs(v1 - v0) < delta:
            out.append(ref_hold(x, i0, i1, t0, t1))
            continue
        lead = i0
        if i0 + min_frames <= i1 and abs(x[i0 + min_frames] - x[i0]) < half:
            while lead < i1 and abs(x[lead + 1] - x[i0]) < half:
                lead += 1
        if lead - i0 >= min_hold and abs(v1 - x[lead]) >= delta:
            out.append(ref_hold(x, i0, lead, t0, float(lead)))
            i0, t0, v0 = lead, float(lead), x[lead]
        trail = i1
        if i1 - min_frames >= i0 and abs(x[i1 - min_frames] - x[i1]) < half:
            while trail > i0 and abs(x[trail - 1] - x[i1]) < half:
                trail -= 1
        tail = None
        if i1 - trail >= min_hold and abs(x[trail] - v0) >= delta:
            tail = ref_hold(x, trail, i1, float(trail), t1)
            i1, t1, v1 = trail, float(trail), x[trail]
        out.append((UP if v1 > v0 else DOWN, i0, i1, t0, t1, v0, v1))
        if tail:
            out.append(tail)
    return out


def ref_split_far(x, piece, far, min_frames=2):
    """Douglas-Peucker on one piece: split at the frame farthest from its line (first of ties, at
    least `min_frames` from either end) while farther than `far`, the parts' lines drawn through
    the cut's frame; then each cut is placed between frames by a parabola through its gaps."""
    kind, i0, i1, t0, t1, v0, v1 = piece
    cuts = ref_far_cuts(x, i0, i1, t0, t1, v0, v1, far, min_frames)
    bounds = [(i0, t0, v0)]
    for at, lt0, lv0, slope in sorted(cuts):
        g = [x[at + k] - (lv0 + slope * (at - lt0) + slope * k) for k in (-1, 0, 1)]
        curvature = g[0] - 2.0 * g[1] + g[2]
        offset = 0.0 if abs(curvature) <= 1e-12 else min(max(0.5 * (g[0] - g[2]) / curvature, -0.5), 0.5)
        xm, x0, xp = x[at - 1], x[at], x[at + 1]
        bounds.append(
            (at, at + offset, x0 + 0.5 * offset * (xp - xm) + 0.5 * offset**2 * (xp - 2.0 * x0 + xm))
        )
    bounds.append((i1, t1, v1))
    return [(kind, a[0], b[0], a[1], b[1], a[2], b[2]) for a, b in zip(bounds, bounds[1:])]


def ref_far_cuts(x, i0, i1, t0, t1, v0, v1, far, min_frames):
    slope = (v1 - v0) / (t1 - t0)
    best, at = 0.0, None
    for i in range(i0 + min_frames, i1 - min_frames + 1):
        gap = abs(x[i] - (v0 + slope * (i - t0)))
        if gap > best:
            best, at = gap, i
    if at is None or not best > far:
        return []
    return [
        (at, t0, v0, slope),
        *ref_far_cuts(x, i0, at, t0, float(at), v0, x[at], far, min_frames),
        *ref_far_cuts(x, at, i1, float(at), t1, x[at], v1, far, min_frames),
    ]


def ref_hold(x, i0, i1, t0, t1):
    mean = sum(x[i0 : i1 + 1]) / (i1 + 1 - i0)
    return (HOLD, i0, i1, t0, t1, mean, mean)


def ref_merge_holds(x, pieces, delta):
    merged = []
    for p in pieces:
        if merged and p[0] == HOLD and merged[-1][0] == HOLD:
            q = merged[-1]
            span = x[q[1] : p[2] + 1]
            mean = sum(span) / len(span)
            if max(max(span) - mean, mean - min(span)) < delta:
                merged[-1] = (HOLD, q[1], p[2], q[3], p[4], mean, mean)
                continue
        merged.append(p)
    return merged


def ref_collapse_cycles(segs, delta, min_cycles=2):
    n = len(segs)
    if n < 2 * min_cycles:
        return segs
    ramp = [s.kind != HOLD for s in segs]
    lows = [min(s.start, s.end) for s in segs]
    highs = [max(s.start, s.end) for s in segs]
    durations = [s.t1 - s.t0 for s in segs]
    out = []
    i = 0
    while i < n:
        if ramp[i] and i + 2 * min_cycles <= n and ramp[i + 1] and segs[i + 1].kind != segs[i].kind:
            run = ref_similar_run(segs, ramp, lows, highs, durations, i, delta)
        else:
            run = 0
        n_cycles = run // 2
        if n_cycles >= min_cycles:
            j = i + 2 * n_cycles
            lo, hi = lows[i:j], highs[i:j]
            low, high = sum(lo) / len(lo), sum(hi) / len(hi)
            if segs[i].kind == DOWN:  # a run starts where its first piece does
                low, high = high, low
            out.append(Segment(CYCLES, segs[i].t0, segs[j - 1].t1, low, high, n_cycles))
            i = j
        else:
            out.append(segs[i])
            i += 1
    return out


def ref_similar_run(segs, ramp, lows, highs, durations, i, delta):
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


# ------------------------------------------------------------------ random curves


def random_curve(rng, n, fps):
    """Holds, ramps, oscillations and noise, smoothed; sometimes quantised (plateaus, ties)."""
    out, value, i = np.empty(n), rng.uniform(-30, 30), 0
    while i < n:
        length = min(n - i, int(rng.integers(3, 40)))
        k = np.arange(length)
        kind = rng.integers(4)
        if kind == 0:  # hold
            piece = np.full(length, value)
        elif kind == 1:  # ramp
            piece = value + rng.uniform(-60, 60) * (1 - np.cos(np.pi * (k + 1) / length)) / 2
        elif kind == 2:  # oscillation
            piece = value + rng.uniform(2, 40) * np.sin(2 * np.pi * rng.uniform(0.3, 3.0) * k / fps)
        else:  # wander
            piece = value + np.cumsum(rng.normal(0, 2, length))
        out[i : i + length] = piece
        value, i = float(piece[-1]), i + length
    out += rng.normal(0, rng.choice([0.0, 0.2, 1.0]), n)
    xs = smooth(out, fps, 0.25)
    if rng.random() < 0.3:
        xs = np.round(xs, int(rng.integers(0, 2)))
    return np.round(xs, 9)


DELTAS = (0.5, 3.0, 5.0, 10.0, 15.0)


def curves(seed, count):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        fps = float(rng.choice([20.0, 30.0]))
        n = int(rng.choice([1, 2, 3, 5, 12, int(rng.integers(20, 240))]))
        yield random_curve(rng, n, fps), fps


def assert_same(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert repr(g) == repr(e)
        assert [type(v) for v in g] == [type(v) for v in e]


# ------------------------------------------------------------------ tests


@pytest.mark.parametrize("seed", range(4))
def test_segment_equals_the_reference(seed):
    for xs, fps in curves(seed, 60):
        for delta in DELTAS:
            assert_same(segment(xs, fps, delta), ref_segment(xs, fps, delta))
        assert_same(segment(xs, fps, 5.0, cycles=False), ref_segment(xs, fps, 5.0, cycles=False))
        assert_same(segment(xs, fps, 5.0, min_hold_s=0.0), ref_segment(xs, fps, 5.0, min_hold_s=0.0))
        for delta in (3.0, 5.0):
            assert_same(segment(xs, fps, delta, far=2 * delta), ref_segment(xs, fps, delta, far=2 * delta))


@pytest.mark.parametrize("seed", range(3))
def test_one_table_for_many_curves_and_thresholds_equals_the_reference(seed):
    rng = np.random.default_rng(100 + seed)
    fps, n = 20.0, int(rng.integers(30, 200))
    xs = np.stack([random_curve(rng, n, fps) for _ in range(12)])
    deltas = rng.choice(DELTAS, xs.shape[0])
    # cuts found once at the smallest threshold serve every curve
    table = segment_table(xs, fps, deltas, find_cuts(xs, deltas.min()))
    got = table.segments(xs.shape[0])
    for curve, delta, segs in zip(xs, deltas, got):
        assert_same(segs, ref_segment(curve, fps, float(delta)))
    # and cuts found at each curve's own threshold give the same
    table = segment_table(xs, fps, deltas, find_cuts(xs, deltas))
    for a, b in zip(table.segments(xs.shape[0]), got):
        assert_same(a, b)


def test_find_cuts_equals_find_peaks_on_each_curve():
    rng = np.random.default_rng(7)
    xs = np.stack([random_curve(rng, 150, 20.0) for _ in range(10)])
    xs[3] = 2.0  # flat: no extrema
    for floor in (0.01, 3.0, np.linspace(0.5, 20, 10)):
        got = find_extrema_columns(xs.T, floor) if np.ndim(floor) == 0 else None
        cuts = find_cuts(xs, floor)
        for c, curve in enumerate(xs):
            p = float(np.broadcast_to(floor, (10,))[c])
            index, time, value = ref_extrema(curve, p)
            mine = (cuts.frame >= c * 150) & (cuts.frame < (c + 1) * 150) & np.isfinite(cuts.prominence)
            np.testing.assert_array_equal(cuts.frame[mine] - c * 150, index)
            assert cuts.time[mine].tobytes() == time.tobytes()
            assert cuts.value[mine].tobytes() == value.tobytes()
            if got is not None:
                np.testing.assert_array_equal(got[c].index, index)


def test_batched_analysis_equals_one_threshold_at_a_time():
    from tests.builders import turn_and_squat, walk

    for joints in (walk(), turn_and_squat()):
        a = smd.analyze(joints)  # every preset's threshold and the trajectory, in one pass
        many = a.segmented([3.0, 5.0, 10.0, 15.0, 2.0])
        for delta in (2.0, 3.0, 5.0, 10.0, 15.0):
            (one,) = a.segmented([delta]).values()
            assert (
                repr(one.segments(26))
                == repr(many[delta].segments(26))
                == repr(a.angle_table(delta).segments(26))
            )


def test_fast_angle_lines_equal_the_plain_segment_lines():
    import importlib

    from smd.segments import SegmentTable
    from tests.builders import turn_and_squat, walk

    render = importlib.import_module("smd.render")  # the module (smd.render is the function)

    def plain(table):
        return [render._segment_line(s, render._deg) for segs in table.segments(26) for s in segs]

    for joints in (walk(), turn_and_squat()):
        a = smd.analyze(joints)
        tenths = render._tenths_table(a)
        for delta in (3.0, 5.0, 10.0, 15.0):
            table = a.angle_table(delta)
            assert render._angle_lines(table, tenths) == plain(table)
    # times the lookup table does not cover (not produced by the segmentation) go the plain way
    odd = SegmentTable(
        np.array([0, 0, 1]),
        np.array([0, 1, 3]),
        np.array([0.0, 0.25, -0.04]),
        np.array([0.25, 0.2, 9.0]),
        np.array([1.5, 2.5, -0.5]),
        np.array([1.5, 40.0, 20.4]),
        np.array([0, 0, 3]),
    )
    assert render._angle_lines(odd, [f"{k / 10:.1f}" for k in range(10)]) == plain(odd)
