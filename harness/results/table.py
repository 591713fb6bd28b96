"""Results tables like the paper's, in Markdown, with 95 % CIs, `n` and chance; a figure with error bars.

    smd table [--results results] [--reference results/reference/paper.yaml]
              [-o results/tables.md] [--figure results/figure.png]

Tables, each only with the columns that have a number:

1. **Backbones**: one row per model, setting (zero-shot / LoRA / LoRA on answer texts) and docs (real, or
   the motion-blind control `<preset>-blind`) at the paper's headline SMD variants (`v5`, `v5_top3`),
   plus the paper's methods it compares with. Columns: per QA dataset its scorings (generation `acc`, the
   paper's protocol, and its `invalid` rate; letters by log-likelihood `MC acc`; option texts by
   log-likelihood `cloze acc` / `cloze acc_norm`), then HumanML3D R@1, R@3, MM-Dist, BLEU@4, ROUGE-L,
   CIDEr, BERTScore.
2. **SMD variants**: every variant of every model and setting, in preset order (the ablation), shown
   when some cell has a variant other than the headline ones (so every cell is in some table).
3. **Per-type accuracy**: per QA dataset, one row per cell that carries per-type metrics (`acc_action`,
   ..., `acc_in_between`): accuracy per query type and per relation.

Each results prefix gets tables of its own: the synthetic demo's (`demo_`) numbers say the pipeline
runs and what the method does in miniature, not how good a model is, so they never share a column with
the real benchmarks; another profile's (`ci_`) neither. Reported rows (from the reference file) are
labelled "reported" and listed after the measured ones, with their citations under the table.

Each measured number has its 95 % CI beside it when the cell carries one (`41.2 [35.1, 47.3]`: Wilson
score interval for accuracies, percentile bootstrap over docs for BLEU-4 / ROUGE-L / CIDEr; see
`harness.results.stats`); a `†` marks a cell scored on a subset (`limit` in the cell), a `‡` one scored on
docs of an earlier SMD text format than today's (`smd.FORMAT_VERSION`; its provenance says which, or
records none): re-run it before comparing it with an unmarked number. Under the
measured rows, an `n` row gives the docs scored per column and a `chance` row the split's chance level
(mean of 1 / number of options); a range `a–b` where the rows of a column differ.

Units: accuracy, BLEU, ROUGE-L, CIDEr and BERTScore x100 with one decimal (the paper's convention),
R@k as fractions with three decimals, MM-Dist with two; "–" where a model has no number.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

import smd
from harness.core import OUTPUT_OPTION, add_renamed_option, atomic_write_bytes, atomic_write_text
from harness.data import (
    ANSWER_PRIOR,
    ANSWER_TYPES,
    DATASETS,
    DEMO_PREFIX,
    MOTION_VARIANT,
    RELATIONS,
    benchmark_name,
    parse_benchmark,
)

from .cells import NO_VARIANT, REPORTED, Cell, load_reference, load_results, parse_variant
from .table_render import DOCS_NAMES, OLDER_FORMAT_MARK, Column, Row, Table, render_figure, render_markdown

__all__ = ["build_tables", "main"]

EXIT_ERROR = 2
HEADLINE_VARIANTS = ("v5", "v5_top3")  # the paper's full SMD and its best (Top-3) variant
UNRECORDED_FORMAT = "not recorded"  # an SMD cell whose provenance predates the format's record


# the columns of each QA scoring (harness.data.registry.SCORINGS); generation is the paper's protocol:
# no prefix
SCORING_COLUMNS = {
    "generation": (("acc", "acc"), ("invalid_rate", "invalid")),
    "mc": (("acc", "MC acc"),),
    "cloze": (("acc", "cloze acc"), ("acc_norm", "cloze acc_norm")),
}
CAPTION_COLUMNS = (
    ("r_precision_top1", "R@1"),
    ("r_precision_top3", "R@3"),
    ("mm_dist", "MM-Dist"),
    ("bleu_4", "BLEU@4"),
    ("rouge_l", "ROUGE-L"),
    ("cider", "CIDEr"),
    ("bertscore_f1", "BERTScore"),
)
TYPE_NAMES = {
    "action": "action",
    "direction": "direction",
    "body_part": "body part",
    "no_relation": "no relation",
    "before": "before",
    "after": "after",
    "in_between": "in between",
}
TYPE_COLUMNS = tuple((f"acc_{t}", TYPE_NAMES.get(t, t)) for t in ANSWER_TYPES + RELATIONS)
# adapters' names in cells -> in rows; `encoder-*`: the encoder baseline (harness.models.encoder), on
# `motion` docs
ADAPTER_NAMES = {
    "lora": "LoRA",
    "lora-text": "LoRA (texts)",
    "encoder-letter": "motion encoder + LoRA",
    "encoder-text": "motion encoder + LoRA (texts)",
}


def _scope(prefix: str) -> tuple[str, str]:
    """(table scope, column-name prefix) of a results prefix: real data, the demo, another profile."""
    if prefix == "":
        return "real data", ""
    if prefix == DEMO_PREFIX:
        return "synthetic demo data", "Demo "
    return f"profile {prefix[:-1]}", f"{prefix[:-1]} "


def _layout(prefix: str) -> tuple[tuple[str, str, str], ...]:
    """(benchmark, metric, header) of every registry dataset and scoring under one results prefix."""
    names = _scope(prefix)[1]
    out: list[tuple[str, str, str]] = []
    for d in DATASETS.values():
        title = names + d.title
        if d.kind == "qa":
            out += [
                (benchmark_name(d.name, scoring, prefix), metric, f"{title} {header}")
                for scoring, columns in SCORING_COLUMNS.items()
                for metric, header in columns
            ]
        else:
            out += [(benchmark_name(d.name, None, prefix), m, f"{title} {h}") for m, h in CAPTION_COLUMNS]
    return tuple(out)


def build_tables(measured: Iterable[Cell], reported: Iterable[Cell] = ()) -> list[Table]:
    """The tables for a set of cells (pure: no files); a table with no row is left out."""
    measured, reported = list(measured), list(reported)
    prefixes = {parse_benchmark(c.benchmark).prefix for c in measured}
    # real data first, then the demo, then other profiles (`ci_`), each in tables of its own
    order = sorted(prefixes | {""}, key=lambda p: (p != "", p != DEMO_PREFIX, p))
    tables = []
    for prefix in order:
        layout, scope = _layout(prefix), _scope(prefix)[0]
        cells = [c for c in measured if parse_benchmark(c.benchmark).prefix == prefix]
        if prefix == "":  # reported numbers are from real benchmarks only, never in a profile's table
            cells += [c for c in reported if parse_benchmark(c.benchmark).prefix == ""]
        rows = _rows(cells)
        # beside the SMD rows: the encoder baseline on the same docs (variant `motion`) and the paper's peers
        headline = tuple(r for r in rows if r.preset in HEADLINE_VARIANTS + (NO_VARIANT, MOTION_VARIANT))
        if headline:
            tables.append(_table(f"Backbones, zero-shot and LoRA ({scope})", layout, headline))
        ablation = tuple(r for r in rows if r.variant != NO_VARIANT)
        if any(r.preset not in HEADLINE_VARIANTS + (MOTION_VARIANT,) for r in ablation):
            tables.append(_table(f"SMD variants ({scope})", layout, ablation))
        tables += _per_type_tables([c for c in cells if c.source != REPORTED], scope, prefix)
    return tables


def main(argv: list[str] | None = None) -> int:
    """`smd table`: Markdown tables of the measured results and the reported reference numbers."""
    parser = argparse.ArgumentParser(prog="smd table", description=main.__doc__)
    parser.add_argument(
        "--results", type=Path, default=Path("results"), help="results folder (default: results)"
    )
    parser.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="reported numbers (default: RESULTS/reference/paper.yaml when it exists)",
    )
    add_renamed_option(
        parser, *OUTPUT_OPTION, old=("--out",), type=Path, help="also write the Markdown here (atomically)"
    )
    parser.add_argument("--figure", type=Path, help="write a PNG bar chart here")
    args = parser.parse_args(argv)
    reference = args.reference
    if reference is None and (args.results / "reference" / "paper.yaml").is_file():
        reference = args.results / "reference" / "paper.yaml"
    try:
        measured = load_results(args.results)
        reported = load_reference(reference) if reference is not None else []
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    tables = build_tables(measured, reported)
    text = render_markdown(tables)
    sys.stdout.write(text)
    if args.output:
        atomic_write_text(args.output, text)
    if args.figure:
        try:
            png = render_figure(tables)
        except ImportError:
            print("error: --figure needs matplotlib: pip install 'smd-bench[plot]'", file=sys.stderr)
            return EXIT_ERROR
        atomic_write_bytes(args.figure, png)
    return 0


def _order(cell: Cell) -> tuple:
    presets = {name: i for i, name in enumerate(smd.PRESETS)}
    preset, docs = parse_variant(cell.variant)
    docs_order = list(DOCS_NAMES).index(docs) if docs in DOCS_NAMES else len(DOCS_NAMES)
    adapter = cell.adapter or ""
    return (
        cell.backbone,
        preset == MOTION_VARIANT,  # the encoder baseline after the backbone's SMD rows
        cell.adapter is not None,
        adapter,
        presets.get(preset, len(presets)),
        preset,
        docs_order,
    )


def _rows(cells: list[Cell]) -> list[Row]:
    """One row per (source, model, setting, variant); measured rows first, in a stable order."""
    groups: dict[tuple, dict] = {}
    for cell in cells:
        key = (cell.source, cell.backbone, cell.adapter, cell.variant)
        group = groups.setdefault(key, {"cell": cell, "values": {}, "older": {}})
        for metric, value in cell.metrics.items():
            group["values"][(cell.benchmark, metric)] = value
        if (older := _older_format(cell)) is not None:
            group["older"][cell.benchmark] = older
    measured = sorted((k for k in groups if k[0] != REPORTED), key=lambda k: _order(groups[k]["cell"]))
    reported = [k for k in groups if k[0] == REPORTED]  # reference-file order, as the paper lists them
    return [
        Row(
            label=_label(groups[k]["cell"]),
            variant=k[3],
            source=k[0],
            values=groups[k]["values"],
            citation=groups[k]["cell"].citation if k[0] == REPORTED else None,
            older_formats=groups[k]["older"],
        )
        for k in measured + reported
    ]


def _per_type_tables(cells: list[Cell], scope: str, prefix: str) -> list[Table]:
    """Per QA dataset: one row per measured cell with per-type metrics, columns = types, relations."""
    tables = []
    for d in (d for d in DATASETS.values() if d.kind == "qa"):
        base = prefix + d.name
        names = [(c, parse_benchmark(c.benchmark)) for c in cells]
        typed = [
            (c, name)
            for c, name in names
            if name.base == base and any(m in c.metrics for m, _ in TYPE_COLUMNS)
        ]
        if not typed:
            continue
        scorings = list(SCORING_COLUMNS)
        typed.sort(key=lambda cn: (_order(cn[0]), scorings.index(cn[1].scoring)))
        rows = tuple(
            Row(
                label=_label(c),
                variant=c.variant,
                source=c.source,
                values={(base, m): v for m, v in c.metrics.items()},
                scoring=name.scoring,
                older_formats={base: f} if (f := _older_format(c)) is not None else {},
            )
            for c, name in typed
        )
        columns = tuple(
            Column(base, metric, header)
            for metric, header in TYPE_COLUMNS
            if any((base, metric) in r.values for r in rows)
        )
        title = _scope(prefix)[1] + d.title
        tables.append(
            Table(
                f"Per-type accuracy, {title} ({scope})",
                columns,
                rows,
                kind="per-type",
                notes=_format_notes(rows),
            )
        )
    return tables


def _label(cell: Cell) -> str:
    if cell.source == REPORTED and cell.variant == NO_VARIANT:
        return f"{cell.display_name} (reported)"
    if cell.backbone == ANSWER_PRIOR:  # a baseline, not a backbone: no setting
        return "answer prior (most frequent training answer of the type)"
    setting = (
        " zero-shot"
        if cell.adapter is None
        else f" + {ADAPTER_NAMES.get(cell.adapter.lower(), cell.adapter)}"
    )
    suffix = " (paper, reported)" if cell.source == REPORTED else ""
    return f"{cell.display_name}{setting}{suffix}"


def _table(title: str, layout, rows: tuple[Row, ...]) -> Table:
    columns = tuple(
        Column(benchmark, metric, header)
        for benchmark, metric, header in layout
        if any((benchmark, metric) in r.values for r in rows)
    )
    return Table(title, columns, rows, notes=_format_notes(rows))


def _older_format(cell: Cell) -> str | None:
    """The earlier SMD format a measured cell was scored on; None for today's format or a cell without an
    SMD (a reported number, a peer method, the encoder baseline's motion docs)."""
    preset = parse_variant(cell.variant)[0]
    if cell.source == REPORTED or preset in (NO_VARIANT, MOTION_VARIANT):
        return None
    if cell.smd_format == smd.FORMAT_VERSION:
        return None
    return cell.smd_format or UNRECORDED_FORMAT


def _format_notes(rows: Iterable[Row]) -> tuple[str, ...]:
    older = sorted({f for r in rows for f in r.older_formats.values()})
    if not older:
        return ()
    return (
        f"{OLDER_FORMAT_MARK} scored on docs of an earlier SMD format ({', '.join(older)}) than today's "
        f"`{smd.FORMAT_VERSION}`: not comparable with an unmarked number until the cell is re-run.",
    )
