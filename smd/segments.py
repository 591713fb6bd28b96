"""The segments of a curve as the renderer reads them: the `Segment` record and the flat `SegmentTable`.

A segment is one described stretch of a curve, a hold, a ramp up or down, or a run of repeated
cycles; KINDS names the kinds, and a `SegmentTable` holds the segments of many curves in flat
arrays with the kinds as codes into KINDS. `smd.segmentation` builds them from the curves, over
the cuts that `smd.extrema` finds.
"""

from __future__ import annotations

from itertools import repeat
from typing import NamedTuple

import numpy as np

HOLD, UP, DOWN, CYCLES = "holds", "increases", "decreases", "repeats"
KINDS = (HOLD, UP, DOWN, CYCLES)  # a SegmentTable's kind codes index this
_HOLD, _UP, _DOWN, _CYCLES = range(4)
_KIND_NAMES = np.array(KINDS, dtype=object)


class Segment(NamedTuple):
    """One described stretch of a curve; times in seconds (a NamedTuple: thousands per motion).

    holds: `start` == `end` is the mean value; increases / decreases: `start` -> `end`;
    repeats: `cycles` alternations from `start`, where the run begins, to `end` and back.
    """

    kind: str
    t0: float
    t1: float
    start: float
    end: float
    cycles: int = 0

    @property
    def period(self) -> float:
        return (self.t1 - self.t0) / self.cycles if self.cycles else 0.0


class SegmentTable(NamedTuple):
    """The segments of several curves in flat arrays, curve after curve: the fields of `Segment`,
    with `kind` an index into KINDS, and the curve of each segment in `col`."""

    col: np.ndarray
    kind: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    start: np.ndarray
    end: np.ndarray
    cycles: np.ndarray

    def columns(self, first: int, stop: int) -> SegmentTable:
        """The segments of curves first..stop-1, numbered from 0."""
        a, b = np.searchsorted(self.col, [first, stop]).tolist()
        return SegmentTable(self.col[a:b] - first, *(x[a:b] for x in self[1:]))

    def segments(self, n_cols: int) -> list[tuple[Segment, ...]]:
        """The `Segment`s of each of the `n_cols` curves."""
        fields = (_KIND_NAMES[self.kind], self.t0, self.t1, self.start, self.end, self.cycles)
        rows = list(map(tuple.__new__, repeat(Segment), zip(*(x.tolist() for x in fields))))
        bounds = np.searchsorted(self.col, np.arange(n_cols + 1)).tolist()
        return [tuple(rows[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
