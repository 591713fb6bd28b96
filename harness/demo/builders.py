"""The builders of the demo's action library: one `(duration, rng, params) -> ActionCurve` per action.

Locomotion (walk, jog, run, side steps), whole-body actions (jumps, jumping jacks, squats,
crouching, sitting, kneeling, standing up) and one-sided actions (kick, throw, catch, wave, knock,
raise arm, place and pick up) plus turns. Each draws its random details once and returns a curve
built from the primitives in `curves`; `actions` registers them as library kinds.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .curves import REST, ActionCurve, ActionParams, Builder, _k, _other, _sample, _scripted, window

GRAVITY = 9.81


# ---------------------------------------------------------------- locomotion

# speed (m/s), gait cycles per second, hip / knee-swing / stance-knee / arm amplitudes (deg),
# elbow (deg), trunk lean (deg), flight lift (m)
_GAITS = {
    "walk": (1.25, 0.9, 25.0, 55.0, 5.0, 20.0, 18.0, 0.0, 0.0),
    "jog": (2.2, 1.3, 35.0, 85.0, 15.0, 30.0, 80.0, 5.0, 0.035),
    "run": (3.6, 1.5, 45.0, 105.0, 20.0, 45.0, 90.0, 12.0, 0.07),
}


def _locomotion(kind: str) -> Builder:
    def build(duration: float, rng: np.random.Generator, p: ActionParams) -> ActionCurve:
        speed, cadence, hip, knee, knee0, arm, elbow, lean, lift = _GAITS[kind]
        a, phase0 = p.amplitude, rng.uniform(0, 2 * np.pi)
        if p.direction in ("left", "right"):
            return _side_step(duration, rng, p, phase0)
        backwards = p.direction == "backwards"
        v = speed * p.speed * (0.55 if backwards else 1.0)
        freq = cadence * np.sqrt(p.speed) * (-1.0 if backwards else 1.0)

        def fn(t):
            ph = phase0 + 2 * np.pi * freq * t
            swing = np.cos(ph + np.pi / 8)
            h = hip * a * np.sin(ph)
            angles = {
                "left_hip_flexion": h + lean,
                "right_hip_flexion": -h + lean,
                "left_knee_flexion": knee0 + knee * a * np.clip(swing, 0, None) ** 2,
                "right_knee_flexion": knee0 + knee * a * np.clip(-swing, 0, None) ** 2,
                "left_ankle_dorsiflexion": -15 * a * np.clip(-np.sin(ph), 0, None) ** 2,
                "right_ankle_dorsiflexion": -15 * a * np.clip(np.sin(ph), 0, None) ** 2,
                "pelvis_rotation": 5 * a * np.sin(ph),
                "pelvis_tilt": lean + 0 * t,
                "lumbar_rotation": -4 * a * np.sin(ph),
                "left_shoulder_flexion": -arm * a * np.sin(ph),
                "right_shoulder_flexion": arm * a * np.sin(ph),
                "left_elbow_flexion": elbow + 8 * np.clip(-np.sin(ph), 0, None),
                "right_elbow_flexion": elbow + 8 * np.clip(np.sin(ph), 0, None),
            }
            up = lift * p.speed * np.sin(2 * ph) ** 2
            return _sample(t, angles, forward=(-v if backwards else v) + 0 * t, lift=up)

        return ActionCurve(duration, fn)

    return build


def _side_step(duration, rng, p: ActionParams, phase0: float) -> ActionCurve:
    lead = p.direction
    trail = _other(lead)
    v = rng.uniform(0.45, 0.7) * p.speed * (1.0 if lead == "left" else -1.0)
    freq = 1.0 * np.sqrt(p.speed)
    a = 18.0 * p.amplitude

    def fn(t):
        ph = phase0 + 2 * np.pi * freq * t
        lead_up, trail_up = np.clip(np.sin(ph), 0, None), np.clip(-np.sin(ph), 0, None)
        angles = {
            _k(lead, "hip_adduction"): -a * (1 - np.cos(ph)) / 2,
            _k(trail, "hip_adduction"): -0.4 * a * (1 - np.cos(ph)) / 2,
            _k(lead, "knee_flexion"): 5 + 20 * lead_up,
            _k(trail, "knee_flexion"): 5 + 20 * trail_up,
            _k(lead, "hip_flexion"): 8 * lead_up,
            _k(trail, "hip_flexion"): 8 * trail_up,
            _k(lead, "shoulder_adduction"): -6 - 8 * lead_up,
        }
        return _sample(t, angles, left=v + 0 * t)

    return ActionCurve(duration, fn)


# ---------------------------------------------------------------- whole-body actions


def _both(**angles: float) -> dict[str, float]:
    """The same value for the left and the right angle: _both(knee_flexion=30)."""
    return {f"{side}_{name}": v for name, v in angles.items() for side in ("left", "right")}


def _legs(knee: float, hip: float) -> dict[str, float]:
    return _both(knee_flexion=knee, hip_flexion=hip)


def _timeline(duration: float, knots, **motion) -> ActionCurve:
    """A scripted action from (fraction of the duration, pose) knots."""
    return _scripted(duration, [(f * duration, pose) for f, pose in knots], **motion)


def jump(duration, rng, p: ActionParams) -> ActionCurve:
    a = p.amplitude
    height = rng.uniform(0.15, 0.32) * a
    flight = 2 * np.sqrt(2 * height / GRAVITY)
    mid = duration * rng.uniform(0.45, 0.55)
    t_off, t_land = mid - flight / 2, mid + flight / 2
    dist = {"forward": rng.uniform(0.4, 0.8), "backwards": -rng.uniform(0.25, 0.45)}.get(p.direction, 0.0)
    side = {"left": rng.uniform(0.3, 0.5), "right": -rng.uniform(0.3, 0.5)}.get(p.direction, 0.0)
    crouch = {"pelvis_tilt": 20, "lumbar_extension": -10} | _both(ankle_dorsiflexion=25, shoulder_flexion=-40)
    absorb = {"pelvis_tilt": 15} | _both(ankle_dorsiflexion=25, shoulder_flexion=30)
    knots = [
        (0.0, {}),
        (max(t_off - 0.35, 0.0), {}),
        (t_off - 0.05, crouch | _legs(70 * a, 60 * a + 20)),
        (t_off + 0.06, _both(ankle_dorsiflexion=-25, shoulder_flexion=130) | _legs(5, 0)),
        (mid, _both(shoulder_flexion=120) | _legs(40 * a, 35 * a)),
        (t_land, _both(ankle_dorsiflexion=-10, shoulder_flexion=60) | _legs(15, 10)),
        (t_land + 0.15, absorb | _legs(55 * a, 45 * a + 15)),
        (t_land + 0.45, {}),
    ]
    lo, hi = t_off - 0.1, t_land + 0.1

    def travel(distance):
        return lambda t: 2 * distance / (hi - lo) * np.sin(np.pi * np.clip((t - lo) / (hi - lo), 0, 1)) ** 2

    def lift(t):
        s = np.clip((t - t_off) / flight, 0, 1)
        return 4 * height * s * (1 - s)

    return _scripted(duration, knots, forward=travel(dist), left=travel(side), lift=lift)


def jumping_jacks(duration, rng, p: ActionParams) -> ActionCurve:
    a = p.amplitude
    t0, t1 = 0.12 * duration, 0.9 * duration
    reps = max(1, int(round((t1 - t0) * rng.uniform(1.1, 1.4) * p.speed)))
    period = (t1 - t0) / reps
    hop = rng.uniform(0.04, 0.08)

    def fn(t):
        inside = (t >= t0) & (t <= t1)
        x = np.where(inside, (t - t0) / period, 0.0)
        c, bounce = (1 - np.cos(2 * np.pi * x)) / 2, np.sin(2 * np.pi * x) ** 2
        angles = _both(shoulder_adduction=-6 - 140 * a * c, hip_adduction=-14 * a * c)
        angles |= _both(knee_flexion=5 + 12 * bounce, elbow_flexion=12 + 8 * c)
        return _sample(t, angles, lift=np.where(inside, hop * bounce, 0.0))

    return ActionCurve(duration, fn)


def _scaled(pose: Mapping[str, float], amplitude: float) -> dict[str, float]:
    """A pose's departure from REST scaled by `amplitude`."""
    return {k: REST.get(k, 0.0) + (v - REST.get(k, 0.0)) * amplitude for k, v in pose.items()}


