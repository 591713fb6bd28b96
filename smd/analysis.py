"""`analyze`: joints -> MotionAnalysis, computed once per motion and rendered for every variant."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import CubicSpline

from .angles import ANGLES, joint_angles
from .canonical import SMOOTHING_WINDOW_S, canonicalize, plausibility_warnings
from .extrema import Cuts, find_cuts, smooth
from .presets import PRESETS
from .segmentation import curve_speed, segment_table
from .segments import Segment, SegmentTable
from .trajectory import TRAJECTORY_CURVES, TrajectorySummary, summarize, trajectory_curves

SMOOTH_S = SMOOTHING_WINDOW_S  # moving-average window, seconds
# The segmentation runs on the smoothed curves resampled to this rate, whatever the input's rate.
SEGMENT_FPS = 20.0
# A curve moving slower than this many thresholds (delta) per second is still: at v5's 5 degrees,
# 15 degrees a second. A still stretch is a hold even when it drifts (see segmentation.STILL_SPAN).
STILL_DELTAS_PER_S = 3.0
# Peaks are searched once at this prominence and filtered for each variant's (larger) delta.
MIN_DELTA = 3.0
# A piece of an angle curve that strays more than this many deltas from the line between its ends
# is split where it strays most: drawn as that line, its text would not read back into the curve.
FAR_DELTAS = 2.0
# The same for the trajectory curves, in their own thresholds (0.03 m, 15 degrees): looser, as their
# text is not read back per angle; a walk that stops halfway still reads as two ramps and a hold.
TRAJECTORY_FAR_DELTAS = 4.0
_N_ANGLES, _N_TRAJECTORY = len(ANGLES), len(TRAJECTORY_CURVES)
# every preset's threshold: `analyze` segments the angles at all of them in one pass (in use every
# preset is rendered, and one pass for all costs far less than one per threshold)
PRESET_DELTAS = tuple(sorted({p.delta for p in PRESETS.values()}))


@dataclass(frozen=True)
class MotionAnalysis:
    """Everything the renderer needs, independent of the variant.

    Attributes:
        fps: frames per second of the input.
        n_frames: number of frames.
        angles: (T, 26) joint angles in degrees, ANGLES order.
        smoothed: (T, 26) the same after the moving average.
        determined: (26,) False where an angle is undefined over the whole clip.
        activity: (26,) the top-k ranking measure (degrees): the total variation of the smoothed
            curve, each frame's step weighted by how well the angle is defined there (axial
            rotations of a nearly straight limb count little); the pelvis rotation is relative to
            the heading, so a turn of the whole body does not count.
        warnings: plausibility warnings about the input (units, up axis, clip length), empty when
            nothing looks wrong.
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
    warnings: tuple[str, ...]
    # the smoothed angle then trajectory curves at SEGMENT_FPS, one per row (30, T'), and their
    # cut points: the angles' at MIN_DELTA, the trajectory's at each curve's own threshold
    _curves: np.ndarray = field(repr=False, compare=False)
    _cuts: Cuts = field(repr=False, compare=False)
    _trajectory_cuts: Cuts = field(repr=False, compare=False)
    # the angles segmented at every preset's delta, (delta, table) pairs, and the trajectory at its own
    # thresholds: immutable, as every field (a renderer keeps what it derives to itself)
    _angle_tables: tuple[tuple[float, SegmentTable], ...] = field(repr=False, compare=False)
    _trajectory_table: SegmentTable = field(repr=False, compare=False)

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps

    def angle_segments(self, delta: float) -> tuple[tuple[Segment, ...], ...]:
        """Segments of every angle at threshold `delta` (none for an undetermined angle)."""
        segs = self.angle_table(delta).segments(_N_ANGLES)
        return tuple(s if ok else () for s, ok in zip(segs, self.determined.tolist()))

    def angle_table(self, delta: float) -> SegmentTable:
        """`angle_segments(delta)` as one table, undetermined angles included: a preset's as `analyze`
        segmented it, another delta's segmented now (and not kept: the analysis never changes)."""
        for known, table in self._angle_tables:
            if known == float(delta):
                return table
        return self.segmented([delta])[float(delta)]

    def trajectory_segments(self) -> tuple[tuple[Segment, ...], ...]:
        """Segments of the four trajectory curves at their own thresholds."""
        return tuple(self._trajectory_table.segments(_N_TRAJECTORY))

    def segmented(self, deltas: Iterable[float]) -> dict[float, SegmentTable]:
        """The angles segmented at each of `deltas`, in one pass (a pure function of the analysis)."""
        tables, _ = _segment(self._curves, self._cuts, self._trajectory_cuts, deltas, self.duration, False)
        return tables


