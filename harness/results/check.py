"""Regression check: fail (exit 1) when a result drops below its baseline by more than the tolerance.

    smd check [--results DIR] [--baselines FILE]
    smd check [--results DIR] --against DIR --tolerance X [--cells GLOB]

**Baselines mode** (default): every entry of FILE (default `results/baselines.yaml`) names a cell, one of
its metrics, the baseline value and a tolerance, in the cell's units:

    - cell: demo_babel_qa/v5_top3/tiny+lora   # <benchmark>/<variant>/<backbone>[+<adapter>]
      metric: acc
      value: 0.40
      tolerance: 0.05
      direction: higher                       # optional for known metrics (see METRIC_DIRECTIONS)

`higher` (higher is better) fails when measured < value - tolerance; `lower` when measured > value +
tolerance; a value exactly at the boundary passes. A missing cell file or metric is a failure too:
a check that cannot be made never passes. The file is a YAML list; an empty list, an unknown key, a
bad direction (or one that contradicts the metric's known direction), a non-numeric value or a cell
listed twice for one metric is malformed: exit 2.

**Against mode**: compares every cell in `--results` (e.g. a freshly re-run reduced demo) whose key
matches GLOB (fnmatch, `*` crosses `/`) with the cell of the same key in DIR (e.g. the committed
results), metric by metric, with one absolute tolerance X in fraction units (`sacrebleu`, on a 0-100
scale, gets 100 X):
  - metrics with a known direction fail when they move the wrong way by more than the tolerance;
  - `n`, `skipped`, `r_precision_samples`, `limit`, `chance` and the per-type counts and chance
    levels `*_n`, `*_chance` must be equal: another question count means another test set, and
    comparing scores across test sets would say nothing;
  - `*_stderr`, `*_ci95_low` and `*_ci95_high` are ignored (they follow `n` and the score);
  - other metrics are listed as not compared, never silently passed;
  - a cell without a counterpart in DIR fails, and with an explicit `--cells`, so does a cell of DIR
    that matches GLOB but is not in `--results`; a metric of DIR's cell missing from the fresh cell fails;
  - no matching cell at all fails.

Exit status: 0 all checks pass (a one-line summary), 1 a regression or something missing (one line each),
2 a malformed baselines file, malformed results or bad arguments.
"""

from __future__ import annotations

import argparse
import fnmatch
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.core import read_yaml

from .cells import Cell, cell_path, load_results, parse_cell_key

__all__ = [
    "EXACT_METRICS",
    "METRIC_DIRECTIONS",
    "Baseline",
    "BaselineError",
    "Comparison",
    "check_baselines",
    "compare_results",
    "is_exact",
    "load_baselines",
    "metric_direction",
    "parse_baselines",
]

EXIT_OK, EXIT_REGRESSION, EXIT_ERROR = 0, 1, 2

Direction = Literal["higher", "lower"]
# metric name or fnmatch pattern -> which way is better
METRIC_DIRECTIONS: dict[str, Direction] = {
    "acc": "higher",
    "acc_*": "higher",  # acc_norm and the per-type accuracies (acc_action, acc_before, ...)
    "bleu_[1-4]": "higher",
    "rouge_l": "higher",
    "cider": "higher",
    "sacrebleu": "higher",
    "bertscore_f1": "higher",
    "r_precision_top[1-3]": "higher",
    "mm_dist": "lower",
    "invalid_rate": "lower",
}
EXACT_METRICS = frozenset({"n", "skipped", "r_precision_samples", "limit", "chance"})
# a metric's doc count and chance level (`acc_action_n`, `acc_action_chance`) must be equal too; its
# standard error and CI bounds follow the score and the count, so they are not compared
EXACT_SUFFIXES = ("_n", "_chance")
DERIVED_SUFFIXES = ("_stderr", "_ci95_low", "_ci95_high")
METRIC_SCALE = {"sacrebleu": 100.0}  # --tolerance is in fractions; these metrics are not
_BASELINE_KEYS = ("cell", "metric", "value", "tolerance", "direction")
# float noise (0.4 - 0.05 = 0.35000000000000003) must not turn a value on the boundary into a failure
_EPS = 1e-9


class BaselineError(ValueError):
    """A malformed baselines file (exit 2)."""


@dataclass(frozen=True)
class Baseline:
    cell: str
    metric: str
    value: float
    tolerance: float
    direction: Direction


@dataclass(frozen=True)
class Comparison:
    """What a check found: failures (exit 1 when any), notes (informative), and how much it compared."""

    failures: tuple[str, ...]
    notes: tuple[str, ...]
    checked: int
    cells: int


def metric_direction(metric: str) -> Direction | None:
    """`higher` / `lower` for a known score or error metric; None for counts, stderrs and unknown names."""
    if metric.endswith(DERIVED_SUFFIXES) or is_exact(metric):
        return None
    for pattern, direction in METRIC_DIRECTIONS.items():
        if fnmatch.fnmatchcase(metric, pattern):
            return direction
    return None


