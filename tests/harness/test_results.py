"""Result cells on disk: paths, round trips, strict reading, and the reference numbers."""

from __future__ import annotations

import json

import pytest

from harness.core import read_json
from harness.results import (
    REPORTED,
    Cell,
    cell_path,
    load_reference,
    load_results,
    parse_cell_key,
    parse_cell_path,
    parse_variant,
    provenance_path,
    write_cell,
)
from tests.builders import REPO

QA = {"acc": 0.412, "acc_stderr": 0.031, "invalid_rate": 0.0, "n": 120, "skipped": 2}


def test_cell_path_and_parse_are_inverse(tmp_path):
    path = cell_path(tmp_path, "babel_qa", "v5", "qwen2.5-7b", "lora")
    assert path == tmp_path / "babel_qa" / "v5" / "qwen2.5-7b+lora.json"
    assert parse_cell_path(tmp_path, path) == ("babel_qa", "v5", "qwen2.5-7b", "lora")
    zero_shot = cell_path(tmp_path, "demo_babel_qa", "v5_top3", "tiny")
    assert zero_shot.name == "tiny.json"
    assert parse_cell_path(tmp_path, zero_shot) == ("demo_babel_qa", "v5_top3", "tiny", None)


def test_any_results_prefix_makes_valid_cells(tmp_path):
    for dataset in ("ci_babel_qa_mc", "ci_humanml3d", "paper2_humman_qa_cloze"):
        path = cell_path(tmp_path, dataset, "v5", "tiny")
        assert parse_cell_path(tmp_path, path)[0] == dataset
    with pytest.raises(ValueError, match="unknown benchmark"):
        Cell("ci-babel_qa", "v5", "tiny", None)  # a prefix ends in `_`


@pytest.mark.parametrize(
    "variant, parsed",
    [("v5_top3", ("v5_top3", "real")), ("v5_top3-blind", ("v5_top3", "blind")), ("-", ("-", "real"))],
)
def test_parse_variant_gives_the_preset_and_the_docs_kind(variant, parsed):
    assert parse_variant(variant) == parsed


def test_new_cell_names_round_trip(tmp_path):
    path = cell_path(tmp_path, "demo_babel_qa_cloze", "v5_top3-blind", "tiny", "lora-text")
    assert path == tmp_path / "demo_babel_qa_cloze" / "v5_top3-blind" / "tiny+lora-text.json"
    assert parse_cell_path(tmp_path, path) == ("demo_babel_qa_cloze", "v5_top3-blind", "tiny", "lora-text")


@pytest.mark.parametrize(
    "key",
    ["babel_qa/v5", "nope_qa/v5/tiny", "babel_qa/v5/Org/Model", "babel_qa/v5/tiny+", "babel_qa/v5/.tiny"],
)
def test_bad_cell_keys_are_refused(key):
    with pytest.raises(ValueError):
        parse_cell_key(key)


def test_hub_ids_are_refused_as_backbone_names(tmp_path):
    with pytest.raises(ValueError, match="registry name"):
        cell_path(tmp_path, "babel_qa", "v5", "Qwen/Qwen2.5-7B-Instruct")


def test_write_then_load_round_trips_with_provenance_beside(tmp_path):
    cell = Cell("demo_babel_qa", "v5_top3", "tiny", "lora", metrics=QA)
    path = write_cell(tmp_path, cell, {"git": "abc123", "lm_eval": {"num_fewshot": 0}})
    assert path == tmp_path / "demo_babel_qa" / "v5_top3" / "tiny+lora.json"
    assert read_json(path) == QA  # numbers only: readers take every key as a number
    assert read_json(provenance_path(path)) == {"git": "abc123", "lm_eval": {"num_fewshot": 0}}
    write_cell(tmp_path, Cell("demo_babel_qa", "v5_top3", "tiny", None, {"acc": 0.1}), {})
    loaded = load_results(tmp_path)
    assert [c.key for c in loaded] == ["demo_babel_qa/v5_top3/tiny", "demo_babel_qa/v5_top3/tiny+lora"]
    assert loaded[1] == cell
    assert not list(tmp_path.rglob("*.tmp"))


