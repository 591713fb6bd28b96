import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from harness.core import DataError, Problem
from harness.data import ANSWER_TYPES, RELATIONS, find_motion, load_qa

BABEL_LISTS = [f"imore_BABELQA_{s}.json" for s in ("train", "val", "test")]
BABEL_SPLIT = "humanmotionqa_split_question_ids.json"


def babel_layout(fixtures: Path, root: Path) -> Path:
    """root/babel_qa/questions/ with the real IMoRe lists, the official split and the vocabularies."""
    qdir = root / "babel_qa" / "questions"
    qdir.mkdir(parents=True)
    for path in (fixtures / "babel_qa").glob("*.json"):
        shutil.copy(path, qdir)
    return qdir.parent


def humman_layout(fixtures: Path, root: Path) -> Path:
    """root/humman_qa/questions/ in NSPose form: questions dict + split file + vocabularies."""
    src = fixtures / "humman_qa"
    qdir = root / "humman_qa" / "questions"
    qdir.mkdir(parents=True)
    for path in [
        src / "huMMan_questions.json",
        src / "split_question_ids.json",
        *src.glob("*answer_vocab.json"),
    ]:
        shutil.copy(path, qdir)
    return qdir.parent


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def tiny_imore(root: Path, rows: dict[str, list], *, vocab: dict | None = None) -> Path:
    """A hand-made IMoRe layout: {split: rows}, typed vocabularies given as lists."""
    qdir = root / "questions"
    qdir.mkdir(parents=True)
    vocab = vocab or {
        "action": ["walk", "run", "jump"],
        "direction": ["left", "right"],
        "body_part": ["left hand"],
    }
    for kind, answers in vocab.items():
        write_json(qdir / f"tiny_{kind}_answer_vocab.json", answers)
    for split, split_rows in rows.items():
        write_json(qdir / f"tiny_{split}.json", split_rows)
    return root


def row(qid: str, answer: str = "walk", program: list[str] | None = None) -> list:
    program = program or ["[0]=scene(motion_seq)", "?=query_action([0])"]
    return [qid, f"question {qid}?", program, f"m{qid}", answer]


# --- real data ---------------------------------------------------------------------------------


def test_babel_qa_loads_the_official_split(fixtures, tmp_path):
    data = load_qa(babel_layout(fixtures, tmp_path))
    assert data.name == "babel_qa"
    assert [len(data.split(s)) for s in ("train", "val", "test")] == [1800, 384, 393]
    assert len(data.questions) == 2577
    assert data.problems == []


def test_humman_qa_nspose_loads_the_official_split(fixtures, tmp_path):
    data = load_qa(humman_layout(fixtures, tmp_path))
    assert [len(data.split(s)) for s in ("train", "val", "test")] == [2066, 524, 533]
    assert data.problems == []
    official = json.loads((fixtures / "humman_qa" / "split_question_ids.json").read_text())
    assert {q.qid for q in data.split("test")} == set(official["test"])


def test_every_answer_is_in_its_type_pool(fixtures, tmp_path):
    for data in (load_qa(babel_layout(fixtures, tmp_path)), load_qa(humman_layout(fixtures, tmp_path))):
        assert {q.answer_type for q in data.questions} <= set(ANSWER_TYPES)
        assert all(q.answer in data.vocab[q.answer_type] for q in data.questions)


def test_babel_pools_are_restricted_to_real_answers(fixtures, tmp_path):
    vocab = load_qa(babel_layout(fixtures, tmp_path)).vocab
    assert {k: len(v) for k, v in vocab.items()} == {"action": 20, "body_part": 8, "direction": 4}
    # File order (by index) is kept: the action file starts walk(0), place something(1), take/pick(2).
    assert vocab["action"][:3] == ["walk", "place something", "take/pick something up"]
    assert "dribble" not in vocab["action"]  # in the 42-entry action file, never an answer
    assert vocab["direction"] == ["forward", "backwards", "right", "left"]


