"""Forward kinematics on the HumanML3D skeleton: the 26 SMD angles + a root path -> joints.

It is the exact inverse of `smd.angles` (same frames, same decomposition orders, same signs),
which makes it the oracle for tests and the engine of the synthetic demo data. A shoulder may also
be posed by flexion and adduction (SHOULDER_POSE_KEYS: the flexion-first Euler sequence the hips
use, with `*_shoulder_rotation` its third angle), which is how the demo's actions are authored;
the SMD then measures it in the globe chart. Bone directions
are T2M's raw offsets, except where T2M's direction is a placeholder rather than a rest pose:
the collar->shoulder bones point sideways (T2M: down, which would hang the arms inside the chest),
and the head and toe bones take the neutral pitches of the target skeleton.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .angles import ANGLE_KEYS, FOOT_NEUTRAL_PITCH, NECK_NEUTRAL_PITCH, PELVIS_NEUTRAL_TILT
from .rotation import rot_x, rot_y, rot_z
from .skeleton import BONE_LENGTHS, N_JOINTS, J

_EX, _EY, _EZ = np.eye(3)
_MIRROR = np.diag([-1.0, 1.0, 1.0])


def _apply(rot: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("tij,j->ti", rot, v)


# Posing keys beside ANGLE_KEYS: a shoulder by flexion-first Euler angles, as a hip. POSE_KEYS are
# ANGLE_KEYS with each shoulder's plane and elevation in their place: 26 coordinates that pose a body.
SHOULDER_POSE_KEYS = tuple(
    f"{side}_shoulder_{k}" for side in ("left", "right") for k in ("flexion", "adduction")
)
POSE_KEYS = tuple(
    key.replace("shoulder_plane", "shoulder_flexion").replace("shoulder_elevation", "shoulder_adduction")
    for key in ANGLE_KEYS
)


def _mirrored(r: np.ndarray, side: str) -> np.ndarray:
    return _MIRROR @ r @ _MIRROR if side == "right" else r


def _limb_rotation(flex, add, rot, side: str) -> np.ndarray:
    """Local rotation of a hip (or a posed shoulder) from Euler angles (radians); right = mirrored left."""
    return _mirrored(rot_x(-flex) @ rot_z(-add) @ rot_y(-rot), side)


def _globe_rotation(plane, elevation, rot, side: str) -> np.ndarray:
    """Local rotation of a shoulder from its globe angles (radians): twisted about the upper arm by
    -rot at the hanging pose, then swung by `elevation` toward `plane` (0 sideways, 90 forward)."""
    swing = rot_y(-plane) @ rot_z(elevation) @ rot_y(plane)
    return _mirrored(swing @ rot_y(-rot), side)


def forward_kinematics(
    angles: Mapping[str, np.ndarray],
    root: np.ndarray,
    *,
    scale: float = 1.0,
    bone_lengths: np.ndarray | None = None,
) -> np.ndarray:
    """Joint positions (T, 22, 3), Y-up, +Z forward, from angle curves in degrees.

    Args:
        angles: SMD angle key (or SHOULDER_POSE_KEYS) -> (T,) degrees; missing angles are 0
            (the neutral standing pose).
        root: (T, 3) pelvis positions in metres.
        scale: body size factor applied to every bone length.
        bone_lengths: (22,) joint->parent lengths; defaults to the HumanML3D target skeleton.
    """
    unknown = set(angles) - set(ANGLE_KEYS) - set(SHOULDER_POSE_KEYS)
    if unknown:
        raise ValueError(f"unknown angle names: {sorted(unknown)}")
    for side in ("left", "right"):
        posed = {f"{side}_shoulder_flexion", f"{side}_shoulder_adduction"} & set(angles)
        globe = {f"{side}_shoulder_plane", f"{side}_shoulder_elevation"} & set(angles)
        if posed and globe:
            raise ValueError(f"the {side} shoulder is given both as {sorted(posed)} and as {sorted(globe)}")
    root = np.asarray(root, dtype=np.float64)
    if root.ndim != 2 or root.shape[1] != 3:
        raise ValueError(f"root must have shape (T, 3), got {root.shape}")
    n = root.shape[0]
    lengths = (BONE_LENGTHS if bone_lengths is None else np.asarray(bone_lengths, dtype=np.float64)) * scale

    def ang(key: str) -> np.ndarray:
        v = np.radians(np.asarray(angles.get(key, 0.0), dtype=np.float64))
        return np.broadcast_to(v, (n,)).copy()

    p = np.zeros((n, N_JOINTS, 3))
    p[:, J["pelvis"]] = root
    pelvis = rot_y(ang("pelvis_rotation")) @ rot_x(ang("pelvis_tilt")) @ rot_z(-ang("pelvis_list"))
    # SMPL's pelvis->spine1 line leans back when the (anatomical) pelvis is upright
    bones = pelvis @ rot_x(PELVIS_NEUTRAL_TILT)
    p[:, J["left_hip"]] = root + _apply(bones, lengths[J["left_hip"]] * _EX)
    p[:, J["right_hip"]] = root - _apply(bones, lengths[J["right_hip"]] * _EX)
    p[:, J["spine1"]] = root + _apply(bones, lengths[J["spine1"]] * _EY)

    thorax = (
        pelvis
        @ rot_x(-ang("lumbar_extension"))
        @ rot_z(-ang("lumbar_bending"))
        @ rot_y(ang("lumbar_rotation"))
    )
    for child, parent in (("spine2", "spine1"), ("spine3", "spine2"), ("neck", "spine3")):
        p[:, J[child]] = p[:, J[parent]] + _apply(thorax, lengths[J[child]] * _EY)
    p[:, J["left_collar"]] = p[:, J["spine3"]] + _apply(thorax, lengths[J["left_collar"]] * _EX)
    p[:, J["right_collar"]] = p[:, J["spine3"]] - _apply(thorax, lengths[J["right_collar"]] * _EX)
    head = thorax @ rot_x(NECK_NEUTRAL_PITCH + ang("neck_flexion")) @ rot_z(-ang("neck_lateral_bending"))
    p[:, J["head"]] = p[:, J["neck"]] + _apply(head, lengths[J["head"]] * _EY)

    for side, sign in (("left", 1.0), ("right", -1.0)):
        s = side
        p[:, J[f"{s}_shoulder"]] = p[:, J[f"{s}_collar"]] + _apply(
            thorax, sign * lengths[J[f"{s}_shoulder"]] * _EX
        )
        if f"{s}_shoulder_flexion" in angles or f"{s}_shoulder_adduction" in angles:
            shoulder = _limb_rotation(
                ang(f"{s}_shoulder_flexion"), ang(f"{s}_shoulder_adduction"), ang(f"{s}_shoulder_rotation"), s
            )
        else:
            shoulder = _globe_rotation(
                ang(f"{s}_shoulder_plane"), ang(f"{s}_shoulder_elevation"), ang(f"{s}_shoulder_rotation"), s
            )
        upper = thorax @ shoulder
        p[:, J[f"{s}_elbow"]] = p[:, J[f"{s}_shoulder"]] + _apply(upper, -lengths[J[f"{s}_elbow"]] * _EY)
        fore = upper @ rot_x(-ang(f"{s}_elbow_flexion"))
        p[:, J[f"{s}_wrist"]] = p[:, J[f"{s}_elbow"]] + _apply(fore, -lengths[J[f"{s}_wrist"]] * _EY)

        thigh = pelvis @ _limb_rotation(
            ang(f"{s}_hip_flexion"), ang(f"{s}_hip_adduction"), ang(f"{s}_hip_rotation"), s
        )
        p[:, J[f"{s}_knee"]] = p[:, J[f"{s}_hip"]] + _apply(thigh, -lengths[J[f"{s}_knee"]] * _EY)
        shank = thigh @ rot_x(ang(f"{s}_knee_flexion"))
        p[:, J[f"{s}_ankle"]] = p[:, J[f"{s}_knee"]] + _apply(shank, -lengths[J[f"{s}_ankle"]] * _EY)
        foot = shank @ rot_x(-(FOOT_NEUTRAL_PITCH + ang(f"{s}_ankle_dorsiflexion")))
        p[:, J[f"{s}_foot"]] = p[:, J[f"{s}_ankle"]] + _apply(foot, lengths[J[f"{s}_foot"]] * _EZ)
    return p
