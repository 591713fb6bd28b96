"""The Guo et al. 2022 (T2M) text-motion matching evaluator, rewritten in torch for offline scoring.

Three networks, with the parameter names of T2M's `networks/modules.py` so that the user's
`text_mot_match/model/finest.tar` (keys `text_encoder`, `motion_encoder`, `movement_encoder`) loads
as is, with `torch.load(..., weights_only=True)`:

- `TextEncoderBiGRUCo`: GloVe word vector (300) + POS one-hot (15) -> BiGRU 512 -> 512;
- `MovementConvEncoder`: 263-d features without the 4 foot contacts (259) -> two Conv1d(k4, s2, p1)
  (512 hidden, 512 out) -> Linear; one output step per 4 frames (unit length 4);
- `MotionEncoderBiGRUCo`: movements (512) -> BiGRU 1024 -> 512.

Text processing is T2M's: `-` removed, spaCy tokens, non-alphabetic tokens dropped, NOUN/VERB
lemmatised (except the word "left"), `word/POS` tokens, at most 20 of them between `sos/OTHER` and
`eos/OTHER`, padded with `unk/OTHER` to 22; words of the five VIP lists take the VIP POS class, words
outside the GloVe vocabulary become `unk` with POS `OTHER`. Motions: 263-d features normalised with the
evaluator's own mean/std, cropped to a multiple of 4 frames (at most 196) and zero-padded to 196.
The GRUs use `pack_padded_sequence`, so each batch is sorted by length and put back in input order.

The text side (the vocabulary, read with a restricted unpickler, the tagging and the tokens) is in
`t2m_text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from .t2m_text import DIM_POS, Tagger, WordVectorizer, caption_tokens, spacy_tagger

DIM_WORD = 300
DIM_POSE = 263
DIM_MOVEMENT_IN = DIM_POSE - 4  # the foot contacts are not used
DIM_MOVEMENT_HIDDEN = 512
DIM_MOVEMENT_LATENT = 512
DIM_TEXT_HIDDEN = 512
DIM_MOTION_HIDDEN = 1024
DIM_COEMB = 512
UNIT_LENGTH = 4
MAX_MOTION_LEN = 196


# ---------------------------------------------------------------- networks


def _init_weight(m: nn.Module) -> None:
    if isinstance(m, nn.Conv1d | nn.Linear):
        nn.init.xavier_normal_(m.weight)
        if m.bias is not None:
            nn.init.constant_(m.bias, 0)


class MovementConvEncoder(nn.Module):
    def __init__(
        self,
        input_size: int = DIM_MOVEMENT_IN,
        hidden_size: int = DIM_MOVEMENT_HIDDEN,
        output_size: int = DIM_MOVEMENT_LATENT,
    ) -> None:
        super().__init__()
        self.main = nn.Sequential(  # indices 0 and 3 carry weights: main.0.*, main.3.*
            nn.Conv1d(input_size, hidden_size, 4, 2, 1),
            nn.Dropout(0.2),
            nn.LeakyReLU(0.2),
            nn.Conv1d(hidden_size, output_size, 4, 2, 1),
            nn.Dropout(0.2),
            nn.LeakyReLU(0.2),
        )
        self.out_net = nn.Linear(output_size, output_size)
        self.apply(_init_weight)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, T, 259) -> (B, T // 4, 512)."""
        return self.out_net(self.main(inputs.permute(0, 2, 1)).permute(0, 2, 1))


