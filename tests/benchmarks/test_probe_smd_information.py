"""The SMD-information probe on constructed docs: a text naming the answer is read, a swapped one is not."""

import json
import random

import pytest

pytest.importorskip("sklearn")

from benchmarks.probe_smd_information import fit_and_score, main  # noqa: E402

ACTIONS = ["walk", "sit", "run", "jump", "kneel", "kick", "crouch", "jog"]


def constructed_docs(n: int, seed: int) -> list[dict]:
    """Action questions whose SMD names the answer's knee angle; the question says nothing about it."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        answer = rng.choice(ACTIONS)
        options = rng.sample([a for a in ACTIONS if a != answer], 3) + [answer]
        rng.shuffle(options)
        knee = 10 * (ACTIONS.index(answer) + 2)  # one knee angle per action
        docs.append({
            "doc_id": f"{seed}-{i:04d}",
            "answer_type": "action",
            "question": "What action does the person do?",
            "smd": f"[Left Knee]\nincreases: 0 to {knee} degrees knee{knee} [0.0s-1.0s]",
            "options": options,
            "answer": answer,
        })  # fmt: skip
    return docs


def derange(docs: list[dict], seed: int) -> list[dict]:
    smds = [d["smd"] for d in docs]
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    return [dict(d, smd=smds[order[(k + 1) % len(order)]]) for k, d in enumerate(docs)]


def test_text_that_names_the_answer_is_read_and_a_swapped_text_is_not():
    train, val = constructed_docs(400, seed=1), constructed_docs(200, seed=2)
    real, unknown = fit_and_score(train, val, with_smd=True)
    assert unknown == 0 and real.mean() > 0.95
    blind, _ = fit_and_score(derange(train, 3), derange(val, 4), with_smd=True)
    question, _ = fit_and_score(train, val, with_smd=False)
    assert blind.mean() < 0.45 and question.mean() < 0.45  # chance: 0.25


def test_a_doc_without_a_known_option_is_scored_wrong_and_counted():
    train, val = constructed_docs(100, seed=1), constructed_docs(3, seed=2)
    val[0] = dict(val[0], options=["swim", "fly"], answer="swim")
    correct, unknown = fit_and_score(train, val, with_smd=True)
    assert unknown == 1 and correct[0] == 0


def test_the_probe_prints_real_blind_and_question_lines(tmp_path, capsys):
    docs, blind = tmp_path / "v5", tmp_path / "v5-blind"
    for folder in (docs, blind):
        folder.mkdir()
    for split, seed in (("train", 1), ("val", 2)):
        real = constructed_docs(200, seed)
        (docs / f"{split}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in real))
        (blind / f"{split}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in derange(real, seed)))
    assert main(["--docs", str(docs), "--resamples", "500"]) == 0
    out = capsys.readouterr().out
    assert "[action]" in out and "n  200" in out
    difference = next(line for line in out.splitlines() if line.startswith("real - blind"))
    assert float(difference.split()[3]) > 50  # points


def test_a_doc_without_a_field_the_probe_reads_is_named_with_its_file(tmp_path):
    docs, blind = tmp_path / "v5", tmp_path / "v5-blind"
    for folder in (docs, blind):
        folder.mkdir()
        for split, seed in (("train", 1), ("val", 2)):
            rows = constructed_docs(5, seed)
            (folder / f"{split}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in rows))
    rows = constructed_docs(5, 2)
    del rows[3]["answer_type"]
    (docs / "val.jsonl").write_text("".join(json.dumps(d) + "\n" for d in rows))
    with pytest.raises(SystemExit, match=r"v5/val\.jsonl:4 \(2-0003\): no answer_type"):
        main(["--docs", str(docs)])
