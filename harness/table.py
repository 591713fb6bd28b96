"""Results tables like the paper's, in Markdown, with 95 % CIs, `n` and chance; a figure with error bars.

    smd table [--results results] [--reference results/reference/paper.yaml]
              [--out results/tables.md] [--figure results/figure.png]

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

The synthetic demo datasets get tables of their own: their numbers say the pipeline runs and what the
method does in miniature, not how good a model is, so they never share a column with the real
benchmarks. Reported rows (from the reference file) are labelled "reported" and listed after the
measured ones, with their citations under the table.

Each measured number has its 95 % CI beside it when the cell carries one (`41.2 [35.1, 47.3]`: Wilson
score interval for accuracies, percentile bootstrap over docs for BLEU-4 / ROUGE-L / CIDEr; see
`harness.compare`); a `†` marks a cell scored on a subset (`limit` in the cell). Under the measured rows,
an `n` row gives the docs scored per column and a `chance` row the split's chance level (mean of
1 / number of options); a range `a–b` where the rows of a column differ.

Units: accuracy, BLEU, ROUGE-L, CIDEr and BERTScore x100 with one decimal (the paper's convention),
R@k as fractions with three decimals, MM-Dist with two; "–" where a model has no number.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import smd

from .datasets.qa import ANSWER_TYPES, RELATIONS
from .io import atomic_write_bytes, atomic_write_text
from .results import (
    CAPTION_DATASETS,
    DEMO_DATASETS,
    NO_VARIANT,
    QA_BASE_DATASETS,
    QA_DATASETS,
    QA_SCORINGS,
    REPORTED,
    Cell,
    load_reference,
    load_results,
    parse_dataset,
    parse_variant,
)

__all__ = [
    "Column",
    "Row",
    "Table",
    "build_tables",
    "format_cell",
    "format_value",
    "render_figure",
    "render_markdown",
]

EXIT_ERROR = 2
MISSING = "–"
SUBSET_MARK = "†"
HEADLINE_VARIANTS = ("v5", "v5_top3")  # the paper's full SMD and its best (Top-3) variant

PERCENT_METRICS = frozenset(
    {"acc", "acc_norm", "invalid_rate", "bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider"}
    | {"bertscore_f1", "chance"}
    | {f"acc_{t}" for t in ANSWER_TYPES + RELATIONS}
)
DECIMALS = {"r_precision_top1": 3, "r_precision_top2": 3, "r_precision_top3": 3, "mm_dist": 2}
CI_LOW, CI_HIGH = "_ci95_low", "_ci95_high"
# metrics whose chance level is the split's (1 / options); invalid_rate is not a score
CHANCE_METRICS = frozenset({"acc", "acc_norm"} | {f"acc_{t}" for t in ANSWER_TYPES + RELATIONS})

DATASET_NAMES = {
    "babel_qa": "BABEL-QA",
    "humman_qa": "HuMMan-QA",
    "humanml3d": "HumanML3D",
    "demo_babel_qa": "Demo BABEL-QA",
    "demo_humanml3d": "Demo HumanML3D",
}
# the columns of each QA scoring (QA_SCORINGS' values); generation is the paper's protocol: no prefix
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
DOCS_NAMES = {"real": "real", "blind": "blind control"}
ADAPTER_NAMES = {"lora": "LoRA", "lora-text": "LoRA (texts)"}


def _qa_layout(base: str) -> list[tuple[str, str, str]]:
    """(cell dataset, metric, header) of a QA base dataset, every scoring."""
    name = DATASET_NAMES[base]
    inverse = {scoring: suffix for suffix, scoring in QA_SCORINGS.items()}
    return [
        (base + inverse[scoring], metric, f"{name} {header}")
        for scoring, columns in SCORING_COLUMNS.items()
        for metric, header in columns
    ]


def _layout(bases: Iterable[str]) -> tuple[tuple[str, str, str], ...]:
    out: list[tuple[str, str, str]] = []
    for base in bases:
        if base in QA_BASE_DATASETS:
            out += _qa_layout(base)
        else:
            out += [(base, metric, f"{DATASET_NAMES[base]} {header}") for metric, header in CAPTION_COLUMNS]
    return tuple(out)


_REAL_BASES = tuple(d for d in QA_BASE_DATASETS + CAPTION_DATASETS if d not in DEMO_DATASETS)
_DEMO_BASES = tuple(d for d in QA_BASE_DATASETS + CAPTION_DATASETS if d in DEMO_DATASETS)
REAL_LAYOUT = _layout(_REAL_BASES)
DEMO_LAYOUT = _layout(_DEMO_BASES)


@dataclass(frozen=True)
class Column:
    dataset: str
    metric: str
    header: str


@dataclass(frozen=True)
class Row:
    """One model and setting at one SMD variant; `values` maps (dataset, metric) -> number, with each
    cell's CIs, `n`, `chance` and `limit` beside its scores. `scoring` is set in per-type tables."""

    label: str
    variant: str
    source: str
    values: dict[tuple[str, str], float]
    citation: str | None = None
    scoring: str | None = None

    @property
    def preset(self) -> str:
        return parse_variant(self.variant)[0]

    @property
    def docs(self) -> str:
        return parse_variant(self.variant)[1]


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    kind: str = "scores"  # or "per-type"
    notes: tuple[str, ...] = field(default=())


