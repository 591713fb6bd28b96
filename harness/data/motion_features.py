"""HumanML3D's 263-d motion features computed from joint positions (pure numpy).

The T2M text-motion evaluator (R-Precision, MM-Dist) reads HumanML3D's 263-d vectors. Where only joints
exist (BABEL-QA, HuMMan-QA, generated motions), `joints_to_features` computes them the way HumanML3D's
`motion_representation.ipynb` (`process_file(positions, feet_thre=0.002)`) does, and
`features_to_joints` inverts them the way its `recover_from_ric` does.

What `process_file` does, and what this module reproduces (facts read from EricGuo5513/HumanML3D:
`motion_representation.ipynb`, `common/skeleton.py`, `common/quaternion.py`, `paramUtil.py`):

1. **Uniform skeleton.** Every bone is given the target skeleton's length (target = first frame of raw
   motion 000021), keeping its direction; the root trajectory is scaled by the ratio of right-leg lengths
   (bones 2->5 and 5->8) of target and source, the source lengths measured on frame 0. HumanML3D does this
   as inverse kinematics (`qbetween(raw_offset, bone)` per bone) followed by forward kinematics with the
   target offsets; the root rotation cancels and the composition is exactly "parent + target length x bone
   direction", which is what is computed here (no quaternion round trip, and no NaN for a bone that points
   exactly opposite its T2M raw offset, e.g. an arm raised straight up).
2. **Floor**: subtract the lowest y over all joints and frames. **Origin**: subtract frame 0's root x, z.
3. **Face +Z**: rotate about y so that frame 0's forward, ``cross(up, across)`` with
   ``across = (r_hip - l_hip) + (r_shoulder - l_shoulder)``, becomes +Z.
4. **Foot contacts** (ankle, foot of each side): 1 where the squared frame-to-frame displacement is below
   ``feet_threshold`` (0.002, i.e. < 4.5 cm per frame). HumanML3D's height condition is commented out in
   its code, so there is none here either.
5. **Root rotation** per frame from the forward direction of its inverse kinematics, which (a quirk kept
   on purpose: the evaluator was trained on it) unpacks ``face_joint_indx = [2, 1, 17, 16]`` as
   ``l_hip, r_hip, ...``, i.e. ``across = (l_hip - r_hip) + (r_shoulder - l_shoulder)``, smoothed over
   time with a Gaussian (sigma 20 frames, ``mode='nearest'``, truncate 4) before normalisation; then
   ``qbetween(forward, +Z)``, except frame 0 whose root rotation is the identity (``root_quat[0] = [1, 0, 0,
   0]``: commented out in the indexed version of HumanML3D's `common/skeleton.py`, active in the copies in
   MDM, text-to-motion and others; the official features of 004822 need it: without it frame 0 is off by
   the smoothed heading, 2.6 degrees there).
6. **Joint rotations** (continuous 6D = first two columns of the rotation matrix) of the same inverse
   kinematics: bone rotation ``qbetween(raw_offset, bone_direction)``, made local to the previous bone of
   its kinematic chain (to the root rotation for the first bone of each chain, the arms included).
7. **Features** for frames 0..T-2: root angular velocity about y (``arcsin`` of the y part of
   ``r[t+1] * r[t]^-1``: half the yaw change, HumanML3D's convention), root linear velocity (x, z) rotated
   by ``r[t+1]``, root height; ric positions (joints relative to the root's x, z, rotated by ``r[t]``),
   6D rotations of joints 1..21, joint velocities rotated by ``r[t]``, foot contacts (left ankle, left
   foot, right ankle, right foot): 4 + 63 + 126 + 66 + 4 = 263.

Kept HumanML3D quirks: the IK heading above; the root rotations come from ``qbetween`` (w >= 0), so when the
heading crosses 180 degrees from frame 0's, ``r[t+1] * r[t]^-1`` has w < 0 and that one frame's rotation
velocity has the wrong sign (recovery then drifts by twice that frame's yaw step). Deliberate deviations,
only where HumanML3D gives NaN: a bone exactly opposite its raw offset, or a heading exactly -Z, gets a
half turn about a perpendicular axis.

HumanML3D runs steps 3-7 in float32 (its numpy quaternion helpers go through float32 torch tensors); this
module computes in float64 and returns float32 by default. On the raw joints of test motion 004822 the
official features are matched to <= 4.5e-6 (rot; float32 rounding, largest on the short head bone), <= 1.3e-6
in the other groups, contacts exactly (`benchmarks/bench_features.py` prints the figures).

Joint order, raw offsets and kinematic chains are those of `smd.skeleton` (HumanML3D's `paramUtil`).
Quaternions are (w, x, y, z) arrays.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import DTypeLike

from smd.skeleton import KINEMATIC_CHAINS, N_JOINTS, T2M_RAW_OFFSETS

__all__ = [
    "FEATURE_DIM",
    "FEATURE_GROUPS",
    "features_to_joints",
    "joints_to_features",
    "target_skeleton",
]

FEATURE_DIM = 263
# name -> slice of the 263-d vector
FEATURE_GROUPS: dict[str, slice] = {
    "root": slice(0, 4),  # rot. velocity about y, linear velocity x, z, root height
    "ric": slice(4, 67),  # joints 1..21 relative to the root, facing +Z
    "rot": slice(67, 193),  # continuous 6D rotations of joints 1..21
    "vel": slice(193, 259),  # velocities of joints 0..21, facing +Z
    "contacts": slice(259, 263),  # left ankle, left foot, right ankle, right foot
}

# paramUtil / motion_representation constants
_FACE_JOINTS = (2, 1, 17, 16)  # right hip, left hip, right shoulder, left shoulder
_LEG_BONES = (5, 8)  # right knee, right ankle: bones whose lengths set the root scale
_FEET_LEFT = (7, 10)
_FEET_RIGHT = (8, 11)
_FORWARD_SIGMA = 20.0  # frames; scipy.ndimage.gaussian_filter1d(..., 20, mode="nearest")
_GAUSS_TRUNCATE = 4.0


def _chain_structure() -> tuple[np.ndarray, np.ndarray]:
    """Parent of each joint, and the joint whose bone precedes it in its chain (-1: the chain's start)."""
    parents = np.full(N_JOINTS, -1)
    prev_bone = np.full(N_JOINTS, -1)
    for chain in KINEMATIC_CHAINS:
        for j in range(1, len(chain)):
            parents[chain[j]] = chain[j - 1]
            prev_bone[chain[j]] = chain[j - 1] if j >= 2 else -1
    return parents, prev_bone


_PARENTS, _PREV_BONE = _chain_structure()
# joints in an order where every parent comes first (the chains are listed root-outwards)
_ORDER = tuple(j for chain in KINEMATIC_CHAINS for j in chain[1:])
_RAW = np.asarray(T2M_RAW_OFFSETS, dtype=np.float64)


# ---------------------------------------------------------------------------------------------- quaternions


def _qmul(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Hamilton product q * r."""
    w0, x0, y0, z0 = np.moveaxis(q, -1, 0)
    w1, x1, y1, z1 = np.moveaxis(r, -1, 0)
    return np.stack(
        (
            w0 * w1 - x0 * x1 - y0 * y1 - z0 * z1,
            w0 * x1 + x0 * w1 + y0 * z1 - z0 * y1,
            w0 * y1 - x0 * z1 + y0 * w1 + z0 * x1,
            w0 * z1 + x0 * y1 - y0 * x1 + z0 * w1,
        ),
        axis=-1,
    )


def _qinv(q: np.ndarray) -> np.ndarray:
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def _qrot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v by unit quaternions q (broadcasting)."""
    u = q[..., 1:]
    uv = np.cross(u, v)
    return v + 2.0 * (q[..., :1] * uv + np.cross(u, uv))


def _qbetween(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Unit quaternion of the shortest rotation taking direction u to direction v.

    HumanML3D's formula, ``normalize([|u||v| + u.v, u x v])``. It is 0/0 when v = -u; there a half turn
    about an axis perpendicular to u is returned (HumanML3D would produce NaN).
    """
    u, v = np.broadcast_arrays(u, v)
    w = np.sqrt((u * u).sum(-1) * (v * v).sum(-1)) + (u * v).sum(-1)
    q = np.concatenate([w[..., None], np.cross(u, v)], axis=-1)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    bad = norm[..., 0] <= 1e-9 * np.sqrt((u * u).sum(-1) * (v * v).sum(-1))
    if np.any(bad):
        ub = u[bad]
        # the basis vector least aligned with u, crossed with u: a perpendicular axis
        basis = np.eye(3)[np.argmin(np.abs(ub), axis=-1)]
        axis = np.cross(ub, basis)
        q[bad] = np.concatenate([np.zeros((len(ub), 1)), axis], axis=-1)
        norm[bad] = np.linalg.norm(q[bad], axis=-1, keepdims=True)
    return q / norm


def _quat_to_cont6d(q: np.ndarray) -> np.ndarray:
    """First two columns of the rotation matrix of q: (m00, m10, m20, m01, m11, m21)."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    two_s = 2.0 / (q * q).sum(-1)
    return np.stack(
        (
            1 - two_s * (y * y + z * z),
            two_s * (x * y + z * w),
            two_s * (x * z - y * w),
            two_s * (x * y - z * w),
            1 - two_s * (x * x + z * z),
            two_s * (y * z + x * w),
        ),
        axis=-1,
    )


# ---------------------------------------------------------------------------------------------- helpers


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """`scipy.ndimage.gaussian_filter1d(x, sigma, axis=0, mode='nearest')` (truncate 4) in numpy."""
    radius = int(_GAUSS_TRUNCATE * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    weights /= weights.sum()
    padded = np.pad(x, [(radius, radius)] + [(0, 0)] * (x.ndim - 1), mode="edge")
    windows = sliding_window_view(padded, 2 * radius + 1, axis=0)  # (T, ..., window)
    return windows @ weights  # symmetric kernel: correlation == convolution


def _forward(joints: np.ndarray, *, ik_quirk: bool) -> np.ndarray:
    """Horizontal forward direction ``cross(up, across)`` (not normalised) of each frame."""
    r_hip, l_hip, r_sdr, l_sdr = _FACE_JOINTS
    hips = joints[..., r_hip, :] - joints[..., l_hip, :]
    if ik_quirk:  # Skeleton.inverse_kinematics_np unpacks the indices as l_hip, r_hip, sdr_r, sdr_l
        hips = -hips
    across = hips + joints[..., r_sdr, :] - joints[..., l_sdr, :]
    norm = np.linalg.norm(across, axis=-1, keepdims=True)
    forward = np.cross(np.array([0.0, 1.0, 0.0]), across / np.where(norm > 0, norm, 1.0))
    flat = np.linalg.norm(forward, axis=-1) <= 1e-9
    if np.any(flat):
        frame = int(np.argwhere(np.atleast_1d(flat))[0, 0])
        raise ValueError(
            f"joints: facing direction undefined at frame {frame} (hips and shoulders line up vertically)"
        )
    return forward


def _validate_joints(joints: np.ndarray) -> np.ndarray:
    arr = np.asarray(joints)
    if arr.ndim != 3 or arr.shape[1:] != (N_JOINTS, 3):
        raise ValueError(f"joints must have shape (T, {N_JOINTS}, 3), got {arr.shape}")
    if arr.shape[0] < 2:
        raise ValueError(f"joints need at least 2 frames to compute features, got {arr.shape[0]}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"joints must be real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        t, j, _ = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"joints contain non-finite values (first at frame {t}, joint {j})")
    return arr


def _bone_lengths(frame: np.ndarray, what: str) -> np.ndarray:
    """Length of each joint's bone to its parent (0 for the root) in one (22, 3) frame."""
    lengths = np.zeros(N_JOINTS)
    lengths[1:] = np.linalg.norm(frame[1:] - frame[_PARENTS[1:]], axis=-1)
    if np.any(lengths[1:] <= 0):
        j = 1 + int(np.argmin(lengths[1:]))
        raise ValueError(f"{what}: joint {j} coincides with its parent {_PARENTS[j]} (zero-length bone)")
    return lengths


def _uniform_skeleton(joints: np.ndarray, target_lengths: np.ndarray) -> np.ndarray:
    """HumanML3D's `uniform_skeleton`: target bone lengths, bone directions kept, root scaled by leg ratio."""
    source_lengths = _bone_lengths(joints[0], "joints (frame 0)")
    scale = target_lengths[list(_LEG_BONES)].sum() / source_lengths[list(_LEG_BONES)].sum()
    bones = joints[:, 1:] - joints[:, _PARENTS[1:]]
    norms = np.linalg.norm(bones, axis=-1)
    if np.any(norms <= 0):
        t, b = np.argwhere(norms <= 0)[0]
        raise ValueError(f"joints: joint {b + 1} coincides with its parent in frame {t} (zero-length bone)")
    directions = np.zeros_like(joints)
    directions[:, 1:] = bones / norms[..., None]
    out = np.empty_like(joints)
    out[:, 0] = joints[:, 0] * scale
    for j in _ORDER:
        out[:, j] = out[:, _PARENTS[j]] + target_lengths[j] * directions[:, j]
    return out


def _target_lengths(target_skeleton: np.ndarray) -> np.ndarray:
    tgt = np.asarray(target_skeleton)
    if tgt.ndim != 2 or tgt.shape[0] < N_JOINTS or tgt.shape[1] != 3:
        raise ValueError(
            f"target_skeleton must have shape ({N_JOINTS}, 3) (or (J>={N_JOINTS}, 3), first {N_JOINTS} "
            f"used), got {tgt.shape}"
        )
    tgt = tgt[:N_JOINTS].astype(np.float64)
    if not np.isfinite(tgt).all():
        raise ValueError("target_skeleton contains non-finite values")
    return _bone_lengths(tgt, "target_skeleton")


# ---------------------------------------------------------------------------------------------- public API


def target_skeleton() -> np.ndarray:
    """HumanML3D's retargeting target as the SMD skeleton's rest pose (22, 3): only bone lengths are
    used, and the SMD skeleton's are HumanML3D's target skeleton's, left/right averaged."""
    import smd

    return smd.forward_kinematics({}, np.array([[0.0, 0.9, 0.0]]))[0]


def joints_to_features(
    joints: np.ndarray,
    target_skeleton: np.ndarray,
    *,
    feet_threshold: float = 0.002,
    dtype: DTypeLike = np.float32,
) -> np.ndarray:
    """HumanML3D's 263-d features of a motion: ``process_file(joints, feet_threshold)``.

    joints: (T, 22, 3) raw joint positions in metres, Y up, 20 fps, HumanML3D / SMPL joint order, any
        heading, position and body size (T >= 2). BABEL-QA / HuMMan-QA joints (Z up, 30 fps) must be
        converted to Y up and resampled to 20 fps first.
    target_skeleton: (22, 3) joint positions (or (J >= 22, 3), the first 22 used) of the skeleton to
        retarget to; HumanML3D's is the first frame of raw motion 000021
        (`humanml3d_extra/skeleton_000021_frame0_raw52.npy`). Only its bone lengths matter.
    feet_threshold: squared per-frame displacement (m^2) below which a foot joint is in contact.
    Returns (T - 1, 263) features, unnormalised, in `dtype` (computed in float64).
    """
    positions = _validate_joints(joints)
    if not (np.isfinite(feet_threshold) and feet_threshold > 0):
        raise ValueError(f"feet_threshold must be a positive number, got {feet_threshold}")
    positions = _uniform_skeleton(positions, _target_lengths(target_skeleton))

    # put on the floor, root x/z of frame 0 at the origin, frame 0 facing +Z
    positions[..., 1] -= positions[..., 1].min()
    positions -= positions[0, 0] * np.array([1.0, 0.0, 1.0])
    forward0 = _unit(_forward(positions[0], ik_quirk=False))
    positions = _qrot(_qbetween(forward0, np.array([0.0, 0.0, 1.0])), positions)

    # foot contacts: squared displacement between consecutive frames below the threshold
    step = ((positions[1:] - positions[:-1]) ** 2).sum(-1)  # (T-1, 22)
    contacts = (step[:, list(_FEET_LEFT + _FEET_RIGHT)] < feet_threshold).astype(np.float64)

    # root rotation of HumanML3D's inverse kinematics: smoothed forward -> +Z
    forward = _unit(_gaussian_smooth(_forward(positions, ik_quirk=True), _FORWARD_SIGMA))
    r_rot = _qbetween(forward, np.array([0.0, 0.0, 1.0]))  # (T, 4)
    r_rot[0] = (1.0, 0.0, 0.0, 0.0)  # HumanML3D's IK: root_quat[0] = identity (frame 0 already faces +Z)

    # joint rotations: bone rotation from its raw offset, local to the previous bone of its chain
    directions = positions[:, 1:] - positions[:, _PARENTS[1:]]
    bone_rot = np.empty(positions.shape[:2] + (4,))
    bone_rot[:, 0] = r_rot
    bone_rot[:, 1:] = _qbetween(_RAW[1:], directions)
    prev = np.where(_PREV_BONE[1:] < 0, 0, _PREV_BONE[1:])  # 0: the root rotation
    local = _qmul(_qinv(bone_rot[:, prev]), bone_rot[:, 1:])
    rot_data = _quat_to_cont6d(local).reshape(len(positions), -1)

    # root: rotation velocity (half the yaw change), linear velocity in the next frame's facing, height
    r_vel = np.arcsin(np.clip(_qmul(r_rot[1:], _qinv(r_rot[:-1]))[:, 2], -1.0, 1.0))
    velocity = _qrot(r_rot[1:], positions[1:, 0] - positions[:-1, 0])

    # ric: joints relative to the root's ground projection, facing +Z
    ric = positions.copy()
    ric[..., [0, 2]] -= positions[:, :1, [0, 2]]
    ric = _qrot(r_rot[:, None], ric)

    local_vel = _qrot(r_rot[:-1, None], positions[1:] - positions[:-1])

    n = len(positions) - 1
    features = np.concatenate(
        [
            r_vel[:, None],
            velocity[:, [0, 2]],
            ric[:-1, 0, 1:2],
            ric[:-1, 1:].reshape(n, -1),
            rot_data[:-1],
            local_vel.reshape(n, -1),
            contacts,
        ],
        axis=-1,
    )
    return features.astype(dtype, copy=False)


def features_to_joints(features: np.ndarray, *, dtype: DTypeLike = np.float32) -> np.ndarray:
    """HumanML3D's `recover_from_ric`: (T, 263) features -> (T, 22, 3) joints (Y up, frame 0 facing +Z)."""
    data = np.asarray(features)
    if data.ndim != 2 or data.shape[1] != FEATURE_DIM:
        raise ValueError(f"features must have shape (T, {FEATURE_DIM}), got {data.shape}")
    if len(data) < 1:
        raise ValueError("features need at least 1 frame")
    data = data.astype(np.float64)
    if not np.isfinite(data).all():
        raise ValueError("features contain non-finite values")
    n = len(data)
    angle = np.concatenate([[0.0], np.cumsum(data[:-1, 0])])  # half the yaw, HumanML3D's convention
    r_rot = np.zeros((n, 4))
    r_rot[:, 0] = np.cos(angle)
    r_rot[:, 2] = np.sin(angle)
    inv = _qinv(r_rot)
    step = np.zeros((n, 3))
    step[1:, [0, 2]] = data[:-1, 1:3]
    root = np.cumsum(_qrot(inv, step), axis=0)
    root[:, 1] = data[:, 3]
    ric = _qrot(inv[:, None], data[:, FEATURE_GROUPS["ric"]].reshape(n, N_JOINTS - 1, 3))
    ric[..., 0] += root[:, None, 0]
    ric[..., 2] += root[:, None, 2]
    return np.concatenate([root[:, None], ric], axis=1).astype(dtype, copy=False)
