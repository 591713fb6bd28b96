"""`smd table`: measured and reported rows, units, demo tables apart, the figure."""

from __future__ import annotations

import pytest

import smd
from harness.cli import main
from harness.results import REPORTED, Cell, load_results, write_cell
from harness.results.table import build_tables
from harness.results.table_render import format_value, render_markdown

PAPER = "Zhang et al. 2026"
TODAY = smd.FORMAT_VERSION  # the SMD format a measured cell is scored on unless a test says otherwise
TODAYS_PROVENANCE = {"inputs": {"smd": {"format_version": TODAY}}}


def _measured(*key_parts, smd_format=TODAY):
    *key, metrics = key_parts
    return Cell(*key, metrics, smd_format=smd_format)


def _reported(key_parts, metrics, label="Qwen2.5-7B"):
    return Cell(*key_parts, metrics=metrics, source=REPORTED, citation=PAPER, label=label)


def _rows_by_label(markdown: str) -> dict[str, list[str]]:
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("| Model") and not line.startswith("| ---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.setdefault(cells[0], []).append(cells[1:])
    return rows


@pytest.mark.parametrize(
    "metric, value, text",
    [
        ("acc", 0.667, "66.7"),
        ("bleu_4", 0.227, "22.7"),
        ("cider", 0.5316, "53.2"),
        ("bertscore_f1", 0.4558, "45.6"),
        ("r_precision_top1", 0.584, "0.584"),
        ("mm_dist", 2.3456, "2.35"),
        ("acc", None, "–"),
    ],
)
def test_format_value(metric, value, text):
    assert format_value(metric, value) == text


def test_measured_and_reported_rows_are_labelled_and_kept_apart():
    measured = [
        _measured("babel_qa", "v5", "qwen2.5-7b", "lora", {"acc": 0.65}),
        _measured("babel_qa", "v5_top3", "qwen2.5-7b", None, {"acc": 0.301}),
    ]
    reported = [
        _reported(("babel_qa", "v5", "qwen2.5-7b", "lora"), {"acc": 0.667}),
        _reported(("humanml3d", "v5", "qwen2.5-7b", "lora"), {"r_precision_top1": 0.584, "mm_dist": 2.35}),
        _reported(("babel_qa", "-", "imore", None), {"acc": 0.601}, label="IMoRe"),
    ]
    md = render_markdown(build_tables(measured, reported))
    rows = _rows_by_label(md)
    header = next(line for line in md.splitlines() if line.startswith("| Model"))
    assert (
        header == "| Model | SMD | BABEL-QA acc | HumanML3D R@1 | HumanML3D MM-Dist |"
    )  # columns with data only
    assert rows["qwen2.5-7b + LoRA"] == [["v5", "65.0", "–", "–"]]
    assert rows["qwen2.5-7b zero-shot"] == [["v5_top3", "30.1", "–", "–"]]
    # the same cell key measured and reported: two rows, never merged
    assert rows["Qwen2.5-7B + LoRA (paper, reported)"] == [["v5", "66.7", "0.584", "2.35"]]
    assert rows["IMoRe (reported)"] == [["–", "60.1", "–", "–"]]
    labels = list(rows)
    assert labels.index("qwen2.5-7b + LoRA") < labels.index("Qwen2.5-7B + LoRA (paper, reported)")
    assert f"Reported: {PAPER}." in md


def test_demo_results_get_their_own_table_and_no_reported_rows():
    measured = [
        _measured("demo_babel_qa", "v5_top3", "tiny", "lora", {"acc": 0.41}),
        _measured("demo_humanml3d", "v5_top3", "tiny", "lora", {"bleu_4": 0.05, "rouge_l": 0.3}),
    ]
    reported = [_reported(("babel_qa", "v5", "qwen2.5-7b", "lora"), {"acc": 0.667})]
    tables = build_tables(measured, reported)
    assert [t.title for t in tables] == [
        "Backbones, zero-shot and LoRA (real data)",
        "Backbones, zero-shot and LoRA (synthetic demo data)",
    ]
    real, demo = tables
    assert [r.label for r in real.rows] == ["Qwen2.5-7B + LoRA (paper, reported)"]
    assert [r.label for r in demo.rows] == ["tiny + LoRA"]
    assert [c.header for c in demo.columns] == [
        "Demo BABEL-QA acc",
        "Demo HumanML3D BLEU@4",
        "Demo HumanML3D ROUGE-L",
    ]


def test_variant_ablation_table_lists_presets_in_order():
    measured = [
        Cell("babel_qa", variant, "tiny", "lora", {"acc": acc})
        for variant, acc in [("v5_delta10", 0.3), ("v5", 0.5), ("v5_top3", 0.6)]
    ]
    tables = {t.title: t for t in build_tables(measured)}
    ablation = tables["SMD variants (real data)"]
    assert [r.variant for r in ablation.rows] == ["v5", "v5_top3", "v5_delta10"]
    # the headline table keeps the paper's two variants only
    assert [r.variant for r in tables["Backbones, zero-shot and LoRA (real data)"].rows] == ["v5", "v5_top3"]


def test_smd_table_writes_markdown_and_a_png(tmp_path, capsys):
    results = tmp_path / "results"
    cells = [
        Cell("demo_babel_qa", "v5_top3", "tiny", None, {"acc": 0.123, "n": 40}),
        Cell("demo_babel_qa", "v5_top3", "tiny", "lora", {"acc": 0.456, "n": 40}),
    ]
    for cell in cells:
        write_cell(results, cell, TODAYS_PROVENANCE)
    reference = tmp_path / "paper.yaml"
    reference.write_text(
        "- {cell: babel_qa/v5/qwen2.5-7b+lora, label: Qwen2.5-7B, source: reported,\n"
        "   citation: paper, metrics: {acc: 0.667}}\n"
    )
    out, figure = tmp_path / "tables" / "tables.md", tmp_path / "fig.png"
    argv = ["table", "--results", results, "--reference", reference, "-o", out, "--figure", figure]
    rc = main([str(a) for a in argv])
    printed, err = capsys.readouterr()
    assert rc == 0, err
    assert out.read_text() == printed
    rows = _rows_by_label(printed)
    assert rows["tiny zero-shot"] == [["v5_top3", "12.3"]]
    assert rows["tiny + LoRA"] == [["v5_top3", "45.6"]]
    assert rows["Qwen2.5-7B + LoRA (paper, reported)"] == [["v5", "66.7"]]
    data = figure.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) > 5000


