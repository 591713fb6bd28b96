"""Broken records in a dataset: each is a problem entry naming its file and id, the rest of the batch
is built, the report is rewritten, `--strict` exits 1; a dataset that yields nothing is an error."""

import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main

PRESET = "v5_top3"


def smd(argv: list[str]) -> int:
    """`smd ARGV` in this process: its exit status, argparse's exits included."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


def _motions(root: Path) -> list[Path]:
    return sorted((root / "new_joints").glob("*.npy"))


def _report(root: Path) -> dict:
    return json.loads((root / "smd" / "build_report.json").read_text())


def _texts(root: Path) -> dict:
    return json.loads((root / "smd" / f"angle_texts_{PRESET}.json").read_text())["texts"]


def _break_humanml3d(root: Path) -> dict[str, str]:
    """One motion per fault; {motion id: what its problem message must say}."""
    files = _motions(root)
    files[0].write_bytes(b"")  # an empty file
    np.savez(files[1].with_suffix(".npz"), joints=np.zeros((60, 22, 3)))  # an archive named .npy
    files[1].with_suffix(".npz").replace(files[1])
    np.save(files[2], np.zeros((60, 263), dtype=np.float32))  # a HumanML3D feature file, not joints
    (root / "texts" / f"{files[3].stem}.txt").write_bytes(b"\xff\xfe a walk \x80#a/DET#0.0#0.0\n")
    return {
        files[0].stem: "not a readable .npy array",
        files[1].stem: "found an .npz archive",
        files[2].stem: "263-d feature file",
        files[3].stem: "not UTF-8 text",
    }


def test_broken_humanml3d_records_are_reported_and_the_rest_is_built(dataset, capsys):
    root = dataset("humanml3d")
    good = len(_motions(root))
    (root / "smd").mkdir()
    (root / "smd" / "build_report.json").write_text('{"stale": true}')  # from an earlier build
    broken = _break_humanml3d(root)
    short = _motions(root)[4]
    np.save(short, np.load(short)[:30])  # a valid motion T2M's frame range leaves out

    assert smd(["build-smd", str(root), "--variants", PRESET, "--workers", "1"]) == 0
    report = _report(root)
    assert "stale" not in report
    failed = {p["item"]: p for p in report["failed"]}
    for motion_id, message in broken.items():
        assert message in failed[motion_id]["message"], failed[motion_id]
        assert failed[motion_id]["source"].endswith((f"{motion_id}.npy", f"{motion_id}.txt"))
        assert "kind" not in failed[motion_id]  # an error
    assert failed[short.stem]["kind"] == "rule" and "30 frames" in failed[short.stem]["message"]
    # every other motion was described (whole clips and sub-spans of the good motions)
    described = {sample.split("_")[0] for sample in _texts(root)}
    assert described == {p.stem for p in _motions(root)} - set(broken) - {short.stem}
    assert len(described) == good - 5
    out = capsys.readouterr().out
    assert "4 problems, 1 left out by the dataset's rules" in out

    # --strict fails on the errors, not on what the protocol leaves out
    assert smd(["build-smd", str(root), "--variants", PRESET, "--workers", "1", "--strict"]) == 1
    ruled_only = dataset("humanml3d")
    np.save(_motions(ruled_only)[0], np.load(_motions(ruled_only)[0])[:30])
    assert smd(["build-smd", str(ruled_only), "--variants", PRESET, "--workers", "1", "--strict"]) == 0

    # prompt docs: the broken records are left out and listed, the rest written
    assert smd(["make-docs", str(root), "--variant", PRESET]) == 0
    docs_report = json.loads((root / "docs" / PRESET / "report.json").read_text())
    assert {p["item"] for p in docs_report["problems"]} >= set(broken) - {next(iter(broken))} | {short.stem}
    assert sum(docs_report["docs"].values()) > 0


def test_broken_qa_motions_and_unsafe_ids_are_reported(dataset):
    root = dataset("babel_qa")
    questions = root / "questions" / "imore_DEMO_train.json"
    rows = json.loads(questions.read_text())
    rows[0][3] = "../../escape"  # a motion id that would leave the dataset folder
    rows[1][3] = "a/b"
    questions.write_text(json.dumps(rows))
    motions = sorted((root / "motion_sequences").iterdir())
    (motions[0] / "joints.npy").write_bytes(b"")

    assert smd(["build-smd", str(root), "--variants", PRESET, "--workers", "1"]) == 0
    failed = {p["item"]: p["message"] for p in _report(root)["failed"]}
    assert "invalid motion id" in failed["../../escape"] and "invalid motion id" in failed["a/b"]
    assert "not a readable .npy array" in failed[motions[0].name]
    report = _report(root)
    assert len(_texts(root)) == report["motions"] - 1  # every readable motion the questions name


def test_a_dataset_that_yields_nothing_is_an_error_and_still_gets_its_report(dataset, capsys):
    root = dataset("humanml3d")
    for motion in _motions(root):
        motion.write_bytes(b"")
    assert smd(["build-smd", str(root), "--variants", PRESET, "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"smd build-smd: error: {root}: no motion could be described")
    assert "Traceback" not in "\n".join(err)
    assert len(_report(root)["failed"]) == len(_motions(root))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["build-smd", "{tmp}", "--variants", PRESET], "not a dataset folder (expected questions/"),
        (["make-docs", "{root}", "--variant", "v9"], "unknown SMD variant 'v9'"),
        (["make-docs", "{root}", "--variant", "../../../outside"], "unknown SMD variant '../../../outside'"),
        (["make-options", "{tmp}"], "questions folder not found"),
    ],
)
def test_dataset_level_mistakes_are_one_line_errors(dataset, tmp_path, capsys, argv, message):
    root = dataset("babel_qa")
    argv = [a.format(tmp=tmp_path / "empty", root=root) for a in argv]
    (tmp_path / "empty").mkdir()
    assert smd(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]  # argparse prints its usage lines first
    assert "error: " in last and message in last, err
    assert not (tmp_path.parent / "outside.jsonl").exists() and not list(tmp_path.glob("**/outside*"))


def test_broken_questions_are_reported_and_the_rest_get_options(dataset, capsys):
    root = dataset("babel_qa")
    qdir = root / "questions"
    train_file, val_file = next(qdir.glob("*_train.json")), next(qdir.glob("*_val.json"))
    rows, val = json.loads(train_file.read_text()), json.loads(val_file.read_text())
    rows[0] = rows[0][:4]  # a field missing
    rows[1][4] = "moonwalk"  # an answer outside its type's vocabulary
    val.append(list(rows[2]))  # one question in two splits
    train_file.write_text(json.dumps(rows))
    val_file.write_text(json.dumps(val))
    assert smd(["make-options", str(root), "--strict"]) == 1
    problems = {
        p["item"]: p for p in json.loads((root / "questions_10opt" / "stats.json").read_text())["problems"]
    }
    assert "got 4 fields" in problems[rows[0][0]]["message"]
    assert "'moonwalk' is not in the" in problems[rows[1][0]]["message"]
    assert problems[rows[0][0]]["source"] == problems[rows[1][0]]["source"] == str(train_file)
    assert "in two splits" in problems[rows[2][0]]["message"] and problems[rows[2][0]]["source"] == str(
        val_file
    )
    written = json.loads((root / "questions_10opt" / "train.json").read_text())
    assert [r["question_id"] for r in written] == [r[0] for r in rows[2:]]  # the rest, the first copy kept
    assert smd(["make-options", str(root)]) == 0  # without --strict: reported, exit 0
