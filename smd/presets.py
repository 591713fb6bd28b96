"""SMD variants: parameters, not code. Named presets mirror the paper's files (angle_texts_v5*)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from .angles import ANGLES


@dataclass(frozen=True)
class Variant:
    """How an analysis is rendered.

    Attributes:
        delta: degrees; smallest peak prominence, and the change below which a piece is a hold.
        top_k: keep only the k most active angles (total variation of the smoothed curve),
            rendered in canonical order; None keeps all 26.
        trajectory: "full" renders the trajectory sections, "none" leaves them out.
    """

    delta: float = 5.0
    top_k: int | None = None
    trajectory: Literal["full", "none"] = "full"

    def __post_init__(self) -> None:
        if not self.delta > 0:
            raise ValueError(f"delta must be positive, got {self.delta!r}")
        if self.top_k is not None and not 1 <= self.top_k <= len(ANGLES):
            raise ValueError(f"top_k must be in 1..{len(ANGLES)} or None, got {self.top_k!r}")
        if self.trajectory not in ("full", "none"):
            raise ValueError(f"trajectory must be 'full' or 'none', got {self.trajectory!r}")

    @classmethod
    def from_dict(cls, params: dict) -> Variant:
        """Build from a mapping (e.g. a params.yaml section); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(params) - known
        if unknown:
            raise ValueError(f"unknown variant parameters: {sorted(unknown)} (known: {sorted(known)})")
        return cls(**params)


PRESETS: dict[str, Variant] = {
    "v5": Variant(),
    "v5_top3": Variant(top_k=3),
    "v5_top5": Variant(top_k=5),
    "v5_top10": Variant(top_k=10),
    "v5_top20": Variant(top_k=20),
    "v5_notraj": Variant(trajectory="none"),
    "v5_delta3": Variant(delta=3.0),
    "v5_delta5": Variant(delta=5.0),
    "v5_delta10": Variant(delta=10.0),
    "v5_delta15": Variant(delta=15.0),
}


def resolve_variant(variant: str | Variant) -> Variant:
    """A preset name or a Variant -> Variant; unknown names raise ValueError listing the presets."""
    if isinstance(variant, Variant):
        return variant
    try:
        return PRESETS[variant]
    except KeyError:
        raise ValueError(f"unknown SMD variant {variant!r}; presets: {', '.join(PRESETS)}") from None
