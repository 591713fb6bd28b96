"""MotionPrefixLM: soft tokens stand where the marker stands; every logit lands at its own id's position."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from harness.data import motion_marker  # noqa: E402
from harness.models.encoder import MotionPrefixLM, marker_spans  # noqa: E402

SOFT = " walks forward and waves"  # the soft tokens of the test: these tokens' own embeddings


class _Latent(torch.nn.Module):
    """An encoder whose latent is the clip's mean feature (the test's clips hold a token index)."""

    def forward(self, features, lengths):
        return features[:, 0, :1]


class _EmbeddingsOf(torch.nn.Module):
    """A projector that returns the LLM's own embeddings of fixed token ids: the spliced sequence is then
    exactly the plain sequence with those ids in place of the marker."""

    def __init__(self, lm, ids):
        super().__init__()
        self.lm, self.ids = lm, torch.tensor(ids)

    def forward(self, latent):
        return self.lm.get_input_embeddings()(self.ids)[None].expand(latent.shape[0], -1, -1)


@pytest.fixture(scope="module")
def parts(demo):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(demo["model"])
    lm = AutoModelForCausalLM.from_pretrained(demo["model"]).eval()
    soft = tokenizer(SOFT, add_special_tokens=False)["input_ids"]
    composite = MotionPrefixLM(
        lm,
        tokenizer,
        _Latent(),
        _EmbeddingsOf(lm, soft),
        lambda clip: np.ones((5, 263)),
        np.zeros(263),
        np.ones(263),
    )
    return tokenizer, lm, composite, soft


def _ids(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_markers_are_found_across_token_boundaries():
    pieces = ["Mot", "ion: <mo", "tion:", "d000", "03> then", " <motion:M012_0.5_2.0>", "."]
    assert marker_spans(pieces) == [(1, 5, "d00003", "ion: ", " then"), (5, 6, "M012_0.5_2.0", " ", "")]
    # a tokenizer that merges the marker's `>` with the newline after it: the newline is kept as tail
    assert marker_spans(["x:\n", "<motion:", "a1>\n", "Q"]) == [(1, 3, "a1", "", "\n")]
    with pytest.raises(ValueError, match="cannot be a motion marker"):
        motion_marker("a b")


def test_logits_after_the_marker_equal_the_plain_model_on_the_soft_tokens(parts):
    tokenizer, lm, composite, soft = parts
    before, after = "Motion description:\n", "\nQuestion: what does the person do?"
    ids = _ids(tokenizer, before + motion_marker("d00003") + after)
    short = _ids(tokenizer, "Describe it:\n" + motion_marker("d00007"))  # a shorter row, right padded
    batch = torch.full((2, len(ids)), tokenizer.pad_token_id or 0)
    batch[0], batch[1, : len(short)] = torch.tensor(ids), torch.tensor(short)
    mask = (torch.arange(len(ids))[None] < torch.tensor([[len(ids)], [len(short)]])).long()
    with torch.no_grad():
        got = composite(batch, attention_mask=mask).logits
        ((first, end, clip, _, _),) = composite._row_spans(ids)
        assert clip == "d00003"
        plain = ids[:first] + soft + ids[end:]
        want = lm(torch.tensor([plain])).logits[0]
    shift = len(soft) - (end - first)
    torch.testing.assert_close(got[0, :first], want[:first])
    torch.testing.assert_close(got[0, end:], want[end + shift :])
    torch.testing.assert_close(
        got[0, end - 1], want[first + len(soft) - 1]
    )  # predicts the marker's next token
    assert got.shape == (2, len(ids), want.shape[-1]) and not got[1, len(short) :].any()


def test_generation_continues_from_the_soft_tokens(parts):
    tokenizer, lm, composite, soft = parts
    ids = _ids(tokenizer, "Motion description:\n" + motion_marker("d00003") + "\nAnswer:")
    ((first, end, _, _, _),) = composite._row_spans(ids)
    plain = ids[:first] + soft + ids[end:]
    pad = tokenizer.pad_token_id or 0
    left = torch.tensor([[pad, pad] + ids, [pad] * 2 + ids])
    mask = torch.tensor([[0, 0] + [1] * len(ids)] * 2)
    with torch.no_grad():
        got = composite.generate(
            left, attention_mask=mask, max_new_tokens=6, do_sample=False, pad_token_id=pad
        )
        want = lm.generate(torch.tensor([plain]), max_new_tokens=6, do_sample=False, pad_token_id=pad)
    assert got.shape[1] >= left.shape[1] + 1 and torch.equal(got[:, : left.shape[1]], left)
    new = got[0, left.shape[1] :].tolist()
    assert new == want[0, len(plain) :].tolist()[: len(new)]


def test_a_repetition_penalty_counts_the_prompt_without_its_marker(parts):
    """From embeddings HF would penalise only the new tokens; the prompt's ids count too, as for a model
    fed ids, less the marker's (its text is soft tokens). Generation with a penalty still runs."""
    tokenizer, lm, composite, soft = parts
    ids = _ids(tokenizer, "Motion description:\n" + motion_marker("d00003") + "\nAnswer: walks walks")
    ((first, end, _, _, _),) = composite._row_spans(ids)
    pad = tokenizer.pad_token_id or 0
    batch = torch.tensor([[pad, pad] + ids, ids + [0, 0]])
    mask = torch.tensor([[0, 0] + [1] * len(ids), [1] * len(ids) + [0, 0]])
    given = composite.prompt_ids(batch, mask)
    assert given[0].tolist() == ids[:first] + ids[end:] == given[1].tolist()
    with torch.no_grad():
        out = composite.generate(
            batch[:1],
            attention_mask=mask[:1],
            max_new_tokens=4,
            do_sample=False,
            pad_token_id=pad,
            repetition_penalty=3.0,
        )
    assert out.shape[1] > batch.shape[1]
