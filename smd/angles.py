"""The 26 joint angles of the SMD, computed from canonical joint positions.

Angles follow OpenSim's coordinates in a pelvis-centred body frame built from the hips and the
spine, with joint-local frames in the spirit of ISB: straight limbs are 0 degrees, and every
3-DoF joint is decomposed as flexion (about the lateral axis), then ad/abduction (about the
forward axis), then axial rotation (about the limb). Right-side angles are computed on the
mirrored left-side construction, so mirroring a motion swaps left and right values exactly.

Axial rotations need a second direction on the distal segment (the bent elbow or knee, or the
foot); where that direction is missing, or where a decomposition is near gimbal lock, the value is
interpolated from the well-defined frames around it. An angle with no well-defined frame at all is
marked undetermined and rendered as such, never as a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rotation import (
    cross,
    euler_xzy,
    euler_yxz,
    frame_x_first,
    frame_y_first,
    normalize,
    relative,
    rot_x,
    to_local,
)
from .skeleton import J


@dataclass(frozen=True)
class AngleSpec:
    key: str
    name: str
    gloss: str
    group: str


def _side(side: str) -> list[AngleSpec]:
    s = side.capitalize()
    return [
        AngleSpec(f"{side}_hip_flexion", f"{s} Hip Flexion", "raising the thigh forward", f"{s} Hip"),
        AngleSpec(
            f"{side}_hip_adduction", f"{s} Hip Adduction", "moving the thigh toward the midline", f"{s} Hip"
        ),
        AngleSpec(f"{side}_hip_rotation", f"{s} Hip Rotation", "turning the thigh inward", f"{s} Hip"),
        AngleSpec(f"{side}_knee_flexion", f"{s} Knee Flexion", "bending the knee", f"{s} Knee"),
        AngleSpec(f"{side}_ankle_dorsiflexion", f"{s} Ankle Dorsiflexion", "raising the toes", f"{s} Ankle"),
    ]


def _arm(side: str) -> list[AngleSpec]:
    s = side.capitalize()
    return [
        AngleSpec(
            f"{side}_shoulder_flexion", f"{s} Shoulder Flexion", "raising arm forward", f"{s} Shoulder"
        ),
        AngleSpec(
            f"{side}_shoulder_adduction",
            f"{s} Shoulder Adduction",
            "moving arm toward the body",
            f"{s} Shoulder",
        ),
        AngleSpec(
            f"{side}_shoulder_rotation",
            f"{s} Shoulder Rotation",
            "turning the upper arm inward",
            f"{s} Shoulder",
        ),
        AngleSpec(f"{side}_elbow_flexion", f"{s} Elbow Flexion", "bending the elbow", f"{s} Elbow"),
    ]


ANGLES: tuple[AngleSpec, ...] = tuple(
    [
        AngleSpec("pelvis_tilt", "Pelvis Tilt", "tipping the pelvis forward", "Pelvis"),
        AngleSpec("pelvis_list", "Pelvis List", "tilting the pelvis to the left", "Pelvis"),
        AngleSpec("pelvis_rotation", "Pelvis Rotation", "turning the pelvis to the left", "Pelvis"),
        AngleSpec("lumbar_extension", "Lumbar Extension", "bending the trunk backward", "Lumbar"),
        AngleSpec("lumbar_bending", "Lumbar Bending", "bending the trunk to the left", "Lumbar"),
        AngleSpec("lumbar_rotation", "Lumbar Rotation", "twisting the trunk to the left", "Lumbar"),
        AngleSpec("neck_flexion", "Neck Flexion", "tilting the head forward", "Neck"),
        AngleSpec("neck_lateral_bending", "Neck Lateral Bending", "tilting the head to the left", "Neck"),
        *_side("left"),
        *_side("right"),
        *_arm("left"),
        *_arm("right"),
    ]
)
ANGLE_KEYS: tuple[str, ...] = tuple(a.key for a in ANGLES)
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(a.group for a in ANGLES))

# Neutral (0 degree) pitches where SMPL's joint placement is not a straight line when standing:
# the pelvis->spine1 line leans back, the ankle->toe line points down-forward and the neck->head
# line leans forward. Measured on HumanML3D's target skeleton (a test checks them), in radians.
PELVIS_NEUTRAL_TILT = float(np.radians(-22.2))
FOOT_NEUTRAL_PITCH = float(np.radians(-13.3))
NECK_NEUTRAL_PITCH = float(np.radians(43.5))

# Below these, a direction is too short / a decomposition too close to gimbal lock to trust.
_MIN_HINGE = np.sin(np.radians(20.0))  # ~ elbow or knee bent by 20 degrees
_MIN_COS_MIDDLE = np.cos(np.radians(75.0))
_POLE_JUMP = np.radians(135.0)
_ANCHOR_A, _ANCHOR_B = np.radians(100.0), np.radians(45.0)

_MIRROR = np.array([-1.0, 1.0, 1.0])


@dataclass(frozen=True)
class JointAngles:
    """Angle curves in degrees, (T, 26) in ANGLES order, and which angles are determined at all."""

    values: np.ndarray
    determined: np.ndarray


def _wrap(x: np.ndarray) -> np.ndarray:
    return (x + np.pi) % (2 * np.pi) - np.pi


def _wrapped_distance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.abs((x - y + np.pi) % (2 * np.pi) - np.pi)


def _continuous_branch(a, b, c):
    """Pick, per frame, between the two Euler solutions (a, b, c) and (a+pi, +-pi-b, c+pi).

    Passing over the gimbal pole (|b| = 90, e.g. an arm raised sideways above the horizontal)
    makes the canonical solution's `a` jump by ~180 degrees between two frames; each such jump
    toggles to the other solution, so a jumping jack reads as abduction to 150 degrees instead of
    a flexion flip. Frames where the canonical solution is unambiguous (limb near the sagittal
    plane and below the horizontal) anchor the choice, so noise at the pole cannot leave a limb
    stuck in the odd solution.
    """
    n = a.shape[0]
    jumps = _wrapped_distance(a[1:], a[:-1]) > _POLE_JUMP
    parity = np.concatenate([[0], np.cumsum(jumps)])
    anchor = (np.abs(b) < _ANCHOR_B) & (np.abs(a) < _ANCHOR_A)
    if not anchor.any():
        anchor = np.abs(np.cos(b)) >= 0.5
    if anchor.any():
        first = int(np.argmax(anchor))
        last = np.maximum.accumulate(np.where(anchor, np.arange(n), -1))
        base = parity[np.where(last < 0, first, last)]
    else:
        base = np.zeros(n, dtype=parity.dtype)
    flip = (parity - base) % 2 == 1
    a = np.where(flip, a + np.pi, a)
    b = np.where(flip, np.where(b >= 0, np.pi - b, -np.pi - b), b)
    c = np.where(flip, c + np.pi, c)
    return a, b, c


def _unwrap(x: np.ndarray) -> np.ndarray:
    """np.unwrap (period 2 pi) in three array operations; it runs ~60 times per motion."""
    turns = np.round(np.diff(x) / (2 * np.pi))
    return x - 2 * np.pi * np.concatenate([[0.0], np.cumsum(turns)])


def _fill(x: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, bool]:
    """Unwrap `x` over its reliable frames and interpolate the rest; (values, determined)."""
    if ok.all():
        return _unwrap(x), True
    if not ok.any():
        return np.zeros_like(x), False
    t = np.arange(x.size)
    return np.interp(t, t[ok], _unwrap(x[ok])), True


def _centre(x: np.ndarray) -> np.ndarray:
    """Shift an unwrapped curve by whole turns so its first value lies in [-180, 180)."""
    return x - 2 * np.pi * np.round(x[0] / (2 * np.pi) - 1e-12)


def _three_dof(r, hinge_strength, decompose, *, branch: bool):
    a, b, c = decompose(r)
    middle_ok = np.abs(np.cos(b)) >= _MIN_COS_MIDDLE
    if branch:
        a, b, c = _continuous_branch(a, b, c)
    a, a_det = _fill(a, middle_ok)
    c_ok = middle_ok if hinge_strength is None else middle_ok & (hinge_strength >= _MIN_HINGE)
    c, c_det = _fill(c, c_ok)
    return (_centre(a), _unwrap(b), _centre(c)), (a_det or True, True, c_det)


def _leg(pelvis_frame, joints, side: str):
    hip, knee, ankle, foot = (joints[:, J[f"{side}_{n}"]] for n in ("hip", "knee", "ankle", "foot"))
    mirror = _MIRROR if side == "right" else 1.0
    thigh = to_local(pelvis_frame, knee - hip) * mirror
    shank = to_local(pelvis_frame, ankle - knee) * mirror
    toe = to_local(pelvis_frame, foot - ankle) * mirror
    t_hat, s_hat, f_hat = normalize(thigh)[0], normalize(shank)[0], normalize(toe)[0]
    # The knee's hinge axis seen from the bent knee and from the foot: together they stay
    # well-defined whether the knee is bent or straight.
    hinge = cross(t_hat, s_hat) + cross(f_hat, s_hat)
    thigh_frame, strength = frame_y_first(-thigh, hinge)
    (a, b, c), (_, _, c_det) = _three_dof(thigh_frame, strength, euler_xzy, branch=True)
    s_local = to_local(thigh_frame, shank)
    knee_flex = np.arctan2(-s_local[:, 2], -s_local[:, 1])
    shank_frame, _ = frame_y_first(-shank, thigh_frame[..., 0])
    f_local = to_local(shank_frame, toe)
    dorsi = np.arctan2(f_local[:, 1], f_local[:, 2]) - FOOT_NEUTRAL_PITCH
    return [-a, -b, -c, knee_flex, dorsi], [True, True, c_det, True, True]


def _arm_angles(thorax_frame, joints, side: str):
    shoulder, elbow, wrist = (joints[:, J[f"{side}_{n}"]] for n in ("shoulder", "elbow", "wrist"))
    mirror = _MIRROR if side == "right" else 1.0
    upper = to_local(thorax_frame, elbow - shoulder) * mirror
    fore = to_local(thorax_frame, wrist - elbow) * mirror
    u_hat, f_hat = normalize(upper)[0], normalize(fore)[0]
    upper_frame, strength = frame_y_first(-upper, cross(f_hat, u_hat))
    (a, b, c), (_, _, c_det) = _three_dof(upper_frame, strength, euler_xzy, branch=True)
    f_local = to_local(upper_frame, fore)
    elbow_flex = np.arctan2(f_local[:, 2], -f_local[:, 1])
    return [-a, -b, -c, elbow_flex], [True, True, c_det, True]


def body_frames(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis and thorax frames (T, 3, 3) of canonical joints."""
    pelvis = frame_x_first(
        joints[:, J["left_hip"]] - joints[:, J["right_hip"]], joints[:, J["spine1"]] - joints[:, J["pelvis"]]
    ) @ rot_x(-PELVIS_NEUTRAL_TILT)
    thorax = frame_x_first(
        joints[:, J["left_collar"]] - joints[:, J["right_collar"]],
        joints[:, J["neck"]] - joints[:, J["spine1"]],
    )
    return pelvis, thorax