def test_humman_pools_without_all_vocab(fixtures, tmp_path):
    vocab = load_qa(humman_layout(fixtures, tmp_path)).vocab
    assert {k: len(v) for k, v in vocab.items()} == {"action": 155, "body_part": 18, "direction": 6}


def test_babel_relations_follow_the_programs(fixtures, tmp_path):
    data = load_qa(babel_layout(fixtures, tmp_path))
    rows = [r for name in BABEL_LISTS for r in json.loads((fixtures / "babel_qa" / name).read_text())]
    programs = {r[0]: " ".join(r[2]) for r in rows}
    counts = Counter(q.relation for q in data.questions)
    assert set(counts) == set(RELATIONS)
    assert counts["in_between"] == sum("intersect" in p for p in programs.values())
    assert counts["no_relation"] == sum("relate" not in p for p in programs.values())
    for q in data.questions:
        if q.relation in ("before", "after"):
            assert f", {q.relation})" in programs[q.qid]


def test_humman_relations_and_types_match_the_fields(fixtures, tmp_path):
    data = load_qa(humman_layout(fixtures, tmp_path))
    raw = json.loads((fixtures / "humman_qa" / "huMMan_questions.json").read_text())
    assert Counter(q.relation for q in data.questions) == Counter(r["relation_type"] for r in raw.values())
    for q in data.questions:
        assert q.relation == raw[q.qid]["relation_type"]
        assert "query_" + q.answer_type == raw[q.qid]["query_type"]
        assert q.motion_id == raw[q.qid]["babel_id"]


def test_imore_and_nspose_forms_agree_on_humman_test(fixtures, tmp_path):
    nspose = load_qa(humman_layout(fixtures, tmp_path)).split("test")
    qdir = tmp_path / "imore" / "questions"
    qdir.mkdir(parents=True)
    for path in (fixtures / "humman_qa").glob("*answer_vocab.json"):
        shutil.copy(path, qdir)
    shutil.copy(fixtures / "humman_qa" / "imore_ipgrm_HuMMan_test.json", qdir)
    imore = load_qa(qdir.parent)
    assert imore.problems == []
    assert imore.questions == nspose  # same ids, order, answers, types, relations, split


def test_dict_form_wins_over_lists(fixtures, tmp_path):
    root = humman_layout(fixtures, tmp_path)
    shutil.copy(fixtures / "humman_qa" / "imore_ipgrm_HuMMan_test.json", root / "questions")
    data = load_qa(root)
    assert len(data.questions) == 3123 and data.problems == []


def test_bad_questions_are_reported_and_the_rest_loads(fixtures, tmp_path):
    root = babel_layout(fixtures, tmp_path)
    path = root / "questions" / "imore_BABELQA_train.json"
    rows = json.loads(path.read_text())
    out_of_vocab, bad_program, short = rows[0][0], rows[1][0], rows[2][0]
    rows[0][4] = "moonwalk"
    rows[1][2] = ["[0]=scene(motion_seq)", "[1]=relate([0] before", "?=query_action([1])"]
    rows[2] = rows[2][:4]
    write_json(path, rows)
    data = load_qa(root)
    assert {p.source for p in data.problems} == {str(path)}
    messages = {p.item: p.message for p in data.problems}
    assert messages.keys() == {out_of_vocab, bad_program, short}
    assert "moonwalk" in messages[out_of_vocab] and "vocabulary" in messages[out_of_vocab]
    assert "relate([0] before" in messages[bad_program]
    assert "4 fields" in messages[short]
    assert len(data.split("train")) == 1797
    assert {out_of_vocab, bad_program, short}.isdisjoint(q.qid for q in data.questions)