class _BiGRUCo(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.input_emb = nn.Linear(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_net = nn.Sequential(
            nn.Linear(hidden_size * 2, hidden_size),
            nn.LayerNorm(hidden_size),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden_size, output_size),
        )
        self.hidden_size = hidden_size
        self.hidden = nn.Parameter(torch.randn((2, 1, hidden_size)))

    def _encode(self, embs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """`lengths` must be sorted in decreasing order (pack_padded_sequence, as in T2M)."""
        hidden = self.hidden.repeat(1, embs.shape[0], 1)
        packed = pack_padded_sequence(embs, lengths.cpu().long(), batch_first=True)
        _, last = self.gru(packed, hidden)
        return self.output_net(torch.cat([last[0], last[1]], dim=-1))


class TextEncoderBiGRUCo(_BiGRUCo):
    def __init__(
        self,
        word_size: int = DIM_WORD,
        pos_size: int = DIM_POS,
        hidden_size: int = DIM_TEXT_HIDDEN,
        output_size: int = DIM_COEMB,
    ) -> None:
        super().__init__(word_size, hidden_size, output_size)
        self.pos_emb = nn.Linear(pos_size, word_size)
        self.apply(_init_weight)

    def forward(
        self, word_embs: torch.Tensor, pos_onehot: torch.Tensor, cap_lens: torch.Tensor
    ) -> torch.Tensor:
        """(B, L, 300), (B, L, 15), (B,) sorted decreasing -> (B, 512)."""
        return self._encode(self.input_emb(word_embs + self.pos_emb(pos_onehot)), cap_lens)


class MotionEncoderBiGRUCo(_BiGRUCo):
    def __init__(
        self,
        input_size: int = DIM_MOVEMENT_LATENT,
        hidden_size: int = DIM_MOTION_HIDDEN,
        output_size: int = DIM_COEMB,
    ) -> None:
        super().__init__(input_size, hidden_size, output_size)
        self.apply(_init_weight)

    def forward(self, inputs: torch.Tensor, m_lens: torch.Tensor) -> torch.Tensor:
        """(B, T', 512) movements, (B,) lengths in units, sorted decreasing -> (B, 512)."""
        return self._encode(self.input_emb(inputs), m_lens)


# ---------------------------------------------------------------- evaluator


def find_evaluator_files(root: Path | str) -> dict[str, Path]:
    """Locate `finest.tar`, the GloVe folder and the evaluator's mean/std under `root`.

    Accepted layouts: everything flat in `root`, or T2M's own (`[t2m/]text_mot_match/model/finest.tar`,
    `glove/our_vab_*`, `meta/mean.npy` + `meta/std.npy`).
    """
    root = Path(root)
    candidates = {
        "checkpoint": [
            "finest.tar",
            "text_mot_match/model/finest.tar",
            "t2m/text_mot_match/model/finest.tar",
        ],
        "glove": [".", "glove"],
        "mean": ["t2m_mean.npy", "meta/mean.npy", "meta/t2m_mean.npy"],
        "std": ["t2m_std.npy", "meta/std.npy", "meta/t2m_std.npy"],
    }
    found: dict[str, Path] = {}
    for key, rels in candidates.items():
        for rel in rels:
            path = root / rel
            ok = (path / "our_vab_words.pkl").is_file() if key == "glove" else path.is_file()
            if ok:
                found[key] = path
                break
        else:
            what = [str(root / r / "our_vab_words.pkl") if key == "glove" else str(root / r) for r in rels]
            raise FileNotFoundError(f"T2M evaluator: no {key} file under {root} (tried {', '.join(what)})")
    return found


def load_state(path: Path | str) -> dict:
    """A `finest.tar`-style checkpoint, loaded with `weights_only=True` onto the CPU."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    missing = [k for k in ("text_encoder", "motion_encoder", "movement_encoder") if k not in state]
    if missing:
        raise KeyError(f"{path}: checkpoint lacks {', '.join(missing)}")
    return state


class T2MEvaluator:
    """Text and motion embeddings in T2M's shared 512-d space."""

    def __init__(
        self,
        text_encoder: nn.Module,
        motion_encoder: nn.Module,
        movement_encoder: nn.Module,
        vectorizer: WordVectorizer,
        mean: np.ndarray,
        std: np.ndarray,
        *,
        tagger: Tagger | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.device = torch.device(device)
        self.text_encoder = text_encoder.to(self.device).eval()
        self.motion_encoder = motion_encoder.to(self.device).eval()
        self.movement_encoder = movement_encoder.to(self.device).eval()
        self.vectorizer = vectorizer
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        if self.mean.shape != (DIM_POSE,) or self.std.shape != (DIM_POSE,):
            raise ValueError(f"mean/std must have {DIM_POSE} values, got {self.mean.shape}, {self.std.shape}")
        self._tagger = tagger

    @classmethod
    def from_dir(cls, root: Path | str, *, tagger: Tagger | None = None, device: str = "cpu") -> T2MEvaluator:
        """Load the user's evaluator assets (see `find_evaluator_files`)."""
        files = find_evaluator_files(root)
        state = load_state(files["checkpoint"])
        text, motion, movement = TextEncoderBiGRUCo(), MotionEncoderBiGRUCo(), MovementConvEncoder()
        text.load_state_dict(state["text_encoder"])
        motion.load_state_dict(state["motion_encoder"])
        movement.load_state_dict(state["movement_encoder"])
        mean = np.load(files["mean"], allow_pickle=False)
        std = np.load(files["std"], allow_pickle=False)
        vectorizer = WordVectorizer.from_dir(files["glove"])
        return cls(text, motion, movement, vectorizer, mean, std, tagger=tagger, device=device)

    @property
    def tagger(self) -> Tagger:
        if self._tagger is None:
            self._tagger = spacy_tagger()
        return self._tagger

    def text_inputs(self, sentence: str) -> tuple[np.ndarray, np.ndarray, int]:
        """(word vectors (22, 300), POS one-hots (22, 15), length) of one caption."""
        tokens, length = caption_tokens(sentence, self.tagger)
        pairs = [self.vectorizer[t] for t in tokens]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]), length

    def motion_inputs(self, features: np.ndarray) -> tuple[np.ndarray, int]:
        """Normalised, cropped (multiple of 4, at most 196), zero-padded motion (196, 263), and its length."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != DIM_POSE:
            raise ValueError(f"motion features must be (T, {DIM_POSE}), got {features.shape}")
        length = min(features.shape[0] // UNIT_LENGTH * UNIT_LENGTH, MAX_MOTION_LEN)
        if length < UNIT_LENGTH:
            raise ValueError(f"motion too short: {features.shape[0]} frames (need at least {UNIT_LENGTH})")
        motion = np.zeros((MAX_MOTION_LEN, DIM_POSE), dtype=np.float32)
        motion[:length] = (features[:length] - self.mean) / self.std
        return motion, length

    @torch.no_grad()
    def encode_texts(self, sentences: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(N, 512) text embeddings, in input order."""
        out = []
        for start in range(0, len(sentences), batch_size):
            inputs = [self.text_inputs(s) for s in sentences[start : start + batch_size]]
            lengths = np.array([x[2] for x in inputs])
            order = np.argsort(-lengths, kind="stable")
            words = torch.from_numpy(np.stack([inputs[i][0] for i in order])).to(self.device)
            pos = torch.from_numpy(np.stack([inputs[i][1] for i in order])).to(self.device)
            emb = self.text_encoder(words, pos, torch.from_numpy(lengths[order]))
            out.append(_unsort(emb.float().cpu().numpy(), order))
        return np.concatenate(out) if out else np.zeros((0, DIM_COEMB), dtype=np.float32)

    @torch.no_grad()
    def encode_motions(self, motions: Sequence[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """(N, 512) motion embeddings of raw (unnormalised) 263-d feature arrays, in input order."""
        out = []
        for start in range(0, len(motions), batch_size):
            inputs = [self.motion_inputs(m) for m in motions[start : start + batch_size]]
            lengths = np.array([x[1] for x in inputs])
            order = np.argsort(-lengths, kind="stable")
            batch = torch.from_numpy(np.stack([inputs[i][0] for i in order])).to(self.device)
            movements = self.movement_encoder(batch[..., :-4])
            emb = self.motion_encoder(movements, torch.from_numpy(lengths[order] // UNIT_LENGTH))
            out.append(_unsort(emb.float().cpu().numpy(), order))
        return np.concatenate(out) if out else np.zeros((0, DIM_COEMB), dtype=np.float32)


def _unsort(sorted_rows: np.ndarray, order: np.ndarray) -> np.ndarray:
    rows = np.empty_like(sorted_rows)
    rows[order] = sorted_rows
    return rows
