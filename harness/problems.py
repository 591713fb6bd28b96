"""Problems found while reading a dataset: recorded and reported, never silently dropped.

A loader keeps going past a bad record (one question, one caption line, one missing motion) and
lists it as a `Problem`; only a problem that makes the whole dataset unusable (a missing folder, no
question files at all) stops it, as a `DataError`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    """One skipped record.

    Attributes:
        source: path (as a string) of the file the record came from.
        item: what was skipped inside it: a question id, a motion id, or "line 12".
        message: why, in words a person can act on.
    """

    source: str
    item: str
    message: str

    def to_dict(self) -> dict:
        """Plain dict with the keys `source`, `item`, `message` (for JSON reports)."""
        return asdict(self)


class DataError(ValueError):
    """A fatal, whole-dataset problem (missing folder, no question files...); the message names the path."""
