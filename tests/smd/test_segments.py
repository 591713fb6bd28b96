import numpy as np
import pytest

import smd
from smd.analysis import FAR_DELTAS, STILL_DELTAS_PER_S
from smd.angles import ANGLE_KEYS
from smd.extrema import smooth
from smd.segments import CYCLES, DOWN, HOLD, UP
from tests.builders import arm_raise, piecewise, standing_root, times
from tests.smd.segment_helpers import segment


def _segments(curve, fps=20.0, delta=5.0, **rules):
    return segment(smooth(curve, fps, 0.25), fps, delta, **rules)


def _as_analysed(curve, fps=20.0, delta=5.0):
    """Segments by the rules `analyze` applies to an angle: still stretches and the read-back split."""
    return _segments(curve, fps, delta, still_speed=STILL_DELTAS_PER_S * delta, far=FAR_DELTAS * delta)


def test_hold_ramp_hold_ramp_hold_comes_back_with_its_times():
    segs = smd.analyze(arm_raise()).angle_segments(5.0)[ANGLE_KEYS.index("right_shoulder_elevation")]
    assert [s.kind for s in segs] == [HOLD, UP, HOLD, DOWN, HOLD]
    hold0, up, hold1, down, hold2 = segs
    assert abs(hold0.start) < 1 and abs(hold1.start - 90) < 1 and abs(hold2.start) < 1
    # the true ramps are [1.5, 2.5] and [4.0, 5.0]; boundaries land within 0.3 s (smoothing, hold band)
    assert abs(up.t0 - 1.5) <= 0.3 and abs(up.t1 - 2.5) <= 0.3
    assert abs(down.t0 - 4.0) <= 0.3 and abs(down.t1 - 5.0) <= 0.3
    assert hold0.t0 == 0.0 and abs(hold2.t1 - 6.0) < 1e-9


def test_cycles_are_counted_with_their_period_and_range():
    fps = 20.0
    t = times(8.0, fps)
    curve = piecewise(t, [(0, 0), (2, 0)]) + np.where(
        t >= 2, 30 * (1 - np.cos(2 * np.pi * (t - 2) / 1.2)) / 2, 0
    )
    segs = _segments(curve, fps)
    cycles = [s for s in segs if s.kind == CYCLES]
    assert len(cycles) == 1
    c = cycles[0]
    assert c.cycles in (4, 5)  # 5 periods of 1.2 s in 6 s; the last may be cut by the clip end
    assert abs(c.period - 1.2) < 0.1
    assert abs(c.start - 0) < 3 and abs(c.end - 30) < 3
    assert segs[0].kind == HOLD and abs(segs[0].t1 - 2.0) <= 0.3


def test_small_wiggles_below_delta_are_one_hold():
    t = times(5.0, 20.0)
    curve = 40 + 1.5 * np.sin(2 * np.pi * 1.3 * t)
    segs = _segments(curve)
    assert len(segs) == 1 and segs[0].kind == HOLD and abs(segs[0].start - 40) < 1


def test_larger_delta_gives_fewer_segments():
    t = times(6.0, 20.0)
    curve = 20 * np.sin(2 * np.pi * 0.7 * t) + 6 * np.sin(2 * np.pi * 2.1 * t)
    counts = [len(_segments(curve, delta=d)) for d in (3.0, 10.0, 15.0)]
    assert counts[0] > counts[1] >= counts[2] >= 1


def test_segments_tile_the_clip_in_order():
    from tests.builders import turn_and_squat

    analysis = smd.analyze(turn_and_squat())
    for segs in analysis.angle_segments(5.0):
        if not segs:
            continue
        assert segs[0].t0 == 0.0 and abs(segs[-1].t1 - analysis.duration) < 1e-9
        for a, b in zip(segs, segs[1:]):
            assert abs(a.t1 - b.t0) < 1e-9 and b.t1 > b.t0