def squat(duration, rng, p: ActionParams) -> ActionCurve:
    a = p.amplitude
    t0, t1 = 0.1 * duration, 0.9 * duration
    reps = max(1, int(round((t1 - t0) / rng.uniform(1.3, 1.9) * p.speed)))
    period = (t1 - t0) / reps
    low = {"pelvis_tilt": 25, "lumbar_extension": -10} | _both(ankle_dorsiflexion=25, elbow_flexion=20)
    low |= _legs(110 * a, 90 * a + 25) | _both(shoulder_flexion=80 * a)

    def fn(t):
        depth = (1 - np.cos(2 * np.pi * np.clip((t - t0) / period, 0, reps))) / 2
        return _sample(t, _scaled(low, depth))

    return ActionCurve(duration, fn)


CROUCH_POSE = {"pelvis_tilt": 30, "lumbar_extension": -18, "neck_flexion": -10} | _legs(130, 120)
CROUCH_POSE |= _both(ankle_dorsiflexion=35, shoulder_flexion=35, elbow_flexion=40)
SIT_POSE = {"lumbar_extension": -5} | _both(shoulder_flexion=25, elbow_flexion=50) | _legs(90, 90)


def crouch(duration, rng, p: ActionParams) -> ActionCurve:
    pose = _scaled(CROUCH_POSE, p.amplitude)
    return _timeline(duration, [(0.0, {}), (0.12, {}), (rng.uniform(0.45, 0.6), pose), (1.0, pose)])


