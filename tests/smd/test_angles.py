import re

import numpy as np
import pytest

import smd
from smd.angles import ANGLE_KEYS, FOOT_NEUTRAL_PITCH, NECK_NEUTRAL_PITCH, PELVIS_NEUTRAL_TILT, joint_angles
from smd.canonical import canonicalize
from smd.skeleton import BONE_LENGTHS, MIRROR_PERMUTATION, PARENTS
from tests.builders import piecewise, standing_root, times

# A realistic single-plane curve per angle: (low, high) of a smooth excursion from 0.
RANGES = {
    "rotation": (-35.0, 35.0),
    "flexion": (0.0, 100.0),
    "knee_flexion": (0.0, 110.0),
    "elbow_flexion": (0.0, 120.0),
    "extension": (-40.0, 25.0),
    "dorsiflexion": (-35.0, 20.0),
}


def _curve(key: str, t: np.ndarray) -> np.ndarray:
    if key.endswith(("knee_flexion", "elbow_flexion")):
        low, high = RANGES[key.split("_", 1)[1]]
    elif "rotation" in key:
        low, high = RANGES["rotation"]
    elif key.endswith("flexion") and "neck" not in key:
        low, high = RANGES["flexion"]
    elif key.endswith("extension"):
        low, high = RANGES["extension"]
    elif key.endswith("dorsiflexion"):
        low, high = RANGES["dorsiflexion"]
    else:
        low, high = (-30.0, 30.0)
    # starts at 0, sweeps to high, then to low, then back (starts at rest so heading is unchanged)
    return np.interp(np.sin(2 * np.pi * t / t[-1]), [-1, 0, 1], [low, 0, high])


@pytest.mark.parametrize("key", ANGLE_KEYS)
def test_each_angle_is_recovered_within_two_degrees(key):
    t = times(4.0, 20.0)
    curve = _curve(key, t)
    angles = {key: curve}
    if key.endswith("shoulder_plane"):  # a plane needs a raised arm
        angles[key.replace("plane", "elevation")] = np.full_like(t, 60.0)
    if key.endswith("shoulder_rotation"):
        # an axial rotation is only defined when the distal limb is bent
        angles[key.replace("shoulder_rotation", "elbow_flexion")] = np.full_like(t, 70.0)
    joints = smd.forward_kinematics(angles, standing_root(t.size))
    recovered = joint_angles(canonicalize(joints))
    # forward kinematics takes the pelvis's global yaw; the SMD reports the pelvis relative to the
    # body's heading (the Heading line), which a lumbar twist moves too
    heading = smd.analyze(joints).trajectory[:, 3]
    expected = dict.fromkeys(ANGLE_KEYS, np.zeros_like(t))
    expected.update(angles)
    expected["pelvis_rotation"] = expected["pelvis_rotation"] - heading
    if key == "pelvis_rotation":
        assert np.abs(heading - curve).max() < 2.0  # the whole turn is in the Heading line
    i = ANGLE_KEYS.index(key)
    assert recovered.determined[i]
    for j, k in enumerate(ANGLE_KEYS):
        assert np.abs(recovered.values[:, j] - expected[k]).max() < 2.0, k
    if key == "lumbar_rotation":  # the heading lies between the pelvis and the shoulders
        pelvis = recovered.values[:, ANGLE_KEYS.index("pelvis_rotation")]
        assert np.all(np.abs(pelvis) <= np.abs(curve) + 1e-6) and np.abs(pelvis).max() > 5


def test_jumping_jack_reads_as_elevation_in_the_side_plane_not_a_flip():
    t = times(2.0, 30.0)
    abduction = 80 - 80 * np.cos(2 * np.pi * t)  # 0 -> 160 -> 0 degrees, past the horizontal twice
    angles = {"left_shoulder_adduction": -abduction, "right_shoulder_adduction": -abduction}
    values = joint_angles(canonicalize(smd.forward_kinematics(angles, standing_root(t.size)))).values
    for side in ("left", "right"):
        plane = values[:, ANGLE_KEYS.index(f"{side}_shoulder_plane")]
        elevation = values[:, ANGLE_KEYS.index(f"{side}_shoulder_elevation")]
        assert np.abs(plane).max() < 2.0
        assert np.abs(elevation - abduction).max() < 2.0


def test_straight_arm_rotation_is_undetermined_not_a_number():
    t = times(2.0, 20.0)
    flex = 60 * np.sin(np.pi * t / t[-1])
    ja = joint_angles(
        canonicalize(smd.forward_kinematics({"left_shoulder_flexion": flex}, standing_root(t.size)))
    )
    i = ANGLE_KEYS.index("left_shoulder_rotation")
    assert not ja.determined[i]
    assert np.isfinite(ja.values).all()
    text = smd.describe(smd.forward_kinematics({"left_shoulder_flexion": flex}, standing_root(t.size)))
    block = text.split("Left Shoulder Rotation")[1].split("\n")[1]
    assert block.startswith("undetermined throughout")


def test_rotation_is_interpolated_where_the_elbow_straightens_briefly():
    t = times(3.0, 20.0)
    elbow = np.where(np.abs(t - 1.5) < 0.3, 5.0, 80.0)
    rot = np.full_like(t, 30.0)
    joints = smd.forward_kinematics(
        {"right_elbow_flexion": elbow, "right_shoulder_rotation": rot}, standing_root(t.size)
    )
    ja = joint_angles(canonicalize(joints))
    i = ANGLE_KEYS.index("right_shoulder_rotation")
    assert ja.determined[i]
    assert np.abs(ja.values[:, i] - 30.0).max() < 1.0


