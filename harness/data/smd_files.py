"""SMD files: `{motion_id: smd_text}` for one preset, with the format version and parameters.

Ours carry their provenance:
    {"format_version": "smd-text-1", "preset": "v5_top3", "params": {...}, "texts": {id: text}}
The paper's released files (`angle_texts_v5*.json`) are a bare `{motion_id: text}`; they load
too, with format version "paper".

The format contract: an adapter is trained on one SMD format and preset, and is evaluated on that one.
Every prompt doc carries the `smd_format` (format version) and `smd_preset` of the SMD text it holds;
training records them in `run.json` (refusing docs of mixed formats), evaluation in the cell's
provenance, and evaluating an adapter on docs of another format or preset is an error naming both.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import smd
from harness.core import atomic_output, read_json

PAPER_FORMAT = "paper"


@dataclass(frozen=True)
class SMDFile:
    format_version: str
    preset: str
    params: dict
    texts: dict[str, str]


def docs_format(rows: list[dict], source: str) -> dict[str, str] | None:
    """`{"format_version", "preset"}` of a list of prompt docs, which must all agree (None: no docs).

    Raises:
        ValueError: a doc without the fields (docs made before the format contract) or docs of two
            formats or presets in one list (`source` names the file or files).
    """
    if not rows:
        return None
    found = {(r.get("smd_format"), r.get("smd_preset")) for r in rows}
    if (None, None) in found or any(None in f for f in found):
        raise ValueError(f"{source}: docs without smd_format / smd_preset: re-run `smd make-docs`")
    if len(found) != 1:
        shown = ", ".join(f"{f} {p}" for f, p in sorted(found))
        raise ValueError(f"{source}: docs of several SMD formats or presets ({shown}): train on one")
    ((fmt, preset),) = found
    return {"format_version": fmt, "preset": preset}


def check_same_format(trained: dict[str, str], scored: dict[str, str], adapter: str, docs: str) -> None:
    """Raise ValueError naming both unless an adapter's training docs and the docs it scores share
    their SMD format version and preset."""
    if scored is not None and trained != scored:
        raise ValueError(
            f"adapter {adapter} was trained on SMD {trained['format_version']} preset {trained['preset']}, "
            f"docs {docs} hold SMD {scored['format_version']} preset {scored['preset']}"
        )


def smd_file_name(preset: str) -> str:
    """`angle_texts_<preset>.json`, the paper's naming (v5 -> angle_texts_v5.json)."""
    return f"angle_texts_{preset}.json"


def write_smd_file(path: Path | str, preset: str, texts: dict[str, str]) -> Path:
    """An SMD file of `texts`, written atomically (the bytes `SMDFileWriter` writes)."""
    with SMDFileWriter(path, preset) as out:
        for motion_id in sorted(texts):
            out.add(motion_id, texts[motion_id])
    return Path(path)


class SMDFileWriter:
    """An SMD file written one text at a time, in increasing motion id order, so that a build of any size
    holds no more than one motion's texts: the bytes are those of the whole payload as one compact JSON
    object with sorted keys, and the file appears (atomically) only when the block ends without an error.

        with SMDFileWriter(path, preset) as out:
            out.add(motion_id, text)
    """

    _TAIL = "}}\n"

    def __init__(self, path: Path | str, preset: str) -> None:
        params = dataclasses.asdict(smd.resolve_variant(preset))
        payload = {"format_version": smd.FORMAT_VERSION, "preset": preset, "params": params, "texts": {}}
        empty = _json(payload, sort_keys=True)
        # "texts" sorts after the other keys, so the texts come last: the file is this head, the texts, "}}"
        if not empty.endswith('"texts": {}}'):
            raise RuntimeError(f"the SMD payload's texts are not its last key: {empty[-40:]!r}")
        self._head = empty[: -len("}}")]
        self._output = atomic_output(path)
        self._last: str | None = None

    def __enter__(self) -> SMDFileWriter:
        self._file = self._output.__enter__()
        self._file.write(self._head)
        return self

    def add(self, motion_id: str, text: str) -> None:
        if self._last is not None and motion_id <= self._last:
            raise ValueError(f"motion ids must come in increasing order: {motion_id!r} after {self._last!r}")
        separator = "" if self._last is None else ", "
        self._file.write(f"{separator}{_json(motion_id)}: {_json(text)}")
        self._last = motion_id

    def __exit__(self, *exc_info) -> bool | None:
        if exc_info[0] is None:
            self._file.write(self._TAIL)
        return self._output.__exit__(*exc_info)


def _json(value, **args) -> str:
    # as `harness.core.atomic_write_json` writes (no ASCII escapes, no NaN), on one line
    return json.dumps(value, ensure_ascii=False, allow_nan=False, **args)


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
