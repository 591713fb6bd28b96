"""The three HumanML3D fixture motions give descriptions a motion researcher would accept."""

import re
import sys

import numpy as np
import pytest
from scipy.signal import find_peaks

import smd
from smd.angles import ANGLE_KEYS
from tests.builders import REPO, to_z_up


def _load(fixtures, name):
    paths = {
        "012314": fixtures / "humanml3d" / "new_joints" / "012314.npy",
        "000612": fixtures / "humanml3d_extra" / "000612_new_joints.npy",
    }
    if name == "004822":
        with np.load(
            fixtures / "humanml3d_extra" / "004822_raw_joints_and_features.npz", allow_pickle=False
        ) as z:
            return z["joints"]
    return np.load(paths[name], allow_pickle=False)


def _stride_period(analysis, key, prominence=20):
    """Mean time between knee-flexion peaks (one per stride) of at least `prominence` degrees."""
    x = analysis.smoothed[:, ANGLE_KEYS.index(key)]
    peaks, _ = find_peaks(x, prominence=prominence)
    return np.diff(peaks).mean() / analysis.fps, len(peaks)


def test_treadmill_walk_from_raw_joints_cycles_in_place(fixtures):
    a = smd.analyze(_load(fixtures, "004822"))
    assert a.summary.displacement < 0.2
    for side in ("left", "right"):
        period, n = _stride_period(a, f"{side}_knee_flexion")
        assert n >= 6 and 0.9 <= period <= 1.6  # a slow walk: ~80-130 steps a minute
    text = smd.render(a, "v5")
    hip = text.split("Left Hip Flexion (raising the thigh forward):\n")[1].split("\nLeft Hip Adduction")[0]
    cycles = [int(n) for n in re.findall(r"repeats (\d+) cycles", hip)]
    periods = [float(p) for p in re.findall(r"period (\d+\.\d)s", hip)]
    assert sum(cycles) >= 5 and all(0.9 <= p <= 1.6 for p in periods)


def test_walk_000612_travels_about_two_metres_with_cyclic_legs(fixtures):
    a = smd.analyze(_load(fixtures, "000612"))
    assert 1.8 <= a.summary.displacement <= 2.6
    for side in ("left", "right"):
        # short steps while pushing: knee swings of 10-30 degrees
        period, n = _stride_period(a, f"{side}_knee_flexion", prominence=10)
        assert n >= 6 and 0.8 <= period <= 1.6
    assert "displacement 2.28m" in smd.render(a, "v5_top3")


def test_tennis_swing_is_about_the_arms(fixtures):
    a = smd.analyze(_load(fixtures, "012314"))
    top5 = smd.render(a, "v5_top5")
    assert "Shoulder" in top5
    elevation = a.angles[
        :, [ANGLE_KEYS.index("left_shoulder_elevation"), ANGLE_KEYS.index("right_shoulder_elevation")]
    ]
    assert np.ptp(elevation, axis=0).max() > 75  # a big arm swing


@pytest.mark.parametrize("name", ["012314", "000612", "004822"])
def test_real_motions_are_finite_deterministic_and_up_axis_free(fixtures, name):
    joints = _load(fixtures, name)
    texts = [smd.describe(joints, variant=p) for p in smd.PRESETS]
    assert all(t.startswith("Motion: ") and "nan" not in t for t in texts)
    assert smd.describe(to_z_up(joints.astype(np.float64)), up_axis="z") == texts[0]
    assert smd.describe(joints) == texts[0]


def _degrees_by_angle(text: str) -> dict[str, list[int]]:
    """Each angle's rendered values (the sizes of moves through ±180° left out)."""
    from smd.angles import ANGLES

    heads = {f"{a.name} ({a.gloss}):": a.key for a in ANGLES}
    values, key = {}, None
    for line in text.split("Joint Angles:\n", 1)[1].splitlines():
        key = heads.get(line, key)
        if line not in heads and not line.startswith("["):
            line = re.sub(r"\(\d+° through ±180°\)", "", line)
            values.setdefault(key, []).extend(int(v) for v in re.findall(r"(-?\d+)°", line))
    return values


def _rendered_degrees(text: str) -> list[int]:
    """Every joint angle value of a text (the sizes of moves through ±180° left out)."""
    return [v for values in _degrees_by_angle(text).values() for v in values]


