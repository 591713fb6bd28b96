"""Conveniences the segment tests build on, over `smd`'s table-level API: one curve's segments, and the
extrema of each column (the pipeline itself only ever segments whole tables of curves)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from smd.extrema import find_cuts
from smd.segmentation import segment_table
from smd.segments import Segment


def segment(
    xs: np.ndarray,
    fps: float,
    delta: float,
    *,
    min_hold_s: float = 0.3,
    cycles: bool = True,
    still_speed: float | None = None,
    far: float = np.inf,
) -> tuple[Segment, ...]:
    """Segments of an already smoothed curve `xs` (T,) at threshold `delta` (curve units)."""
    curve = np.asarray(xs, dtype=np.float64)[None]
    table = segment_table(
        curve,
        fps,
        delta,
        find_cuts(curve, delta),
        min_hold_s=min_hold_s,
        cycles=cycles,
        still_speed=still_speed,
        far=far,
    )
    return table.segments(1)[0]


def find_extrema_columns(xs: np.ndarray, min_prominence: float) -> list[Extrema]:
    """The extrema of every column of `xs` (T, n) with prominence >= `min_prominence`."""
    n, n_cols = xs.shape
    cuts = find_cuts(np.ascontiguousarray(xs.T), min_prominence)
    inner = np.isfinite(cuts.prominence)  # not a curve's end
    frame, time, value, prom = (x[inner] for x in cuts)
    bounds = np.searchsorted(frame, n * np.arange(n_cols + 1)).tolist()
    return [
        Extrema(index=frame[a:b] % n, time=time[a:b], value=value[a:b], prominence=prom[a:b])
        for a, b in zip(bounds[:-1], bounds[1:])
    ]


class Extrema(NamedTuple):  # of one curve: frame (ascending), refined time and value, prominence
    index: np.ndarray
    time: np.ndarray
    value: np.ndarray
    prominence: np.ndarray
