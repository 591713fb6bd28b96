"""Smoothing and extrema, the primitives the segmentation cuts curves with.

`smooth` is the moving average over a window in seconds; `find_cuts` finds the ends and the
extrema of many curves at once (exactly those `scipy.signal.find_peaks` finds on each curve
alone, at a prominence of at least the threshold), with extremum times and values refined to
sub-frame precision by a parabola through the three samples around them. `smd.segmentation` cuts
the curves at these points.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.ndimage import convolve1d
from scipy.signal import find_peaks, peak_prominences


def smooth(x: np.ndarray, fps: float, window_s: float) -> np.ndarray:
    """Centred moving average over exactly `window_s` seconds, along axis 0.

    A box of `window_s * fps` frames: whole frames inside it weigh 1, the two frames it only
    partly covers weigh that fraction. At 20 fps 0.25 s is the usual 5-frame average; at 30 fps
    it is 7.5 frames rather than 7 or 9, so the same movement smooths the same at any rate.
    """
    width = window_s * fps
    x = np.asarray(x, dtype=np.float64)
    if width <= 1.0:
        return x
    reach = int(np.ceil(width / 2 - 0.5))
    k = np.arange(-reach, reach + 1)
    weights = np.clip(np.minimum(k + 0.5, width / 2) - np.maximum(k - 0.5, -width / 2), 0.0, 1.0)
    return convolve1d(x, weights / weights.sum(), axis=0, mode="nearest")


class Cuts(NamedTuple):
    """The cut points of curves (n, T), one per row: per curve, frame 0, its extrema, frame T-1.

    Frames count across the curves laid end to end (curve c's frame i is c * T + i), so the cuts
    are sorted and a piece between two is a slice of `curves.ravel()`. The curve ends have an
    infinite prominence: every threshold keeps them."""

    frame: np.ndarray
    time: np.ndarray  # frames from the start of the curve, sub-frame precision
    value: np.ndarray
    prominence: np.ndarray

    def split(self, at: int) -> tuple[Cuts, Cuts]:
        """The cuts before flat frame `at`, and those from it on (frames counted from `at`)."""
        k = int(np.searchsorted(self.frame, at))
        return Cuts(*(x[:k] for x in self)), Cuts(self.frame[k:] - at, *(x[k:] for x in self[1:]))

    @classmethod
    def concatenate(cls, parts: list[Cuts], sizes: list[int]) -> Cuts:
        """The cuts of several sets of curves laid end to end, of `sizes` frames each in all."""
        offsets = np.cumsum([0, *sizes[:-1]]).tolist()
        frame = np.concatenate([c.frame + o for c, o in zip(parts, offsets)])
        return cls(frame, *(np.concatenate([c[f] for c in parts]) for f in (1, 2, 3)))


def find_cuts(curves: np.ndarray, min_prominence: float | np.ndarray) -> Cuts:
    """The ends of the curves (n, T) and the extrema with a prominence of at least
    `min_prominence` (one, or one per curve): exactly those `find_peaks` finds on each curve.

    The curves are laid end to end with a barrier sample between them that is higher than
    anything else, so no prominence search crosses from one curve into the next. A prominence does
    not depend on the threshold: cuts found at a small one serve every larger one by filtering.
    """
    n_cols, n_frames = curves.shape
    stride = n_frames + 1
    floor = np.broadcast_to(np.asarray(min_prominence, dtype=np.float64), (n_cols,))
    barrier = 2.0 * float(np.abs(curves).max()) + 1e3
    # the curves, then the curves upside down (their valleys become peaks), between barriers
    flat = np.full(2 * n_cols * stride + 1, barrier)
    laid = flat[:-1].reshape(2 * n_cols, stride)[:, 1:]
    laid[:n_cols], laid[n_cols:] = curves, -curves
    pos = find_peaks(flat)[0]  # every local maximum, barriers included
    row, index = pos // stride, pos % stride - 1
    inside = index >= 0
    pos, row, index = pos[inside], row[inside], index[inside]
    # A prominence is at most the peak's height above the higher of the lowest points before and
    # after it on its curve: skipping the peaks that cannot reach the threshold saves most of the
    # prominence searches, which find_peaks(prominence=...) runs for every local maximum. The
    # others get exactly find_peaks's prominence (the same function computes it).
    # (the lowest points are minima of each peak's slices of `flat`, by `reduceat` over (start, stop)
    # pairs, every other result a filler: a running minimum along every curve costs more)
    begins = row * stride + 1  # where each peak's curve begins in `flat`
    lowest_before = np.minimum.reduceat(flat, np.stack([begins, pos + 1], axis=1).ravel())[::2]
    lowest_after = np.minimum.reduceat(flat, np.stack([pos, begins + n_frames], axis=1).ravel())[::2]
    col = row % n_cols
    maybe = flat[pos] - np.maximum(lowest_before, lowest_after) >= floor[col]
    pos, col, index = pos[maybe], col[maybe], index[maybe]
    prominence = peak_prominences(flat, pos)[0]
    keep = prominence >= floor[col]
    col, index, prominence = col[keep], index[keep], prominence[keep]
    left, mid, right = curves[col, index - 1], curves[col, index], curves[col, index + 1]
    curvature = left - 2.0 * mid + right
    flat_top = np.abs(curvature) <= 1e-12
    offset = np.clip(
        np.where(flat_top, 0.0, 0.5 * (left - right) / np.where(flat_top, 1.0, curvature)), -0.5, 0.5
    )
    value = mid - 0.25 * (left - right) * offset
    first = n_frames * np.arange(n_cols)
    frame = np.concatenate([n_frames * col + index, first, first + n_frames - 1])
    order = np.argsort(frame)  # all distinct: find_peaks never returns a curve's first or last frame
    return Cuts(
        frame[order],
        np.concatenate([index + offset, np.zeros(n_cols), np.full(n_cols, float(n_frames))])[order],
        np.concatenate([value, curves[:, 0], curves[:, -1]])[order],
        np.concatenate([prominence, np.full(2 * n_cols, np.inf)])[order],
    )
