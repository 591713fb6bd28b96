import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.core import DataError
from harness.data import (
    Caption,
    CaptionSample,
    caption_samples,
    load_joints,
    motion_length,
    parse_span_id,
    parse_texts,
    read_split,
    span_frames,
)
from harness.data.humanml3d import joints_file, mirror_base, span_id

# Left/right joint pairs of the SMPL 22-joint body (docs/data.md), written out by hand.
LEFT_RIGHT = [(1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21)]

WHOLE = "a person walks.#a/DET person/NOUN walk/VERB#0.0#0.0"
SPAN = "a person waves.#a/DET person/NOUN wave/VERB#1.5#4.0"


def joints(frames: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(frames, 22, 3)).astype(np.float32)


def layout(root: Path, motions: dict[str, int], texts: dict[str, list[str]], split: list[str]) -> Path:
    """root/new_joints/<id>.npy with the given frame counts, root/texts/<id>.txt, root/test.txt."""
    (root / "new_joints").mkdir(parents=True)
    (root / "texts").mkdir()
    for seed, (motion_id, frames) in enumerate(motions.items()):
        np.save(root / "new_joints" / f"{motion_id}.npy", joints(frames, seed))
    for motion_id, lines in texts.items():
        (root / "texts" / f"{motion_id}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "test.txt").write_text("\n".join(split) + "\n", encoding="utf-8")
    return root


# --- texts -------------------------------------------------------------------------------------


def test_parse_real_texts_file(fixtures):
    captions, problems = parse_texts(fixtures / "humanml3d" / "texts" / "000000.txt")
    assert problems == []
    assert len(captions) == 4
    assert captions[0].text == "a man kicks something or someone with his left leg."
    assert captions[0].tokens[:3] == ("a/DET", "man/NOUN", "kick/VERB")
    assert all(c.start == 0.0 and c.end == 0.0 for c in captions)


def test_parse_span_and_malformed_line(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(f"{WHOLE}\n{SPAN}\nbroken caption#a/DET#0.0\n", encoding="utf-8")
    captions, problems = parse_texts(path)
    assert captions == [
        Caption("a person walks.", ("a/DET", "person/NOUN", "walk/VERB"), 0.0, 0.0),
        Caption("a person waves.", ("a/DET", "person/NOUN", "wave/VERB"), 1.5, 4.0),
    ]
    assert len(problems) == 1
    assert problems[0].item == "line 3" and problems[0].source == str(path)
    assert "4 '#'-separated fields" in problems[0].message


def test_parse_nan_times_mean_whole_clip(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("a person sits.#a/DET person/NOUN sit/VERB#nan#nan\n", encoding="utf-8")
    captions, _ = parse_texts(path)
    assert (captions[0].start, captions[0].end) == (0.0, 0.0)


def test_parse_rejects_bad_times(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("x#x/X#two#3.0\n\ny#y/X#4.0#1.0\n", encoding="utf-8")
    captions, problems = parse_texts(path)
    assert captions == []
    assert [p.item for p in problems] == ["line 1", "line 3"]  # the blank line 2 is not a problem


# --- caption samples ---------------------------------------------------------------------------


def test_whole_clip_and_sub_span_samples(tmp_path):
    root = layout(tmp_path, {"000001": 100}, {"000001": [WHOLE, SPAN, "broken#x/X#1"]}, ["000001"])
    samples, problems = caption_samples(root, "test")
    assert [(s.sample_id, s.motion_id, s.start_frame, s.end_frame) for s in samples] == [
        ("000001", "000001", 0, 100),
        ("000001_1.500000_4.000000", "000001", 30, 80),
    ]
    assert [c.text for c in samples[1].captions] == ["a person waves."]
    assert [(p.item, Path(p.source).name) for p in problems] == [("line 3", "000001.txt")]


def test_length_filter(tmp_path):
    motions = {"000030": 30, "000100": 100, "000250": 250}
    texts = {m: [WHOLE, SPAN] for m in motions}
    texts["000100"] += ["short span.#s/X#1.0#2.0", "long span.#l/X#2.0#30.0"]
    root = layout(tmp_path, motions, texts, list(motions))
    samples, problems = caption_samples(root, "test")
    # listed, as what T2M's rule leaves out (never a --strict failure), not silently dropped
    assert [(p.item, p.kind) for p in problems] == [("000030", "rule"), ("000250", "rule")]
    assert "30 frames, outside T2M's [40, 200)" in problems[0].message
    # 30 and 250 frames: the motion is out of [40, 200) and T2M drops it whole, its 50-frame span too.
    # The 20-frame span is too short; the span past the end is clipped to frames [40, 100) and kept.
    assert [(s.sample_id, s.start_frame, s.end_frame) for s in samples] == [
        ("000100", 0, 100),
        ("000100_1.500000_4.000000", 30, 80),
        ("000100_2.000000_30.000000", 40, 100),
    ]


def test_identical_spans_share_one_sample(tmp_path):
    again = "someone waves a hand.#someone/PRON wave/VERB a/DET hand/NOUN#1.5#4.0"
    root = layout(tmp_path, {"000001": 100}, {"000001": [SPAN, again]}, ["000001"])
    samples, _ = caption_samples(root, "test")
    assert len(samples) == 1  # no whole-clip caption: no whole-clip sample
    assert samples[0].sample_id == "000001_1.500000_4.000000"
    assert [c.text for c in samples[0].captions] == ["a person waves.", "someone waves a hand."]


def test_missing_texts_or_motion_are_problems(tmp_path):
    root = layout(tmp_path, {"000001": 100, "000002": 100}, {"000001": [WHOLE], "000003": [WHOLE]}, [])
    (root / "test.txt").write_text("000003\n000002\n000001\n", encoding="utf-8")
    samples, problems = caption_samples(root, "test")
    assert [s.sample_id for s in samples] == ["000001"]
    assert [p.item for p in problems] == ["000003", "000002"]
    assert "new_joints" in problems[0].message and "texts" in problems[1].message


def test_samples_are_sorted_by_id(tmp_path):
    ids = ["000009", "M000001", "000002"]
    root = layout(tmp_path, dict.fromkeys(ids, 60), {m: [WHOLE] for m in ids}, ids)
    samples, _ = caption_samples(root, "test")
    assert [s.sample_id for s in samples] == ["000002", "000009", "M000001"]
    assert isinstance(samples[0], CaptionSample)


def test_sample_id_format_matches_the_reference_population(fixtures):
    refs = json.loads((fixtures / "captions" / "humanml3d_test_references.json").read_text())
    spans = [k for k in refs if "_" in k]
    assert "000086_0.000000_6.000000" in spans
    for key in spans:
        motion_id, start, end = key.split("_")
        assert re.fullmatch(r"M?\d{6}", motion_id)
        assert f"{motion_id}_{float(start):.6f}_{float(end):.6f}" == key
        assert span_id(*parse_span_id(key)) == key


def test_span_ids_format_parse_and_read_as_t2m_frames():
    assert span_id("000003", 1.0, 4.5) == "000003_1.000000_4.500000"
    assert parse_span_id("000003_1.000000_4.500000") == ("000003", 1.0, 4.5)
    assert parse_span_id("M000003_0.500000_2.000000") == ("M000003", 0.5, 2.0)
    assert parse_span_id("000003") is None and parse_span_id("000003_1_4") is None
    assert span_frames(1.0, 4.5) == (20, 90)  # [int(start * 20), int(end * 20))


# --- joints ------------------------------------------------------------------------------------


def test_mirrored_id_is_built_from_the_base_motion(tmp_path):
    root = layout(tmp_path, {"000007": 50}, {}, [])
    base = np.load(root / "new_joints" / "000007.npy")
    expected = base.copy()
    for left, right in LEFT_RIGHT:
        expected[:, [left, right]] = base[:, [right, left]]
    expected[..., 0] *= -1
    mirrored = load_joints(root, "M000007")
    np.testing.assert_array_equal(mirrored, expected)
    np.testing.assert_array_equal(np.load(root / "new_joints" / "000007.npy"), base)  # file untouched
    assert motion_length(root, "M000007") == 50


def test_joints_file_of_plain_and_mirrored_ids(tmp_path):
    root = layout(tmp_path, {"000007": 50, "000008": 50, "M000008": 60}, {}, [])
    folder = root / "new_joints"
    assert joints_file(root, "000007") == (folder / "000007.npy", False)
    assert joints_file(root, "M000007") == (folder / "000007.npy", True)  # no file of its own
    assert joints_file(root, "M000008") == (folder / "M000008.npy", False)
    assert (mirror_base("M000007"), mirror_base("000007"), mirror_base("M")) == ("000007", None, None)
    with pytest.raises(ValueError, match="invalid motion id"):
        joints_file(root, "../000007")


def test_mirrored_file_on_disk_is_used_as_is(tmp_path):
    root = layout(tmp_path, {"000007": 50, "M000007": 60}, {}, [])
    np.testing.assert_array_equal(load_joints(root, "M000007"), np.load(root / "new_joints" / "M000007.npy"))
    assert motion_length(root, "M000007") == 60


def test_missing_joints_name_the_path(tmp_path):
    (tmp_path / "new_joints").mkdir()
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "new_joints" / "000123.npy"))):
        load_joints(tmp_path, "000123")
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "new_joints" / "000123.npy"))):
        motion_length(tmp_path, "M000123")


