"""The demo's action library: continuous angle curves and root motion for BABEL-QA's actions.

Every action is a builder `(duration, rng, params) -> ActionCurve`. The builder draws its random
details (phases, depths, rhythms) once; the curve it returns is a pure function of local time in
seconds, so the same motion can be sampled at any frame rate (20 fps for HumanML3D, 30 fps for
BABEL-QA) from one definition. A curve gives, per time step: SMD angles in degrees (keys of
`smd.kinematics.POSE_KEYS`; a missing key means the resting value in `REST`), the root's velocity in
the body frame (m/s, forward and to the body's left), the yaw rate (deg/s, + turning left) and a
lift above the floor (m, only jumps). Times outside `[0, duration]` are clamped: an action holds its
first and last pose, which is what the composer blends across.

Actions (library kinds): the 17 BABEL-QA answer actions that a body can do without props or the
floor, plus "raise arm" and "turn", which BABEL-QA has no answer word for (their labels carry only
a body part or a direction). Skipped BABEL-QA answers are listed in `SKIPPED`.

This module is the registry (`LIBRARY` of `ActionDef`s, `random_params`, `build_action`, `label`);
the curve primitives are in `curves`, the builders in `builders`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .builders import (
    _locomotion,
    catch,
    crouch,
    jump,
    jumping_jacks,
    kick,
    kneel,
    knock,
    pick_up,
    place_something,
    raise_arm,
    sit,
    squat,
    stand_up,
    throw,
    turn,
    wave,
)
from .curves import ActionCurve, ActionParams, Builder

BABEL_ACTIONS: tuple[str, ...] = (
    "walk",
    "jog",
    "run",
    "jump",
    "jumping jacks",
    "squat",
    "crouch",
    "kneel",
    "sit",
    "stand up",
    "kick",
    "throw",
    "wave",
    "catch",
    "knock",
    "place something",
    "take/pick something up",
)
DIRECTIONS: tuple[str, ...] = ("forward", "backwards", "left", "right")
BODY_PARTS: tuple[str, ...] = (
    "left arm",
    "right arm",
    "left hand",
    "right hand",
    "left leg",
    "right leg",
    "left foot",
    "right foot",
)
SKIPPED: dict[str, str] = {
    "crawl": "needs hands and knees on the floor: the per-frame floor rule (lowest joint at y=0) "
    "and an upright pelvis frame cannot keep four contacts",
    "cartwheel": "an upside-down rotation about the forward axis; the root-yaw-only path cannot express it",
    "flip": "a somersault about the lateral axis; the root-yaw-only path cannot express it",
}

# ---------------------------------------------------------------- the library


@dataclass(frozen=True)
class ActionDef:
    """One library kind.

    Attributes:
        kind: library name; the BABEL-QA answer string for labelled actions.
        build: the builder.
        durations: (min, max) seconds.
        directions: choices and their weights; None means "no direction".
        parts: body part kinds the label may name ("hand", "arm", "leg", "foot"); empty: none.
        sided: the action is done with one side of the body.
        ends_low: the action ends sitting / kneeling / crouching (a "stand up" may follow).
        weight: how often the random composer picks it.
    """

    kind: str
    build: Builder
    durations: tuple[float, float]
    directions: tuple[tuple[str | None, float], ...] = ((None, 1.0),)
    parts: tuple[tuple[str, float], ...] = ()
    sided: bool = False
    ends_low: bool = False
    weight: float = 1.0

    @property
    def action(self) -> str | None:
        """The BABEL-QA action label, or None for kinds BABEL-QA has no word for."""
        return self.kind if self.kind in BABEL_ACTIONS else None


_HAND_ARM = (("hand", 0.7), ("arm", 0.3))
_LOCO = {
    "walk": (("forward", 0.3), ("backwards", 0.2), ("left", 0.25), ("right", 0.25)),
    "jog": (("forward", 0.6), ("backwards", 0.4)),
    "run": (("forward", 0.7), ("backwards", 0.3)),
}
_JUMP_DIRS = ((None, 0.3), ("forward", 0.25), ("backwards", 0.15), ("left", 0.15), ("right", 0.15))

LIBRARY: dict[str, ActionDef] = {
    d.kind: d
    for d in (
        ActionDef("walk", _locomotion("walk"), (1.6, 3.5), _LOCO["walk"], weight=2.0),
        ActionDef("jog", _locomotion("jog"), (1.4, 3.0), _LOCO["jog"]),
        ActionDef("run", _locomotion("run"), (1.2, 2.5), _LOCO["run"]),
        ActionDef("jump", jump, (1.4, 2.2), _JUMP_DIRS, weight=1.2),
        ActionDef("jumping jacks", jumping_jacks, (2.0, 4.0)),
        ActionDef("squat", squat, (1.6, 4.0)),
        ActionDef("crouch", crouch, (1.2, 2.5), ends_low=True),
        ActionDef("kneel", kneel, (1.6, 3.0), parts=(("leg", 1.0),), ends_low=True),
        ActionDef("sit", sit, (1.5, 3.0), ends_low=True, weight=1.2),
        ActionDef("stand up", stand_up, (1.2, 2.0), weight=0.0),
        ActionDef("kick", kick, (1.2, 2.0), parts=(("leg", 0.5), ("foot", 0.5)), sided=True, weight=1.3),
        ActionDef("throw", throw, (1.2, 2.2), parts=(("hand", 0.6), ("arm", 0.4)), sided=True),
        ActionDef("wave", wave, (2.2, 3.8), parts=_HAND_ARM, sided=True),
        ActionDef("catch", catch, (1.2, 2.2), parts=(("hand", 0.8), ("arm", 0.2)), sided=True),
        ActionDef("knock", knock, (1.6, 2.8), parts=(("hand", 0.8), ("arm", 0.2)), sided=True),
        ActionDef("place something", place_something, (1.6, 2.6), parts=(("hand", 1.0),), sided=True),
        ActionDef("take/pick something up", pick_up, (1.6, 2.6), parts=(("hand", 1.0),), sided=True),
        ActionDef("raise arm", raise_arm, (1.6, 3.0), parts=(("arm", 1.0),), sided=True, weight=0.8),
        ActionDef("turn", turn, (1.2, 2.5), (("left", 0.5), ("right", 0.5)), weight=1.2),
    )
}


def _choose(rng: np.random.Generator, options: Sequence[tuple[object, float]]):
    weights = np.array([w for _, w in options], dtype=np.float64)
    return options[int(rng.choice(len(options), p=weights / weights.sum()))][0]


def random_params(kind: str, rng: np.random.Generator) -> ActionParams:
    """Random speed, amplitude, side, body part and direction for one performance of `kind`."""
    spec = LIBRARY[kind]
    side = ("left", "right")[int(rng.integers(2))] if spec.sided else None
    part = _choose(rng, spec.parts) if spec.parts else None
    if kind == "kneel" and rng.random() < 0.4:  # on both knees: no side, no body part
        part = None
    elif kind == "kneel":
        side = ("left", "right")[int(rng.integers(2))]
    return ActionParams(
        speed=float(rng.uniform(0.8, 1.25)),
        amplitude=float(rng.uniform(0.85, 1.15)),
        side=side,
        part=part,
        direction=_choose(rng, spec.directions),
        turn_deg=float(rng.uniform(60.0, 180.0)),
    )


def build_action(kind: str, duration: float, rng: np.random.Generator, params: ActionParams) -> ActionCurve:
    """The curve of one performance; raises ValueError for an unknown kind or missing side."""
    if kind not in LIBRARY:
        raise ValueError(f"unknown action kind {kind!r}; known: {', '.join(LIBRARY)}")
    spec = LIBRARY[kind]
    if spec.sided and params.side not in ("left", "right"):
        raise ValueError(f"{kind!r} needs side='left' or 'right', got {params.side!r}")
    if kind == "turn" and params.direction not in ("left", "right"):
        raise ValueError(f"a turn needs direction 'left' or 'right', got {params.direction!r}")
    return spec.build(float(duration), rng, params)


def label(kind: str, params: ActionParams) -> dict[str, list[str]]:
    """BABEL-QA attributes of one performance: {action, body_part, direction} lists (maybe empty)."""
    spec = LIBRARY[kind]
    body = [f"{params.side} {params.part}"] if params.part and params.side else []
    return {
        "action": [spec.action] if spec.action else [],
        "body_part": body,
        "direction": [params.direction] if params.direction else [],
    }