def _go_down(duration, rng, mid: dict, pose: dict) -> ActionCurve:
    down = rng.uniform(0.55, 0.7)
    return _timeline(duration, [(0.0, {}), (0.1, {}), ((0.1 + down) / 2, mid), (down, pose), (1.0, pose)])


def sit(duration, rng, p: ActionParams) -> ActionCurve:
    lean = {"lumbar_extension": -25, "pelvis_tilt": 15} | _legs(55, 70) | _both(shoulder_flexion=30)
    return _go_down(duration, rng, lean, SIT_POSE)


def kneel(duration, rng, p: ActionParams) -> ActionCurve:
    if p.side is None:  # both knees
        pose = _both(ankle_dorsiflexion=-30) | _legs(95, -5)
    else:
        s, o = p.side, _other(p.side)
        # the kneeling knee and the front foot both touch the floor on this skeleton
        pose = {_k(s, "hip_flexion"): -5, _k(s, "knee_flexion"): 95, _k(s, "ankle_dorsiflexion"): -50}
        pose |= {_k(o, "hip_flexion"): 95, _k(o, "knee_flexion"): 120, _k(o, "ankle_dorsiflexion"): 20}
    mid = {"lumbar_extension": -20, "pelvis_tilt": 15} | _legs(60, 60)
    return _go_down(duration, rng, mid, pose | _both(elbow_flexion=25))


def stand_up(duration, rng, p: ActionParams) -> ActionCurve:
    start = dict(p.start_pose) if p.start_pose is not None else dict(SIT_POSE)
    lean = {k: v * 0.6 for k, v in start.items()} | {"lumbar_extension": -25, "pelvis_tilt": 20}
    up = rng.uniform(0.65, 0.8)
    return _timeline(duration, [(0.0, start), (0.1, start), (0.45 * up, lean), (up, {}), (1.0, {})])


