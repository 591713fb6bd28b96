"""`analyze`: joints -> MotionAnalysis, computed once per motion and rendered for every variant."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .angles import ANGLES, joint_angles
from .canonical import canonicalize
from .segments import Cuts, Segment, SegmentTable, find_cuts, segment_table, smooth
from .trajectory import TRAJECTORY_CURVES, TrajectorySummary, summarize, trajectory_curves

SMOOTH_S = 0.25  # moving-average window, seconds
# Peaks are searched once at this prominence and filtered for each variant's (larger) delta.
MIN_DELTA = 3.0
_N_ANGLES, _N_TRAJECTORY = len(ANGLES), len(TRAJECTORY_CURVES)


@dataclass(frozen=True)
class MotionAnalysis:
    """Everything the renderer needs, independent of the variant.

    Attributes:
        fps: frames per second of the input.
        n_frames: number of frames.
        angles: (T, 26) joint angles in degrees, ANGLES order.
        smoothed: (T, 26) the same after the moving average.
        determined: (26,) False where an angle is undefined over the whole clip.
        activity: (26,) total variation of the smoothed curve (degrees), the top-k ranking measure.
        trajectory: (T, 4) height, forward, lateral (m), heading (deg); raw.
        summary: displacement, height change, mean height.
    """

    fps: float
    n_frames: int
    angles: np.ndarray
    smoothed: np.ndarray
    determined: np.ndarray
    activity: np.ndarray
    trajectory: np.ndarray
    summary: TrajectorySummary
    # the smoothed angle then trajectory curves, one per row (30, T), and their cut points: the
    # angles' at MIN_DELTA, the trajectory's at each curve's own threshold
    _curves: np.ndarray = field(repr=False, compare=False)
    _cuts: Cuts = field(repr=False, compare=False)
    _trajectory_cuts: Cuts = field(repr=False, compare=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps

    def angle_segments(self, delta: float) -> tuple[tuple[Segment, ...], ...]:
        """Segments of every angle at threshold `delta` (memoised per delta)."""
        key = ("angles", float(delta))
        if key not in self._cache:
            segs = self.angle_table(delta).segments(_N_ANGLES)
            self._cache[key] = tuple(s if ok else () for s, ok in zip(segs, self.determined.tolist()))
        return self._cache[key]

    def angle_table(self, delta: float) -> SegmentTable:
        """`angle_segments(delta)` as one table (memoised), undetermined angles included."""
        key = ("angle_table", float(delta))
        if key not in self._cache:
            self.prepare([delta], trajectory=False)
        return self._cache[key]

    def trajectory_segments(self) -> tuple[tuple[Segment, ...], ...]:
        """Segments of the four trajectory curves at their own thresholds."""
        key = ("trajectory",)
        if key not in self._cache:
            self.prepare([], trajectory=True)
            self._cache[key] = tuple(self._cache[("trajectory_table",)].segments(_N_TRAJECTORY))
        return self._cache[key]

    def prepare(self, deltas: Iterable[float], *, trajectory: bool = True) -> None:
        """Segment the angles at the thresholds `deltas` and (if `trajectory`) the trajectory,
        whatever is not memoised yet, in one pass.

        The angle curves are laid end to end once per threshold, the trajectory's after them, and
        all are segmented together: most of the work is a fixed number of array operations per
        pass, so one pass for every threshold costs far less than one per threshold.
        """
        cache = self._cache
        todo = sorted({float(d) for d in deltas if ("angle_table", float(d)) not in cache})
        trajectory = trajectory and ("trajectory_table",) not in cache
        if not (todo or trajectory):
            return
        angles, traj = self._curves[:_N_ANGLES], self._curves[_N_ANGLES:]
        if "flat" not in cache:  # the angle curves as a Python list, for every pass
            cache["flat"] = angles.ravel().tolist()
        parts = [(angles, find_cuts(angles, d) if d < MIN_DELTA else self._cuts) for d in todo]
        deltas, flat = np.repeat(todo, _N_ANGLES), cache["flat"] * len(todo)
        if trajectory:
            parts.append((traj, self._trajectory_cuts))
            deltas = np.concatenate([deltas, [c.delta for c in TRAJECTORY_CURVES]])
            flat = flat + traj.ravel().tolist()
        table = segment_table(
            np.concatenate([x for x, _ in parts]),
            self.fps,
            deltas,
            Cuts.concatenate([c for _, c in parts], [x.size for x, _ in parts]),
            flat=flat,
        )
        for k, delta in enumerate(todo):
            cache[("angle_table", delta)] = table.columns(k * _N_ANGLES, (k + 1) * _N_ANGLES)
        if trajectory:
            first = len(todo) * _N_ANGLES
            cache[("trajectory_table",)] = table.columns(first, first + _N_TRAJECTORY)


def _settle(x: np.ndarray) -> np.ndarray:
    """Round away float noise (1e-9) so that the same movement in another frame of reference,
    which differs only in the last bits, meets every threshold of the segmentation identically."""
    return np.round(x, 9)


def analyze(joints: np.ndarray, *, fps: float = 20.0, up_axis: str = "y") -> MotionAnalysis:
    """Analyse a motion.

    Args:
        joints: (T, 22, 3) joint positions in metres, HumanML3D / SMPL joint order.
        fps: frame rate (HumanML3D 20, BABEL-QA / HuMMan-QA 30).
        up_axis: "y" (HumanML3D) or "z" (BABEL-QA, HuMMan-QA).

    Raises:
        ValueError: wrong shape, fewer than 2 frames, non-finite values, bad fps or up axis.
    """
    canon = canonicalize(joints, fps, up_axis)
    ja = joint_angles(canon)
    traj = trajectory_curves(canon)
    # The angle and trajectory curves are smoothed and searched for peaks together: both work
    # curve by curve, and one call costs less than two.
    curves = np.ascontiguousarray(_settle(smooth(np.concatenate([ja.values, traj], axis=1), fps, SMOOTH_S)).T)
    floor = np.array([MIN_DELTA] * _N_ANGLES + [c.delta for c in TRAJECTORY_CURVES])
    angle_cuts, trajectory_cuts = find_cuts(curves, floor).split(_N_ANGLES * curves.shape[1])
    smoothed = np.ascontiguousarray(curves[:_N_ANGLES].T)
    activity = np.where(ja.determined, np.abs(np.diff(smoothed, axis=0)).sum(axis=0), 0.0)
    return MotionAnalysis(
        fps=float(fps),
        n_frames=canon.shape[0],
        angles=ja.values,
        smoothed=smoothed,
        determined=ja.determined,
        activity=activity,
        trajectory=traj,
        summary=summarize(traj),
        _curves=curves,
        _cuts=angle_cuts,
        _trajectory_cuts=trajectory_cuts,
    )
