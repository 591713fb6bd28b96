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

from .canonical import facing_yaw
from .rotation import (
    cross,
    euler_xzy,
    euler_yxz,
    frame_x_first,
    frame_y_first,
    median_first,
    normalize,
    relative,
    rot_x,
    stack_last,
    to_local,
)
from .skeleton import J


@dataclass(frozen=True)
class AngleSpec:
    """One coordinate of the SMD.

    Attributes:
        key, name, gloss, group: identifier, rendered name, which way is positive, rendered section.
        undetermined: why the angle can be undefined over a whole clip, as the text says it.
        plausible: the typical active range of a healthy adult in this coordinate's sign convention,
            in degrees (joint ranges after AAOS norms; the pelvis is a segment's orientation against
            the vertical and the heading, so its range is that of everyday bending and twisting). A
            reader's reference, not a clamp: a value outside it is rendered as measured.
    """

    key: str
    name: str
    gloss: str
    group: str
    plausible: tuple[float, float]
    undetermined: str = "the limb stays too straight to define it"


def _side(side: str) -> list[AngleSpec]:
    s = side.capitalize()
    hip, knee, ankle = f"{s} Hip", f"{s} Knee", f"{s} Ankle"
    return [
        AngleSpec(f"{side}_hip_flexion", f"{s} Hip Flexion", "raising the thigh forward", hip, (-30, 125)),
        AngleSpec(
            f"{side}_hip_adduction",
            f"{s} Hip Adduction",
            "moving the thigh toward the midline",
            hip,
            (-45, 30),
        ),
        AngleSpec(f"{side}_hip_rotation", f"{s} Hip Rotation", "turning the thigh inward", hip, (-45, 45)),
        AngleSpec(f"{side}_knee_flexion", f"{s} Knee Flexion", "bending the knee", knee, (-10, 140)),
        AngleSpec(
            f"{side}_ankle_dorsiflexion", f"{s} Ankle Dorsiflexion", "raising the toes", ankle, (-50, 20)
        ),
    ]


def _arm(side: str) -> list[AngleSpec]:
    s = side.capitalize()
    shoulder, elbow = f"{s} Shoulder", f"{s} Elbow"
    return [
        AngleSpec(
            f"{side}_shoulder_plane",
            f"{s} Shoulder Elevation Plane",
            "the line the arm is raised along: 0° sideways, 90° forward",
            shoulder,
            (-90, 180),
            "the arm hangs too close to the body (or points straight up) to have a direction",
        ),
        AngleSpec(
            f"{side}_shoulder_elevation",
            f"{s} Shoulder Elevation",
            "raising the arm from hanging along the plane, negative the other way",
            shoulder,
            (-60, 180),
        ),
        AngleSpec(
            f"{side}_shoulder_rotation",
            f"{s} Shoulder Rotation",
            "turning the upper arm inward",
            shoulder,
            (-90, 70),
        ),
        AngleSpec(f"{side}_elbow_flexion", f"{s} Elbow Flexion", "bending the elbow", elbow, (-10, 150)),
    ]