# ---------------------------------------------------------------- one-sided actions


def kick(duration, rng, p: ActionParams) -> ActionCurve:
    s, o = p.side, _other(p.side)
    peak = rng.uniform(60, 80) * p.amplitude
    hip, knee = _k(s, "hip_flexion"), _k(s, "knee_flexion")
    support = {_k(o, "knee_flexion"): 12, _k(o, "shoulder_flexion"): 25, _k(s, "shoulder_flexion"): -15}
    knots = [
        (0.0, {}),
        (0.15, {}),
        (0.35, support | {hip: 0.4 * peak, knee: 75}),
        (0.5, support | {hip: peak, knee: 8, "lumbar_extension": 10}),
        (0.65, support | {hip: 0.45 * peak, knee: 50}),
        (0.85, {}),
    ]
    return _timeline(duration, knots)


def throw(duration, rng, p: ActionParams) -> ActionCurve:
    s, o, a = p.side, _other(p.side), p.amplitude
    sign = 1.0 if s == "right" else -1.0  # the trunk winds up away from the throwing arm
    windup = {
        _k(s, "shoulder_flexion"): 150 * a,
        _k(s, "shoulder_adduction"): -30,
        _k(s, "elbow_flexion"): 100,
    }
    windup |= {"lumbar_rotation": -25 * sign, _k(o, "shoulder_flexion"): 40}
    release = {_k(s, "shoulder_flexion"): 70 * a, _k(s, "elbow_flexion"): 10, "lumbar_rotation": 20 * sign}
    release |= {_k(o, "hip_flexion"): 20, _k(o, "shoulder_flexion"): -15, "lumbar_extension": -10}
    t = rng.uniform(0.5, 0.6)
    knots = [(0.0, {}), (0.12, {}), (0.38, windup), (t, release), (t + 0.1, release), (0.9, {})]
    return _timeline(duration, knots)


def catch(duration, rng, p: ActionParams) -> ActionCurve:
    s, o = p.side, _other(p.side)
    reach = {_k(s, "shoulder_flexion"): rng.uniform(95, 125) * p.amplitude, _k(s, "elbow_flexion"): 18}
    reach |= {_k(o, "shoulder_flexion"): 45, _k(o, "elbow_flexion"): 45, "lumbar_extension": 5}
    held = {_k(s, "shoulder_flexion"): 35, _k(s, "elbow_flexion"): 110}
    held |= {_k(o, "shoulder_flexion"): 25, _k(o, "elbow_flexion"): 80}
    knots = [(0.0, {}), (0.1, {}), (0.35, reach), (0.5, reach), (0.7, held), (0.85, held), (1.0, {})]
    return _timeline(duration, knots)


def _rhythmic_arm(duration, rng, raised, osc, hz, start, end, cycles) -> ActionCurve:
    """Raise the arm to `raised`, oscillate the keys of `osc` (amplitudes, deg) at `hz` (at least
    `cycles` times), lower it."""
    d = duration
    hz = max(hz, cycles / (end - start) / d)
    base = _timeline(d, [(0.0, {}), (0.08, {}), (start, raised), (end, raised), (min(end + 0.25, 1.0), {})])
    phase = rng.uniform(-0.2, 0.2)
    t0, t1 = start * d, end * d

    def fn(t):
        angles = dict(base.fn(t).angles)
        wave = np.sin(2 * np.pi * hz * (t - t0) + phase) * window(t, t0, t0 + 0.1, t1 - 0.1, t1)
        for key, amp in osc.items():
            angles[key] = angles[key] + amp * wave
        return _sample(t, angles)

    return ActionCurve(d, fn)


def wave(duration, rng, p: ActionParams) -> ActionCurve:
    s, a = p.side, p.amplitude
    raised = {_k(s, "shoulder_adduction"): -rng.uniform(80, 105) * a, _k(s, "shoulder_flexion"): 20}
    raised |= {_k(s, "elbow_flexion"): 70}
    osc = {_k(s, "elbow_flexion"): 28 * a, _k(s, "shoulder_adduction"): 8 * a}
    return _rhythmic_arm(duration, rng, raised, osc, rng.uniform(1.3, 1.9) * p.speed, 0.25, 0.85, 2.2)