def test_load_joints_refuses_pickles_and_wrong_shapes(tmp_path):
    (tmp_path / "new_joints").mkdir()
    np.save(tmp_path / "new_joints" / "p.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "new_joints" / "s.npy", np.zeros((10, 263), np.float32))
    with pytest.raises(ValueError):
        load_joints(tmp_path, "p")
    with pytest.raises(ValueError, match="s.npy"):
        load_joints(tmp_path, "s")


def test_real_motions_load(fixtures, tmp_path):
    folder = tmp_path / "new_joints"
    folder.mkdir()
    shutil.copy(fixtures / "humanml3d" / "new_joints" / "012314.npy", folder)
    shutil.copy(fixtures / "humanml3d_extra" / "000612_new_joints.npy", folder / "000612.npy")
    with np.load(fixtures / "humanml3d_extra" / "004822_raw_joints_and_features.npz") as npz:
        np.save(folder / "004822.npy", npz["joints"])
    for motion_id, frames in (("012314", 170), ("000612", 199), ("004822", 200)):
        loaded = load_joints(tmp_path, motion_id)
        assert loaded.shape == (frames, 22, 3) and loaded.dtype == np.float32
        assert motion_length(tmp_path, motion_id) == frames
        np.testing.assert_array_equal(loaded, np.load(folder / f"{motion_id}.npy"))
    # Canonical HumanML3D joints: root XZ at the origin in frame 0, Y up.
    canonical = load_joints(tmp_path, "012314")
    np.testing.assert_allclose(canonical[0, 0, [0, 2]], 0.0, atol=1e-5)
    assert canonical[0, 15, 1] > canonical[0, 0, 1] > canonical[0, 10, 1]  # head above pelvis above foot


# --- splits ------------------------------------------------------------------------------------


def test_read_split_from_fixture_splits_folder(fixtures):
    root = fixtures / "humanml3d"
    sizes = [len(read_split(root, s)) for s in ("train", "val", "test")]
    assert sizes == [23384, 1460, 4384]
    test = read_split(root, "test")
    assert "000612" in test and all(line == line.strip() and line for line in test)


def test_read_split_prefers_the_root_file(tmp_path):
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "val.txt").write_text("000002\n", encoding="utf-8")
    (tmp_path / "val.txt").write_text("000001\n\n", encoding="utf-8")
    assert read_split(tmp_path, "val") == ["000001"]


def test_read_split_missing_is_a_data_error(tmp_path):
    with pytest.raises(DataError) as info:
        read_split(tmp_path, "test")
    assert str(tmp_path / "test.txt") in str(info.value)
    assert str(tmp_path / "splits" / "test.txt") in str(info.value)


def test_caption_samples_needs_the_texts_folder(tmp_path):
    (tmp_path / "new_joints").mkdir()
    (tmp_path / "test.txt").write_text("000001\n", encoding="utf-8")
    with pytest.raises(DataError, match="texts"):
        caption_samples(tmp_path, "test")
