"""`smd attention`: the answer's attention over the prompt, mapped to characters and to the SMD's parts."""

import json

import numpy as np
import pytest

from harness.attention.plot import char_grid
from harness.attention.shares import (
    OTHER,
    answer_attention,
    char_weights,
    layer_indices,
    part_shares,
    prompt_parts,
    token_parts,
)
from harness.core import read_jsonl
from harness.data import docs_path

pytest.importorskip("transformers")


def _maps(seq: int, layers: int = 2, heads: int = 3) -> np.ndarray:
    """Causal uniform attention maps (every query spreads evenly over the keys before it)."""
    rows = np.tril(np.ones((seq, seq)))
    return np.broadcast_to(rows / rows.sum(axis=1, keepdims=True), (layers, heads, seq, seq)).copy()


# ---------------------------------------------------------------- arithmetic


def test_the_queries_that_produce_the_answer_are_read_and_the_answer_keys_left_out():
    maps = np.zeros((1, 2, 6, 6))
    maps[:, :, 3, 1] = 1.0  # the last prompt token (predicts answer token 1) looks at token 1
    maps[:, :, 4, 2] = 0.5  # answer token 1 (predicts token 2) looks at token 2 and at itself
    maps[:, :, 4, 4] = 0.5
    maps[:, :, 5, 0] = 1.0  # a query past the answer is not read
    weights = answer_attention(maps, prompt_len=4, answer_len=2)
    assert weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(weights, [0, 2 / 3, 1 / 3, 0])


def test_uniform_attention_gives_the_prompt_tokens_what_the_queries_spread():
    weights = answer_attention(_maps(5), prompt_len=4, answer_len=1)  # query 3 spreads over 4 tokens
    np.testing.assert_allclose(weights, [0.25] * 4)
    with pytest.raises(ValueError, match="do not cover"):
        answer_attention(_maps(4), prompt_len=4, answer_len=3)


@pytest.mark.parametrize(
    "spec, chosen", [("all", [0, 1, 2, 3]), ("-2:", [2, 3]), ("1:3", [1, 2]), ("0,-1", [0, 3]), ("2", [2])]
)
def test_layer_choices(spec, chosen):
    assert layer_indices(spec, 4) == chosen


@pytest.mark.parametrize("spec", ["9", "4:", "x", "1,a"])
def test_layer_choices_the_model_does_not_have_are_refused(spec):
    with pytest.raises(ValueError, match="--layers"):
        layer_indices(spec, 4)


def test_a_tokens_part_is_that_of_its_first_visible_character():
    prompt = "sys Motion description:\nMotion: 1s\nHeight:\nholds\n[Left Knee]\nbent\nQ? A. x\nB. y"
    doc = {"smd": "Motion: 1s\nHeight:\nholds\n[Left Knee]\nbent", "question": "Q?", "options": ["x", "y"]}
    spans = prompt_parts(prompt, doc)
    assert prompt[slice(*spans["options"])] == "A. x\nB. y"
    # the header has no `Global Trajectory:` line, so "Height:" there opens no axis
    words = ["sys", " Motion", "Motion:", "Height", "\nholds", "[Left", " Knee]", "bent", "Q?", " A."]
    offsets, at = [], 0
    for word in words:
        at = prompt.index(word, at)
        offsets.append((at, at + len(word)))
        at += len(word)
    parts = token_parts(offsets, prompt, spans)
    knee = "body part: Left Knee"
    assert parts == [OTHER, OTHER, "header", "header", "header", knee, knee, knee, "question", "options"]
    shares = part_shares(parts, np.full(len(parts), 1 / len(parts)))
    assert list(shares) == ["header", "body part: Left Knee", "question", "options", OTHER]
    assert sum(shares.values()) == pytest.approx(1.0)


# ---------------------------------------------------------------- on real tokenizers


