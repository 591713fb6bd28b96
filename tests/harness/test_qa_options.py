import shutil
from collections import Counter

import numpy as np
import pytest

from harness.data import LETTERS, MAX_OPTIONS, load_qa
from harness.data.qa_options import make_options, option_stats, options_rows

POOL = [f"action {i}" for i in range(20)]


def test_gold_once_distinct_options_at_most_ten():
    options, gold = make_options("000123", "action 7", POOL)
    assert len(options) == MAX_OPTIONS and len(set(options)) == MAX_OPTIONS
    assert options[gold] == "action 7" and options.count("action 7") == 1
    assert set(options) <= set(POOL)


def test_small_types_get_every_answer():
    pool = ["forward", "backwards", "left", "right"]
    options, gold = make_options("q1", "left", pool)
    assert sorted(options) == sorted(pool) and options[gold] == "left"


def test_seeded_by_question_id_not_by_order():
    a = [make_options(q, "action 3", POOL) for q in ("q1", "q2", "q3")]
    b = [make_options(q, "action 3", POOL) for q in ("q3", "q2", "q1")][::-1]
    assert a == b
    assert make_options("q1", "action 3", POOL) != make_options("q1", "action 3", POOL, seed=1)


def test_answer_outside_the_vocabulary_is_an_error_naming_the_question():
    with pytest.raises(ValueError, match="question q9: answer 'fly'"):
        make_options("q9", "fly", POOL)


def test_gold_positions_are_uniform():
    golds = [make_options(f"{i:06d}", "action 0", POOL)[1] for i in range(5000)]
    counts = np.bincount(golds, minlength=10)
    assert counts.min() > 430 and counts.max() < 570  # expected 500 each
    rows = [
        {"options": POOL[:10], "answer_idx": g, "answer_type": "action", "answer": "action 0"} for g in golds
    ]
    assert option_stats(rows).gold_uniformity_p > 0.001


def _copy_babel(fixtures, tmp_path):
    q = tmp_path / "babel_qa" / "questions"
    shutil.copytree(fixtures / "babel_qa", q, ignore=shutil.ignore_patterns("*.npy"))
    return tmp_path / "babel_qa"


def test_real_babel_qa_options(fixtures, tmp_path):
    dataset = load_qa(_copy_babel(fixtures, tmp_path))
    sizes = {"action": 10, "body_part": 8, "direction": 4}
    for split, n in (("train", 1800), ("val", 384), ("test", 393)):
        rows, problems = options_rows(dataset.split(split), dataset.vocab)
        assert len(rows) == n and not problems
        for r in rows:
            assert r["options"][r["answer_idx"]] == r["answer"] and r["options"].count(r["answer"]) == 1
            assert len(set(r["options"])) == len(r["options"]) == sizes[r["answer_type"]]
            assert set(r["options"]) <= set(dataset.vocab[r["answer_type"]])
        again, _ = options_rows(dataset.split(split), dataset.vocab)
        assert again == rows
    rows, _ = options_rows(dataset.questions, dataset.vocab)
    full = Counter(r["answer_idx"] for r in rows if len(r["options"]) == 10)
    assert option_stats(rows).gold_uniformity_p > 0.001, full
    assert LETTERS[max(full)] == "J"


def test_make_options_stage_writes_files_and_stats(fixtures, tmp_path, capsys):
    from harness.core import read_json
    from harness.data.qa_options import main

    root = _copy_babel(fixtures, tmp_path)
    assert main([str(root)]) == 0
    out = capsys.readouterr().out
    assert "babel_qa test: 393 questions" in out
    stats = read_json(root / "questions_10opt" / "stats.json")
    assert stats["splits"]["train"]["questions"] == 1800
    assert stats["vocab_sizes"] == {"action": 20, "body_part": 8, "direction": 4}
    assert len(read_json(root / "questions_10opt" / "val.json")) == 384


def test_real_humman_qa_options(fixtures, tmp_path):
    q = tmp_path / "humman_qa" / "questions"
    q.mkdir(parents=True)
    for name in ("huMMan_questions.json", "split_question_ids.json"):
        shutil.copy(fixtures / "humman_qa" / name, q / name)
    for kind in ("action", "body_part", "direction"):
        name = f"imore_ipgrm_HuMMan_{kind}_answer_vocab.json"
        shutil.copy(fixtures / "humman_qa" / name, q / name)
    dataset = load_qa(tmp_path / "humman_qa")
    golds = []
    for split, n in (("train", 2066), ("val", 524), ("test", 533)):
        rows, problems = options_rows(dataset.split(split), dataset.vocab)
        assert len(rows) == n and not problems
        for r in rows:
            assert r["options"].count(r["answer"]) == 1 and r["options"][r["answer_idx"]] == r["answer"]
            assert len(set(r["options"])) == len(r["options"]) <= MAX_OPTIONS
            assert set(r["options"]) <= set(dataset.vocab[r["answer_type"]])
        golds += [r["answer_idx"] for r in rows if len(r["options"]) == MAX_OPTIONS]
    # action (155) and body part (18) questions have 10 options, direction (6) questions 6
    counts = np.bincount(golds, minlength=10)
    assert counts.min() > 0.8 * counts.mean() and counts.max() < 1.2 * counts.mean()
