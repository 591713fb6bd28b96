"""HumanML3D 263-d features from joints: agreement with the official features, invariances, contacts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

import smd
from harness.data import FEATURE_DIM, FEATURE_GROUPS, features_to_joints, joints_to_features
from harness.data.motion_features import _gaussian_smooth, _qbetween, _qrot
from smd.skeleton import KINEMATIC_CHAINS, PARENTS
from tests.builders import arm_raise, standing_root, times, turn_and_squat, walk

EXTRA = "humanml3d_extra"


def _yaw_matrix(degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    return np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])


def _bone_lengths(joints: np.ndarray) -> np.ndarray:
    return np.linalg.norm(joints[..., 1:, :] - joints[..., list(PARENTS[1:]), :], axis=-1)


# ------------------------------------------------------------------------------------------ real data


@pytest.fixture
def clip_004822(fixtures):
    data = np.load(fixtures / EXTRA / "004822_raw_joints_and_features.npz")
    target = np.load(fixtures / EXTRA / "skeleton_000021_frame0_raw52.npy")
    return data["joints"], data["hml263"], target


def test_official_features_of_a_raw_clip_are_reproduced(clip_004822):
    joints, official, target = clip_004822
    ours = joints_to_features(joints, target, dtype=np.float64)
    assert ours.shape == official.shape == (199, FEATURE_DIM)
    errors = {name: np.abs(ours[:, s] - official[:, s]).max() for name, s in FEATURE_GROUPS.items()}
    # HumanML3D computes in float32; measured residuals are <= 5e-6 (rot), <= 1.3e-6 elsewhere
    assert max(errors.values()) <= 1e-5, errors
    assert errors["contacts"] == 0.0
    # the default output dtype is HumanML3D's float32
    assert joints_to_features(joints, target).dtype == np.float32


def test_first_frame_uses_identity_root_rotation(clip_004822):
    """HumanML3D's IK sets root_quat[0] to identity; the smoothed heading would be 2.57 deg off here."""
    joints, official, target = clip_004822
    ours = joints_to_features(joints, target, dtype=np.float64)
    assert abs(ours[0, 0] - official[0, 0]) < 1e-6
    assert abs(official[0, 0] - official[1, 0]) > 0.02  # frame 0 stands out in the official data


def test_target_skeleton_may_have_52_joints(clip_004822, fixtures):
    joints, _, target = clip_004822
    assert target.shape == (52, 3)
    np.testing.assert_array_equal(joints_to_features(joints, target), joints_to_features(joints, target[:22]))


@pytest.mark.parametrize(
    "features, joints",
    [
        (f"{EXTRA}/000612_new_joint_vecs.npy", f"{EXTRA}/000612_new_joints.npy"),
        ("humanml3d/new_joint_vecs/012314.npy", "humanml3d/new_joints/012314.npy"),
    ],
)
def test_features_to_joints_matches_recover_from_ric(fixtures, features, joints):
    vecs = np.load(fixtures / features)
    expected = np.load(fixtures / joints)
    recovered = features_to_joints(vecs)
    assert recovered.shape == expected.shape and recovered.dtype == np.float32
    np.testing.assert_allclose(recovered, expected, atol=1e-6, rtol=0)


def test_round_trip_of_the_raw_clip(clip_004822):
    joints, official, target = clip_004822
    ours = features_to_joints(joints_to_features(joints, target, dtype=np.float64), dtype=np.float64)
    np.testing.assert_allclose(ours, features_to_joints(official, dtype=np.float64), atol=1e-5, rtol=0)
    # retargeted onto the target skeleton
    np.testing.assert_allclose(
        _bone_lengths(ours), np.broadcast_to(_bone_lengths(target[:22]), ours.shape[:1] + (21,)), atol=1e-9
    )


# ------------------------------------------------------------------------------------------ synthetic


def _moved(joints: np.ndarray, yaw: float, shift=(1.3, 0.0, -2.1), scale: float = 1.0) -> np.ndarray:
    return scale * joints @ _yaw_matrix(yaw).T + np.asarray(shift)


@pytest.mark.parametrize("make", [walk, turn_and_squat])
def test_shape_and_finiteness(make):
    joints = make()
    feats = joints_to_features(joints, joints[0])
    assert feats.shape == (len(joints) - 1, FEATURE_DIM)
    assert feats.dtype == np.float32 and np.isfinite(feats).all()
    assert set(np.unique(feats[:, FEATURE_GROUPS["contacts"]])) <= {0.0, 1.0}


@pytest.mark.parametrize("yaw", [37.0, -120.0, 180.0])
@pytest.mark.parametrize("make", [walk, turn_and_squat])
def test_invariant_to_heading_floor_position_and_body_size(make, yaw):
    joints = make()
    target = walk()[0]
    ref = joints_to_features(joints, target, dtype=np.float64)
    for scale in (1.0, 1.15):
        moved = joints_to_features(_moved(joints, yaw, scale=scale), target, dtype=np.float64)
        np.testing.assert_allclose(moved, ref, atol=1e-9, rtol=0)
    # a vertical offset is removed by putting the motion on the floor
    lifted = joints_to_features(joints + [0.0, 0.4, 0.0], target, dtype=np.float64)
    np.testing.assert_allclose(lifted, ref, atol=1e-9, rtol=0)


def test_contacts_one_when_feet_are_still():
    joints = arm_raise()
    contacts = joints_to_features(joints, joints[0])[:, FEATURE_GROUPS["contacts"]]
    assert (contacts == 1).all()