def _check_offsets(tokenizer, doc):
    """The offsets the heatmap shades by are the tokens' own text, and the SMD's characters are each
    shaded by the token that covers them."""
    from harness.data import render_prompt

    prompt = render_prompt(tokenizer, doc)
    enc = tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
    offsets = [tuple(o) for o in enc["offset_mapping"]]
    for token, (s, e) in zip(enc["input_ids"], offsets, strict=True):
        assert tokenizer.decode([token]) == prompt[s:e]
    start, end = prompt_parts(prompt, doc)["smd"]
    weights = np.arange(1, len(offsets) + 1, dtype=float)  # token k weighs k + 1: each char names its token
    chars = char_weights(offsets, weights, start, end)
    for i, w in enumerate(chars):
        s, e = offsets[int(w) - 1]
        assert s <= start + i < e  # the token covering character i
    lines, grid = char_grid(doc["smd"], chars)
    assert "\n".join(lines) == doc["smd"]
    at = 0
    for i, line in enumerate(lines):  # cell [i, j] is character j of line i; nothing past a line's end
        np.testing.assert_array_equal(grid[i, : len(line)], chars[at : at + len(line)])
        assert np.isnan(grid[i, len(line) :]).all()
        at += len(line) + 1


def test_offsets_match_the_text_on_the_tiny_tokenizer(demo):
    from transformers import AutoTokenizer

    doc = read_jsonl(docs_path(demo["qa"], "v5_top3", "test"))[0]
    _check_offsets(AutoTokenizer.from_pretrained(demo["model"]), doc)


def test_offsets_match_the_text_on_smollm2(demo, smollm2):
    from transformers import AutoTokenizer

    doc = read_jsonl(docs_path(demo["qa"], "v5_top3", "test"))[0]
    _check_offsets(AutoTokenizer.from_pretrained(smollm2), doc)


# ---------------------------------------------------------------- the command


def _run(demo, tmp_path, backbone, *extra, root="qa", task="smd_babel_qa_mc"):
    from harness.attention.main import main

    out = tmp_path / "att"
    argv = [
        "--task",
        task,
        "--data-root",
        str(demo[root]),
        "--variant",
        "v5_top3",
        "--backbone",
        str(backbone),
    ]
    return main([*argv, "-o", str(out), *extra]), out


@pytest.mark.parametrize(
    "root, task", [("qa", "smd_babel_qa"), ("qa", "smd_babel_qa_cloze"), ("hml", "smd_humanml3d_caption")]
)
def test_the_summary_shares_sum_to_one_and_every_doc_gets_its_heatmap(demo, tmp_path, capsys, root, task):
    status, out = _run(demo, tmp_path, demo["model"], "--n", "2", "--layers=-1:", root=root, task=task)
    assert status == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["docs"] == 2 and summary["n_layers_used"] == 1
    assert abs(sum(summary["shares"].values()) - 1) < 1e-6
    for doc in summary["per_doc"]:
        assert abs(sum(doc["shares"].values()) - 1) < 1e-6
        assert (out / f"{doc['id']}.png").stat().st_size > 5000 and (out / f"{doc['id']}.pdf").is_file()
    assert any(name.startswith("body part: ") for name in summary["shares"])
    assert ("options" in summary["shares"]) == (task == "smd_babel_qa")  # cloze prompts list no options
    assert (out / "sections.png").is_file()
    assert "SMD " in capsys.readouterr().out


def test_smollm2_with_the_gold_answer(demo, tmp_path, smollm2):
    status, out = _run(demo, tmp_path, smollm2, "--n", "1", "--answer", "gold", "--layers=-4:")
    assert status == 0
    summary = json.loads((out / "summary.json").read_text())
    (doc,) = summary["per_doc"]
    assert doc["answer"] == doc["gold"] and doc["correct"] is True
    assert abs(sum(summary["shares"].values()) - 1) < 1e-6 and summary["n_layers_used"] == 4


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--layers", "99"], "--layers '99'"),
        (["--ids", "nope"], "no doc nope"),
        (["--variant", "v9"], "--variant"),
    ],
)
def test_bad_input_is_one_line(demo, tmp_path, capsys, extra, message):
    status, out = _run(demo, tmp_path, demo["model"], "--n", "1", *extra)
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert not (out / "summary.json").exists()


def test_layers_the_model_lacks_are_refused_before_its_weights_load(demo, tmp_path, capsys, monkeypatch):
    import harness.attention.main

    def no_load(*_):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(harness.attention.main, "load_model", no_load)
    status, _ = _run(demo, tmp_path, demo["model"], "--n", "1", "--layers", "0,7")
    assert status == 2 and "the model has layers 0..1" in capsys.readouterr().err
