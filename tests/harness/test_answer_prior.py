"""The answer-prior baseline: its choice rule, and its cells scored through lm-eval like a model's."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from harness.core import read_json, read_jsonl
from harness.data import docs_path
from harness.evaluate.answer_prior import answer_counts, prior_choice
from harness.evaluate.main import main

TRAIN = [
    {"doc_id": "1", "answer_type": "direction", "answer": "left"},
    {"doc_id": "2", "answer_type": "direction", "answer": "left"},
    {"doc_id": "3", "answer_type": "direction", "answer": "right"},
    {"doc_id": "4", "answer_type": "action", "answer": "walk"},
    {"doc_id": "5", "answer_type": "action", "answer": "right"},
    {"doc_id": "6", "answer_type": "action", "answer": "right"},
]


def test_the_prior_answers_the_most_frequent_answer_of_the_questions_type_among_its_options():
    per_type, overall = answer_counts(TRAIN, "train.jsonl")
    assert per_type["direction"] == Counter(left=2, right=1)
    # its type's most frequent answer, wherever it stands among the options
    assert (
        prior_choice({"answer_type": "direction", "options": ["up", "right", "left"]}, per_type, overall) == 2
    )
    # absent from the options: the next one of its type
    assert prior_choice({"answer_type": "direction", "options": ["up", "right"]}, per_type, overall) == 1
    # not seen for its type: the most frequent over all types ("right": 3), not the first option
    assert prior_choice({"answer_type": "body_part", "options": ["walk", "right"]}, per_type, overall) == 1
    # nothing seen at all: the first option
    assert prior_choice({"answer_type": "body_part", "options": ["arm", "leg"]}, per_type, overall) == 0


def test_a_training_doc_without_a_type_or_answer_is_named():
    with pytest.raises(ValueError, match=r"train.jsonl: doc 9 has no answer_type"):
        answer_counts([*TRAIN, {"doc_id": "9", "answer": "left"}], "train.jsonl")
    with pytest.raises(ValueError, match="no training docs"):
        answer_counts([], "train.jsonl")


@pytest.mark.parametrize(
    ("task", "benchmark"),
    [
        ("smd_babel_qa", "demo_babel_qa"),
        ("smd_babel_qa_mc", "demo_babel_qa_mc"),
        ("smd_babel_qa_cloze", "demo_babel_qa_cloze"),
    ],
)
def test_its_cell_is_scored_by_lm_eval_and_equals_the_rule_on_every_doc(demo, tmp_path, task, benchmark):
    argv = [
        "--task", task, "--benchmark", benchmark, "--data-root", str(demo["qa"]), "--variant", "v5_top3",
        "--backbone", "answer-prior", "--results", str(tmp_path / "results"),
        "--samples-dir", str(tmp_path / "samples"),
    ]  # fmt: skip
    assert main(argv) == 0
    cell = tmp_path / "results" / benchmark / "v5_top3" / "answer-prior.json"
    metrics = read_json(cell)
    test = read_jsonl(docs_path(demo["qa"], "v5_top3", "test"))
    per_type, overall = answer_counts(read_jsonl(docs_path(demo["qa"], "v5_top3", "train")), "train")
    expected = [prior_choice(d, per_type, overall) == d["answer_idx"] for d in test]
    assert metrics["n"] == len(test)
    assert metrics["acc"] == pytest.approx(sum(expected) / len(expected))
    assert metrics["acc_ci95_low"] <= metrics["acc"] <= metrics["acc_ci95_high"]
    provenance = json.loads(cell.with_name("answer-prior.provenance.json").read_text())
    assert provenance["backbone"] == {"name": "answer-prior", "path": None}
    assert provenance["inputs"]["model"] == "answer-prior"


def test_captions_and_an_adapter_are_refused_in_one_line(demo, tmp_path, capsys):
    common = ["--variant", "v5_top3", "--backbone", "answer-prior", "--results", str(tmp_path / "r")]
    caption = [
        "--task",
        "smd_humanml3d_caption",
        "--benchmark",
        "demo_humanml3d",
        "--data-root",
        str(demo["hml"]),
    ]
    assert main([*caption, *common]) == 2
    assert "scores QA tasks only" in capsys.readouterr().err
    qa = ["--task", "smd_babel_qa", "--benchmark", "demo_babel_qa", "--data-root", str(demo["qa"])]
    assert main([*qa, *common, "--adapter", str(tmp_path)]) == 2
    assert "takes no --adapter" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