def test_contacts_zero_for_the_moving_foot_only():
    t = times(3.0, 20.0)
    swing = 40 * (1 - np.cos(2 * np.pi * t))  # left leg kicks forward and back, once a second
    joints = smd.forward_kinematics({"left_hip_flexion": swing}, standing_root(t.size))
    contacts = joints_to_features(joints, joints[0])[:, FEATURE_GROUPS["contacts"]]
    left, right = contacts[:, :2], contacts[:, 2:]
    assert (right == 1).all()
    assert (left == 0).mean() > 0.5  # the left ankle and foot are moving most of the time
    assert (left[0] == 1).all()  # but not at the start of the swing


def test_features_to_joints_recovers_the_canonical_motion():
    """With the motion's own skeleton as target, recovery gives the input on the floor, facing +Z."""
    joints = walk()  # starts facing +Z, root above the origin, symmetric first pose
    feats = joints_to_features(_moved(joints, 75.0), joints[0], dtype=np.float64)
    recovered = features_to_joints(feats, dtype=np.float64)
    expected = joints[:-1] - [0.0, joints[..., 1].min(), 0.0]
    np.testing.assert_allclose(recovered, expected, atol=1e-9, rtol=0)


def test_first_frame_faces_plus_z_on_the_floor():
    joints = walk()
    feats = joints_to_features(_moved(joints, -30.0), joints[0], dtype=np.float64)
    ric0 = feats[0, FEATURE_GROUPS["ric"]].reshape(21, 3)
    floor = joints[..., 1].min()
    # ric: x, z relative to the root, y above the floor; frame 0 faces +Z, so the hips lie along X
    np.testing.assert_allclose(ric0[:, 1], joints[0, 1:, 1] - floor, atol=1e-9)
    np.testing.assert_allclose(ric0[:2, 2], 0.0, atol=1e-9)
    assert ric0[0, 0] > 0 > ric0[1, 0]  # left hip at +X
    assert feats[0, 3] == pytest.approx(joints[0, 0, 1] - floor)  # root height


def test_turning_through_180_degrees_keeps_humanml3d_sign_glitch():
    """qbetween gives w >= 0: where the heading crosses 180 deg, that frame's rotation velocity is negated."""
    t = times(6.0, 20.0)
    joints = smd.forward_kinematics({"pelvis_rotation": 60 * t}, standing_root(t.size))  # one full turn
    r_vel = joints_to_features(joints, joints[0], dtype=np.float64)[:, 0]
    inner = r_vel[1:]  # frame 0 carries the jump from the identity root rotation
    flipped = np.flatnonzero(np.sign(inner) != np.sign(np.median(inner)))
    assert flipped.size == 1
    assert abs(inner[flipped[0]] + inner[flipped[0] - 1]) < 1e-3  # same magnitude, opposite sign


def test_arm_straight_up_gives_finite_rotations():
    """A bone opposite its T2M raw offset (arm raised to 180 deg) is 0/0 in HumanML3D's qbetween."""
    t = times(2.0, 20.0)
    flex = np.linspace(150.0, 180.0, t.size)
    joints = smd.forward_kinematics(
        {"left_shoulder_flexion": flex, "right_shoulder_flexion": flex}, standing_root(t.size)
    )
    feats = joints_to_features(joints, joints[0])
    assert np.isfinite(feats).all()


def test_qbetween_rotates_u_onto_v_even_when_opposite():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(50, 3))
    v = rng.normal(size=(50, 3))
    v[:5] = -u[:5] * 2.0  # antiparallel
    q = _qbetween(u, v)
    assert np.isfinite(q).all()
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(_qrot(q, unit(u)), unit(v), atol=1e-9)


@pytest.mark.parametrize("n", [1, 5, 60, 300])
def test_gaussian_smoothing_matches_scipy(n):
    x = np.random.default_rng(n).normal(size=(n, 3))
    np.testing.assert_allclose(
        _gaussian_smooth(x, 20.0), gaussian_filter1d(x, 20, axis=0, mode="nearest"), atol=1e-12
    )


def test_chains_cover_every_joint_once():
    children = [j for chain in KINEMATIC_CHAINS for j in chain[1:]]
    assert sorted(children) == list(range(1, 22))


# ------------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "joints, message",
    [
        (np.zeros((10, 21, 3)), "shape"),
        (np.zeros((10, 22)), "shape"),
        (np.zeros((1, 22, 3)), "at least 2 frames"),
        (np.array([["a"] * 3] * 22 * 2).reshape(2, 22, 3), "real numbers"),
    ],
)
def test_bad_joints_are_rejected(joints, message):
    with pytest.raises(ValueError, match=message):
        joints_to_features(joints, walk()[0])


def test_non_finite_and_degenerate_joints_are_rejected():
    joints = walk()
    bad = joints.copy()
    bad[3, 7, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite.*frame 3, joint 7"):
        joints_to_features(bad, joints[0])
    collapsed = joints.copy()
    collapsed[5, 4] = collapsed[5, 1]  # left knee on the left hip
    with pytest.raises(ValueError, match="joint 4 coincides"):
        joints_to_features(collapsed, joints[0])
    with pytest.raises(ValueError, match="target_skeleton"):
        joints_to_features(joints, joints[0, :10])
    # the symmetric first pose tipped onto its side: left-right axis vertical, no heading
    roll = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    for frame in (0, 2):
        lying = joints.copy()
        lying[frame] = (joints[0] - joints[0, 0]) @ roll.T + joints[0, 0]
        with pytest.raises(ValueError, match=f"facing direction undefined at frame {frame}"):
            joints_to_features(lying, joints[0])
    with pytest.raises(ValueError, match="feet_threshold"):
        joints_to_features(joints, joints[0], feet_threshold=0.0)


def test_bad_features_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        features_to_joints(np.zeros((5, 262)))
    feats = np.zeros((5, 263))
    feats[2, 10] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        features_to_joints(feats)