def test_smd_table_reports_a_malformed_cell(tmp_path, capsys):
    bad = tmp_path / "babel_qa" / "v5" / "tiny.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"acc": "high"}')
    assert main(["table", "--results", str(tmp_path)]) == 2
    assert str(bad) in capsys.readouterr().err


def _qa_cell(dataset, variant, adapter, acc, *, n=200, backbone="tiny", smd_format=TODAY, **extra):
    from harness.results.stats import wilson_interval

    low, high = wilson_interval(round(acc * n), n)
    metrics = {"acc": acc, "acc_ci95_low": low, "acc_ci95_high": high, "n": n, "chance": 0.1, **extra}
    return Cell(dataset, variant, backbone, adapter, metrics, smd_format=smd_format)


def test_measured_numbers_carry_their_ci_n_chance_and_a_subset_mark():
    measured = [
        _qa_cell("demo_babel_qa", "v5_top3", None, 0.41),
        _qa_cell("demo_babel_qa", "v5_top3", "lora", 0.5, n=40, limit=40),
        _measured(
            "demo_humanml3d",
            "v5_top3",
            "tiny",
            None,
            {"cider": 0.12, "cider_ci95_low": 0.1, "cider_ci95_high": 0.15, "n": 90},
        ),
    ]
    md = render_markdown(build_tables(measured))
    rows = _rows_by_label(md)
    assert rows["tiny zero-shot"] == [["v5_top3", "41.0 [34.4, 47.9]", "12.0 [10.0, 15.0]"]]
    assert rows["tiny + LoRA"] == [["v5_top3", "50.0 [35.2, 64.8]†", "–"]]
    assert rows["*n*"] == [["", "40–200", "90"]]
    assert rows["*chance*"] == [["", "10.0", ""]]  # no chance level for captions
    assert "† scored on a subset: the first 40 docs of the split" in md
    assert "Wilson score interval" in md and "10,000 resamples, seed 0" in md


