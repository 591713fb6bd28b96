"""SMD files: `{motion_id: smd_text}` for one preset, with the format version and parameters.

Ours carry their provenance:
    {"format_version": "smd-text-1", "preset": "v5_top3", "params": {...}, "texts": {id: text}}
The paper's released files (`angle_texts_v5*.json`) are a bare `{motion_id: text}`; they load
too, with format version "paper" (adapters trained on one format should not be fed the other).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import smd

from .io import atomic_write_json, read_json

PAPER_FORMAT = "paper"


@dataclass(frozen=True)
class SMDFile:
    format_version: str
    preset: str
    params: dict
    texts: dict[str, str]


def smd_file_name(preset: str) -> str:
    """`angle_texts_<preset>.json`, the paper's naming (v5 -> angle_texts_v5.json)."""
    return f"angle_texts_{preset}.json"


def write_smd_file(path: Path | str, preset: str, texts: dict[str, str]) -> Path:
    params = dataclasses.asdict(smd.resolve_variant(preset))
    payload = {"format_version": smd.FORMAT_VERSION, "preset": preset, "params": params, "texts": texts}
    return atomic_write_json(path, payload, indent=None)


def load_smd_file(path: Path | str) -> SMDFile:
    """Load one of our SMD files or a paper-style `{motion_id: text}` file."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: an SMD file is a JSON object, got {type(data).__name__}")
    if "format_version" in data and "texts" in data:
        texts = data["texts"]
        fmt, preset, params = data["format_version"], data.get("preset", ""), data.get("params", {})
    else:
        texts, fmt, params = data, PAPER_FORMAT, {}
        preset = path.stem.removeprefix("angle_texts_")
    bad = [k for k, v in texts.items() if not isinstance(v, str)]
    if bad:
        raise ValueError(f"{path}: texts must be strings; not for {bad[:5]}")
    return SMDFile(format_version=fmt, preset=preset, params=params, texts=dict(texts))