def test_split_file_is_the_authority(fixtures, tmp_path):
    root = babel_layout(fixtures, tmp_path)
    qdir = root / "questions"
    train = json.loads((qdir / BABEL_LISTS[0]).read_text())
    test = json.loads((qdir / BABEL_LISTS[2]).read_text())
    moved = train.pop(0)  # now in the test file, still listed as train in the split file
    write_json(qdir / BABEL_LISTS[0], train)
    write_json(qdir / BABEL_LISTS[2], [*test, moved])
    split = json.loads((qdir / BABEL_SPLIT).read_text())
    dropped = split["val"].pop(0)  # still in the val file, no longer in the split file
    write_json(qdir / BABEL_SPLIT, split)
    data = load_qa(root)
    assert {p.item: p.message for p in data.problems}.keys() == {moved[0], dropped}
    assert "'test'" in next(p.message for p in data.problems if p.item == moved[0])
    assert [len(data.split(s)) for s in ("train", "val", "test")] == [1799, 383, 393]


def test_file_names_give_the_split_without_a_split_file(fixtures, tmp_path):
    root = babel_layout(fixtures, tmp_path)
    (root / "questions" / BABEL_SPLIT).unlink()
    qdir = root / "questions"
    val = json.loads((qdir / BABEL_LISTS[1]).read_text())
    write_json(qdir / BABEL_LISTS[2], val[:5])  # test file now holds 5 val questions: no authority says no
    data = load_qa(root)
    assert [len(data.split(s)) for s in ("train", "val", "test")] == [1800, 384, 0]
    assert [p.item for p in data.problems] == [r[0] for r in val[:5]]  # duplicates of val questions


# --- synthetic layouts -------------------------------------------------------------------------


def test_order_is_split_then_file_order(tmp_path):
    root = tiny_imore(
        tmp_path, {"test": [row("9"), row("1")], "val": [row("5")], "train": [row("7"), row("2")]}
    )
    data = load_qa(root, name="tiny")
    assert data.name == "tiny"
    assert [(q.split, q.qid) for q in data.questions] == [
        ("train", "7"),
        ("train", "2"),
        ("val", "5"),
        ("test", "9"),
        ("test", "1"),
    ]


def test_nspose_order_is_split_then_file_order(tmp_path):
    tiny_imore(tmp_path, {})
    record = {"babel_id": "m", "question": "q?", "answer": "run", "query_type": "query_action"}
    qdir = tmp_path / "questions"
    records = {k: {**record, "relation_type": "after"} for k in ["5", "3", "9", "1", "7"]}
    write_json(qdir / "questions.json", records)  # splits interleaved in file order
    write_json(qdir / "split_question_ids.json", {"test": ["9", "5"], "train": ["1", "3", "7"]})
    data = load_qa(tmp_path)
    assert [(q.split, q.qid) for q in data.questions] == [
        ("train", "3"),
        ("train", "1"),
        ("train", "7"),
        ("test", "5"),
        ("test", "9"),
    ]


def test_imore_program_gives_type_and_relation(tmp_path):
    scene, filt = "[0]=scene(motion_seq)", "[1]=filter_action([0], walk)"
    programs = {
        "a": [scene, "?=query_direction([0])"],
        "b": [scene, filt, "[2]=relate([1], before)", "?=query_body_part([2])"],
        "c": [scene, filt, "[2]=relate([1], after)", "?=query_action([2])"],
        "d": [
            scene,
            filt,
            "[2]=relate([1], after)",
            "[3]=filter_action([0], run)",
            "[4]=relate([3], before)",
            "[5]=intersect([2, 4])",
            "?=query_action([5])",
        ],
    }
    answers = {"a": "left", "b": "left hand", "c": "run", "d": "jump"}
    data = load_qa(tiny_imore(tmp_path, {"train": [row(k, answers[k], p) for k, p in programs.items()]}))
    got = {q.qid: (q.answer_type, q.relation) for q in data.questions}
    assert got == {
        "a": ("direction", "no_relation"),
        "b": ("body_part", "before"),
        "c": ("action", "after"),
        "d": ("action", "in_between"),
    }