def test_a_cell_scored_on_an_earlier_smd_format_is_marked_and_the_table_says_which(tmp_path):
    """A table mixes cells of several SMD formats only with each earlier one marked; a cell whose
    provenance records no format is marked too (it is not known to be today's), the encoder baseline's
    motion docs and reported numbers are not SMD text and never marked."""
    results = tmp_path / "results"
    provenance = {
        "smollm2-135m": {"inputs": {"smd": {"format_version": "smd-text-2"}}},
        "tiny": TODAYS_PROVENANCE,
        "qwen2.5-7b": {"inputs": {}},  # written before the format was recorded
    }
    for backbone, prov in provenance.items():
        write_cell(results, Cell("demo_babel_qa_mc", "v5_top3", backbone, None, {"acc": 0.2, "n": 10}), prov)
    motion = Cell("demo_babel_qa_mc", "motion", "tiny", "encoder-letter", {"acc": 0.3, "n": 10})
    write_cell(results, motion, {"inputs": {"smd": {"format_version": "motion-marker-1"}}})
    measured = load_results(results)
    assert {c.backbone: c.smd_format for c in measured if c.variant == "v5_top3"} == {
        "smollm2-135m": "smd-text-2",
        "tiny": TODAY,
        "qwen2.5-7b": None,
    }
    md = render_markdown(build_tables(measured))
    rows = _rows_by_label(md)
    assert rows["smollm2-135m zero-shot"] == [["v5_top3", "20.0‡"]]
    assert rows["qwen2.5-7b zero-shot"] == [["v5_top3", "20.0‡"]]
    assert rows["tiny zero-shot"] == [["v5_top3", "20.0"]]
    assert rows["tiny + motion encoder + LoRA"] == [["motion", "30.0"]]
    assert (
        f"‡ scored on docs of an earlier SMD format (not recorded, smd-text-2) than today's `{TODAY}`" in md
    )

    # a malformed format in a provenance file names the file
    prov = results / "demo_babel_qa_mc" / "v5_top3" / "tiny.provenance.json"
    prov.write_text('{"inputs": {"smd": {"format_version": 3}}}')
    with pytest.raises(ValueError, match="tiny.provenance.json"):
        load_results(results)


def test_demo_table_rows_are_backbone_adapter_docs_and_columns_the_scorings():
    measured = [
        _qa_cell("demo_babel_qa", "v5_top3", None, 0.1, invalid_rate=0.2),
        _qa_cell("demo_babel_qa_mc", "v5_top3", "lora", 0.198),
        _qa_cell("demo_babel_qa_cloze", "v5_top3", "lora-text", 0.41, acc_norm=0.39),
        _qa_cell("demo_babel_qa_cloze", "v5_top3-blind", "lora-text", 0.2, acc_norm=0.19),
        _qa_cell("demo_babel_qa_cloze", "v5_top3", "lora-text", 0.3, backbone="smollm2-135m"),
    ]
    (table,) = build_tables(measured)
    assert [c.header for c in table.columns] == [
        "Demo BABEL-QA acc",
        "Demo BABEL-QA invalid",
        "Demo BABEL-QA MC acc",
        "Demo BABEL-QA cloze acc",
        "Demo BABEL-QA cloze acc_norm",
    ]
    md = render_markdown([table])
    header = next(line for line in md.splitlines() if line.startswith("| Model"))
    assert header.startswith("| Model | SMD | Docs | ")
    rows = _rows_by_label(md)
    assert rows["tiny + LoRA (texts)"] == [
        ["v5_top3", "real", "–", "–", "–", "41.0 [34.4, 47.9]", "39.0"],
        ["v5_top3", "blind control", "–", "–", "–", "20.0 [15.0, 26.1]", "19.0"],
    ]
    assert list(rows)[:4] == [
        "smollm2-135m + LoRA (texts)",
        "tiny zero-shot",
        "tiny + LoRA",
        "tiny + LoRA (texts)",
    ]
    assert rows["*chance*"] == [["", "", "10.0", "", "10.0", "10.0", "10.0"]]  # invalid rate: no chance