def test_mirroring_swaps_left_and_right_values():
    from tests.builders import mirror, turn_and_squat

    joints = turn_and_squat()
    a = joint_angles(canonicalize(joints)).values
    b = joint_angles(canonicalize(mirror(joints))).values
    for i, key in enumerate(ANGLE_KEYS):
        if key.startswith(("left_", "right_")):
            other = key.replace("left_", "@").replace("right_", "left_").replace("@", "right_")
            np.testing.assert_allclose(b[:, ANGLE_KEYS.index(other)], a[:, i], atol=1e-6)


def test_bone_lengths_and_neutral_pitches_match_the_target_skeleton(fixtures):
    skel = np.load(fixtures / "humanml3d_extra" / "skeleton_000021_frame0_raw52.npy", allow_pickle=False)[:22]
    lengths = np.array([0.0] + [np.linalg.norm(skel[i] - skel[PARENTS[i]]) for i in range(1, 22)])
    symmetric = (lengths + lengths[list(MIRROR_PERMUTATION)]) / 2
    np.testing.assert_allclose(BONE_LENGTHS, symmetric, atol=1e-4)
    # with the constants in place, the target skeleton stands at ~0 for the calibrated pitches
    values = dict(zip(ANGLE_KEYS, joint_angles(canonicalize(np.stack([skel, skel]))).values[0]))
    assert abs(values["pelvis_tilt"]) < 0.1
    assert abs(values["neck_flexion"]) < 0.1
    assert abs(values["left_ankle_dorsiflexion"] + values["right_ankle_dorsiflexion"]) / 2 < 0.1
    assert np.degrees([PELVIS_NEUTRAL_TILT, FOOT_NEUTRAL_PITCH, NECK_NEUTRAL_PITCH]).round(1).tolist() == [
        -22.2,
        -13.3,
        43.5,
    ]


def _rendered_degrees(text: str) -> list[int]:
    return [int(v) for v in re.findall(r"(-?\d+)°", text.split("Joint Angles:\n", 1)[-1])]


def _shoulder(angles: dict, seconds: float = 4.0) -> smd.MotionAnalysis:
    t = times(seconds, 20.0)
    angles = {k: v(t) if callable(v) else np.full_like(t, v) for k, v in angles.items()}
    return smd.analyze(
        smd.forward_kinematics({"left_elbow_flexion": np.full_like(t, 40.0), **angles}, standing_root(t.size))
    )


def _globe(a: smd.MotionAnalysis, side: str = "left") -> tuple[np.ndarray, np.ndarray]:
    return tuple(a.angles[:, ANGLE_KEYS.index(f"{side}_shoulder_{k}")] for k in ("plane", "elevation"))


def _block(text: str, name: str) -> str:
    return text.split(f"{name} (")[1].split("\n", 1)[1].split(":\n")[0]


def test_arm_raised_overhead_and_lowered_reads_as_a_raise_and_a_lowering():
    a = _shoulder({"left_shoulder_flexion": lambda t: piecewise(t, [(0, 0), (1.5, 175), (2.5, 175), (4, 0)])})
    plane, elevation = _globe(a)
    assert elevation.max() == pytest.approx(175, abs=2) and np.abs(np.diff(elevation)).max() < 20
    assert np.abs(plane - 90).max() < 2  # forward, throughout
    text = smd.render(a)
    assert "through" not in text.replace("throughout", "")
    # an eased raise is told in a few pieces, each a line the curve stays close to
    kinds = [line.split(" ")[0] for line in _block(text, "Left Shoulder Elevation").splitlines()[:-1]]
    assert kinds == ["increases:"] * 3 + ["holds"] + ["decreases:"] * 3, kinds
    assert max(_rendered_degrees(_block(text, "Left Shoulder Elevation") + "\n")[:-1] or [0]) >= 173


def test_arm_swept_horizontally_past_the_side_reads_as_a_turn_of_its_plane():
    """Arm forward at shoulder height, swept sideways and 40 degrees behind the side."""
    a = _shoulder(
        {
            "left_shoulder_flexion": 90.0,
            "left_shoulder_adduction": lambda t: piecewise(t, [(0, 0), (0.5, 0), (3.5, -130), (4, -130)]),
        }
    )
    plane, elevation = _globe(a)
    assert np.abs(elevation - 90).max() < 2
    assert plane[0] == pytest.approx(90, abs=2) and plane[-1] == pytest.approx(-40, abs=2)
    assert np.abs(np.diff(plane)).max() < 10
    assert all(-180 <= v <= 180 for v in _rendered_degrees(smd.render(a)))


def test_arm_circles_read_as_one_continuous_sweep_never_a_wrap():
    """Arm circles: up in front, over the top and down behind (300 degrees along the forward line)."""
    a = _shoulder({"left_shoulder_flexion": lambda t: piecewise(t, [(0, 0), (0.5, 0), (3.5, 300), (4, 300)])})
    plane, elevation = _globe(a)
    assert np.ptp(elevation) == pytest.approx(300, abs=3) and np.abs(np.diff(elevation)).max() < 20
    text = smd.render(a)
    assert "through" not in text.replace("throughout", "")
    lines = _block(text, "Left Shoulder Elevation").splitlines()[:-1]
    assert [line.split(" ")[0] for line in lines[1:-1]] == ["increases:"] * (len(lines) - 2), lines
    assert lines[-1].startswith("holds at 300°"), lines


def test_a_walk_s_arm_swing_reads_as_a_swing_forward_and_back():
    from tests.builders import walk

    text = smd.describe(walk())
    assert _block(text, "Left Shoulder Elevation Plane").startswith("holds at 90°")
    swing = _block(text, "Left Shoulder Elevation")
    assert re.search(r"repeats \d+ cycles between -1[78]° and 1[78]°", swing), swing
