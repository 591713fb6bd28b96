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
        kind: "error" (a broken or unreadable record) or "rule" (a valid record the dataset's protocol
            leaves out, e.g. a HumanML3D motion outside T2M's frame range): reported either way, but
            only errors fail a `--strict` run.
    """

    source: str
    item: str
    message: str
    kind: str = "error"

    def to_dict(self) -> dict:
        """Plain dict with the keys `source`, `item`, `message`, and `kind` unless it is "error"."""
        out = asdict(self)
        if self.kind == "error":
            del out["kind"]
        return out


def is_error(problem: dict) -> bool:
    """A reported problem (`Problem.to_dict()`) that is an error, not a protocol's rule."""
    return problem.get("kind", "error") == "error"


class DataError(ValueError):
    """A fatal, whole-dataset problem (missing folder, no question files...); the message names the path."""