def format_value(metric: str, value: float | None) -> str:
    """`acc 0.667 -> "66.7"`, `r_precision_top1 0.584 -> "0.584"`, `mm_dist 2.35 -> "2.35"`, None -> "–"."""
    if value is None:
        return MISSING
    if metric in PERCENT_METRICS:
        return f"{100 * value:.1f}"
    if metric in DECIMALS:
        return f"{value:.{DECIMALS[metric]}f}"
    return f"{value:g}"


def format_cell(row: Row, column: Column) -> str:
    """The number of a row in a column, with its 95 % CI when the cell has one and `†` for a subset:
    `"41.2 [35.1, 47.3]"`, `"41.2 [35.1, 47.3]†"`, `"66.7"` (reported), `"–"`."""
    key = (column.dataset, column.metric)
    value = row.values.get(key)
    if value is None:
        return MISSING
    text = format_value(column.metric, value)
    low = row.values.get((column.dataset, column.metric + CI_LOW))
    high = row.values.get((column.dataset, column.metric + CI_HIGH))
    if low is not None and high is not None:
        text += f" [{format_value(column.metric, low)}, {format_value(column.metric, high)}]"
    if row.source != REPORTED and (column.dataset, "limit") in row.values:
        text += SUBSET_MARK
    return text


def build_tables(measured: Iterable[Cell], reported: Iterable[Cell] = ()) -> list[Table]:
    """The tables for a set of cells (pure: no files); a table with no row is left out."""
    measured, reported = list(measured), list(reported)
    tables = []
    for layout, scope in ((REAL_LAYOUT, "real data"), (DEMO_LAYOUT, "synthetic demo data")):
        datasets = {d for d, _, _ in layout}
        cells = [c for c in measured if c.dataset in datasets]
        # reported numbers are from real benchmarks only, and none are ever placed in a demo table
        cells += [c for c in reported if c.dataset in datasets and c.dataset not in DEMO_DATASETS]
        rows = _rows(cells)
        headline = tuple(r for r in rows if r.preset in HEADLINE_VARIANTS + (NO_VARIANT,))
        if headline:
            tables.append(_table(f"Backbones, zero-shot and LoRA ({scope})", layout, headline))
        ablation = tuple(r for r in rows if r.variant != NO_VARIANT)
        if any(r.preset not in HEADLINE_VARIANTS for r in ablation):
            tables.append(_table(f"SMD variants ({scope})", layout, ablation))
        tables += _per_type_tables([c for c in cells if c.source != REPORTED], scope)
    return tables


def render_markdown(tables: Sequence[Table]) -> str:
    """The tables as one Markdown document."""
    out = [
        "# SMD-Bench results",
        "",
        "Generated by `smd table`. Accuracy, BLEU, ROUGE-L, CIDEr and BERTScore x100; R@k as fractions; "
        "MM-Dist as a distance. Rows marked *reported* are published numbers, not measured here. "
        "`[a, b]`: 95 % confidence interval (accuracies: Wilson score interval; BLEU@4, ROUGE-L, CIDEr: "
        "percentile bootstrap over docs, 10,000 resamples, seed 0). *n*: docs scored; *chance*: the "
        "split's chance level (mean of 1 / number of options). Differences between two rows: `smd compare`.",
    ]
    if not tables:
        out += ["", "No results yet."]
    for table in tables:
        out += ["", f"## {table.title}", ""] + _md_table(table)
        if any(
            SUBSET_MARK in format_cell(r, c)
            for r in table.rows
            for c in table.columns
            if r.source != REPORTED
        ):
            limits = sorted({int(v) for r in table.rows for (_, m), v in r.values.items() if m == "limit"})
            out += [
                "",
                f"{SUBSET_MARK} scored on a subset: the first {', '.join(map(str, limits))} docs of the "
                "split (`limit`).",
            ]
        citations = list(dict.fromkeys(r.citation for r in table.rows if r.citation))
        if citations:
            out += [""] + [f"Reported: {c}." for c in citations]
    return "\n".join(out) + "\n"