def joint_angles(joints: np.ndarray) -> JointAngles:
    """The 26 angle curves (degrees) of canonical joints (T, 22, 3)."""
    pelvis, thorax = body_frames(joints)
    curves: list[np.ndarray] = []
    determined: list[bool] = []

    (yaw, tilt, lst), dets = _three_dof(pelvis, None, euler_yxz, branch=False)
    curves += [tilt, -lst, yaw]
    determined += [dets[1], dets[2], dets[0]]

    (a, b, c), dets = _three_dof(relative(pelvis, thorax), None, euler_xzy, branch=False)
    curves += [-a, -b, c]
    determined += list(dets)

    head = to_local(thorax, joints[:, J["head"]] - joints[:, J["neck"]])
    head = normalize(head)[0]
    curves += [np.arctan2(head[:, 2], head[:, 1]) - NECK_NEUTRAL_PITCH, np.arcsin(np.clip(head[:, 0], -1, 1))]
    determined += [True, True]

    for side in ("left", "right"):
        c_, d_ = _leg(pelvis, joints, side)
        curves += c_
        determined += d_
    for side in ("left", "right"):
        c_, d_ = _arm_angles(thorax, joints, side)
        curves += c_
        determined += d_

    values = np.degrees(np.stack(curves, axis=1))
    return JointAngles(values=values, determined=np.array(determined, dtype=bool))