@pytest.mark.parametrize("name", ["012314", "000612", "004822"])
def test_real_motions_show_every_angle_in_range_and_warn_of_nothing(fixtures, name):
    a = smd.analyze(_load(fixtures, name))
    assert a.warnings == ()
    for preset in smd.PRESETS:
        values = _rendered_degrees(smd.render(a, preset))
        # continuous curves, none past a turn (the shoulder's plane may pass 180: the arm's line
        # keeps turning as the arm swings round), and never a value "through ±180°"
        assert values and all(-360 < v < 360 for v in values), preset
        assert "through" not in smd.render(a, preset).replace("throughout", ""), preset


# measured (smd-text-3): 96.5 % (tennis swing: ankle, lumbar, the left arm's plane past 180° as it
# swings round behind, the right arm's rotation beyond), 94.9 % (the walk's pivot turn rotates both
# hips outward by 51-61°, the ankles reach 29-32° of dorsiflexion, the pushing arm turns in ~95°) and 100 %
@pytest.mark.parametrize(("name", "least"), [("012314", 0.95), ("000612", 0.93), ("004822", 0.99)])
def test_real_motions_stay_within_the_typical_ranges_the_glosses_document(fixtures, name, least):
    from smd.angles import ANGLES

    plausible = {a.key: a.plausible for a in ANGLES}
    values = _degrees_by_angle(smd.render(smd.analyze(_load(fixtures, name)), "v5"))
    inside = [lo - 5 <= v <= hi + 5 for key, vs in values.items() for v in vs for lo, hi in [plausible[key]]]
    assert len(inside) > 300 and sum(inside) / len(inside) >= least


def test_the_format_document_lists_every_angles_typical_range():
    from smd.angles import ANGLES

    readme = (REPO / "docs" / "smd-format.md").read_text()
    for a in ANGLES:
        name = a.name.removeprefix("Left ").removeprefix("Right ")
        lo, hi = a.plausible
        assert f"| {name} | {a.gloss} | {lo:g}° to {hi:g}° |" in readme, name


@pytest.mark.parametrize("name", ["000612", "004822"])
def test_real_walks_rank_hip_or_knee_flexion_in_the_top_three(fixtures, name):
    text = smd.render(smd.analyze(_load(fixtures, name)), "v5_top3")
    assert re.search(r"(Hip|Knee) Flexion \(", text), text
    assert "Pelvis Rotation" not in text  # the turn is told by the Heading line


def test_the_walk_s_turn_is_the_heading_s_not_the_pelvis_s(fixtures):
    a = smd.analyze(_load(fixtures, "000612"))
    assert a.trajectory[:, 3].min() < -250  # it turns about 300 degrees right
    assert np.abs(a.angles[:, ANGLE_KEYS.index("pelvis_rotation")]).max() < 45


def test_the_tennis_swing_s_arm_reads_as_a_raise_and_a_lowering(fixtures):
    """The issue's `Left Shoulder Flexion ... increases: 29° → 45° (376° through ±180°)`: in the globe
    chart the serve's left arm rises from ~30° to ~107° above hanging (relative to the trunk, which
    leans ~30° to the side: ~140° from the vertical) and comes down past hanging within 1.8 s."""
    text = smd.render(smd.analyze(_load(fixtures, "012314")), "v5")
    assert "through ±180°" not in text
    block = text.split("Left Shoulder Elevation (")[1].split("\nLeft Shoulder Rotation")[0]
    pieces = [
        re.match(r"(\w+): (-?\d+)° → (-?\d+)° \[[\d.]+s–([\d.]+)s\]", line)
        for line in block.splitlines()[1:5]
    ]
    assert [p.group(1) for p in pieces] == ["increases", "increases", "decreases", "decreases"], block
    assert int(pieces[0].group(2)) <= 35 and 100 <= int(pieces[1].group(3)) <= 115
    assert int(pieces[3].group(3)) <= 0 and float(pieces[3].group(4)) <= 1.8


def test_real_motions_keep_their_structure_from_20_to_30_fps(fixtures):
    """The same motions resampled to 30 fps: the same segments in >= 90 % of their angles (measured,
    smd-text-3: 88.5 % tennis, 100 % walk, 100 % treadmill; each difference is one near-threshold
    decision, a hold of ~0.3 s or a run of two cycles, among ~400), no motion below 85 %, values
    within 3 degrees but where an axial rotation of a straight limb is undefined."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from bench_fps_robustness import compare
    finally:
        sys.path.pop(0)
    same = total = 0
    for name in ("012314", "000612", "004822"):
        r = compare(_load(fixtures, name), "v5")
        assert r["fraction"] >= 0.85, (name, r["differ"])
        assert r["max_value_defined"] <= 3.0, (name, r["where"])
        same, total = same + r["same"], total + r["n"]
    assert same / total >= 0.9
