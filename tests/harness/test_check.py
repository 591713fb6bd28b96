"""`smd check`: baselines with tolerances, and fresh results against committed ones."""

from __future__ import annotations

import json

import pytest

from harness.cli import main
from harness.results import Cell, write_cell
from harness.results.check import BaselineError, compare_results, metric_direction, parse_baselines
from tests.builders import REPO

QA_KEY = "demo_babel_qa/v5_top3/tiny+lora"
CAPTION_KEY = "demo_humanml3d/v5_top3/tiny+lora"


def _qa(acc=0.212, **extra):
    return Cell(
        "demo_babel_qa", "v5_top3", "tiny", "lora", {"acc": acc, "acc_stderr": 0.03, "n": 40, **extra}
    )


def _caption(**metrics):
    base = {"bleu_4": 0.05, "cider": 0.12, "sacrebleu": 4.2, "mm_dist": 3.0, "n": 20, "skipped": 0}
    return Cell("demo_humanml3d", "v5_top3", "tiny", "lora", {**base, **metrics})


def _results(folder, *cells):
    for cell in cells:
        write_cell(folder, cell, {"git": "test"})
    return folder


def _baselines(path, *entries):
    path.write_text(json.dumps(list(entries)))  # JSON is YAML
    return path


def _check(capsys, *argv):
    rc = main(["check", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out + err


@pytest.fixture
def results(tmp_path):
    return _results(tmp_path / "results", _qa(), _caption())


def test_planted_regression_exits_1_naming_metric_value_and_baseline(tmp_path, results, capsys):
    baselines = _baselines(
        tmp_path / "b.yaml",
        {"cell": QA_KEY, "metric": "acc", "value": 0.40, "tolerance": 0.05, "direction": "higher"},
    )
    rc, out = _check(capsys, "--results", results, "--baselines", baselines)
    assert rc == 1
    assert f"REGRESSION {QA_KEY} acc = 0.212 < baseline 0.400 - tolerance 0.050" in out


def test_lower_is_better_metric_regresses_upwards(tmp_path, results, capsys):
    entry = {"cell": CAPTION_KEY, "metric": "mm_dist", "value": 2.5, "tolerance": 0.1}  # direction: known
    rc, out = _check(capsys, "--results", results, "--baselines", _baselines(tmp_path / "b.yaml", entry))
    assert rc == 1
    assert f"REGRESSION {CAPTION_KEY} mm_dist = 3.000 > baseline 2.500 + tolerance 0.100" in out


def test_results_within_tolerance_pass(tmp_path, results, capsys):
    baselines = _baselines(
        tmp_path / "b.yaml",
        # 0.212 is 0.262 - 0.05 (0.21200000000000002 in floats): on the boundary passes
        {"cell": QA_KEY, "metric": "acc", "value": 0.262, "tolerance": 0.05},
        {"cell": CAPTION_KEY, "metric": "bleu_4", "value": 0.08, "tolerance": 0.05, "direction": "higher"},
        {"cell": CAPTION_KEY, "metric": "mm_dist", "value": 3.1, "tolerance": 0.0},
    )
    rc, out = _check(capsys, "--results", results, "--baselines", baselines)
    assert rc == 0, out
    assert out.startswith("OK: 3 metric(s) in 2 cell(s)")


def test_missing_cell_or_metric_fails(tmp_path, results, capsys):
    baselines = _baselines(
        tmp_path / "b.yaml",
        {"cell": "demo_babel_qa/v5/tiny+lora", "metric": "acc", "value": 0.1, "tolerance": 0.1},
        {"cell": QA_KEY, "metric": "invalid_rate", "value": 0.0, "tolerance": 0.1},
    )
    rc, out = _check(capsys, "--results", results, "--baselines", baselines)
    assert rc == 1
    assert (
        f"MISSING demo_babel_qa/v5/tiny+lora: no result file {results}/demo_babel_qa/v5/tiny+lora.json" in out
    )
    assert f"MISSING {QA_KEY} invalid_rate: not in the cell's metrics (acc, acc_stderr, n)" in out


@pytest.mark.parametrize(
    "entries, message",
    [
        ([], "no baseline entries"),
        ([{"cell": QA_KEY, "metric": "acc", "value": 0.4, "tolerance": 0.05, "owner": "x"}], "unknown key"),
        (
            [{"cell": QA_KEY, "metric": "acc", "value": 0.4, "tolerance": 0.05, "direction": "up"}],
            "direction",
        ),
        (
            [{"cell": QA_KEY, "metric": "acc", "value": 0.4, "tolerance": 0.05, "direction": "lower"}],
            "contradicts",
        ),
        ([{"cell": QA_KEY, "metric": "acc", "value": "40%", "tolerance": 0.05}], "value must be a number"),
        ([{"cell": QA_KEY, "metric": "acc", "value": 0.4, "tolerance": -0.1}], "tolerance must be >= 0"),
        ([{"cell": QA_KEY, "metric": "n", "value": 40, "tolerance": 0}], "no known direction"),
        ([{"cell": "babel_qa/tiny", "metric": "acc", "value": 0.4, "tolerance": 0}], "a cell is"),
        ([{"cell": QA_KEY, "metric": "acc", "value": 0.4}], "missing key"),
        ([{"cell": QA_KEY, "metric": "acc", "value": 0.4, "tolerance": 0}] * 2, "has a baseline already"),
    ],
)
def test_malformed_baselines_exit_2(tmp_path, results, capsys, entries, message):
    baselines = _baselines(tmp_path / "b.yaml", *entries)
    rc, out = _check(capsys, "--results", results, "--baselines", baselines)
    assert rc == 2
    assert message in out and str(baselines) in out


def test_the_committed_baselines_file_documents_the_format_and_parses_or_refuses_loudly():
    path = REPO / "results" / "baselines.yaml"
    text = path.read_text()
    assert "direction" in text and "tolerance" in text
    import yaml

    data = yaml.safe_load(text)
    if not data:  # not filled in yet: the check refuses to pass on nothing
        with pytest.raises(BaselineError, match="no baseline entries"):
            parse_baselines(data)
    else:
        assert parse_baselines(data)


@pytest.mark.parametrize(
    "metric, direction",
    [
        ("acc", "higher"),
        ("bleu_4", "higher"),
        ("r_precision_top2", "higher"),
        ("sacrebleu", "higher"),
        ("bertscore_f1", "higher"),
        ("mm_dist", "lower"),
        ("invalid_rate", "lower"),
        ("acc_stderr", None),
        ("n", None),
        ("mystery", None),
        ("acc_norm", "higher"),
        ("acc_before", "higher"),
        ("acc_ci95_low", None),
        ("bleu_4_ci95_high", None),
        ("acc_action_n", None),
        ("acc_action_chance", None),
        ("chance", None),
    ],
)
def test_metric_directions(metric, direction):
    assert metric_direction(metric) == direction


# ------------------------------------------------------------------ --against


def test_against_identical_results_passes(tmp_path, results, capsys):
    committed = _results(tmp_path / "committed", _qa(), _caption())
    rc, out = _check(capsys, "--results", results, "--against", committed, "--tolerance", 0)
    assert rc == 0, out
    # acc, n; bleu_4, cider, sacrebleu, mm_dist, n, skipped (stderr ignored)
    assert "OK: 8 metric(s) in 2 cell(s)" in out
    assert "acc_stderr" not in out  # ignored, not even a note


def test_against_small_moves_pass_and_large_ones_fail_per_direction(tmp_path, capsys):
    committed = _results(tmp_path / "committed", _qa(acc=0.40), _caption())
    within = _results(tmp_path / "within", _qa(acc=0.36), _caption(mm_dist=3.04, sacrebleu=1.0))
    rc, out = _check(capsys, "--results", within, "--against", committed, "--tolerance", 0.05)
    assert rc == 0, out  # sacrebleu (0-100) may move 5 points for a tolerance of 0.05
    worse = _results(tmp_path / "worse", _qa(acc=0.30), _caption(mm_dist=3.2, cider=0.5))
    rc, out = _check(capsys, "--results", worse, "--against", committed, "--tolerance", 0.05)
    assert rc == 1
    assert f"REGRESSION {QA_KEY} acc = 0.300 < committed 0.400 - tolerance 0.050" in out
    assert f"REGRESSION {CAPTION_KEY} mm_dist = 3.200 > committed 3.000 + tolerance 0.050" in out
    assert "cider" not in out  # better is never a failure


def test_against_fails_on_another_test_set_or_a_lost_metric(tmp_path, capsys):
    committed = _results(tmp_path / "committed", _qa(), _caption())
    fewer_questions = Cell("demo_babel_qa", "v5_top3", "tiny", "lora", {"acc": 0.212, "n": 30})
    no_cider = _caption()
    del no_cider.metrics["cider"]
    fresh = _results(tmp_path / "fresh", fewer_questions, no_cider)
    rc, out = _check(capsys, "--results", fresh, "--against", committed, "--tolerance", 0.05)
    assert rc == 1
    assert f"MISMATCH {QA_KEY} n = 30, committed 40" in out
    assert f"MISSING {CAPTION_KEY} cider: in the committed cell, not in the fresh one" in out


def test_against_compares_per_type_counts_chance_and_limit_exactly_and_ignores_cis(tmp_path, capsys):
    extra = {"acc_action": 0.5, "acc_action_n": 12, "chance": 0.1, "limit": 40, "acc_ci95_low": 0.3}
    committed = _results(tmp_path / "committed", _qa(**extra))
    moved_ci = _results(tmp_path / "ci", _qa(**(extra | {"acc_ci95_low": 0.1})))
    rc, out = _check(capsys, "--results", moved_ci, "--against", committed, "--tolerance", 0)
    assert rc == 0 and "ci95" not in out, out
    other_split = _results(tmp_path / "split", _qa(**(extra | {"acc_action_n": 11, "acc_action": 0.2})))
    rc, out = _check(capsys, "--results", other_split, "--against", committed, "--tolerance", 0.05)
    assert rc == 1
    assert f"MISMATCH {QA_KEY} acc_action_n = 11, committed 12" in out
    assert f"REGRESSION {QA_KEY} acc_action = 0.200" in out


def test_against_with_cells_glob(tmp_path, capsys):
    committed = _results(tmp_path / "committed", _qa(), _caption())
    only_qa = _results(tmp_path / "fresh", _qa())
    rc, out = _check(
        capsys, "--results", only_qa, "--against", committed, "--tolerance", 0, "--cells", "demo_babel_qa/*"
    )
    assert rc == 0, out
    # an explicit selection must be complete: the committed caption cell was not re-run
    rc, out = _check(
        capsys, "--results", only_qa, "--against", committed, "--tolerance", 0, "--cells", "demo_*"
    )
    assert rc == 1
    assert f"MISSING {CAPTION_KEY}: committed, but not in the fresh results" in out
    rc, out = _check(
        capsys, "--results", only_qa, "--against", committed, "--tolerance", 0, "--cells", "babel_*"
    )
    assert rc == 1
    assert "NOTHING TO COMPARE" in out


def test_against_fails_on_a_cell_without_committed_counterpart(tmp_path, capsys):
    committed = _results(tmp_path / "committed", _qa())
    fresh = _results(tmp_path / "fresh", _qa(), _caption())
    rc, out = _check(capsys, "--results", fresh, "--against", committed, "--tolerance", 0)
    assert rc == 1
    assert f"MISSING {CAPTION_KEY}: no committed cell to compare with" in out


def test_unknown_metrics_are_listed_not_silently_passed():
    old = Cell("demo_babel_qa", "v5", "tiny", None, {"acc": 0.3, "mystery": 1.0})
    new = Cell("demo_babel_qa", "v5", "tiny", None, {"acc": 0.3, "mystery": -5.0})
    result = compare_results([new], [old], 0.0)
    assert result.failures == ()
    assert result.notes == ("note: demo_babel_qa/v5/tiny mystery not compared (no known direction)",)
    assert result.checked == 1


def test_against_needs_a_tolerance(tmp_path, results):
    with pytest.raises(SystemExit) as exit_:
        main(["check", "--results", str(results), "--against", str(results)])
    assert exit_.value.code == 2
