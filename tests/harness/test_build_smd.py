import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import smd
from harness.data import load_smd_file, smd_file_name
from harness.data.build_smd import CACHE_NAME, REPORT_NAME, MotionRef, build_smd, motion_refs
from tests.builders import REPO, arm_raise, turn_and_squat, walk, write_qa_dataset

PRESETS = ("v5", "v5_top3")


def _refs(tmp_path, n):
    refs = []
    for i in range(n):
        path = tmp_path / "motions" / f"m{i:03d}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        joints = walk(duration=2.0 + (i % 5)) if i % 2 else arm_raise()
        np.save(path, joints.astype(np.float32))
        refs.append(MotionRef(f"m{i:03d}", str(path), 20.0, "y"))
    return refs


def test_build_writes_one_file_per_preset_with_version_and_params(tmp_path):
    refs = _refs(tmp_path, 4)
    report = build_smd(refs, PRESETS, tmp_path / "out", workers=2)
    assert report.ok and report.computed == 4 and report.cached == 0
    for preset in PRESETS:
        f = load_smd_file(tmp_path / "out" / smd_file_name(preset))
        assert f.format_version == smd.FORMAT_VERSION and f.preset == preset
        assert f.params == {"delta": 5.0, "top_k": None if preset == "v5" else 3, "trajectory": "full"}
        assert sorted(f.texts) == [r.motion_id for r in refs]
        joints = np.load(refs[1].path)
        assert f.texts["m001"] == smd.describe(joints, variant=preset)