def _md_table(table: Table) -> list[str]:
    blind = any(r.docs != "real" for r in table.rows)
    lead = ["Model", "SMD"] + ["Docs"] * blind + ["Scoring"] * (table.kind == "per-type")
    lines = [
        _md_row(lead + [c.header for c in table.columns]),
        _md_row(["---"] * len(lead) + ["---:"] * len(table.columns)),
    ]
    for row in table.rows:
        variant = MISSING if row.variant == NO_VARIANT else row.preset
        first = [row.label, variant] + [DOCS_NAMES.get(row.docs, row.docs)] * blind
        first += [row.scoring or MISSING] * (table.kind == "per-type")
        lines.append(_md_row(first + [format_cell(row, c) for c in table.columns]))
    measured = [r for r in table.rows if r.source != REPORTED]
    if measured:
        pad = [""] * (len(lead) - 1)
        lines.append(_md_row(["*n*"] + pad + [_spread(measured, c, _n_key(c), "n") for c in table.columns]))
        chance = [_spread(measured, c, (c.dataset, "chance"), "chance") for c in table.columns]
        chance = [v if c.metric in CHANCE_METRICS else "" for v, c in zip(chance, table.columns)]
        if any(v not in ("", MISSING) for v in chance):
            lines.append(_md_row(["*chance*"] + pad + chance))
    return lines


def _n_key(column: Column) -> tuple[str, str]:
    return column.dataset, "n"


def _spread(rows: Sequence[Row], column: Column, key: tuple[str, str], metric: str) -> str:
    """The value of `key` over the rows that have a number in `column`: one value or a range `a–b`."""
    with_value = [r for r in rows if (column.dataset, column.metric) in r.values]
    # a per-type metric has its own docs' count and chance level (`acc_action_n`, `acc_action_chance`)
    own = (column.dataset, f"{column.metric}_{metric}")
    values = [r.values.get(own, r.values.get(key)) for r in with_value]
    values = [v for v in values if v is not None]
    if not values:
        return MISSING if with_value else ""

    def fmt(v: float) -> str:
        return f"{int(v)}" if metric == "n" else format_value(metric, v)

    low, high = fmt(min(values)), fmt(max(values))
    return low if low == high else f"{low}–{high}"


