"""The headline numbers: the few a DVC user compares across experiments, in one small JSON file.

    smd stage headline --output reports/headline.json     # dvc.yaml's `headline` stage

`dvc metrics show` and `dvc exp show` show every number of every file declared as a metric; declared
per cell, that was some 900 columns. The cells stay plain outputs (`smd table` reads them all); this
file picks a few numbers out of them, each named by where it sits in the file:

    {"babel_qa": {"generation": {"lora": 0.153, "blind": 0.153, "prior": 0.22}, "mc": {...}, ...},
     "humanml3d": {"r_precision_top1": {"lora": ..., "blind": ...}, ...}}

Which cell each name reads (the main backbone, its motion-blind control, the answer prior) is the
pipeline's convention: `harness.pipeline.headline_picks` builds the `--pick` list from params.yaml. A
picked cell that is not there (a stage not run yet) or lacks the metric leaves its name out, and the
stage names each one it left out on stderr (a profile that runs part of the pipeline still writes the
numbers it has).

    smd stage headline ... --pick babel_qa.generation.lora=demo_babel_qa/v5_top3/tiny+lora:acc
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.core import OUTPUT_OPTION, atomic_write_json, read_json

from .cells import cell_path, parse_cell_key

__all__ = [
    "HeadlineRequest",
    "Pick",
    "headline",
    "left_out",
    "main",
    "parse_pick",
    "run_stage",
    "write_headline",
]

EXIT_ERROR = 2


@dataclass(frozen=True)
class Pick:
    """One headline number: `name` (dotted: its place in the file) is `metric` of the cell `cell`
    (`<benchmark>/<variant>/<backbone>[+<adapter>]`, harness.results.cells)."""

    name: str
    cell: str
    metric: str

    def __post_init__(self) -> None:
        parse_cell_key(self.cell)  # a malformed key is an error here, not a number silently missing
        if not all(self.name.split(".")) or not self.metric:
            raise ValueError(f"{self.name}={self.cell}:{self.metric}: a pick is NAME=CELL:METRIC")


def parse_pick(text: str) -> Pick:
    """`babel_qa.generation.lora=demo_babel_qa/v5_top3/tiny+lora:acc` -> a Pick."""
    name, eq, rest = text.partition("=")
    cell, colon, metric = rest.rpartition(":")
    if not (eq and colon):
        raise ValueError(f"{text!r}: a pick is NAME=CELL:METRIC")
    return Pick(name, cell, metric)


def headline(metrics: Mapping[str, Mapping[str, float]], picks: Iterable[Pick]) -> dict:
    """The nested headline mapping of `picks`, read from `metrics` (cell key -> its metrics); a pick
    whose cell or metric is missing is left out (pure: no files)."""
    out: dict = {}
    for pick in picks:
        value = metrics.get(pick.cell, {}).get(pick.metric)
        if value is None:
            continue
        *parents, last = pick.name.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def left_out(metrics: Mapping[str, Mapping[str, float]], picks: Iterable[Pick]) -> list[Pick]:
    """The picks `headline` leaves out: their cell is missing from `metrics` or lacks the metric."""
    return [p for p in picks if metrics.get(p.cell, {}).get(p.metric) is None]


def _read_cells(results: Path, picks: Iterable[Pick]) -> dict[str, dict[str, float]]:
    """The metrics of each picked cell that exists under `results`."""
    found = {}
    for cell in {p.cell for p in picks}:
        path = cell_path(results, *parse_cell_key(cell))
        if path.is_file():
            found[cell] = read_json(path)
    return found


@dataclass(frozen=True)
class HeadlineRequest:
    """What the stage writes: the numbers `picks` (NAME=CELL:METRIC) of the cells under `results`."""

    results: Path
    output: Path
    picks: tuple[str, ...]


def write_headline(request: HeadlineRequest) -> dict:
    """The headline numbers of the request's picks, written to its output (atomically); returned."""
    picks = [parse_pick(p) for p in request.picks]
    metrics = _read_cells(request.results, picks)
    numbers = headline(metrics, picks)
    atomic_write_json(request.output, numbers)
    missing = left_out(metrics, picks)
    for pick in missing:
        print(f"headline: left out {pick.name}: no {pick.metric} in {pick.cell} (not run?)", file=sys.stderr)
    if missing:
        print(f"headline: {len(picks) - len(missing)} of {len(picks)} picks written", file=sys.stderr)
    return numbers


def run_stage(request: HeadlineRequest) -> int:
    """The stage as `smd stage headline` runs it: errors (a malformed pick, an unreadable cell) as exit 2."""
    try:
        write_headline(request)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    return 0


def main(argv: list[str] | None = None) -> int:
    """`smd stage headline`: the headline numbers of the picked cells, as one JSON file."""
    parser = argparse.ArgumentParser(prog="smd stage headline", description=main.__doc__)
    parser.add_argument("--results", type=Path, required=True, help="the results folder")
    parser.add_argument(*OUTPUT_OPTION, type=Path, required=True, help="the JSON file (written atomically)")
    parser.add_argument("--pick", action="append", default=[], help="NAME=CELL:METRIC (repeated)")
    args = parser.parse_args(argv)
    return run_stage(HeadlineRequest(args.results, args.output, tuple(args.pick)))