def test_the_encoder_baseline_is_a_row_beside_the_smd_rows_on_the_same_backbone():
    measured = [
        _qa_cell("demo_babel_qa_cloze", "v5_top3", "lora-text", 0.41, acc_norm=0.39),
        _qa_cell("demo_babel_qa_cloze", "motion", "encoder-text", 0.25, acc_norm=0.24),
    ]
    tables = build_tables(measured)
    assert [t.title for t in tables] == [
        "Backbones, zero-shot and LoRA (synthetic demo data)"
    ]  # no ablation table
    rows = _rows_by_label(render_markdown(tables))
    assert rows["tiny + motion encoder + LoRA (texts)"][0][:2] == ["motion", "25.0 [19.5, 31.4]"]
    assert list(rows)[:2] == ["tiny + LoRA (texts)", "tiny + motion encoder + LoRA (texts)"]


def test_per_type_table_for_qa_cells_with_per_type_metrics():
    types = {
        "acc_action": 0.5,
        "acc_action_n": 120,
        "acc_action_ci95_low": 0.41,
        "acc_action_ci95_high": 0.59,
    }
    types |= {"acc_before": 0.25, "acc_before_n": 40, "acc_in_between": 0.0, "acc_in_between_n": 8}
    types |= {"acc_action_chance": 0.25}  # the action questions have four options
    measured = [
        _qa_cell("demo_babel_qa_cloze", "v5_top3", "lora-text", 0.41, **types),
        _qa_cell("demo_babel_qa_mc", "v5_top3", "lora", 0.2, acc_action=0.1, acc_action_n=120),
        _qa_cell("demo_babel_qa", "v5_top3", None, 0.1),  # no per-type metrics: not in the table
    ]
    tables = {t.title: t for t in build_tables(measured)}
    per_type = tables["Per-type accuracy, Demo BABEL-QA (synthetic demo data)"]
    assert [c.header for c in per_type.columns] == ["action", "before", "in between"]
    rows = _rows_by_label(render_markdown([per_type]))
    assert rows["tiny + LoRA"] == [["v5_top3", "mc", "10.0", "–", "–"]]
    assert rows["tiny + LoRA (texts)"] == [["v5_top3", "cloze", "50.0 [41.0, 59.0]", "25.0", "0.0"]]
    assert rows["*n*"] == [["", "", "120", "40", "8"]]
    assert rows["*chance*"] == [["", "", "10.0–25.0", "10.0", "10.0"]]  # the mc cell has no own chance


def test_figure_draws_ci_error_bars_and_the_chance_level():
    from matplotlib.container import ErrorbarContainer
    from matplotlib.figure import Figure

    from harness.results.table_render import _bars

    measured = [
        _qa_cell("demo_babel_qa", "v5_top3", None, 0.41),
        _qa_cell("demo_babel_qa", "v5_top3", "lora", 0.6),
    ]
    (table,) = build_tables(measured)
    ax = Figure().add_subplot()
    _bars(ax, table, [c for c in table.columns])
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2  # one per measured row
    (lines,) = bars[1].lines[2]  # the vertical bar of the LoRA row: its CI
    assert lines.get_segments()[0][:, 1].tolist() == pytest.approx([53.08, 66.54], abs=0.01)
    chance = [c for c in ax.collections if c.get_label() == "chance"]
    assert len(chance) == 1 and chance[0].get_segments()[0][:, 1].tolist() == [10.0, 10.0]


def test_the_figure_puts_the_papers_numbers_in_a_panel_of_their_own():
    from harness.results.table_render import figure_panels

    measured = [
        Cell("babel_qa", "v5", "qwen2.5-7b", "lora", {"acc": 0.65}),
        Cell("babel_qa", "v5", "answer-prior", None, {"acc": 0.27}),
    ]
    reported = [_reported(("babel_qa", "v5", "qwen2.5-7b", "lora"), {"acc": 0.667})]
    panels = figure_panels(build_tables(measured, reported))
    assert [{r.source for r in p.rows} for p in panels] == [{"measured"}, {REPORTED}]
    assert panels[1].title.endswith("(reported by the paper)")
    assert sorted(r.label for r in panels[0].rows) == [
        "answer prior (most frequent training answer of the type)",
        "qwen2.5-7b + LoRA",
    ]
