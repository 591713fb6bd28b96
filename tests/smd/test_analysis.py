"""`analyze`: the top-k activity measure and the plausibility warnings."""

import numpy as np
import pytest

import smd
from smd.angles import ANGLE_KEYS
from smd.render import selected_angles
from tests.builders import piecewise, standing_root, times, to_z_up, turn_and_squat, walk


def _top(joints, k=3, **kw):
    a = smd.analyze(joints, **kw)
    return {ANGLE_KEYS[i] for i in selected_angles(a, smd.Variant(top_k=k))}


def _turning_walk() -> np.ndarray:
    """The builders' walk along a path that turns 270 degrees left: the turn is the Heading's."""
    joints = walk(duration=6.0)
    t = times(6.0, 20.0)
    yaw = np.radians(45.0 * t)  # 270 degrees in 6 s
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    x, z = joints[..., 0], joints[..., 2]
    out = joints.copy()
    out[..., 0], out[..., 2] = c * x + s * z, -s * x + c * z
    return out


def test_a_walk_ranks_hip_and_knee_flexion_first_even_while_turning():
    for joints in (walk(), _turning_walk()):
        top = _top(joints)
        assert top <= {f"{s}_{j}" for s in ("left", "right") for j in ("hip_flexion", "knee_flexion")}, top
        a = smd.analyze(joints)
        assert np.abs(a.angles[:, ANGLE_KEYS.index("pelvis_rotation")]).max() < 5  # the turn is the Heading's


def test_a_wave_ranks_the_waving_arm():
    t = times(4.0, 20.0)
    angles = {
        "right_shoulder_flexion": piecewise(t, [(0, 0), (0.5, 150), (4, 150)]),
        "right_shoulder_adduction": np.full_like(t, -20.0),
        "right_elbow_flexion": 60 + 30 * np.sin(2 * np.pi * 1.5 * t),
        "right_shoulder_rotation": 15 * np.sin(2 * np.pi * 1.5 * t),
        "left_hip_flexion": 2 * np.sin(2 * np.pi * 0.3 * t),  # a little sway elsewhere
    }
    top = _top(smd.forward_kinematics(angles, standing_root(t.size)))
    assert top <= {
        "right_shoulder_plane",
        "right_shoulder_elevation",
        "right_elbow_flexion",
        "right_shoulder_rotation",
    }
    assert top & {"right_shoulder_elevation", "right_elbow_flexion"}


def test_a_squat_ranks_knees_and_hips():
    t = times(6.0, 20.0)
    knee = piecewise(t, [(0, 0), (1, 0), (2, 100), (3, 0), (4, 100), (5, 0), (6, 0)])
    angles = {f"{s}_knee_flexion": knee for s in ("left", "right")}
    angles |= {f"{s}_hip_flexion": 0.9 * knee for s in ("left", "right")}
    angles |= {f"{s}_ankle_dorsiflexion": 0.3 * knee for s in ("left", "right")}
    angles |= {
        "lumbar_extension": -0.2 * knee,
        "left_shoulder_flexion": 0.3 * knee,
        "right_shoulder_flexion": 0.3 * knee,
    }
    drop = 0.45 * (1 - np.cos(np.radians(knee)))
    root = np.stack([np.zeros_like(t), 0.92 - 0.5 * drop, np.zeros_like(t)], axis=1)
    top = _top(smd.forward_kinematics(angles, root), k=4)
    assert top == {f"{s}_{j}" for s in ("left", "right") for j in ("hip_flexion", "knee_flexion")}, top


def test_a_turn_of_the_whole_body_does_not_count():
    """turn_and_squat turns 90 degrees: that is the Heading's, not the pelvis's own movement."""
    a = smd.analyze(turn_and_squat())
    assert "pelvis_rotation" not in _top(turn_and_squat(), k=10)
    assert np.abs(a.angles[:, ANGLE_KEYS.index("pelvis_rotation")]).max() < 5
    block = smd.render(a).split("Pelvis Rotation")[1].split("\n[Lumbar]")[0].splitlines()[1:]
    assert block and all(line.startswith("holds at ") for line in block), block


def test_axial_rotation_of_a_nearly_straight_arm_counts_little():
    """Noise on the shoulder rotation of an almost straight arm (its elbow bent 25 degrees: barely
    defined) does not outrank a real 40-degree elbow movement of the other arm."""
    t = times(4.0, 20.0)
    rng = np.random.default_rng(0)
    angles = {
        "left_elbow_flexion": np.full_like(t, 22.0),
        "left_shoulder_rotation": np.cumsum(rng.normal(0, 6, t.size)),
        "right_elbow_flexion": piecewise(t, [(0, 30), (1, 30), (2, 70), (3, 30), (4, 30)]),
    }
    a = smd.analyze(smd.forward_kinematics(angles, standing_root(t.size)))
    i, j = ANGLE_KEYS.index("left_shoulder_rotation"), ANGLE_KEYS.index("right_elbow_flexion")
    assert a.activity[j] > a.activity[i]


def test_plausible_input_has_no_warnings():
    assert smd.analyze(walk()).warnings == ()


@pytest.mark.parametrize(
    ("transform", "words"),
    [
        (lambda j: j * 1000.0, "millimetres"),
        (lambda j: j * 0.1, "not metres"),
        (lambda j: to_z_up(j), "wrong up axis? (try --up-axis z"),
    ],
)
def test_implausible_input_warns(transform, words):
    a = smd.analyze(transform(walk()))
    assert any(words in w for w in a.warnings), a.warnings


def test_a_z_up_file_read_as_y_up_warns_and_read_right_does_not():
    joints = to_z_up(walk())
    assert smd.analyze(joints, up_axis="z").warnings == ()
    assert any("up axis" in w for w in smd.analyze(joints).warnings)


def test_a_clip_shorter_than_the_smoothing_window_warns():
    a = smd.analyze(walk()[:4])  # 0.2 s at 20 fps
    assert any("smoothing window" in w for w in a.warnings)


@pytest.mark.parametrize(("dim", "name"), [(263, "HumanML3D"), (251, "KIT-ML")])
def test_a_feature_file_is_named_as_such(dim, name):
    with pytest.raises(ValueError, match=rf"{name} feature file .*new_joints/"):
        smd.analyze(np.zeros((40, dim), dtype=np.float32))


def test_a_y_up_file_read_as_z_up_warns_of_the_axis_and_not_of_the_units():
    (warning,) = smd.analyze(walk(), up_axis="z").warnings
    assert "stands along y, not z" in warning and "try --up-axis y" in warning and "metres" not in warning
