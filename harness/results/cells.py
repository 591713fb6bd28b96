"""Versioned results: one small numbers-only JSON per cell, its provenance beside it, reference numbers.

    results/<benchmark>/<variant>/<backbone>[+<adapter>].json             {"acc": 0.41, "n": 120, ...}
    results/<benchmark>/<variant>/<backbone>[+<adapter>].provenance.json  git hash, versions, hardware, ...
    results/reference/paper.yaml                                       reported numbers, never measured

A cell file is a flat JSON object metric -> number, with lm-eval's metric names and units (fractions,
except `sacrebleu`, 0-100 as sacreBLEU gives it), so every reader (tables, checks, the headline numbers
`dvc metrics show` shows: harness.results.headline) takes them as they are. Nothing else goes in it:
strings, dates and configuration belong in the provenance file.

The reference file is a YAML list of entries, each a cell written out by hand:

    - cell: babel_qa/v5/qwen2.5-7b+lora      # the same key as a measured cell's path, without .json
      label: Qwen2.5-7B                      # optional display name (default: the backbone)
      source: reported                       # required: a reference number is never a measurement
      citation: "Zhang et al. 2026, Table 1" # required: where the number was read
      metrics: {acc: 0.667}

Methods the paper compares with have no SMD variant: their cells use the variant `-` and the method's
name as backbone (`babel_qa/-/imore`).

Names. A cell's key is `<benchmark>/<variant>/<model>`. The benchmark names the base dataset and, for
QA, how it was scored, as the lm-eval task does without `smd_`: `babel_qa` (generation, the paper's
protocol), `babel_qa_mc` (letters by log-likelihood), `babel_qa_cloze` (option texts by log-likelihood),
the same for `humman_qa`, and a profile's results prefix before them (`demo_babel_qa_cloze`,
`ci_humanml3d`); all are derived from the dataset registry (`harness.data.registry.parse_benchmark`).
The variant is the SMD preset, with `-blind` for the motion-blind control docs (`v5_top3-blind`: each
SMD swapped for another motion's; `parse_variant`).
Adapters: `lora` (trained on the answer letters), `lora-text` (on the answer texts, for cloze).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from harness.core import atomic_write_json, read_json, read_yaml
from harness.data import parse_benchmark

__all__ = [
    "DOCS_KINDS",
    "MEASURED",
    "NO_VARIANT",
    "REFERENCE_DIR",
    "REPORTED",
    "Cell",
    "cell_key",
    "cell_path",
    "load_reference",
    "load_results",
    "parse_cell_key",
    "parse_variant",
    "parse_cell_path",
    "provenance_path",
    "write_cell",
]

# The docs kind in a variant: `v5_top3` (real docs) or `v5_top3-blind` (the motion-blind control:
# each SMD swapped for another motion's).
DOCS_KINDS = {"": "real", "-blind": "blind"}


MEASURED = "measured"
REPORTED = "reported"
NO_VARIANT = "-"  # the variant of a method that does not use SMDs (a peer in the paper's tables)
REFERENCE_DIR = "reference"  # results/reference/ holds reported numbers, never collected as measured
PROVENANCE_SUFFIX = ".provenance.json"
# a cell's per-doc outcomes (ids, prediction, target, option scores, per-doc metrics; no SMD text), committed
# beside it so that `smd compare` and `smd report` work on a fresh clone
SAMPLES_SUFFIX = ".samples.jsonl"

# one path component: no separators, no `+` (it splits backbone from adapter), no leading dot
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# lm-eval writes `acc,none`; the filter suffix must be stripped before a metric lands in a cell
_METRIC = re.compile(r"^[A-Za-z0-9_]+$")
_REFERENCE_KEYS = {"cell", "label", "source", "citation", "metrics"}


@dataclass(frozen=True)
class Cell:
    """One result: a benchmark scored with one SMD variant by one backbone, with or without an adapter.

    Attributes:
        benchmark: the first part of the key, a registry dataset with the profile's prefix and the
            scoring (`[prefix]<dataset>[_mc|_cloze]`, harness.data.registry.benchmark_name).
        variant: SMD preset name (`v5`, `v5_top3`, ...), or `-` for a method without SMDs.
        backbone: backbone registry name (`qwen2.5-7b`, `tiny`) or a peer method's name (`imore`).
        adapter: adapter name (`lora`), None for zero-shot.
        metrics: metric -> number, lm-eval names and units.
        source: `measured` (a cell file of ours) or `reported` (read from a paper).
        citation: where a reported number comes from; required when reported.
        label: display name for tables (default: the backbone).
        smd_format: the text format of the docs it was scored on (`smd-text-3`), as its provenance
            records it (`inputs.smd.format_version`); None where none is recorded (a reported number,
            a provenance written before the format was recorded).
    """

    benchmark: str
    variant: str
    backbone: str
    adapter: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    source: Literal["measured", "reported"] = MEASURED
    citation: str | None = None
    label: str | None = None
    smd_format: str | None = None

    def __post_init__(self) -> None:
        _check_names(self.benchmark, self.variant, self.backbone, self.adapter)
        if self.source not in (MEASURED, REPORTED):
            raise ValueError(f"{self.key}: source must be {MEASURED!r} or {REPORTED!r}, got {self.source!r}")
        if self.source == REPORTED and not (isinstance(self.citation, str) and self.citation.strip()):
            raise ValueError(f"{self.key}: a reported cell needs a citation")
        object.__setattr__(self, "metrics", _checked_metrics(self.metrics, self.key))

    @property
    def key(self) -> str:
        """`<benchmark>/<variant>/<backbone>[+<adapter>]`: the cell's path without `.json`."""
        return cell_key(self.benchmark, self.variant, self.backbone, self.adapter)

    @property
    def display_name(self) -> str:
        return self.label or self.backbone


