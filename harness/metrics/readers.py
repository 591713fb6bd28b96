"""The inputs of the caption scorer: prediction files (our JSONL or an lm-eval samples file) and
reference files, read into `Prediction`s (the formats are in `harness.metrics.score_cli`'s docstring).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Prediction", "ScoreError", "load_references", "read_predictions"]


class ScoreError(Exception):
    """A user-facing error: printed as `error: <message>`, exit status 2."""


@dataclass(frozen=True)
class Prediction:
    id: str
    prediction: str
    references: tuple[str, ...] | None = None
    motion_id: str | None = None


def read_predictions(path: Path | str, *, filter_name: str | None = None) -> list[Prediction]:
    """Predictions from our JSONL or an lm-eval samples file (formats: `harness.metrics.score_cli`)."""
    from harness.core import read_jsonl

    rows = read_jsonl(path)
    if not rows:
        raise ScoreError(f"{path}: no predictions")
    if all("doc" in r for r in rows):
        return _from_lm_eval(rows, path, filter_name)
    items = []
    for n, r in enumerate(rows, 1):
        if "id" not in r or not isinstance(r.get("prediction"), str):
            raise ScoreError(f"{path}: line {n}: expected an object with 'id' and a string 'prediction'")
        refs = r.get("references")
        items.append(Prediction(str(r["id"]), r["prediction"], _refs(refs, path, n), r.get("motion_id")))
    return items


def _refs(refs: Any, path: Path | str, n: int) -> tuple[str, ...] | None:
    if refs is None:
        return None
    if isinstance(refs, str):
        refs = [refs]
    if not (isinstance(refs, list) and all(isinstance(x, str) for x in refs)):
        raise ScoreError(f"{path}: line {n}: 'references' must be a list of strings")
    return tuple(refs) if refs else None


def _first_text(value: Any) -> str | None:
    while isinstance(value, list):
        if not value:
            return None
        value = value[0]
    return value if isinstance(value, str) else None


def _from_lm_eval(rows: list[dict], path: Path | str, filter_name: str | None) -> list[Prediction]:
    filters = sorted({str(r.get("filter", "none")) for r in rows})
    if filter_name is None:
        if len(filters) > 1:
            raise ScoreError(f"{path}: several filters ({', '.join(filters)}): choose one with --filter")
        filter_name = filters[0]
    elif filter_name not in filters:
        raise ScoreError(f"{path}: no filter {filter_name!r} (found {', '.join(filters)})")
    items = []
    for n, r in enumerate(rows, 1):
        if str(r.get("filter", "none")) != filter_name:
            continue
        doc = r["doc"] if isinstance(r["doc"], dict) else {}
        sample_id = doc.get("doc_id", doc.get("id", r.get("doc_id")))
        text = _first_text(r.get("filtered_resps"))
        if text is None:
            text = _first_text(r.get("resps"))
        if sample_id is None or text is None:
            raise ScoreError(f"{path}: line {n}: no doc id or no generated text")
        items.append(
            Prediction(str(sample_id), text, _refs(doc.get("references"), path, n), doc.get("motion_id"))
        )
    return items


def load_references(path: Path | str) -> dict[str, list[str]]:
    """`{sample_id: [reference, ...]}` from a JSON file."""
    from harness.core import read_json

    data = read_json(path)
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in data.values()
    ):
        raise ScoreError(f"{path}: expected a JSON object {{id: [reference captions]}}")
    return {str(k): v for k, v in data.items()}