def test_constant_curve_is_a_single_hold():
    t = times(3.0, 20.0)
    segs = smd.analyze(smd.forward_kinematics({}, standing_root(t.size))).angle_segments(5.0)
    assert all(len(s) in (0, 1) for s in segs)
    assert all(s[0].kind == HOLD for s in segs if s)


def test_batched_peak_search_equals_find_peaks_on_each_curve():
    from scipy.signal import find_peaks

    from tests.smd.segment_helpers import find_extrema_columns

    rng = np.random.default_rng(3)
    xs = smooth(np.cumsum(rng.normal(0, 3, (150, 6)), axis=0), 20.0, 0.25)
    xs[:, 2] = 7.0  # a flat curve has no extrema
    for col, ex in enumerate(find_extrema_columns(xs, 3.0)):
        peaks, pp = find_peaks(xs[:, col], prominence=3.0)
        valleys, vp = find_peaks(-xs[:, col], prominence=3.0)
        expected = np.concatenate([peaks, valleys])
        order = np.argsort(expected)
        np.testing.assert_array_equal(ex.index, expected[order])
        np.testing.assert_allclose(
            ex.prominence, np.concatenate([pp["prominences"], vp["prominences"]])[order]
        )
    assert find_extrema_columns(xs, 3.0)[2].index.size == 0


def _spans(analysis, key, delta=5.0):
    """(kind, t0, t1, value) of each movement: consecutive ramps the same way are one movement (an
    eased ramp is told in a few pieces, so that each reads back close to the curve)."""
    out = []
    for s in analysis.angle_segments(delta)[ANGLE_KEYS.index(key)]:
        if out and s.kind in (UP, DOWN) and out[-1][0] == s.kind:
            out[-1] = (s.kind, out[-1][1], s.t1, out[-1][3])
        else:
            out.append((s.kind, s.t0, s.t1, s.start))
    return out


@pytest.mark.parametrize("fps", [20.0, 30.0])
def test_sit_rest_stand_is_ramp_hold_ramp_with_its_times(fps):
    """Knees and hips ramp to ~100 degrees in 1 s, rest 2 s drifting from -8 to +8 degrees, ramp
    back in 1 s: sitting down, resting and standing up each get their own segment."""
    t = times(6.0, fps)
    knee = piecewise(t, [(0, 0), (1, 0), (2, 92), (4, 108), (5, 0), (6, 0)])
    angles = {
        f"{s}_{j}": knee * k
        for s in ("left", "right")
        for j, k in (("knee_flexion", 1.0), ("hip_flexion", 0.9))
    }
    a = smd.analyze(smd.forward_kinematics(angles, standing_root(t.size)), fps=fps)
    for key in ("left_knee_flexion", "right_hip_flexion"):
        segs = _spans(a, key)
        assert [k for k, *_ in segs] == [HOLD, UP, HOLD, DOWN, HOLD], segs
        (_, _, _, _), (_, up0, up1, _), (_, h0, h1, rest), (_, down0, down1, _), _ = segs
        assert abs(up0 - 1.0) <= 0.2 and abs(up1 - 2.0) <= 0.2
        assert abs(down0 - 4.0) <= 0.2 and abs(down1 - 5.0) <= 0.2
        assert h0 == up1 and h1 == down0 and 80 < rest < 105


@pytest.mark.parametrize("fps", [20.0, 30.0])
def test_a_limb_that_rises_then_stays_still_is_a_short_ramp_and_a_hold(fps):
    """Raised in 0.5 s, then held 4.5 s while swaying by +-6 degrees (demo motion d00000's case)."""
    t = times(6.0, fps)
    sway = np.where(t > 1.5, 6 * np.sin(2 * np.pi * (t - 1.5) / 4.5), 0.0)
    flex = piecewise(t, [(0, 0), (1, 0), (1.5, 90), (6, 90)]) + sway
    a = smd.analyze(smd.forward_kinematics({"left_shoulder_flexion": flex}, standing_root(t.size)), fps=fps)
    segs = _spans(a, "left_shoulder_elevation")
    assert [k for k, *_ in segs] == [HOLD, UP, HOLD], segs
    assert abs(segs[1][1] - 1.0) <= 0.2 and abs(segs[1][2] - 1.5) <= 0.2
    assert abs(segs[2][3] - 90) < 5