def render_figure(tables: Sequence[Table]) -> bytes:
    """A PNG of grouped bars per table (headline tables only): one group per metric, one bar per row,
    measured bars with their 95 % CI as error bars, and the chance level as a dashed line per group.

    Metrics on a 0-100 scale only (the x100 ones and R@k as percent); MM-Dist has units of its own and
    the invalid rate is not a score: both are left out. Reported rows are hatched.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [t for t in tables if t.title.startswith("Backbones")]
    plotted = [[c for c in t.columns if _plottable(c.metric)] for t in panels]
    fig = Figure(
        figsize=(max(6.0, 1.6 * max((len(c) for c in plotted), default=1) + 3.0), 4.2 * max(1, len(panels)))
    )
    FigureCanvasAgg(fig)
    if not panels:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no results", ha="center", va="center")
        ax.set_axis_off()
    for i, (table, columns) in enumerate(zip(panels, plotted)):
        ax = fig.add_subplot(len(panels), 1, i + 1)
        _bars(ax, table, columns)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


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
    parser.add_argument("--out", type=Path, help="also write the Markdown here (atomically)")
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
    if args.out:
        atomic_write_text(args.out, text)
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
        group = groups.setdefault(key, {"cell": cell, "values": {}})
        for metric, value in cell.metrics.items():
            group["values"][(cell.dataset, metric)] = value
    measured = sorted((k for k in groups if k[0] != REPORTED), key=lambda k: _order(groups[k]["cell"]))
    reported = [k for k in groups if k[0] == REPORTED]  # reference-file order, as the paper lists them
    return [
        Row(
            label=_label(groups[k]["cell"]),
            variant=k[3],
            source=k[0],
            values=groups[k]["values"],
            citation=groups[k]["cell"].citation if k[0] == REPORTED else None,
        )
        for k in measured + reported
    ]


def _per_type_tables(cells: list[Cell], scope: str) -> list[Table]:
    """Per QA base dataset: one row per measured cell with per-type metrics, columns = types, relations."""
    tables = []
    for base in QA_BASE_DATASETS:
        typed = [
            c
            for c in cells
            if c.dataset in QA_DATASETS and parse_dataset(c.dataset)[0] == base
            if any(m in c.metrics for m, _ in TYPE_COLUMNS)
        ]
        if not typed:
            continue
        scorings = list(SCORING_COLUMNS)
        typed.sort(key=lambda c: (_order(c), scorings.index(parse_dataset(c.dataset)[1])))
        rows = tuple(
            Row(
                label=_label(c),
                variant=c.variant,
                source=c.source,
                values={(base, m): v for m, v in c.metrics.items()},
                scoring=parse_dataset(c.dataset)[1],
            )
            for c in typed
        )
        columns = tuple(
            Column(base, metric, header)
            for metric, header in TYPE_COLUMNS
            if any((base, metric) in r.values for r in rows)
        )
        tables.append(
            Table(f"Per-type accuracy, {DATASET_NAMES[base]} ({scope})", columns, rows, kind="per-type")
        )
    return tables


def _label(cell: Cell) -> str:
    if cell.source == REPORTED and cell.variant == NO_VARIANT:
        return f"{cell.display_name} (reported)"
    setting = (
        " zero-shot"
        if cell.adapter is None
        else f" + {ADAPTER_NAMES.get(cell.adapter.lower(), cell.adapter)}"
    )
    suffix = " (paper, reported)" if cell.source == REPORTED else ""
    return f"{cell.display_name}{setting}{suffix}"


def _table(title: str, layout, rows: tuple[Row, ...]) -> Table:
    columns = tuple(
        Column(dataset, metric, header)
        for dataset, metric, header in layout
        if any((dataset, metric) in r.values for r in rows)
    )
    return Table(title, columns, rows)


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _plottable(metric: str) -> bool:
    """Fractions that read as percentages on a shared 0-100 axis (MM-Dist is a distance: left out)."""
    return (metric in PERCENT_METRICS and metric != "invalid_rate") or metric.startswith("r_precision_top")


def _bars(ax, table: Table, columns: list[Column]) -> None:
    import numpy as np

    if not columns:
        ax.text(0.5, 0.5, "no metric on a 0-100 scale", ha="center", va="center")
        ax.set_axis_off()
        return
    rows = table.rows
    width = 0.8 / len(rows)
    x = np.arange(len(columns))
    colours = [f"C{i % 10}" for i in range(len(rows))]
    for i, row in enumerate(rows):
        heights = np.array([100 * row.values.get((c.dataset, c.metric), np.nan) for c in columns])
        reported = row.source == REPORTED
        label = row.label + ("" if row.variant == NO_VARIANT else f" [{row.variant}]")
        if not reported and any((c.dataset, "limit") in row.values for c in columns):
            label += f" {SUBSET_MARK}subset"
        low = np.array([100 * row.values.get((c.dataset, c.metric + CI_LOW), np.nan) for c in columns])
        high = np.array([100 * row.values.get((c.dataset, c.metric + CI_HIGH), np.nan) for c in columns])
        has_ci = ~np.isnan(low) & ~np.isnan(high) & ~np.isnan(heights)
        centres = x - 0.4 + (i + 0.5) * width
        ax.bar(
            centres,
            heights,
            width,
            label=label,
            color=colours[i],
            alpha=0.55 if reported else 0.95,
            hatch="//" if reported else None,
            edgecolor="black",
            linewidth=0.5,
        )
        if has_ci.any():
            errors = np.vstack([heights - low, high - heights])[:, has_ci]
            ax.errorbar(
                centres[has_ci],
                heights[has_ci],
                yerr=np.maximum(errors, 0),
                fmt="none",
                ecolor="black",
                elinewidth=0.8,
                capsize=2,
            )
    chance_drawn = False
    for j, column in enumerate(columns):
        if column.metric not in CHANCE_METRICS:
            continue
        values = [
            r.values.get(
                (column.dataset, f"{column.metric}_chance"), r.values.get((column.dataset, "chance"))
            )
            for r in rows
            if (column.dataset, column.metric) in r.values
        ]
        values = [v for v in values if v is not None]
        if values:
            level = 100 * float(np.mean(values))
            ax.hlines(
                level,
                j - 0.45,
                j + 0.45,
                colors="red",
                linestyles="dashed",
                linewidth=1.0,
                label=None if chance_drawn else "chance",
            )
            chance_drawn = True
    ax.set_xticks(x, ["\n".join(c.header.rsplit(" ", 1)) for c in columns], fontsize=8)
    ax.set_ylabel("score (x100), 95% CI")
    ax.set_ylim(0, 100)
    ax.set_title(table.title, fontsize=10, loc="left")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(
        fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="hatched: reported", title_fontsize=7
    )