def _segment(
    curves: np.ndarray,
    cuts: Cuts,
    trajectory_cuts: Cuts,
    deltas: Iterable[float],
    duration: float,
    trajectory: bool,
) -> tuple[dict[float, SegmentTable], SegmentTable | None]:
    """Segment the angle curves at each threshold of `deltas` and (if `trajectory`) the trajectory
    curves at theirs, in one pass: (angle table per delta, trajectory table or None).

    The angle curves are laid end to end once per threshold, the trajectory's after them, and all
    are segmented together: most of the work is a fixed number of array operations per pass, so one
    pass for every threshold costs far less than one per threshold.
    """
    todo = sorted({float(d) for d in deltas})
    angles, traj = curves[:_N_ANGLES], curves[_N_ANGLES:]
    parts = [(angles, find_cuts(angles, d) if d < MIN_DELTA else cuts) for d in todo]
    per_curve = np.repeat(todo, _N_ANGLES)
    # every curve as a Python list once (the holds' means are summed from it): the copies of the
    # angle curves, one per threshold, read the same rows
    flat_rows = np.tile(np.arange(_N_ANGLES), len(todo))
    if trajectory:
        parts.append((traj, trajectory_cuts))
        per_curve = np.concatenate([per_curve, [c.delta for c in TRAJECTORY_CURVES]])
        flat_rows = np.concatenate([flat_rows, _N_ANGLES + np.arange(_N_TRAJECTORY)])
    if not parts:
        return {}, None
    is_angle = np.arange(per_curve.size) < len(todo) * _N_ANGLES
    # the still frames of the angle curves at each threshold: their speeds are found once, for every
    # threshold (`still_frames` of each copy would find the same); the trajectory keeps the plain
    # rule (nothing is still): a slow turn or walk is travel
    speed = curve_speed(angles)
    still = [speed < STILL_DELTAS_PER_S * d / SEGMENT_FPS for d in todo]
    if trajectory:  # (as `still_frames` has it, a curve of one sample is still throughout)
        still.append(np.full(traj.shape, traj.shape[1] < 2))
    table = segment_table(
        np.concatenate([x for x, _ in parts]),
        SEGMENT_FPS,
        per_curve,
        Cuts.concatenate([c for _, c in parts], [x.size for x, _ in parts]),
        flat=curves.ravel().tolist(),
        flat_rows=flat_rows,
        still=np.concatenate(still),
        far=np.where(is_angle, FAR_DELTAS, TRAJECTORY_FAR_DELTAS) * per_curve,
    )
    # the grid's last sample may fall short of the clip's end: the last segments end with the clip
    grid_end = curves.shape[1] / SEGMENT_FPS
    table.t1[table.t1 == grid_end] = duration
    tables = {delta: table.columns(k * _N_ANGLES, (k + 1) * _N_ANGLES) for k, delta in enumerate(todo)}
    first = len(todo) * _N_ANGLES
    return tables, table.columns(first, first + _N_TRAJECTORY) if trajectory else None


def _on_grid(curves: np.ndarray, fps: float) -> np.ndarray:
    """Curves (T, n) at `fps`, interpolated (cubic) at SEGMENT_FPS over the same span.

    Every threshold of the segmentation is met sample by sample (peaks, the hold band, hold
    lengths) and the smoothing window covers whole samples: on one grid for every input rate,
    the same movement at 20 and at 30 fps meets them the same way, where on its own samples it
    would flip at many near-threshold decisions. At 20 fps: the curves as they are.
    """
    n = curves.shape[0]
    if fps == SEGMENT_FPS or n < 4:
        return curves if fps == SEGMENT_FPS else _linear(curves, fps)
    at = np.arange(int(np.floor((n - 1) * SEGMENT_FPS / fps + 1e-9)) + 1) / SEGMENT_FPS
    return CubicSpline(np.arange(n) / fps, curves, axis=0)(at)


def _linear(curves: np.ndarray, fps: float) -> np.ndarray:
    n = curves.shape[0]
    at = np.arange(int(np.floor((n - 1) * SEGMENT_FPS / fps + 1e-9)) + 1) * (fps / SEGMENT_FPS)
    i0 = np.minimum(np.floor(at).astype(np.intp), max(n - 2, 0))
    w = (at - i0)[:, None]
    return curves[i0] * (1.0 - w) + curves[np.minimum(i0 + 1, n - 1)] * w


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

    Input that is valid but implausible (units, up axis, a short clip) is analysed all the same,
    with a warning in `warnings` (callers print them: `smd describe` on stderr).
    """
    canon = canonicalize(joints, fps, up_axis)
    warnings = plausibility_warnings(joints, canon, fps, up_axis)
    ja = joint_angles(canon)
    bad = ~np.isfinite(ja.values)
    if bad.any():  # never expected of finite, bounded joints; a bug must not become text
        frame, angle = (int(x[0]) for x in np.nonzero(bad))
        raise ValueError(f"non-finite joint angle {ANGLES[angle].name} at frame {frame}")
    traj = trajectory_curves(canon)
    # The angle and trajectory curves are smoothed and searched for peaks together: both work
    # curve by curve, and one call costs less than two.
    raw = np.concatenate([ja.values, traj], axis=1)
    smoothed = _settle(smooth(ja.values, fps, SMOOTH_S)) if fps != SEGMENT_FPS else None
    curves = np.ascontiguousarray(_settle(smooth(_on_grid(raw, fps), SEGMENT_FPS, SMOOTH_S)).T)
    if smoothed is None:
        smoothed = np.ascontiguousarray(curves[:_N_ANGLES].T)
    floor = np.array([MIN_DELTA] * _N_ANGLES + [c.delta for c in TRAJECTORY_CURVES])
    angle_cuts, trajectory_cuts = find_cuts(curves, floor).split(_N_ANGLES * curves.shape[1])
    steps = np.abs(np.diff(smoothed, axis=0)) * np.minimum(ja.confidence[1:], ja.confidence[:-1])
    activity = np.where(ja.determined, steps.sum(axis=0), 0.0)
    n_frames = canon.shape[0]
    tables, trajectory_table = _segment(
        curves, angle_cuts, trajectory_cuts, PRESET_DELTAS, n_frames / float(fps), True
    )
    return MotionAnalysis(
        fps=float(fps),
        n_frames=n_frames,
        angles=ja.values,
        smoothed=smoothed,
        determined=ja.determined,
        activity=activity,
        trajectory=traj,
        summary=summarize(traj),
        warnings=warnings,
        _curves=curves,
        _cuts=angle_cuts,
        _trajectory_cuts=trajectory_cuts,
        _angle_tables=tuple(tables.items()),
        _trajectory_table=trajectory_table,
    )
