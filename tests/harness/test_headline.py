"""harness.results.headline: the few numbers `dvc metrics show` shows, picked out of the cells."""

from __future__ import annotations

import json

import pytest

from harness.results.headline import Pick, headline, left_out, main, parse_pick


def test_a_pick_names_its_place_its_cell_and_metric():
    pick = parse_pick("babel_qa.mc.lora=demo_babel_qa_mc/v5_top3/tiny+lora:acc")
    assert pick == Pick("babel_qa.mc.lora", "demo_babel_qa_mc/v5_top3/tiny+lora", "acc")
    for bad in ("babel_qa.mc.lora", "x=demo_babel_qa/v5_top3/tiny", "x=no-cell:acc", "a..b=d/v/b:acc"):
        with pytest.raises(ValueError):
            parse_pick(bad)


def test_headline_nests_the_picked_numbers_and_leaves_out_what_is_missing():
    cell, prior, blind = "babel_qa/v5/tiny+lora", "babel_qa/v5/answer-prior", "babel_qa/v5-blind/tiny+lora"
    metrics = {cell: {"acc": 0.5, "n": 10}, prior: {"n": 10}}
    picks = [
        Pick("babel_qa.generation.lora", cell, "acc"),
        Pick("babel_qa.generation.prior", prior, "acc"),  # no such metric
        Pick("babel_qa.generation.blind", blind, "acc"),  # no such cell
    ]
    assert headline(metrics, picks) == {"babel_qa": {"generation": {"lora": 0.5}}}
    assert left_out(metrics, picks) == picks[1:]


def test_main_reads_the_cells_and_writes_one_file(tmp_path, capsys):
    cell = tmp_path / "results" / "demo_babel_qa" / "v5_top3" / "tiny+lora.json"
    cell.parent.mkdir(parents=True)
    cell.write_text(json.dumps({"acc": 0.25, "n": 4}))
    out = tmp_path / "reports" / "headline.json"
    argv = ["--results", str(tmp_path / "results"), "-o", str(out)]
    assert main([*argv, "--pick=babel_qa.generation.lora=demo_babel_qa/v5_top3/tiny+lora:acc"]) == 0
    assert json.loads(out.read_text()) == {"babel_qa": {"generation": {"lora": 0.25}}}
    assert capsys.readouterr().err == ""
    # a pick of a cell not run: the numbers it has are written, the one left out is named
    blind = "--pick=babel_qa.generation.blind=demo_babel_qa/v5_top3-blind/tiny+lora:acc"
    assert main([*argv, "--pick=babel_qa.generation.lora=demo_babel_qa/v5_top3/tiny+lora:acc", blind]) == 0
    assert json.loads(out.read_text()) == {"babel_qa": {"generation": {"lora": 0.25}}}
    err = capsys.readouterr().err
    assert "left out babel_qa.generation.blind: no acc in demo_babel_qa/v5_top3-blind/tiny+lora" in err
    assert "1 of 2 picks written" in err
    assert main([*argv, "--pick=babel_qa.generation.lora"]) == 2  # malformed: an error, the file kept
    assert json.loads(out.read_text()) == {"babel_qa": {"generation": {"lora": 0.25}}}