def is_exact(metric: str) -> bool:
    """Counts that must be equal for two cells to be comparable: `n`, `skipped`, `acc_action_n`, ..."""
    return metric in EXACT_METRICS or metric.endswith(EXACT_SUFFIXES)


def parse_baselines(data: Any, where: str = "baselines") -> list[Baseline]:
    """Baseline entries from parsed YAML (a list of mappings); raises BaselineError naming the entry."""
    if data is None or data == []:
        raise BaselineError(f"{where}: no baseline entries: a check of nothing would pass, add entries")
    if not isinstance(data, list):
        raise BaselineError(f"{where}: expected a YAML list of entries, got {type(data).__name__}")
    out, seen = [], set()
    for i, entry in enumerate(data, 1):
        at = f"{where}: entry {i}"
        if not isinstance(entry, dict):
            raise BaselineError(f"{at}: expected a mapping, got {type(entry).__name__}")
        unknown = sorted(set(entry) - set(_BASELINE_KEYS))
        if unknown:
            raise BaselineError(
                f"{at}: unknown key(s) {', '.join(unknown)}; known: {', '.join(_BASELINE_KEYS)}"
            )
        missing = [k for k in _BASELINE_KEYS[:4] if k not in entry]
        if missing:
            raise BaselineError(f"{at}: missing key(s) {', '.join(missing)}")
        try:
            parse_cell_key(str(entry["cell"]))
        except ValueError as e:
            raise BaselineError(f"{at}: {e}") from None
        metric = entry["metric"]
        if not isinstance(metric, str) or not metric:
            raise BaselineError(f"{at}: metric must be a metric name, got {metric!r}")
        value, tolerance = (
            _number(entry["value"], f"{at}: value"),
            _number(entry["tolerance"], f"{at}: tolerance"),
        )
        if tolerance < 0:
            raise BaselineError(f"{at}: tolerance must be >= 0, got {tolerance}")
        direction = _direction(entry.get("direction"), metric, at)
        key = (str(entry["cell"]), metric)
        if key in seen:
            raise BaselineError(f"{at}: {key[0]} {metric} has a baseline already")
        seen.add(key)
        out.append(Baseline(str(entry["cell"]), metric, value, tolerance, direction))
    return out


def load_baselines(path: Path | str) -> list[Baseline]:
    """`parse_baselines` of a YAML file (safe_load); a missing or unreadable file is a BaselineError."""
    try:
        data = read_yaml(path, "baselines file")
    except (FileNotFoundError, ValueError) as e:
        raise BaselineError(str(e)) from None
    return parse_baselines(data, str(path))


def check_baselines(cells: Iterable[Cell], baselines: Sequence[Baseline], results: Path | str) -> Comparison:
    """Each baseline against the measured cells (`results` only names the missing files in messages)."""
    by_key = {c.key: c for c in cells}
    failures = []
    for b in baselines:
        cell = by_key.get(b.cell)
        if cell is None:
            failures.append(f"MISSING {b.cell}: no result file {cell_path(results, *parse_cell_key(b.cell))}")
        elif b.metric not in cell.metrics:
            have = ", ".join(sorted(cell.metrics)) or "none"
            failures.append(f"MISSING {b.cell} {b.metric}: not in the cell's metrics ({have})")
        else:
            measured = cell.metrics[b.metric]
            failure = _regression(b.cell, b.metric, measured, b.value, b.tolerance, b.direction, "baseline")
            if failure:
                failures.append(failure)
    return Comparison(tuple(failures), (), len(baselines), len({b.cell for b in baselines}))


