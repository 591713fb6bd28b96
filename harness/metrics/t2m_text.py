"""The text side of the T2M evaluator: T2M's caption tokens and their GloVe / POS vectors.

Captions are POS-tagged (spaCy by default, `spacy_tagger`), turned into T2M's `word/POS` tokens
(`process_text`, `caption_tokens`) and each token into a GloVe word vector and a POS one-hot with the
VIP override (`WordVectorizer`, over the vocabulary `load_vocabulary` reads). The vocabulary pickles
are read with a restricted unpickler: plain lists, dicts, strings and ints only. Needs no torch.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

POS_ENUMERATOR = {
    "VERB": 0,
    "NOUN": 1,
    "DET": 2,
    "ADP": 3,
    "NUM": 4,
    "AUX": 5,
    "PRON": 6,
    "ADJ": 7,
    "ADV": 8,
    "Loc_VIP": 9,
    "Body_VIP": 10,
    "Obj_VIP": 11,
    "Act_VIP": 12,
    "Desc_VIP": 13,
    "OTHER": 14,
}
VIP_DICT = {
    "Loc_VIP": ("left", "right", "clockwise", "counterclockwise", "anticlockwise", "forward", "back",
                "backward", "up", "down", "straight", "curve"),
    "Body_VIP": ("arm", "chin", "foot", "feet", "face", "hand", "mouth", "leg", "waist", "eye", "knee",
                 "shoulder", "thigh"),
    "Obj_VIP": ("stair", "dumbbell", "chair", "window", "floor", "car", "ball", "handrail", "baseball",
                "basketball"),
    "Act_VIP": ("walk", "run", "swing", "pick", "bring", "kick", "put", "squat", "throw", "hop", "dance",
                "jump", "turn", "stumble", "dance", "stop", "sit", "lift", "lower", "raise", "wash", "stand",
                "kneel", "stroll", "rub", "bend", "balance", "flap", "jog", "shuffle", "lean", "rotate",
                "spin", "spread", "climb"),
    "Desc_VIP": ("slowly", "carefully", "fast", "careful", "slow", "quickly", "happy", "angry", "sad",
                 "happily", "angrily", "sadly"),
}  # fmt: skip

DIM_POS = len(POS_ENUMERATOR)
MAX_TEXT_LEN = 20

SPACY_MODEL = "en_core_web_sm"
SPACY_HELP = (
    "the T2M evaluator needs spaCy's English model for POS tags: "
    f"pip install spacy && python -m spacy download {SPACY_MODEL}"
)

# tagger(sentence) -> [(token text, coarse POS tag, lemma), ...]
Tagger = Callable[[str], Sequence[tuple[str, str, str]]]


# ---------------------------------------------------------------- vocabulary


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles plain data only: any global other than builtins list/dict/str/int is refused."""

    ALLOWED = {("builtins", "list"), ("builtins", "dict"), ("builtins", "str"), ("builtins", "int")}

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}: only plain data is allowed")


def load_plain_pickle(path: Path | str):
    """Load a pickle of plain data (lists, dicts, strings, ints) without running any code."""
    data = Path(path).read_bytes()
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as e:
        raise pickle.UnpicklingError(f"{path}: {e}") from None


def load_vocabulary(glove_dir: Path | str, prefix: str = "our_vab") -> tuple[list[str], dict[str, int]]:
    """`<prefix>_words.pkl` (list of words) and `<prefix>_idx.pkl` (word -> row), validated."""
    glove_dir = Path(glove_dir)
    words = load_plain_pickle(glove_dir / f"{prefix}_words.pkl")
    word2idx = load_plain_pickle(glove_dir / f"{prefix}_idx.pkl")
    if not (isinstance(words, list) and all(isinstance(w, str) for w in words)):
        raise ValueError(f"{glove_dir / f'{prefix}_words.pkl'}: expected a list of strings")
    if not (
        isinstance(word2idx, dict) and all(isinstance(k, str) and type(v) is int for k, v in word2idx.items())
    ):
        raise ValueError(f"{glove_dir / f'{prefix}_idx.pkl'}: expected a dict of word -> int")
    missing = [w for w in words if w not in word2idx]
    if missing:
        raise ValueError(f"{glove_dir}: {len(missing)} words have no index, e.g. {missing[:5]}")
    return words, word2idx


def pos_one_hot(pos: str) -> np.ndarray:
    vec = np.zeros(DIM_POS, dtype=np.float32)
    vec[POS_ENUMERATOR.get(pos, POS_ENUMERATOR["OTHER"])] = 1.0
    return vec


class WordVectorizer:
    """T2M's `WordVectorizer`: `"word/POS"` -> (GloVe vector, POS one-hot with the VIP override)."""

    def __init__(self, words: Sequence[str], word2idx: dict[str, int], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"word vectors must be (n_words, dim), got {vectors.shape}")
        if "unk" not in word2idx:
            raise ValueError("the vocabulary has no 'unk' word")
        self.word2vec = {w: vectors[word2idx[w]] for w in words}
        self.vip = {w: key for key, values in reversed(VIP_DICT.items()) for w in values}

    @classmethod
    def from_dir(cls, glove_dir: Path | str, prefix: str = "our_vab") -> WordVectorizer:
        words, word2idx = load_vocabulary(glove_dir, prefix)
        vectors = np.load(Path(glove_dir) / f"{prefix}_data.npy", allow_pickle=False)
        if vectors.shape[0] < len(words) or max(word2idx.values(), default=0) >= vectors.shape[0]:
            raise ValueError(f"{glove_dir}: {vectors.shape[0]} vectors for {len(words)} words")
        return cls(words, word2idx, vectors)

    def __len__(self) -> int:
        return len(self.word2vec)

    def __getitem__(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        word, pos = token.split("/")
        if word not in self.word2vec:
            return self.word2vec["unk"], pos_one_hot("OTHER")
        return self.word2vec[word], pos_one_hot(self.vip.get(word, pos))


# ---------------------------------------------------------------- text processing


def spacy_tagger(model: str = SPACY_MODEL) -> Tagger:
    """A tagger backed by spaCy; a RuntimeError says how to install it when it is missing."""
    try:
        import spacy
    except ImportError:
        raise RuntimeError(SPACY_HELP) from None
    try:
        nlp = spacy.load(model)
    except OSError:
        raise RuntimeError(SPACY_HELP) from None

    def tag(sentence: str) -> list[tuple[str, str, str]]:
        return [(t.text, t.pos_, t.lemma_) for t in nlp(sentence)]

    return tag


def process_text(sentence: str, tagger: Tagger) -> tuple[list[str], list[str]]:
    """T2M's `process_text`: (words, POS tags) of a caption."""
    words, tags = [], []
    for text, pos, lemma in tagger(sentence.replace("-", "")):
        if not text.isalpha():
            continue
        words.append(lemma if pos in ("NOUN", "VERB") and text != "left" else text)
        tags.append(pos)
    return words, tags


def caption_tokens(sentence: str, tagger: Tagger, max_text_len: int = MAX_TEXT_LEN) -> tuple[list[str], int]:
    """`word/POS` tokens with sos/eos, padded with `unk/OTHER` to `max_text_len + 2`; and the real length."""
    words, tags = process_text(sentence.strip(), tagger)
    tokens = [f"{w}/{p}" for w, p in zip(words, tags)][:max_text_len]
    tokens = ["sos/OTHER", *tokens, "eos/OTHER"]
    length = len(tokens)
    return tokens + ["unk/OTHER"] * (max_text_len + 2 - length), length
