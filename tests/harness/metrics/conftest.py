"""Shared builders for the caption-metric tests: a rule-based tagger and random-weight T2M evaluators."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

VERBS = {"walks": "walk", "jumps": "jump", "turns": "turn", "runs": "run", "waves": "wave", "kicks": "kick"}
NOUNS = {"man": "man", "person": "person", "hands": "hand", "leg": "leg", "circle": "circle"}
DETS = {"a", "the", "his", "her"}


def simple_tagger(sentence: str) -> list[tuple[str, str, str]]:
    """A spaCy stand-in: (text, POS, lemma) per token; punctuation is its own token."""
    out = []
    for tok in re.findall(r"\w+|[^\w\s]", sentence):
        low = tok.lower()
        if tok in VERBS:
            out.append((tok, "VERB", VERBS[tok]))
        elif tok in NOUNS:
            out.append((tok, "NOUN", NOUNS[tok]))
        elif low in DETS:
            out.append((tok, "DET", low))
        elif not tok.isalnum():
            out.append((tok, "PUNCT", tok))
        else:
            out.append((tok, "ADV", low))
    return out


def write_evaluator_dir(root: Path, words: list[str], seed: int = 0) -> Path:
    """A T2M evaluator folder with random weights: finest.tar, our_vab_*, t2m_mean/std."""
    import torch

    from harness.metrics.t2m_evaluator import MotionEncoderBiGRUCo, MovementConvEncoder, TextEncoderBiGRUCo

    torch.manual_seed(seed)
    root.mkdir(parents=True, exist_ok=True)
    state = {
        "text_encoder": TextEncoderBiGRUCo().state_dict(),
        "motion_encoder": MotionEncoderBiGRUCo().state_dict(),
        "movement_encoder": MovementConvEncoder().state_dict(),
        "epoch": 7,
    }
    torch.save(state, root / "finest.tar")
    (root / "our_vab_words.pkl").write_bytes(pickle.dumps(words))
    (root / "our_vab_idx.pkl").write_bytes(pickle.dumps({w: i for i, w in enumerate(words)}))
    rng = np.random.default_rng(seed)
    np.save(root / "our_vab_data.npy", rng.normal(size=(len(words), 300)).astype(np.float32))
    np.save(root / "t2m_mean.npy", rng.normal(size=263))
    np.save(root / "t2m_std.npy", rng.uniform(0.5, 2.0, size=263))
    return root


BASE_WORDS = [
    "sos",
    "eos",
    "unk",
    "a",
    "man",
    "walk",
    "forward",
    "jump",
    "turn",
    "left",
    "person",
    "hand",
    "wave",
]


@pytest.fixture
def tagger():
    return simple_tagger


@pytest.fixture(scope="session")
def evaluator_dir(tmp_path_factory) -> Path:
    return write_evaluator_dir(tmp_path_factory.mktemp("t2m_eval"), BASE_WORDS)


@pytest.fixture(scope="session")
def tiny_roberta(tmp_path_factory):
    """A 3-layer, 32-wide RoBERTa with a byte-level tokenizer (one token per character), built offline."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    root = tmp_path_factory.mktemp("tiny_roberta")
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in bytes_to_unicode().values():
        vocab.setdefault(ch, len(vocab))
    vocab["<mask>"] = len(vocab)
    (root / "vocab.json").write_text(json.dumps(vocab))
    (root / "merges.txt").write_text("#version: 0.2\n")
    tok = transformers.RobertaTokenizer(
        str(root / "vocab.json"), str(root / "merges.txt"), model_max_length=128
    )
    torch.manual_seed(0)
    config = transformers.RobertaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    transformers.RobertaModel(config).save_pretrained(root)
    tok.save_pretrained(root)
    return root