def test_load_results_skips_provenance_reference_and_hidden_files(tmp_path):
    write_cell(
        tmp_path, Cell("babel_qa", "v5", "tiny", None, {"acc": 0.5}), {"note": "strings are fine here"}
    )
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "anything.json").write_text('{"label": "not a cell"}')
    (tmp_path / "babel_qa" / "v5" / ".tiny.json.swp.json").write_text("{")
    assert [c.key for c in load_results(tmp_path)] == ["babel_qa/v5/tiny"]


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"acc": 0.5', "malformed JSON"),
        ('{"acc": "0.5"}', "acc is not a number"),
        ('{"acc": true}', "acc is not a number"),
        ('{"acc": NaN}', "not finite"),
        ('{"acc,none": 0.5}', "bad metric name"),
        ("[0.5]", "expected a JSON object"),
    ],
)
def test_malformed_cell_names_the_file(tmp_path, content, message):
    path = tmp_path / "humman_qa" / "v5" / "tiny+lora.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        load_results(tmp_path)
    assert str(path) in str(err.value)


def test_misplaced_json_is_an_error_not_ignored(tmp_path):
    (tmp_path / "babel_qa").mkdir()
    (tmp_path / "babel_qa" / "tiny.json").write_text('{"acc": 0.5}')
    with pytest.raises(ValueError, match="not a cell path"):
        load_results(tmp_path)


def test_missing_results_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_results(tmp_path / "absent")


def test_reported_cells_are_never_written_as_measurements(tmp_path):
    cell = Cell("babel_qa", "v5", "qwen2.5-7b", "lora", {"acc": 0.667}, source=REPORTED, citation="paper")
    with pytest.raises(ValueError, match="only measured"):
        write_cell(tmp_path, cell, {})
    with pytest.raises(ValueError, match="citation"):
        Cell("babel_qa", "v5", "qwen2.5-7b", "lora", {"acc": 0.667}, source=REPORTED)


def test_the_committed_reference_holds_the_papers_numbers_as_fractions():
    cells = {c.key: c for c in load_reference(REPO / "results" / "reference" / "paper.yaml")}
    assert all(c.source == REPORTED and c.citation for c in cells.values())
    assert cells["babel_qa/v5/qwen2.5-7b+lora"].metrics == {"acc": 0.667}
    assert cells["humman_qa/v5_top3/qwen2.5-7b"].metrics == {"acc": 0.317}
    assert cells["humanml3d/v5/qwen2.5-7b+lora"].metrics["cider"] == 0.5316
    assert cells["babel_qa/-/imore"].label == "IMoRe"
    for cell in cells.values():  # fractions, not percent (MM-Dist is a distance)
        assert all(0 <= v <= 1 for m, v in cell.metrics.items() if m != "mm_dist"), cell.key


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"cell": "babel_qa/v5/x", "source": "measured", "citation": "c", "metrics": {"acc": 1}}, "reported"),
        ({"cell": "babel_qa/v5/x", "source": "reported", "metrics": {"acc": 1}}, "missing key"),
        (
            {"cell": "babel_qa/v5/x", "source": "reported", "citation": "c", "metrics": {}, "year": 1},
            "unknown",
        ),
        (
            {"cell": "babel_qa/v5/x", "source": "reported", "citation": "c", "metrics": {"acc": "67%"}},
            "number",
        ),
    ],
)
def test_malformed_reference_entries_are_refused(tmp_path, entry, message):
    path = tmp_path / "ref.yaml"
    path.write_text(json.dumps([entry]))  # JSON is YAML
    with pytest.raises(ValueError, match=message) as err:
        load_reference(path)
    assert str(path) in str(err.value) and "entry 1" in str(err.value)
