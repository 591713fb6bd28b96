"""`analyze`: joints -> MotionAnalysis, computed once per motion and rendered for every variant."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .angles import ANGLES, joint_angles
from .canonical import canonicalize
from .segments import Extrema, Segment, find_extrema_columns, segment, smooth
from .trajectory import TRAJECTORY_CURVES, TrajectorySummary, summarize, trajectory_curves

SMOOTH_S = 0.25  # moving-average window, seconds
# Peaks are searched once at this prominence and filtered for each variant's (larger) delta.
MIN_DELTA = 3.0


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
    _extrema: tuple[Extrema, ...] = field(repr=False, compare=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps

    def angle_segments(self, delta: float) -> tuple[tuple[Segment, ...], ...]:
        """Segments of every angle at threshold `delta` (memoised per delta)."""
        key = ("angles", float(delta))
        if key not in self._cache:
            if delta < MIN_DELTA:
                extrema = find_extrema_columns(self.smoothed, delta)
            else:
                extrema = self._extrema
            self._cache[key] = tuple(
                segment(self.smoothed[:, i], self.fps, delta, extrema=extrema[i])
                if self.determined[i]
                else ()
                for i in range(len(ANGLES))
            )
        return self._cache[key]

    def trajectory_segments(self) -> tuple[tuple[Segment, ...], ...]:
        """Segments of the four trajectory curves at their own thresholds."""
        key = ("trajectory",)
        if key not in self._cache:
            smoothed = _settle(smooth(self.trajectory, self.fps, SMOOTH_S))
            self._cache[key] = tuple(
                segment(smoothed[:, i], self.fps, c.delta) for i, c in enumerate(TRAJECTORY_CURVES)
            )
        return self._cache[key]


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
    smoothed = _settle(smooth(ja.values, fps, SMOOTH_S))
    activity = np.where(ja.determined, np.abs(np.diff(smoothed, axis=0)).sum(axis=0), 0.0)
    traj = trajectory_curves(canon)
    return MotionAnalysis(
        fps=float(fps),
        n_frames=canon.shape[0],
        angles=ja.values,
        smoothed=smoothed,
        determined=ja.determined,
        activity=activity,
        trajectory=traj,
        summary=summarize(traj),
        _extrema=tuple(find_extrema_columns(smoothed, MIN_DELTA)),
    )