def knock(duration, rng, p: ActionParams) -> ActionCurve:
    s, a = p.side, p.amplitude
    raised = {_k(s, "shoulder_flexion"): rng.uniform(65, 85) * a, _k(s, "elbow_flexion"): 95}
    osc = {_k(s, "elbow_flexion"): 25 * a, _k(s, "shoulder_flexion"): 8 * a}
    return _rhythmic_arm(duration, rng, raised, osc, rng.uniform(1.7, 2.2) * p.speed, 0.3, 0.78, 2.2)


def raise_arm(duration, rng, p: ActionParams) -> ActionCurve:
    s, a = p.side, p.amplitude
    if rng.random() < 0.5:  # forward
        up = {_k(s, "shoulder_flexion"): rng.uniform(90, 160) * a}
    else:  # sideways
        up = {_k(s, "shoulder_adduction"): -rng.uniform(80, 120) * a, _k(s, "shoulder_flexion"): 10}
    up |= {_k(s, "elbow_flexion"): 8}
    return _timeline(duration, [(0.0, {}), (0.12, {}), (0.4, up), (0.6, up), (0.88, {})])


def _bend(depth: float, side: str, shoulder: float, elbow: float) -> dict[str, float]:
    """Bending forward from the hips with bent knees (depth ~ 1: reaching to the floor), one arm out."""
    pose = {"pelvis_tilt": 30 * depth, "lumbar_extension": -25 * depth, "neck_flexion": 15 * depth}
    pose |= _both(ankle_dorsiflexion=15 * depth) | _legs(45 * depth, 55 * depth)
    return pose | {_k(side, "shoulder_flexion"): shoulder, _k(side, "elbow_flexion"): elbow}


def place_something(duration, rng, p: ActionParams) -> ActionCurve:
    s = p.side
    holding = {_k(s, "shoulder_flexion"): 35, _k(s, "elbow_flexion"): 95}
    reach = _bend(rng.uniform(0.7, 1.0) * p.amplitude, s, 55, 8)
    return _timeline(duration, [(0.0, holding), (0.1, holding), (0.45, reach), (0.58, reach), (0.9, {})])


def pick_up(duration, rng, p: ActionParams) -> ActionCurve:
    s = p.side
    holding = {_k(s, "shoulder_flexion"): 30, _k(s, "elbow_flexion"): 95}
    reach = _bend(rng.uniform(1.0, 1.3) * p.amplitude, s, 60, 5)
    knots = [(0.0, {}), (0.1, {}), (0.42, reach), (0.55, reach), (0.85, holding), (1.0, holding)]
    return _timeline(duration, knots)


def turn(duration, rng, p: ActionParams) -> ActionCurve:
    sign = 1.0 if p.direction == "left" else -1.0
    t0, t1 = 0.1 * duration, 0.9 * duration
    hz = 1.6 * p.speed

    def fn(t):
        u = np.clip((t - t0) / (t1 - t0), 0, 1)
        inside = (t > t0) & (t < t1)
        rate = np.where(inside, sign * p.turn_deg / (t1 - t0) * (1 - np.cos(2 * np.pi * u)), 0.0)
        env = np.sin(np.pi * u) ** 0.5
        step = np.sin(2 * np.pi * hz * (t - t0)) * env
        angles = {
            "left_hip_flexion": 15 * np.clip(step, 0, None),
            "right_hip_flexion": 15 * np.clip(-step, 0, None),
            "left_knee_flexion": 30 * np.clip(step, 0, None),
            "right_knee_flexion": 30 * np.clip(-step, 0, None),
        }
        return _sample(t, angles, yaw_rate=rate)

    return ActionCurve(duration, fn)