def test_unknown_query_type_is_a_problem(tmp_path):
    bad = row("x", program=["[0]=scene(motion_seq)", "?=query_speed([0])"])
    data = load_qa(tiny_imore(tmp_path, {"train": [bad, row("ok")]}))
    assert [q.qid for q in data.questions] == ["ok"]
    assert data.problems[0].item == "x" and "query_speed" in data.problems[0].message


def test_nspose_malformed_records_are_problems(tmp_path):
    qdir = tmp_path / "questions"
    tiny_imore(tmp_path, {})
    good = {"babel_id": "m1", "question": "q?", "answer": "walk", "query_type": "query_action"}
    records = {
        "1": {**good, "relation_type": "no_relation", "question_id": "1"},
        "2": {**good, "question_id": "2"},  # no relation_type
        "3": {**good, "relation_type": "during"},
        "4": {**good, "relation_type": "before", "query_type": "query_colour"},
    }
    write_json(qdir / "questions.json", records)
    write_json(qdir / "split_question_ids.json", {"train": ["1", "2", "3"], "test": ["4"]})
    data = load_qa(tmp_path)
    assert [q.qid for q in data.questions] == ["1"]
    problems = {p.item: p.message for p in data.problems}
    assert problems.keys() == {"2", "3", "4"}
    assert "relation_type" in problems["2"] and "during" in problems["3"] and "query_colour" in problems["4"]


def test_missing_questions_folder_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=re.escape(str(tmp_path / "nowhere" / "questions"))):
        load_qa(tmp_path / "nowhere")


def test_no_question_files_is_a_data_error(tmp_path):
    tiny_imore(tmp_path, {})
    with pytest.raises(DataError, match="no question files"):
        load_qa(tmp_path)


def test_nspose_without_split_file_is_a_data_error(tmp_path):
    tiny_imore(tmp_path, {})
    write_json(tmp_path / "questions" / "questions.json", {})
    with pytest.raises(DataError, match="split_question_ids"):
        load_qa(tmp_path)


def test_missing_type_vocabulary_is_a_data_error(tmp_path):
    root = tiny_imore(tmp_path, {"train": [row("1")]})
    (root / "questions" / "tiny_direction_answer_vocab.json").unlink()
    with pytest.raises(DataError, match="direction_answer_vocab"):
        load_qa(root)


def test_unknown_split_name_raises(tmp_path):
    data = load_qa(tiny_imore(tmp_path, {"train": [row("1")]}))
    assert data.split("test") == []
    with pytest.raises(KeyError, match="valid"):
        data.split("valid")


def test_problem_to_dict():
    assert Problem("a.json", "7", "bad").to_dict() == {"source": "a.json", "item": "7", "message": "bad"}


# --- find_motion -------------------------------------------------------------------------------


def test_find_motion_flat_layout(tmp_path):
    path = tmp_path / "joints" / "5242.npy"
    path.parent.mkdir()
    path.write_bytes(b"")
    assert find_motion(tmp_path, "5242") == path


def test_find_motion_sequence_layout(tmp_path):
    path = tmp_path / "motion_sequences" / "p000469_a000221" / "joints.npy"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    assert find_motion(str(tmp_path), "p000469_a000221") == path


def test_find_motion_prefers_the_flat_file(tmp_path):
    for path in (tmp_path / "joints" / "1.npy", tmp_path / "motion_sequences" / "1" / "joints.npy"):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"")
    assert find_motion(tmp_path, "1") == tmp_path / "joints" / "1.npy"


def test_find_motion_error_names_both_paths(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        find_motion(tmp_path, "42")
    assert str(tmp_path / "joints" / "42.npy") in str(info.value)
    assert str(tmp_path / "motion_sequences" / "42" / "joints.npy") in str(info.value)


def test_find_motion_rejects_path_like_ids(tmp_path):
    with pytest.raises(ValueError):
        find_motion(tmp_path, "../secrets")