def test_a_slow_steady_movement_stays_a_ramp():
    """30 degrees in 3 s (10 degrees a second) is slow but not still: no drifting holds at its ends."""
    t = times(5.0, 20.0)
    flex = piecewise(t, [(0, 0), (1, 0), (4, 30), (5, 30)])
    flex = np.where((t > 1) & (t < 4), 10 * (t - 1), flex)
    a = smd.analyze(smd.forward_kinematics({"left_shoulder_flexion": flex}, standing_root(t.size)))
    segs = _spans(a, "left_shoulder_elevation")
    ramps = [s for s in segs if s[0] != HOLD]
    assert len(ramps) == 1 and ramps[0][0] == UP and ramps[0][2] - ramps[0][1] >= 2.5, segs


@pytest.mark.parametrize("fps", [20.0, 30.0])
def test_a_settle_then_a_still_plateau_inside_a_monotonic_run_is_its_own_hold(fps):
    """The real sit-rest-stand of the issue: the knee settles 116 -> 102 in 0.6 s, stays at 102 +- 2
    for 2.4 s, then 100 -> 17 in 0.9 s; it read `decreases: 117° → 10° [4.4s–8.8s]`, losing the rest."""
    t = times(10.0, fps)
    knee = piecewise(t, [(0, 116), (4.4, 116), (5.0, 102), (7.4, 100), (8.3, 17), (10, 17)])
    knee = knee + np.where((t > 5.0) & (t < 7.4), 2 * np.sin(2 * np.pi * (t - 5.0) / 1.2), 0.0)
    angles = {f"{s}_knee_flexion": knee for s in ("left", "right")}
    a = smd.analyze(smd.forward_kinematics(angles, standing_root(t.size)), fps=fps)
    segs = _spans(a, "left_knee_flexion")
    assert [k for k, *_ in segs] == [HOLD, DOWN, HOLD, DOWN, HOLD], segs
    _, (_, d0, d1, _), (_, h0, h1, rest), (_, s0, s1, _), _ = segs
    assert abs(d0 - 4.4) <= 0.2 and abs(d1 - 5.0) <= 0.2 and abs(s0 - 7.4) <= 0.2 and abs(s1 - 8.3) <= 0.2
    assert h0 == d1 and h1 == s0 and 99 <= rest <= 104


def test_neighbouring_holds_whose_mean_reads_back_within_delta_are_one_hold():
    """The issue's `holds at -25° [2.0s–3.7s]` then `holds at -27° [3.7s–4.0s]`: one hold."""
    t = times(6.0, 20.0)
    curve = piecewise(t, [(0, 0), (1, 0), (2, -25), (3.7, -25), (4.0, -28.5), (6, -28.5)])
    segs = _as_analysed(curve)
    holds = [s for s in segs if s.kind == HOLD]
    assert [s.kind for s in segs] == [HOLD, DOWN, HOLD], segs
    assert holds[-1].t1 == pytest.approx(6.0) and -28 < holds[-1].start < -25


def test_a_ramp_that_strays_from_its_line_is_split_where_it_strays_most():
    """A fast rise, then a slow one: read as one line it misses the curve by ~25 degrees."""
    t = times(4.0, 20.0)
    curve = np.interp(t, [0, 0.5, 1.0, 4.0], [0, 0, 60, 90])
    assert len([s for s in _segments(curve) if s.kind == UP]) == 1  # one line, by extrema alone
    segs = _as_analysed(curve)
    ups = [s for s in segs if s.kind == UP]
    assert len(ups) == 2 and abs(ups[0].t1 - 1.0) <= 0.15 and abs(ups[0].end - 60) <= 5, segs