ANGLES: tuple[AngleSpec, ...] = tuple(
    [
        AngleSpec("pelvis_tilt", "Pelvis Tilt", "tipping the pelvis forward", "Pelvis", (-45, 90)),
        AngleSpec("pelvis_list", "Pelvis List", "tilting the pelvis to the left", "Pelvis", (-30, 30)),
        AngleSpec(
            "pelvis_rotation", "Pelvis Rotation", "turning the pelvis to the left", "Pelvis", (-45, 45)
        ),
        AngleSpec("lumbar_extension", "Lumbar Extension", "bending the trunk backward", "Lumbar", (-80, 30)),
        AngleSpec("lumbar_bending", "Lumbar Bending", "bending the trunk to the left", "Lumbar", (-35, 35)),
        AngleSpec(
            "lumbar_rotation", "Lumbar Rotation", "twisting the trunk to the left", "Lumbar", (-45, 45)
        ),
        AngleSpec("neck_flexion", "Neck Flexion", "tilting the head forward", "Neck", (-70, 60)),
        AngleSpec(
            "neck_lateral_bending", "Neck Lateral Bending", "tilting the head to the left", "Neck", (-45, 45)
        ),
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
_FULL_HINGE = np.sin(np.radians(60.0))  # an axial rotation is fully trusted from this bend on
_POLE_JUMP = np.radians(135.0)
# Below this elevation (and above 180 minus it) the plane of elevation is interpolated: a few
# centimetres of the elbow's sway would swing it through any direction.
PLANE_MIN_ELEVATION = np.radians(25.0)
_MIN_SWAY = np.radians(3.0)  # an arm that sways less than this has no plane at all
_ANCHOR_A, _ANCHOR_B = np.radians(100.0), np.radians(45.0)

# Turns the hip-and-spine frame into the pelvis frame (a constant: built once).
_UNTILT_PELVIS = rot_x(-PELVIS_NEUTRAL_TILT)

# The columns of the Euler-decomposed 3-DoF joints that are limbs (the hips), after the pelvis and lumbar.
_LIMB_COLUMNS = np.array([False, False, True, True])

# The joints of a leg and of an arm, proximal to distal, left then right.
_LEG, _ARM = (
    np.array([[J[f"{side}_{name}"] for name in names] for side in ("left", "right")])
    for names in (("hip", "knee", "ankle", "foot"), ("shoulder", "elbow", "wrist"))
)

# Multiplies (T, side, bone, xyz) local vectors: the right side is computed as a mirrored left.
_SIDE_MIRROR = np.array([[[1.0, 1.0, 1.0]], [[-1.0, 1.0, 1.0]]])


@dataclass(frozen=True)
class JointAngles:
    """Angle curves in degrees, (T, 26) in ANGLES order, which angles are determined at all, and
    per frame how well each is defined (T, 26) in [0, 1]: 1 but for the axial rotations of the hips
    and shoulders, which fade to 0 as the knee or elbow straightens."""

    values: np.ndarray
    determined: np.ndarray
    confidence: np.ndarray


def _wrapped_distance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.abs((x - y + np.pi) % (2 * np.pi) - np.pi)


def _continuous_branch(a, b, c, branch):
    """Pick, per frame and column (T, k), between the two Euler solutions (a, b, c) and
    (a+pi, +-pi-b, c+pi), in the columns where `branch` (k,) allows it.

    Passing over the gimbal pole (|b| = 90, e.g. an arm raised sideways above the horizontal)
    makes the canonical solution's `a` jump by ~180 degrees between two frames; each such jump
    toggles to the other solution, so a jumping jack reads as abduction to 150 degrees instead of
    a flexion flip. Frames where the canonical solution is unambiguous (limb near the sagittal
    plane and below the horizontal) anchor the choice, so noise at the pole cannot leave a limb
    stuck in the odd solution.
    """
    n, k = a.shape
    jumps = _wrapped_distance(a[1:], a[:-1]) > _POLE_JUMP
    parity = np.concatenate([np.zeros((1, a.shape[1]), dtype=np.int64), np.cumsum(jumps, axis=0)])
    anchor = (np.abs(b) < _ANCHOR_B) & (np.abs(a) < _ANCHOR_A)
    none = ~anchor.any(axis=0)
    anchor[:, none] = np.abs(np.cos(b[:, none])) >= 0.5  # no clear frame: any frame off the pole
    first = np.argmax(anchor, axis=0)  # 0 where a column has no anchor at all: parity[0] = 0
    last = np.maximum.accumulate(np.where(anchor, np.arange(n)[:, None], -1), axis=0)
    base = parity[np.where(last < 0, first, last), np.arange(k)]
    flip = ((parity - base) % 2 == 1) & branch
    a = np.where(flip, a + np.pi, a)
    b = np.where(flip, np.where(b >= 0, np.pi - b, -np.pi - b), b)
    c = np.where(flip, c + np.pi, c)
    return a, b, c


def _unwrap(x: np.ndarray) -> np.ndarray:
    """np.unwrap along axis 0 (period 2 pi) in a few array operations."""
    out = x.copy()
    out[1:] -= 2 * np.pi * np.cumsum(np.round((x[1:] - x[:-1]) / (2 * np.pi)), axis=0)
    return out


def _fill(x: np.ndarray, ok: np.ndarray, *, unwrap: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Unwrap each column of `x` (T, k) over its reliable frames (unless `unwrap` is False: values
    kept as they are), interpolate the rest.

    Returns the values and, per column, whether any frame was reliable (else the column is 0).
    """
    keep = _unwrap if unwrap else np.asarray
    out = keep(x)
    determined = ok.any(axis=0)
    t = np.arange(x.shape[0])
    for col in np.flatnonzero(~ok.all(axis=0)):
        good = ok[:, col]
        out[:, col] = np.interp(t, t[good], keep(x[good, col])) if determined[col] else 0.0
    return out, determined


def _centre(x: np.ndarray) -> np.ndarray:
    """Shift unwrapped curves (T, k) by whole turns so their median lies in [-180, 180): the curve
    stays continuous, and a curve that spans less than a turn around its median stays in range."""
    return x - 2 * np.pi * np.round(median_first(x) / (2 * np.pi) - 1e-12)


def _three_dof(a, b, c, c_ok, branch):
    """Continuous, gap-filled Euler angles (T, k) and, per column, whether `c` is determined.

    `c_ok` (T, k) says where `c` is defined at all; `branch` (k,) where the second Euler solution
    may be taken (limbs, not the trunk). Every step works column by column, so all the 3-DoF
    joints go through in one call.
    """
    middle_ok = np.abs(np.cos(b)) >= _MIN_COS_MIDDLE
    a, b, c = _continuous_branch(a, b, c, branch)
    a, _ = _fill(a, middle_ok)  # flexion is never lost for good: 0 when the limb sits on the pole
    c, c_det = _fill(c, middle_ok & c_ok)
    return _centre(a), _unwrap(b), _centre(c), c_det


def _pairs(joints: np.ndarray, limb: np.ndarray, frame: np.ndarray) -> list[np.ndarray]:
    """Bone vectors (T, 2, 3) of the left and right limb in `frame`, right side mirrored to left.

    `limb` (2, n) holds the limb's joints proximal to distal, left then right (_LEG, _ARM);
    returns one vector per bone.
    """
    pts = joints[:, limb]  # (T, 2, n, 3)
    bones = to_local(frame[:, None, None], pts[:, :, 1:] - pts[:, :, :-1]) * _SIDE_MIRROR
    return [bones[:, :, i] for i in range(limb.shape[1] - 1)]


def _legs(pelvis_frame, joints):
    """Raw hip Euler angles and how well the hip rotation is defined (the hinge strength: the sine of
    the knee's bend, seen from the knee and the foot), then knee flexion and ankle dorsiflexion;
    (T, 2) each (left, right)."""
    thigh, shank, toe = _pairs(joints, _LEG, pelvis_frame)
    t_hat, s_hat, f_hat = normalize(thigh)[0], normalize(shank)[0], normalize(toe)[0]
    # The knee's hinge axis seen from the bent knee and from the foot: together they stay
    # well-defined whether the knee is bent or straight.
    thigh_frame, strength = frame_y_first(-thigh, cross(t_hat, s_hat) + cross(f_hat, s_hat))
    s_local = to_local(thigh_frame, shank)
    knee_flex = np.arctan2(-s_local[..., 2], -s_local[..., 1])
    shank_frame, _ = frame_y_first(-shank, thigh_frame[..., 0])
    f_local = to_local(shank_frame, toe)
    dorsi = np.arctan2(f_local[..., 1], f_local[..., 2]) - FOOT_NEUTRAL_PITCH
    return euler_xzy(thigh_frame), strength, knee_flex, dorsi


def _arms(thorax_frame, joints):
    """The upper arms' frames in the thorax (T, 2, 3, 3), how well their axial rotation is defined
    (the sine of the elbow's bend), and elbow flexion (T, 2); (left, right), the right mirrored."""
    upper, fore = _pairs(joints, _ARM, thorax_frame)
    u_hat, f_hat = normalize(upper)[0], normalize(fore)[0]
    upper_frame, strength = frame_y_first(-upper, cross(f_hat, u_hat))
    f_local = to_local(upper_frame, fore)
    elbow_flex = np.arctan2(f_local[..., 2], -f_local[..., 1])
    return upper_frame, strength, elbow_flex


def _along(down: np.ndarray, plane: np.ndarray) -> np.ndarray:
    """The signed elevation (T, k) of arm directions `down` (T, k, 3) along the lines `plane`."""
    along = down[..., 0] * np.cos(plane) + down[..., 2] * np.sin(plane)
    return _centre(_unwrap(np.arctan2(along, -down[..., 1])))


def _globe(upper_frame, strength):
    """The shoulder in a globe chart (plane of elevation, elevation, axial rotation; the ISB's
    recommendation for the humerus, OpenSim's `elv_angle`, `shoulder_elv`, `shoulder_rot`), radians
    (T, 2) each, and whether the plane and the rotation are determined at all (2,) each.

    Every chart of a ball joint has poles. A flexion-first Euler sequence has one at the arm held
    sideways at shoulder height, where tennis, dance and jumping jacks go, and reports full turns
    that never happened there. The globe's poles are the hanging arm and the arm straight up:
    there the plane does not matter. The plane is kept as a line (0 sideways, 90 forward) and the
    elevation is signed along it: the angle from hanging, positive toward the plane's direction,
    negative the other way. The line points where the arm is raised farthest (its largest elevation
    is positive); a symmetric swing keeps the plane's median in [-45, 135),
    a turned one's lies in [-135, 225). So a walk's arm swing, which passes the
    hanging pole, reads as one plane (forward) and an elevation that swings + and -, not as a plane
    that flips between forward and backward. Where the arm hangs within PLANE_MIN_ELEVATION of
    either pole the plane is interpolated from the frames around it (as axial rotations are near a
    straight limb); an arm that never leaves that zone takes the line it sways along most.

    The axial rotation is the twist of the upper arm about its own axis, measured back at the
    hanging pose (a swing-twist split): it needs no plane and is defined but at the arm straight
    up; it is interpolated where the elbow is too straight to show it (or the arm nearly up), and
    kept in (-180, 180].
    """
    r = upper_frame
    down = -r[..., :, 1]  # the upper arm's direction (a unit vector), shoulder to elbow
    across, ahead = down[..., 0], down[..., 2]
    # the sine of the unsigned elevation, rounded: synthetic arms often swing to exactly the
    # threshold, and float noise from the frame of reference must not decide which side they are on
    sine = np.round(np.sqrt(across * across + ahead * ahead), 9)
    plane_ok = sine >= np.round(np.sin(PLANE_MIN_ELEVATION), 9)
    direction = np.arctan2(ahead, across)
    # the line the arm sways along most: the mean of its doubled directions weighted by sin^2,
    # (across + i ahead)^2
    resultant = (across * across - ahead * ahead).mean(axis=0) + 2j * (across * ahead).mean(axis=0)
    swayed = np.round(np.abs(resultant), 9) >= np.round(np.sin(_MIN_SWAY) ** 2, 9)
    doubled, plane_det = _fill(2.0 * direction, plane_ok)  # a line: its direction mod 180
    for col in np.flatnonzero(~plane_det & swayed):
        doubled[:, col] = np.angle(resultant[col])
    plane_det = plane_det | swayed
    plane = doubled / 2.0
    plane -= np.pi * np.floor((median_first(plane) + np.pi / 4) / np.pi + 1e-12)
    elevation = _along(down, plane)
    # the line points where the arm is raised farthest (a symmetric swing keeps it as it is)
    highest, lowest = np.round(elevation.max(axis=0), 9), np.round(elevation.min(axis=0), 9)
    turned = -lowest > highest + np.round(_MIN_SWAY, 9)
    if turned.any():
        plane = np.where(turned, plane + np.pi, plane)  # its median now in [135, 315)
        # kept in [-135, 225): a plane pointing back and across the body is the rarest
        plane -= 2 * np.pi * (median_first(plane) >= np.radians(225.0))
        elevation = np.where(turned, -elevation, elevation)
    twist = np.arctan2(r[..., 0, 2] - r[..., 2, 0], r[..., 0, 0] + r[..., 2, 2])
    twist_ok = (strength >= _MIN_HINGE) & (down[..., 1] <= np.cos(PLANE_MIN_ELEVATION))  # not near up
    # not unwrapped: the upper arm never twists half a turn from hanging, and a gap where the elbow
    # straightens must not be bridged the long way round
    twist, twist_det = _fill(twist, twist_ok, unwrap=False)
    return plane, elevation, twist, plane_det, twist_det, down[..., 1], sine, plane_ok


def body_frames(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis and thorax frames (T, 3, 3) of canonical joints."""
    pelvis = (
        frame_x_first(
            joints[:, J["left_hip"]] - joints[:, J["right_hip"]],
            joints[:, J["spine1"]] - joints[:, J["pelvis"]],
        )
        @ _UNTILT_PELVIS
    )
    thorax = frame_x_first(
        joints[:, J["left_collar"]] - joints[:, J["right_collar"]],
        joints[:, J["neck"]] - joints[:, J["spine1"]],
    )
    return pelvis, thorax


def joint_angles(joints: np.ndarray) -> JointAngles:
    """The 26 angle curves (degrees) of canonical joints (T, 22, 3)."""
    pelvis, thorax = body_frames(joints)
    n = joints.shape[0]

    # the Euler-decomposed 3-DoF joints, one column each: pelvis (heading, tilt, list), lumbar, hips
    trunk = (euler_yxz(pelvis), euler_xzy(relative(pelvis, thorax)))
    hips, hip_strength, knee_flex, dorsi = _legs(pelvis, joints)
    upper_arms, shoulder_strength, elbow_flex = _arms(thorax, joints)
    hip_ok = hip_strength >= _MIN_HINGE
    a, b, c = (
        np.concatenate([trunk[0][k][:, None], trunk[1][k][:, None], hips[k]], axis=1) for k in range(3)
    )
    c_ok = np.concatenate([np.ones((n, 2), dtype=bool), hip_ok], axis=1)
    a, b, c, c_det = _three_dof(a, b, c, c_ok, _LIMB_COLUMNS)
    plane, elevation, twist, plane_det, twist_det, up, sine, plane_ok = _globe(upper_arms, shoulder_strength)
    # the pelvis relative to the body's heading (the Heading line's yaw): the global turn is told
    # once, there; what is left is the pelvis's own twist against the shoulders' line
    a[:, 0] = _centre(_unwrap(a[:, :1] - _unwrap(facing_yaw(joints))[:, None]))[:, 0]
    middle_ok = np.abs(np.cos(b[:, 2:])) >= _MIN_COS_MIDDLE
    hip_axial = np.clip((hip_strength - _MIN_HINGE) / (_FULL_HINGE - _MIN_HINGE), 0.0, 1.0) * middle_ok
    twist_axial = np.clip((shoulder_strength - _MIN_HINGE) / (_FULL_HINGE - _MIN_HINGE), 0.0, 1.0)
    twist_axial *= np.clip((1.0 - up) / (1.0 - np.cos(PLANE_MIN_ELEVATION)), 0.0, 1.0)  # fades near up
    # the plane counts as the arm leaves the pole: nothing while it hangs, fully from twice as far
    plane_weight = np.clip(sine / np.sin(2 * PLANE_MIN_ELEVATION) * plane_ok, 0.0, 1.0)

    head = normalize(to_local(thorax, joints[:, J["head"]] - joints[:, J["neck"]]))[0]
    neck_flex = np.arctan2(head[:, 2], head[:, 1]) - NECK_NEUTRAL_PITCH
    neck = np.stack([neck_flex, np.arcsin(np.clip(head[:, 0], -1, 1))])
    legs = stack_last(-a[:, 2:4], -b[:, 2:4], -c[:, 2:4], knee_flex, dorsi)  # (T, side, 5)
    arms = stack_last(plane, elevation, -twist, elbow_flex)  # (T, side, 4)
    values = np.concatenate(
        [
            b[:, :1],
            -c[:, :1],
            a[:, :1],
            -a[:, 1:2],
            -b[:, 1:2],
            c[:, 1:2],
            neck.T,
            legs.reshape(n, 10),
            arms.reshape(n, 8),
        ],
        axis=1,
    )
    determined = np.ones(len(ANGLES), dtype=bool)
    determined[[1, 5, 10, 15]] = c_det  # pelvis list, lumbar rotation, hip rotations
    determined[[18, 22]] = plane_det  # the shoulders' planes of elevation
    determined[[20, 24]] = twist_det  # and their rotations
    confidence = np.ones((n, len(ANGLES)))
    confidence[:, [10, 15]] = hip_axial
    confidence[:, [18, 22]] = plane_weight
    confidence[:, [20, 24]] = twist_axial
    return JointAngles(values=np.degrees(values), determined=determined, confidence=confidence)