def cell_key(benchmark: str, variant: str, backbone: str, adapter: str | None = None) -> str:
    """`babel_qa/v5/qwen2.5-7b+lora`; raises ValueError on a name that cannot be a path component."""
    _check_names(benchmark, variant, backbone, adapter)
    return f"{benchmark}/{variant}/{backbone}" + (f"+{adapter}" if adapter else "")


def parse_cell_key(key: str) -> tuple[str, str, str, str | None]:
    """`"babel_qa/v5/qwen2.5-7b+lora"` -> `("babel_qa", "v5", "qwen2.5-7b", "lora")`."""
    parts = key.split("/")
    if len(parts) != 3:
        raise ValueError(f"{key!r}: a cell is <benchmark>/<variant>/<backbone>[+<adapter>]")
    benchmark, variant, model = parts
    backbone, plus, adapter = model.partition("+")
    if plus and not adapter:
        raise ValueError(f"{key!r}: empty adapter name after '+'")
    _check_names(benchmark, variant, backbone, adapter or None, where=repr(key))
    return benchmark, variant, backbone, adapter or None


def parse_variant(variant: str) -> tuple[str, str]:
    """A cell's variant as (SMD preset, docs kind): `"v5_top3-blind"` -> `("v5_top3", "blind")`,
    `"v5_top3"` -> `("v5_top3", "real")`, `"-"` (no SMD) -> `("-", "real")`."""
    for suffix in sorted(DOCS_KINDS, key=len, reverse=True):
        if suffix and variant.endswith(suffix) and len(variant) > len(suffix):
            return variant.removesuffix(suffix), DOCS_KINDS[suffix]
    return variant, DOCS_KINDS[""]


def cell_path(
    root: Path | str, benchmark: str, variant: str, backbone: str, adapter: str | None = None
) -> Path:
    """`root/<benchmark>/<variant>/<backbone>[+<adapter>].json`."""
    return Path(root) / (cell_key(benchmark, variant, backbone, adapter) + ".json")


def provenance_path(path: Path | str) -> Path:
    """The provenance file beside a cell file: `x.json` -> `x.provenance.json`."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".json") + PROVENANCE_SUFFIX)


def cell_samples_path(path: Path | str) -> Path:
    """The per-doc samples beside a cell file: `x.json` -> `x.samples.jsonl`."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".json") + SAMPLES_SUFFIX)


def parse_cell_path(root: Path | str, path: Path | str) -> tuple[str, str, str, str | None]:
    """The (benchmark, variant, backbone, adapter) of a cell file under `root`.

    Raises:
        ValueError: the path is not `<benchmark>/<variant>/<backbone>[+<adapter>].json` under root.
    """
    path, root = Path(path), Path(root)
    try:
        rel = PurePosixPath(path.relative_to(root).as_posix())
    except ValueError:
        raise ValueError(f"{path}: not under the results folder {root}") from None
    if rel.suffix != ".json" or rel.name.endswith(PROVENANCE_SUFFIX):
        raise ValueError(f"{path}: a cell file ends in .json (and is not a {PROVENANCE_SUFFIX})")
    try:
        return parse_cell_key(str(rel.with_suffix("")))
    except ValueError as e:
        raise ValueError(f"{path}: not a cell path: {e}") from None


