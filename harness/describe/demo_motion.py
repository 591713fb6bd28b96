"""A built-in synthetic demo motion: stand, walk forward four steps, then wave the right arm.

Made with `smd.forward_kinematics` from hand-written angle curves, so it needs no dataset and is
exactly reproducible (no randomness). `smd describe` with no file describes it.
"""

from __future__ import annotations

import numpy as np

import smd

DURATION_S = 6.0
STAND_END_S = 1.0  # standing still until here
WALK_END_S = 3.0  # four steps (two gait cycles of 1 s) between STAND_END_S and here
RAISE_END_S = 3.6  # the right arm is raised between WALK_END_S and here, then waves
GAIT_PERIOD_S = 1.0
WALK_SPEED = 1.2  # m/s along +Z
WAVE_HZ = 1.5
RAMP_S = 0.2  # walking fades in and out over this long
START_PHASE = 3.0 * np.pi / 8.0  # gait phase (radians) at the first step


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def demo_angles(fps: float = 20.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Time grid (s) and the SMD angle curves (degrees) of the demo motion."""
    n = int(round(DURATION_S * fps))
    t = np.arange(n) / fps

    # walking envelope: 0 when standing / waving, 1 mid-walk, smooth in between
    walk = _smoothstep((t - STAND_END_S) / RAMP_S) * _smoothstep((WALK_END_S - t) / RAMP_S)
    # the gait starts (and ends) with the left foot ahead and both knees straight
    walked = np.clip(t - STAND_END_S, 0.0, WALK_END_S - STAND_END_S)
    phase = START_PHASE + 2.0 * np.pi * walked / GAIT_PERIOD_S
    hip = 25.0 * np.sin(phase) * walk
    # each knee bends once per gait cycle (0..60 deg), in swing as its hip passes from extension
    # to flexion, and is straight in stance (heel strike at peak hip flexion)
    swing = np.cos(phase + np.pi / 8.0)
    knee_left = 60.0 * np.clip(swing, 0.0, None) ** 2 * walk
    knee_right = 60.0 * np.clip(-swing, 0.0, None) ** 2 * walk
    arm_swing = 20.0 * np.sin(phase) * walk

    # right arm: raised forward and out to the side, elbow bent, then the forearm waves
    raise_ = _smoothstep((t - WALK_END_S) / (RAISE_END_S - WALK_END_S))
    wave_t = np.clip(t - RAISE_END_S, 0.0, None)
    wave = np.where(t >= RAISE_END_S, 30.0 * (1.0 - np.cos(2.0 * np.pi * WAVE_HZ * wave_t)) / 2.0, 0.0)

    angles = {
        "left_hip_flexion": hip,
        "right_hip_flexion": -hip,
        "left_knee_flexion": knee_left,
        "right_knee_flexion": knee_right,
        # plantarflexion at push-off, when the hip is most extended: the heel rises
        "left_ankle_dorsiflexion": -20.0 * np.clip(-np.sin(phase), 0.0, None) ** 2 * walk,
        "right_ankle_dorsiflexion": -20.0 * np.clip(np.sin(phase), 0.0, None) ** 2 * walk,
        "pelvis_rotation": 5.0 * np.sin(phase) * walk,
        "left_shoulder_flexion": -arm_swing,
        "right_shoulder_flexion": arm_swing * (1.0 - raise_) + 60.0 * raise_,
        "right_shoulder_adduction": -70.0 * raise_,
        "left_elbow_flexion": np.full(n, 20.0) + 10.0 * np.clip(-np.sin(phase), 0.0, None) * walk,
        "right_elbow_flexion": 20.0 + 60.0 * raise_ + wave,
    }
    return t, angles


def demo_motion(fps: float = 20.0) -> np.ndarray:
    """Joints (T, 22, 3), Y-up, +Z forward, of a ~6 s motion at `fps`.

    0-1 s stand still; 1-3 s walk forward four steps along +Z at ~1.2 m/s (hips +-25 deg, knees
    0..60 deg, arms swinging opposite the legs); 3-6 s raise the right arm and wave it (elbow
    flexion oscillating at 1.5 Hz). Each frame is lowered so that its lowest joint touches the
    floor, which puts the pelvis at ~0.86 m on the HumanML3D skeleton when standing and gives the
    walk its natural vertical bob.
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    t, angles = demo_angles(fps)
    n = t.shape[0]
    # forward position: trapezoidal integral of the speed envelope
    speed = WALK_SPEED * _smoothstep((t - STAND_END_S) / RAMP_S) * _smoothstep((WALK_END_S - t) / RAMP_S)
    forward = np.concatenate([[0.0], np.cumsum((speed[1:] + speed[:-1]) / 2.0) / fps])
    root = np.zeros((n, 3))
    root[:, 2] = forward
    joints = smd.forward_kinematics(angles, root)
    # stand on the floor: the lowest joint of every frame at y = 0
    joints[..., 1] -= joints[..., 1].min(axis=1, keepdims=True)
    return joints
