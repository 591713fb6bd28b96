"""`smd table`: measured and reported rows, units, demo tables apart, the figure."""

from __future__ import annotations

import pytest

from harness.cli import main
from harness.results import REPORTED, Cell, write_cell
from harness.table import build_tables, format_value, render_markdown

PAPER = "Zhang et al. 2026"


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
        Cell("babel_qa", "v5", "qwen2.5-7b", "lora", {"acc": 0.65}),
        Cell("babel_qa", "v5_top3", "qwen2.5-7b", None, {"acc": 0.301}),
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
        Cell("demo_babel_qa", "v5_top3", "tiny", "lora", {"acc": 0.41}),
        Cell("demo_humanml3d", "v5_top3", "tiny", "lora", {"bleu_4": 0.05, "rouge_l": 0.3}),
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
    write_cell(results, Cell("demo_babel_qa", "v5_top3", "tiny", None, {"acc": 0.123, "n": 40}), {})
    write_cell(results, Cell("demo_babel_qa", "v5_top3", "tiny", "lora", {"acc": 0.456, "n": 40}), {})
    reference = tmp_path / "paper.yaml"
    reference.write_text(
        "- {cell: babel_qa/v5/qwen2.5-7b+lora, label: Qwen2.5-7B, source: reported,\n"
        "   citation: paper, metrics: {acc: 0.667}}\n"
    )
    out, figure = tmp_path / "tables" / "tables.md", tmp_path / "fig.png"
    argv = ["table", "--results", results, "--reference", reference, "--out", out, "--figure", figure]
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
