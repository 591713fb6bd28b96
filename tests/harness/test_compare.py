"""`smd compare`: loading and aligning two cells' samples, QA and caption comparisons, the CLI, seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.cli import main
from harness.core import atomic_write_jsonl, sha256_file
from harness.results import Cell, write_cell
from harness.results.compare import CompareError, compare_runs, load_run

from .test_stats import _caption_rows, _qa_rows, _sentences


def _cell(tmp_path, key_parts, rows, metrics=None, **recorded):
    """A cell with its provenance and samples file, as `smd evaluate` writes them (`recorded`: more of
    the provenance: task, data, inputs)."""
    samples = tmp_path / "runs" / "eval_samples" / f"{'-'.join(filter(None, key_parts))}.jsonl"
    atomic_write_jsonl(samples, rows)
    provenance = {"samples": {"path": str(samples), "sha256": sha256_file(samples), "rows": len(rows)}}
    provenance |= recorded
    cell = Cell(*key_parts, metrics=metrics or {"n": len(rows)})
    return write_cell(tmp_path / "results", cell, provenance)


def _compare(tmp_path, rows_a, rows_b, **options):
    a = _cell(tmp_path, ("demo_babel_qa_cloze", "v5_top3", "tiny", None), rows_a)
    b = _cell(tmp_path, ("demo_babel_qa_cloze", "v5_top3", "tiny", "lora-text"), rows_b)
    return compare_runs(load_run(str(a)), load_run(str(b)), **options)


def _metric(result, name):
    return next(m for m in result["metrics"] if m["metric"] == name)


def test_identical_runs_have_a_ci_containing_zero_and_mcnemar_p_1(tmp_path):
    correct = np.random.default_rng(0).integers(0, 2, 200)
    result = _compare(tmp_path, _qa_rows(correct), _qa_rows(correct), resamples=2000)
    acc = _metric(result, "acc")
    assert acc["diff"] == 0 and acc["ci95_low"] <= 0 <= acc["ci95_high"]
    assert (acc["a_only"], acc["b_only"], acc["mcnemar_p"]) == (0, 0, 1.0)


def test_a_planted_difference_is_detected(tmp_path):
    rng = np.random.default_rng(1)
    a = rng.random(300) < 0.2
    b = a | (rng.random(300) < 0.3)  # B fixes about 30 % of A's errors and breaks nothing
    acc = _metric(_compare(tmp_path, _qa_rows(a), _qa_rows(b), resamples=2000), "acc")
    assert acc["diff"] == pytest.approx(b.mean() - a.mean())
    assert acc["ci95_low"] > 0 and acc["mcnemar_p"] < 1e-6
    assert acc["a_only"] == 0 and acc["b_only"] == int((b & ~a).sum())


def test_same_seed_same_output_file_other_seed_other_resamples(tmp_path, capsys):
    rng = np.random.default_rng(3)
    a = _cell(tmp_path, ("demo_babel_qa", "v5_top3", "tiny", None), _qa_rows(rng.integers(0, 2, 120)))
    b = _cell(tmp_path, ("demo_babel_qa", "v5_top3-blind", "tiny", None), _qa_rows(rng.integers(0, 2, 120)))
    outputs = []
    for seed, name in ((0, "x.json"), (0, "y.json"), (5, "z.json")):
        argv = ["compare", str(a), str(b), "--resamples", "500", "--seed", str(seed)]
        assert main([*argv, "--json", str(tmp_path / name)]) == 0
        outputs.append((tmp_path / name).read_text())
    assert outputs[0] == outputs[1] and outputs[0] != outputs[2]
    printed = capsys.readouterr().out
    assert "A: demo_babel_qa/v5_top3/tiny" in printed and "B: demo_babel_qa/v5_top3-blind/tiny" in printed
    assert json.loads(outputs[0])["metrics"][0]["metric"] == "acc"


def test_cell_keys_are_looked_up_under_results(tmp_path, capsys):
    rows = _qa_rows([1, 0, 1, 1])
    _cell(tmp_path, ("demo_babel_qa_mc", "v5_top3", "tiny", None), rows)
    _cell(tmp_path, ("demo_babel_qa_mc", "v5_top3", "tiny", "lora"), rows)
    argv = ["compare", "demo_babel_qa_mc/v5_top3/tiny", "demo_babel_qa_mc/v5_top3/tiny+lora"]
    assert main([*argv, "--results", str(tmp_path / "results"), "--resamples", "100"]) == 0
    assert "acc" in capsys.readouterr().out


def test_misaligned_doc_ids_are_an_error_unless_intersection(tmp_path):
    rows_a = _qa_rows([1, 0, 1, 0], ids=["q1", "q2", "q3", "q4"])
    rows_b = _qa_rows([1, 1, 1, 0], ids=["q1", "q2", "q3", "q9"])
    with pytest.raises(CompareError, match=r"different docs: 1 only in .*\(q4\).*1 only in .*\(q9\)"):
        _compare(tmp_path, rows_a, rows_b, resamples=100)
    result = _compare(tmp_path, rows_a, rows_b, resamples=100, intersection=True)
    assert result["n"] == 3 and result["dropped"] == {"a_only": 1, "b_only": 1}


def test_a_doc_with_another_target_under_the_same_id_is_an_error(tmp_path):
    rows_a, rows_b = _qa_rows([1, 0]), _qa_rows([1, 0])
    rows_b[1]["target"] = "something else"
    with pytest.raises(CompareError, match="doc q0001: target differs"):
        _compare(tmp_path, rows_a, rows_b, resamples=100)


def test_generation_and_log_likelihood_scorings_of_the_same_docs_are_paired(tmp_path):
    generation, letters = _qa_rows([1, 0, 0, 1]), _qa_rows([1, 1, 0, 1])
    for i, row in enumerate(letters):
        row["target"] = i % 3  # lm-eval's multiple-choice target: the answer's index
    result = _compare(tmp_path, generation, letters, resamples=100)
    assert _metric(result, "acc")["b_only"] == 1


def test_altered_or_missing_samples_are_refused(tmp_path, capsys):
    a = _cell(tmp_path, ("demo_babel_qa", "v5_top3", "tiny", None), _qa_rows([1, 0, 1]))
    samples = json.loads(a.with_name("tiny.provenance.json").read_text())["samples"]["path"]
    with open(samples, "a", encoding="utf-8") as f:
        f.write(json.dumps(_qa_rows([1], ids=["extra"])[0]) + "\n")
    with pytest.raises(CompareError, match="sha256 .* differs"):
        load_run(str(a))
    assert main(["compare", str(a), str(a)]) == 2
    assert "differs from" in capsys.readouterr().err
    with pytest.raises(CompareError, match="cell file not found"):
        load_run(str(tmp_path / "nope.json"))


def test_a_mistyped_cell_key_is_named_with_the_cells_beside_it(tmp_path, capsys):
    a = _cell(tmp_path, ("demo_babel_qa", "v5_top3", "tiny", None), _qa_rows([1, 0, 1]))
    _cell(tmp_path, ("demo_babel_qa", "v5_top3", "tiny", "lora"), _qa_rows([1, 1, 1]))
    results = str(tmp_path / "results")
    assert main(["compare", str(a), "demo_babel_qa/v5_top3/tiny+lroa", "--results", results]) == 2
    err = capsys.readouterr().err.strip()
    assert "cell demo_babel_qa/v5_top3/tiny+lroa not found" in err and err.endswith(
        "cells there: tiny, tiny+lora"
    )


def test_qa_is_not_paired_with_captions(tmp_path):
    qa = _cell(tmp_path, ("demo_babel_qa", "v5_top3", "tiny", None), _qa_rows([1, 0]))
    rows = _caption_rows(["a person walks", "a person sits"], [["a person walks"], ["a person sits down"]])
    cap = _cell(tmp_path, ("demo_humanml3d", "v5_top3", "tiny", None), rows)
    with pytest.raises(CompareError, match="scores qa.*scores captions"):
        compare_runs(load_run(str(qa)), load_run(str(cap)))


def _docs(path: str, sha: str, preset: str = "v5_top3") -> dict:
    return {"data": {"docs": {"path": path, "sha256": sha}}, "inputs": {"preset": preset, "docs_sha256": sha}}


def test_a_qa_cell_and_a_caption_cell_are_refused_in_one_line_by_their_tasks(tmp_path, capsys):
    # the same rows on both sides: the tasks the provenances record say what each cell scores
    rows = _qa_rows([1, 0, 1])
    qa = _cell(tmp_path, ("demo_babel_qa", "v5_top3", "tiny", None), rows, task="smd_babel_qa")
    cap = _cell(tmp_path, ("demo_humanml3d", "v5_top3", "tiny", None), rows, task="smd_humanml3d_caption")
    assert main(["compare", str(qa), str(cap), "--resamples", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "not comparable" in err and "qa (task smd_babel_qa)" in err
    assert "captions (task smd_humanml3d_caption)" in err


def test_cells_of_one_preset_on_different_docs_are_refused_even_with_the_same_ids(tmp_path, capsys):
    rows = _qa_rows([1, 0, 1])
    key = ("demo_babel_qa_cloze", "v5_top3", "tiny")
    a = _cell(tmp_path, (*key, None), rows, **_docs("data/a/test.jsonl", "a" * 64))
    b = _cell(tmp_path, (*key, "lora-text"), rows, **_docs("data/b/test.jsonl", "b" * 64))
    assert main(["compare", str(a), str(b), "--resamples", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "scored different docs" in err
    assert "data/a/test.jsonl" in err and "data/b/test.jsonl" in err
    # another preset's docs differ by their SMD text: paired on ids and targets, as before
    other = _docs("data/c/test.jsonl", "c" * 64, preset="v5")
    c = _cell(tmp_path, ("demo_babel_qa_cloze", "v5", "tiny", None), rows, **other)
    assert compare_runs(load_run(str(a)), load_run(str(c)), resamples=10)["n"] == 3


def test_per_type_metrics_are_compared_over_their_own_docs(tmp_path):
    types = ["action", "direction"] * 30
    a, b = np.zeros(60, int), np.zeros(60, int)
    b[::2] = 1  # B gets every action question right, no direction question
    result = _compare(tmp_path, _qa_rows(a, types=types), _qa_rows(b, types=types), resamples=500)
    action, direction = _metric(result, "acc_action"), _metric(result, "acc_direction")
    assert (action["n"], action["diff"], action["ci95_low"]) == (30, 1.0, 1.0)
    assert (direction["n"], direction["diff"], direction["mcnemar_p"]) == (30, 0.0, 1.0)


def test_caption_comparison_identical_and_planted(tmp_path):
    rng = np.random.default_rng(5)
    refs = [_sentences(rng, 3) for _ in range(60)]
    noise = _sentences(rng, 60)
    same = _cell(tmp_path, ("demo_humanml3d", "v5_top3", "tiny", None), _caption_rows(noise, refs))
    again = _cell(tmp_path, ("demo_humanml3d", "v5_top3-blind", "tiny", None), _caption_rows(noise, refs))
    better = _cell(
        tmp_path, ("demo_humanml3d", "v5_top3", "tiny", "lora"), _caption_rows([r[0] for r in refs], refs)
    )
    result = compare_runs(load_run(str(same)), load_run(str(again)), resamples=300)
    for m in result["metrics"]:
        assert m["diff"] == 0 and m["ci95_low"] <= 0 <= m["ci95_high"], m
    result = compare_runs(load_run(str(same)), load_run(str(better)), resamples=300)
    assert [m["metric"] for m in result["metrics"]] == ["bleu_4", "rouge_l", "cider"]
    assert all(m["ci95_low"] > 0 for m in result["metrics"]), result["metrics"]
