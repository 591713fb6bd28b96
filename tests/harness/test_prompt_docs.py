import json

import pytest

import smd
from harness.core import DataError, read_jsonl
from harness.data import BLIND_SUFFIX, Caption, CaptionSample, docs_variant
from harness.data.build_smd import main as build_main
from harness.data.prompt_docs import blind_control, caption_docs, main, qa_docs, swap_partners
from harness.data.qa_options import main as options_main
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
    assert build_main([str(root), "--variants", "v5_top3", "--workers", "1"]) == 0
    assert options_main([str(root)]) == 0
    assert main([str(root), "--variant", "v5_top3"]) == 0
    docs = read_jsonl(root / "docs" / "v5_top3" / "train.jsonl")
    assert len(docs) == 4  # motions m0, m3 -> 2 questions each
    assert all(d["options"][d["answer_idx"]] == d["answer"] and d["smd"].startswith("Motion:") for d in docs)
    report = json.loads((root / "docs" / "v5_top3" / "report.json").read_text())
    assert report["docs"] == {"train": 4, "val": 4, "test": 4} and report["problems"] == []
    # the format contract: every doc says which SMD format and preset it holds
    assert {(d["smd_format"], d["smd_preset"]) for d in docs} == {(smd.FORMAT_VERSION, "v5_top3")}
    assert (report["smd_format"], report["smd_preset"]) == (smd.FORMAT_VERSION, "v5_top3")


def test_make_docs_refuses_an_smd_file_of_another_preset(tmp_path, capsys):
    motions = {f"m{i}": (walk(fps=30.0) if i % 2 else arm_raise(fps=30.0)) for i in range(6)}
    root = write_qa_dataset(tmp_path / "tiny_qa", motions)
    assert build_main([str(root), "--variants", "v5", "--workers", "1"]) == 0
    assert options_main([str(root)]) == 0
    v5 = root / "smd" / "angle_texts_v5.json"
    with pytest.raises(SystemExit):
        main([str(root), "--variant", "v5_top3", "--smd", str(v5)])
    assert f"{v5} holds SMD variant 'v5', not --variant 'v5_top3'" in capsys.readouterr().err
    assert not (root / "docs").exists()


def test_make_docs_for_a_variant_not_built_names_the_file_and_the_build_command(tmp_path):
    from harness.cli import main as smd

    motions = {f"m{i}": (walk(fps=30.0) if i % 2 else arm_raise(fps=30.0)) for i in range(6)}
    root = write_qa_dataset(tmp_path / "tiny_qa", motions)
    assert build_main([str(root), "--variants", "v5", "--workers", "1"]) == 0
    assert options_main([str(root)]) == 0
    with pytest.raises(DataError) as exc:
        main([str(root), "--variant", "v5_top3-blind"])
    missing = root / "smd" / "angle_texts_v5_top3.json"
    assert str(exc.value) == (
        f"{missing}: no such SMD file (variant v5_top3 was not built: run "
        f"`smd build-smd {root} --variants v5_top3`)"
    )
    assert smd(["make-docs", str(root), "--variant", "v5_top3"]) == 2  # one line, not a traceback
    assert build_main([str(root), "--variants", "v5_top3", "--workers", "1"]) == 0  # the command it names
    assert main([str(root), "--variant", "v5_top3-blind"]) == 0


# ------------------------------------------------------------------------ the motion-blind control


def test_docs_variant_names_the_preset_and_the_control():
    assert docs_variant("v5_top3") == ("v5_top3", False)
    assert docs_variant("v5_top3" + BLIND_SUFFIX) == ("v5_top3", True)


def _qa_doc(qid: str, motion: str) -> dict:
    return {**ROW, "doc_id": qid, "motion_id": motion, "smd": f"SMD of {motion}"}


def test_blind_control_gives_every_motion_another_motions_smd_and_keeps_the_rest():
    docs = [_qa_doc(f"q{i}", f"m{i // 3}") for i in range(30)]  # 10 motions, 3 questions each
    control = blind_control(docs, "0:test")
    assert len(control) == len(docs)
    for real, blind in zip(docs, control):
        assert blind["smd"] != real["smd"] and blind["smd"] == f"SMD of {blind['smd_source']}"
        assert {k: v for k, v in blind.items() if k != "smd_source"} == {**real, "smd": blind["smd"]}
    # a permutation of the motions: the SMD texts' distribution is unchanged, and all questions on one
    # motion see the same other motion
    assert sorted(d["smd"] for d in control) == sorted(d["smd"] for d in docs)
    by_motion = {}
    for d in control:
        by_motion.setdefault(d["motion_id"], set()).add(d["smd_source"])
    assert all(len(sources) == 1 for sources in by_motion.values())
    # seeded: the same seed gives the same control, another seed another
    assert blind_control(docs, "0:test") == control
    assert blind_control(docs, "1:test") != control


def test_blind_control_of_captions_never_shows_a_motion_its_mirror_or_its_own_sub_span():
    docs = []
    for i in range(6):
        for doc_id in (f"00{i}", f"M00{i}", f"00{i}_1.0_2.0"):
            motion = doc_id.split("_")[0]
            docs.append({"doc_id": doc_id, "motion_id": motion, "smd": f"SMD {doc_id}", "references": ["r"]})
    control = blind_control(docs, "0:test", mirror_prefix="M")

    def base(doc_id):
        return doc_id.split("_")[0].removeprefix("M")

    assert all(base(d["smd_source"]) != base(d["doc_id"]) for d in control)
    assert sorted(d["smd_source"] for d in control) == sorted(d["doc_id"] for d in docs)


def test_swap_partners_refuses_a_split_it_cannot_derange():
    with pytest.raises(ValueError, match="two motions"):
        swap_partners({"a": "m1", "b": "m1"}, "0")
    with pytest.raises(ValueError, match="half"):
        swap_partners({"a": "m1", "b": "m1", "c": "m1", "d": "m2"}, "0")


def test_make_docs_writes_the_blind_control_beside_the_real_docs(tmp_path):
    motions = {f"m{i}": (walk(fps=30.0) if i % 2 else arm_raise(fps=30.0)) for i in range(6)}
    root = write_qa_dataset(tmp_path / "tiny_qa", motions)
    assert build_main([str(root), "--variants", "v5_top3", "--workers", "1"]) == 0
    assert options_main([str(root)]) == 0
    assert main([str(root), "--variant", "v5_top3"]) == 0
    assert main([str(root), "--variant", "v5_top3-blind"]) == 0
    for split in ("train", "val", "test"):
        real = read_jsonl(root / "docs" / "v5_top3" / f"{split}.jsonl")
        blind = read_jsonl(root / "docs" / "v5_top3-blind" / f"{split}.jsonl")
        assert [d["doc_id"] for d in blind] == [d["doc_id"] for d in real]
        assert all(b["smd"] != r["smd"] for b, r in zip(blind, real) if b["smd_source"] != r["motion_id"])
        assert all(b["smd_source"] != r["motion_id"] for b, r in zip(blind, real))
    report = json.loads((root / "docs" / "v5_top3-blind" / "report.json").read_text())
    assert report["preset"] == "v5_top3-blind" and report["control_seed"] == 0