def load_results(root: Path | str) -> list[Cell]:
    """Every measured cell under `root`, sorted by key.

    Skips provenance files, hidden files and the `reference/` folder; any other `.json` must be a cell.

    Raises:
        FileNotFoundError: root is not a folder.
        ValueError: a misplaced, malformed or non-numeric file (the message names it).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"results folder not found: {root}")
    cells = []
    for path in sorted(root.rglob("*.json")):
        rel = path.relative_to(root)
        if rel.parts[0] == REFERENCE_DIR or path.name.endswith(PROVENANCE_SUFFIX):
            continue
        if any(part.startswith(".") for part in rel.parts):  # editor and temp files
            continue
        benchmark, variant, backbone, adapter = parse_cell_path(root, path)
        data = read_json(path)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object metric -> number, got {type(data).__name__}")
        try:
            cell = Cell(benchmark, variant, backbone, adapter, metrics=data, smd_format=_smd_format(path))
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        cells.append(cell)
    return sorted(cells, key=lambda c: c.key)


def _smd_format(path: Path) -> str | None:
    """The docs' format a cell's provenance records (`inputs.smd.format_version`), None where it has none."""
    prov = provenance_path(path)
    if not prov.is_file():
        return None
    data = read_json(prov)
    smd = (data.get("inputs") or {}).get("smd") if isinstance(data, dict) else None
    fmt = smd.get("format_version") if isinstance(smd, dict) else None
    if fmt is not None and not isinstance(fmt, str):
        raise ValueError(f"{prov}: inputs.smd.format_version must be a string, got {fmt!r}")
    return fmt


def write_cell(root: Path | str, cell: Cell, provenance: Mapping[str, Any]) -> Path:
    """Write a measured cell and its provenance atomically; returns the cell file's path.

    The provenance goes first, so a cell file never exists without the provenance of its numbers.
    """
    if cell.source != MEASURED:
        raise ValueError(f"{cell.key}: only measured cells are written; reported numbers go in the reference")
    if not isinstance(provenance, Mapping):
        raise ValueError(f"{cell.key}: provenance must be a mapping, got {type(provenance).__name__}")
    path = cell_path(root, cell.benchmark, cell.variant, cell.backbone, cell.adapter)
    atomic_write_json(provenance_path(path), dict(provenance))
    atomic_write_json(path, cell.metrics)
    return path


def load_reference(path: Path | str) -> list[Cell]:
    """The reported cells of a reference YAML file, in file order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: malformed YAML, an unknown key, a missing citation, a source other than `reported`,
            a non-numeric value or a cell listed twice (the message names the file and entry).
    """
    path = Path(path)
    data = read_yaml(path, "reference file")
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: expected a non-empty list of reference entries")
    cells, seen = [], set()
    for i, entry in enumerate(data, 1):
        where = f"{path}: entry {i}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: expected a mapping, got {type(entry).__name__}")
        unknown = sorted(set(entry) - _REFERENCE_KEYS)
        missing = sorted({"cell", "source", "citation", "metrics"} - set(entry))
        if unknown or missing:
            what = [f"unknown key(s) {', '.join(unknown)}"] * bool(unknown)
            what += [f"missing key(s) {', '.join(missing)}"] * bool(missing)
            raise ValueError(f"{where}: {'; '.join(what)} (keys: {', '.join(sorted(_REFERENCE_KEYS))})")
        if entry["source"] != REPORTED:
            raise ValueError(f"{where}: source must be {REPORTED!r}: reference numbers are never measured")
        if not isinstance(entry["metrics"], dict):
            raise ValueError(f"{where}: metrics must be a mapping metric -> number")
        try:
            cell = Cell(
                *parse_cell_key(str(entry["cell"])),
                metrics=entry["metrics"],
                source=REPORTED,
                citation=entry["citation"],
                label=entry.get("label"),
            )
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        if cell.key in seen:
            raise ValueError(f"{where}: {cell.key} is listed twice")
        seen.add(cell.key)
        cells.append(cell)
    return cells


def _check_names(benchmark: str, variant: str, backbone: str, adapter: str | None, where: str = "") -> None:
    prefix = f"{where}: " if where else ""
    try:
        parse_benchmark(benchmark)
    except ValueError as e:
        raise ValueError(f"{prefix}{e}") from None
    named = [("variant", variant), ("backbone", backbone)] + [("adapter", adapter)] * (adapter is not None)
    for what, name in named:
        if what == "variant" and name == NO_VARIANT:
            continue
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"{prefix}bad {what} name {name!r}: letters, digits, '.', '_', '-' only "
                "(a hub id like Org/Model needs a registry name)"
            )


def _checked_metrics(metrics: Any, key: str) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise ValueError(f"{key}: metrics must be a mapping metric -> number")
    out = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not _METRIC.match(name):
            raise ValueError(f"{key}: bad metric name {name!r} (letters, digits and '_' only)")
        # bool is an int in Python, and JSON true/false are not numbers
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key}: metric {name} is not a number: {json.dumps(value)}")
        if not math.isfinite(value):
            raise ValueError(f"{key}: metric {name} is not finite: {value}")
        out[name] = value
    return out