def test_rerun_computes_only_new_or_changed_motions(tmp_path):
    refs = _refs(tmp_path, 5)
    build_smd(refs[:3], PRESETS, tmp_path / "out", workers=1)
    report = build_smd(refs, PRESETS, tmp_path / "out", workers=1)
    assert (report.computed, report.cached) == (2, 3)
    cache = (tmp_path / "out" / CACHE_NAME).read_bytes()
    for ref in refs:  # regenerated files, the same bytes: cached, and the cache byte for byte the same
        Path(ref.path).write_bytes(Path(ref.path).read_bytes())
        os.utime(ref.path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert build_smd(refs, PRESETS, tmp_path / "out", workers=1).cached == 5
    assert (tmp_path / "out" / CACHE_NAME).read_bytes() == cache
    np.save(refs[0].path, turn_and_squat().astype(np.float32))  # a changed file is recomputed
    report = build_smd(refs, PRESETS, tmp_path / "out", workers=1)
    assert (report.computed, report.cached) == (1, 4)
    texts = load_smd_file(tmp_path / "out" / "angle_texts_v5.json").texts
    assert texts["m000"] == smd.describe(np.load(refs[0].path))  # the float32 file as written


def test_bad_motions_are_reported_and_the_rest_is_built(tmp_path):
    refs = _refs(tmp_path, 3)
    corrupt = tmp_path / "motions" / "corrupt.npy"
    corrupt.write_bytes(b"\x93NUMPY garbage")
    nan = tmp_path / "motions" / "nan.npy"
    joints = walk()
    joints[5, 3, 1] = np.nan
    np.save(nan, joints)
    refs += [
        MotionRef("corrupt", str(corrupt), 20.0, "y"),
        MotionRef("nan", str(nan), 20.0, "y"),
        MotionRef("missing", str(tmp_path / "nope.npy"), 20.0, "y"),
    ]
    report = build_smd(refs, PRESETS, tmp_path / "out", workers=2)
    failed = {p["item"]: p for p in report.failed}
    assert set(failed) == {"corrupt", "nan", "missing"}
    assert "corrupt.npy" in failed["corrupt"]["source"] and "non-finite" in failed["nan"]["message"]
    assert "nope.npy" in failed["missing"]["source"]
    saved = json.loads((tmp_path / "out" / REPORT_NAME).read_text())
    assert {p["item"] for p in saved["failed"]} == set(failed)
    # the file is part of a DVC output: a re-run of the same build (timing, cache hits) leaves it as it was
    assert "seconds" not in saved and "motions_per_second" not in saved and "cached" not in saved
    before = (tmp_path / "out" / REPORT_NAME).read_bytes()
    assert build_smd(refs, PRESETS, tmp_path / "out", workers=1).cached == 3
    assert (tmp_path / "out" / REPORT_NAME).read_bytes() == before
    assert sorted(load_smd_file(tmp_path / "out" / "angle_texts_v5.json").texts) == ["m000", "m001", "m002"]


def test_killed_build_resumes_and_loses_nothing(tmp_path):
    refs = _refs(tmp_path, 120)
    out = tmp_path / "out"
    code = (
        "import sys, json; sys.path.insert(0, {repo!r});"
        "from harness.data.build_smd import MotionRef, build_smd;"
        "refs = [MotionRef(**r) for r in json.load(open({spec!r}))];"
        "build_smd(refs, ('v5', 'v5_top3', 'v5_delta3', 'v5_delta15'), {out!r}, workers=1)"
    )
    spec = tmp_path / "refs.json"
    spec.write_text(json.dumps([r.__dict__ for r in refs]))
    proc = subprocess.Popen([sys.executable, "-c", code.format(repo=str(REPO), spec=str(spec), out=str(out))])
    cache = out / CACHE_NAME
    deadline = time.time() + 60
    while time.time() < deadline and (not cache.exists() or cache.read_text().count("\n") < 10):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = cache.read_text().count("\n")
    assert 10 <= done_before < 120, "the build finished before it could be interrupted"
    assert not (out / "angle_texts_v5.json").exists()  # nothing half-written
    report = build_smd(refs, ("v5", "v5_top3", "v5_delta3", "v5_delta15"), out, workers=2)
    assert report.ok and report.cached >= done_before - 1 and report.computed <= 120 - done_before + 1
    fresh = build_smd(refs, ("v5", "v5_top3", "v5_delta3", "v5_delta15"), tmp_path / "fresh", workers=2)
    assert fresh.computed == 120
    for preset in ("v5", "v5_delta3"):
        assert (out / smd_file_name(preset)).read_bytes() == (
            tmp_path / "fresh" / smd_file_name(preset)
        ).read_bytes()


def test_qa_dataset_refs_and_stage_main(tmp_path, capsys):
    from harness.data.build_smd import main

    root = write_qa_dataset(tmp_path / "tiny_qa", {"a": walk(fps=30.0), "b": arm_raise(fps=30.0)})
    refs, problems = motion_refs(root)
    assert [r.motion_id for r in refs] == ["a", "b"] and not problems
    assert refs[0].fps == 30.0 and refs[0].up_axis == "z"
    assert main([str(root), "--variants", "v5", "--workers", "1"]) == 0
    texts = load_smd_file(root / "smd" / "angle_texts_v5.json").texts
    assert texts["b"] == smd.describe(arm_raise(fps=30.0), fps=30.0)
    assert "2 motions, 2 computed" in capsys.readouterr().out


def test_missing_motion_of_a_question_is_reported_and_strict_fails(tmp_path):
    from harness.data.build_smd import main

    root = write_qa_dataset(tmp_path / "tiny_qa", {"a": walk(fps=30.0), "b": arm_raise(fps=30.0)})
    (root / "motion_sequences" / "b" / "joints.npy").unlink()
    assert main([str(root), "--variants", "v5", "--workers", "1"]) == 0
    assert main([str(root), "--variants", "v5", "--workers", "1", "--strict"]) == 1
    report = json.loads((root / "smd" / REPORT_NAME).read_text())
    assert [p["item"] for p in report["failed"]] == ["b"]
    assert list(load_smd_file(root / "smd" / "angle_texts_v5.json").texts) == ["a"]


@pytest.mark.parametrize("workers", [2])
def test_real_humanml3d_fixture_motions_go_through_loader_and_build(fixtures, tmp_path, workers):
    import shutil

    root = tmp_path / "humanml3d"
    (root / "new_joints").mkdir(parents=True)
    (root / "texts").mkdir()
    shutil.copy(fixtures / "humanml3d" / "new_joints" / "012314.npy", root / "new_joints" / "012314.npy")
    shutil.copy(fixtures / "humanml3d_extra" / "000612_new_joints.npy", root / "new_joints" / "000612.npy")
    with np.load(fixtures / "humanml3d_extra" / "004822_raw_joints_and_features.npz") as z:
        np.save(root / "new_joints" / "004822.npy", z["joints"][:199])
    lines = "a person walks.#a/DET person/NOUN walk/VERB#0.0#0.0\n"
    for motion_id in ("012314", "000612", "004822", "M004822"):  # HumanML3D ships M texts too
        (root / "texts" / f"{motion_id}.txt").write_text(
            lines + "a person moves.#a/DET person/NOUN move/VERB#1.0#5.0\n"
        )
    (root / "train.txt").write_text("012314\n")
    (root / "val.txt").write_text("000612\n")
    (root / "test.txt").write_text("004822\nM004822\n")
    refs, problems = motion_refs(root)
    ids = sorted(r.motion_id for r in refs)
    assert not problems
    assert ids == sorted(
        [f"{m}{s}" for m in ("012314", "000612", "004822", "M004822") for s in ("", "_1.000000_5.000000")]
    )
    report = build_smd(refs, ("v5", "v5_top3"), tmp_path / "out", workers=workers)
    assert report.ok and report.computed == 8
    texts = load_smd_file(tmp_path / "out" / "angle_texts_v5.json").texts
    assert texts["000612_1.000000_5.000000"].startswith("Motion: 4.0s (80 frames at 20 FPS)")
    assert texts["004822"] != texts["M004822"]  # the mirrored copy swaps left and right
