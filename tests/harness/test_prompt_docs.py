import json

from harness.build_smd import main as build_main
from harness.datasets.humanml3d import Caption, CaptionSample
from harness.io import read_jsonl
from harness.prompt_docs import caption_docs, main, qa_docs
from harness.qa_options import main as options_main
from tests.builders import arm_raise, walk, write_qa_dataset

ROW = {
    "question_id": "q1",
    "question": "What action?",
    "motion_id": "m1",
    "answer": "walk",
    "answer_type": "action",
    "relation": "no_relation",
    "options": ["sit", "walk"],
    "answer_idx": 1,
}


def test_qa_docs_carry_every_field_and_report_missing_smd():
    docs, problems = qa_docs([ROW, {**ROW, "question_id": "q2", "motion_id": "m9"}], {"m1": "SMD"}, "f.json")
    assert docs == [
        {
            "doc_id": "q1",
            "motion_id": "m1",
            "smd": "SMD",
            "question": "What action?",
            "options": ["sit", "walk"],
            "answer_idx": 1,
            "answer": "walk",
            "answer_type": "action",
            "relation": "no_relation",
        }
    ]
    assert [(p.item, p.source) for p in problems] == [("q2", "f.json")] and "m9" in problems[0].message


def test_caption_docs_keep_all_references_of_a_sample():
    caps = (Caption(" a person walks. ", ("a/DET",), 0.0, 0.0), Caption("someone walks", (), 0.0, 0.0))
    sub = (Caption("then sits", (), 1.0, 3.0),)
    samples = [
        CaptionSample("m1", "m1", 0, 60, caps),
        CaptionSample("m1_1.000000_3.000000", "m1", 20, 60, sub),
    ]
    docs, problems = caption_docs(samples, {"m1": "A", "m1_1.000000_3.000000": "B"}, "f.json")
    assert not problems
    assert docs[0] == {
        "doc_id": "m1",
        "motion_id": "m1",
        "smd": "A",
        "references": ["a person walks.", "someone walks"],
    }
    assert docs[1]["smd"] == "B" and docs[1]["references"] == ["then sits"]


def test_qa_pipeline_from_dataset_to_docs(tmp_path):
    motions = {f"m{i}": (walk(fps=30.0) if i % 2 else arm_raise(fps=30.0)) for i in range(6)}
    root = write_qa_dataset(tmp_path / "tiny_qa", motions)
    assert build_main([str(root), "--presets", "v5_top3", "--workers", "1"]) == 0
    assert options_main([str(root)]) == 0
    assert main([str(root), "--preset", "v5_top3"]) == 0
    docs = read_jsonl(root / "docs" / "v5_top3" / "train.jsonl")
    assert len(docs) == 4  # motions m0, m3 -> 2 questions each
    assert all(d["options"][d["answer_idx"]] == d["answer"] and d["smd"].startswith("Motion:") for d in docs)
    report = json.loads((root / "docs" / "v5_top3" / "report.json").read_text())
    assert report["docs"] == {"train": 4, "val": 4, "test": 4} and report["problems"] == []
