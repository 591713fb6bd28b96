"""The HumanML3D / SMPL 22-joint body: joint order, kinematic tree and the reference skeleton.

Everything here is constant data. Bone lengths come from HumanML3D's retargeting target
(motion 000021, frame 0), symmetrised left/right so that forward kinematics of a mirrored
pose is the exact mirror image.
"""

from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
)
N_JOINTS = len(JOINT_NAMES)
J = {name: i for i, name in enumerate(JOINT_NAMES)}

KINEMATIC_CHAINS: tuple[tuple[int, ...], ...] = (
    (0, 2, 5, 8, 11),  # right leg
    (0, 1, 4, 7, 10),  # left leg
    (0, 3, 6, 9, 12, 15),  # spine / head
    (9, 14, 17, 19, 21),  # right arm
    (9, 13, 16, 18, 20),  # left arm
)

PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)

# Joint permutation that swaps left and right (used to mirror a motion).
MIRROR_PERMUTATION: tuple[int, ...] = tuple(
    J[n.replace("left_", "@").replace("right_", "left_").replace("@", "right_")] for n in JOINT_NAMES
)

# T2M's raw bone directions (HumanML3D paramUtil.t2m_raw_offsets), in the canonical frame:
# +X the body's left, +Y up, +Z forward.
T2M_RAW_OFFSETS = np.array(
    [
        [0, 0, 0],
        [1, 0, 0],
        [-1, 0, 0],
        [0, 1, 0],
        [0, -1, 0],
        [0, -1, 0],
        [0, 1, 0],
        [0, -1, 0],
        [0, -1, 0],
        [0, 1, 0],
        [0, 0, 1],
        [0, 0, 1],
        [0, 1, 0],
        [1, 0, 0],
        [-1, 0, 0],
        [0, 0, 1],
        [0, -1, 0],
        [0, -1, 0],
        [0, -1, 0],
        [0, -1, 0],
        [0, -1, 0],
        [0, -1, 0],
    ],
    dtype=np.float64,
)

# Bone lengths (metres) of the HumanML3D target skeleton, joint -> parent, left/right averaged.
# Measured from ../shared/fixtures/humanml3d_extra/skeleton_000021_frame0_raw52.npy (a test checks them).
BONE_LENGTHS = np.array(
    [
        0.0,
        0.1065,
        0.1065,
        0.1316,
        0.3919,
        0.3919,
        0.1432,
        0.4290,
        0.4290,
        0.0574,
        0.1464,
        0.1464,
        0.2194,
        0.1404,
        0.1404,
        0.1030,
        0.1273,
        0.1273,
        0.2600,
        0.2600,
        0.2679,
        0.2679,
    ]
)