def compare_results(
    fresh: Iterable[Cell],
    committed: Iterable[Cell],
    tolerance: float,
    *,
    cells: str | None = None,
) -> Comparison:
    """Fresh cells against the committed cells of the same key (rules in the module docstring).

    Args:
        fresh: the cells to judge.
        committed: the reference cells (e.g. the committed results folder).
        tolerance: absolute, in fraction units (scaled for 0-100 metrics such as `sacrebleu`).
        cells: fnmatch pattern over cell keys; when given, committed cells it matches must be in `fresh`.
    """
    pattern = cells or "*"
    fresh_by_key = {c.key: c for c in fresh if fnmatch.fnmatchcase(c.key, pattern)}
    old_by_key = {c.key: c for c in committed if fnmatch.fnmatchcase(c.key, pattern)}
    failures, notes, checked = [], [], 0
    if not fresh_by_key:
        failures.append(f"NOTHING TO COMPARE: no fresh cell matches {pattern!r}")
    if cells is not None:
        for key in sorted(set(old_by_key) - set(fresh_by_key)):
            failures.append(f"MISSING {key}: committed, but not in the fresh results")
    for key in sorted(fresh_by_key):
        new, old = fresh_by_key[key], old_by_key.get(key)
        if old is None:
            failures.append(f"MISSING {key}: no committed cell to compare with")
            continue
        for metric in sorted(old.metrics):
            before = old.metrics[metric]
            if metric.endswith(DERIVED_SUFFIXES):
                continue
            if metric not in new.metrics:
                failures.append(f"MISSING {key} {metric}: in the committed cell, not in the fresh one")
                continue
            after, direction = new.metrics[metric], metric_direction(metric)
            if is_exact(metric):
                checked += 1
                if after != before:
                    failures.append(
                        f"MISMATCH {key} {metric} = {after:g}, committed {before:g} "
                        "(another test set: the scores are not comparable)"
                    )
            elif direction is None:
                notes.append(f"note: {key} {metric} not compared (no known direction)")
            else:
                checked += 1
                tol = tolerance * METRIC_SCALE.get(metric, 1.0)
                failure = _regression(key, metric, after, before, tol, direction, "committed")
                if failure:
                    failures.append(failure)
        for metric in sorted(set(new.metrics) - set(old.metrics)):
            notes.append(f"note: {key} {metric} is new (not in the committed cell)")
    return Comparison(tuple(failures), tuple(notes), checked, len(fresh_by_key))


def main(argv: list[str] | None = None) -> int:
    """`smd check`: fail on a regression against baselines, or against another results folder."""
    parser = argparse.ArgumentParser(
        prog="smd check",
        description=main.__doc__,
        epilog="Exit 0: all pass; 1: a regression or a missing result; 2: malformed input.",
    )
    parser.add_argument(
        "--results", type=Path, default=Path("results"), help="results folder (default: results)"
    )
    parser.add_argument(
        "--baselines", type=Path, help="baselines YAML (default: results/baselines.yaml; not with --against)"
    )
    parser.add_argument("--against", type=Path, metavar="DIR", help="compare with the cells of this folder")
    parser.add_argument(
        "--tolerance", type=_non_negative, help="with --against: allowed move the wrong way (fractions)"
    )
    parser.add_argument("--cells", metavar="GLOB", help="with --against: only cells whose key matches")
    args = parser.parse_args(argv)
    if args.against is None and (args.tolerance is not None or args.cells is not None):
        parser.error("--tolerance and --cells go with --against")
    if args.against is not None and (args.tolerance is None or args.baselines is not None):
        parser.error("--against needs --tolerance, and takes no --baselines")
    try:
        fresh = load_results(args.results)
        if args.against is not None:
            result = compare_results(fresh, load_results(args.against), args.tolerance, cells=args.cells)
            against = f"{args.against} (tolerance {args.tolerance:g})"
        else:
            baselines_path = args.baselines or Path("results") / "baselines.yaml"
            result = check_baselines(fresh, load_baselines(baselines_path), args.results)
            against = str(baselines_path)
    except (OSError, ValueError) as e:  # BaselineError is a ValueError
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    for line in result.notes:
        print(line)
    for line in result.failures:
        print(line)
    if result.failures:
        print(f"FAILED: {len(result.failures)} problem(s); {args.results} vs {against}")
        return EXIT_REGRESSION
    scope = f"{result.checked} metric(s) in {result.cells} cell(s) of {args.results}"
    print(f"OK: {scope} checked against {against}")
    return EXIT_OK


def _regression(
    key: str, metric: str, measured: float, ref: float, tolerance: float, direction: Direction, ref_name: str
) -> str | None:
    """`REGRESSION <key> <metric> = m < <ref_name> r - tolerance t` when `measured` is worse, else None."""
    if direction == "higher" and measured < ref - tolerance - _EPS:
        return (
            f"REGRESSION {key} {metric} = {measured:.3f} < {ref_name} {ref:.3f} - tolerance {tolerance:.3f}"
        )
    if direction == "lower" and measured > ref + tolerance + _EPS:
        return (
            f"REGRESSION {key} {metric} = {measured:.3f} > {ref_name} {ref:.3f} + tolerance {tolerance:.3f}"
        )
    return None


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BaselineError(f"{where} must be a number, got {value!r}")
    return float(value)


def _direction(value: Any, metric: str, where: str) -> Direction:
    known = metric_direction(metric)
    if value is None:
        if known is None:
            raise BaselineError(
                f"{where}: metric {metric!r} has no known direction: add `direction: higher|lower`"
            )
        return known
    if value not in ("higher", "lower"):
        raise BaselineError(f"{where}: direction must be 'higher' or 'lower', got {value!r}")
    if known is not None and value != known:
        raise BaselineError(f"{where}: direction {value!r} contradicts {metric} ({known} is better)")
    return value


def _non_negative(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (x >= 0 and x != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text!r}")
    return x
