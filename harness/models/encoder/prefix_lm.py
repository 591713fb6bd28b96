"""An LLM that reads a motion as soft tokens: `<motion:ID>` markers in its input become the projector's
embeddings of that clip's encoder latent.

`MotionPrefixLM` takes token ids like any causal LM, so the training loop and lm-eval's HF model drive
it unchanged: in each row, the tokens of a `<motion:ID>` marker (the docs of the `motion` variant carry
one where the SMD stands, `harness.data.prompt_docs`) are replaced by `n_tokens` embeddings, the LLM runs on
`inputs_embeds`, and the logits are put back at the positions of the ids it was given: every token
after the marker gets the logits of its own position in the spliced sequence, the marker's last token
those of the last soft token (what predicts the token after the marker); the marker's other positions
repeat them (no loss or score ever reads them: they are prompt). `generate` splices the same way,
generates from `inputs_embeds`, and returns the given ids followed by the new tokens, as HF's
`generate` does for ids, with stopping criteria that see the same.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from harness.data import MARKER, motion_marker

__all__ = ["MARKER", "MotionPrefixLM", "marker_spans", "motion_marker"]


def marker_spans(pieces: list[str]) -> list[tuple[int, int, str, str, str]]:
    """(first token, end token, clip, head, tail) of each marker in a row whose tokens decode to `pieces`:
    `head` / `tail` are the text its first / last token holds before / after the marker (a tokenizer
    that merges `>` with the newline after it), put back around the soft tokens."""
    text = "".join(pieces)
    ends = np.cumsum([len(p) for p in pieces])
    starts = ends - np.array([len(p) for p in pieces])
    spans = []
    for m in MARKER.finditer(text):
        first = int(np.searchsorted(ends, m.start(), side="right"))
        last = int(np.searchsorted(ends, m.end() - 1, side="right"))
        head, tail = text[starts[first] : m.start()], text[m.end() : ends[last]]
        spans.append((first, last + 1, m[1], head, tail))
    return spans


class MotionPrefixLM(nn.Module):
    """`lm` (a causal LM, with or without LoRA) + `encoder` + `projector`, reading `<motion:ID>` markers.

    `features(clip)` gives a clip's raw (frames, nfeats) features; they are normalised with `mean`/`std`.
    """

    def __init__(
        self,
        lm: nn.Module,
        tokenizer,
        encoder: nn.Module,
        projector: nn.Module,
        features: Callable[[str], np.ndarray],
        mean: np.ndarray,
        std: np.ndarray,
        config: dict | None = None,
    ) -> None:
        super().__init__()
        self.lm, self.encoder, self.projector = lm, encoder, projector
        self.tokenizer = tokenizer
        self.register_buffer("feature_mean", torch.as_tensor(mean, dtype=torch.float32), persistent=False)
        self.register_buffer("feature_std", torch.as_tensor(std, dtype=torch.float32), persistent=False)
        self._features = features
        self._pieces: dict[int, str] = {}
        self.encoder_config = config  # the encoder folder's encoder.json (harness.models.encoder.folder)

    # what HF's and lm-eval's code read of a model
    @property
    def config(self):
        return self.lm.config

    @property
    def generation_config(self):
        return self.lm.generation_config

    @property
    def device(self) -> torch.device:
        return next(self.lm.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.lm.parameters()).dtype

    def train(self, mode: bool = True):
        """As nn.Module's, but a frozen encoder stays in eval mode (no dropout where nothing learns)."""
        super().train(mode)
        if not any(p.requires_grad for p in self.encoder.parameters()):
            self.encoder.eval()
        return self

    reuses_prompt_cache = False  # a prompt's key/value cache is of the spliced sequence, not of its ids

    def get_base_model(self) -> nn.Module:
        return self  # the training loss asks whether forward keeps only some logits: it does not

    def tie_weights(self) -> None:
        self.lm.tie_weights()

    def save_pretrained(self, folder) -> None:
        """The encoder folder (encoder, projector, feature statistics), and the LoRA adapter beside it
        when the LLM has one: `peft=` and `encoder=` then name the same folder."""
        from pathlib import Path

        from .folder import save_encoder

        if self.encoder_config is None:
            raise ValueError("a MotionPrefixLM built without its encoder config cannot be saved")
        if hasattr(self.lm, "peft_config"):
            self.lm.save_pretrained(folder)
        mean, std = self.feature_mean.cpu().numpy(), self.feature_std.cpu().numpy()
        save_encoder(Path(folder), self.encoder_config, self.encoder, self.projector, mean, std)

    def soft_tokens(self, clips: list[str]) -> torch.Tensor:
        """[len(clips), n_tokens, width] embeddings of the clips, in the LLM's dtype."""
        arrays = [np.asarray(self._features(c), dtype=np.float32) for c in clips]
        empty = [c for c, a in zip(clips, arrays) if len(a) == 0]
        if empty:
            raise ValueError(f"clips without feature frames (a 1-frame motion?): {', '.join(empty)}")
        lengths = torch.tensor([len(a) for a in arrays], device=self.device)
        batch = torch.zeros(len(arrays), int(lengths.max()), arrays[0].shape[1], device=self.device)
        for i, a in enumerate(arrays):
            batch[i, : len(a)] = torch.from_numpy(a).to(self.device)
        batch = (batch - self.feature_mean) / self.feature_std
        return self.projector(self.encoder(batch, lengths)).to(self.dtype)

    def _row_spans(self, ids: list[int]) -> list[tuple[int, int, str]]:
        for t in ids:
            if t not in self._pieces:
                self._pieces[t] = self.tokenizer.decode([t])
        return marker_spans([self._pieces[t] for t in ids])

    def prompt_ids(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Each row's ids without its markers' tokens (their text is soft tokens, not ids), left padded
        with the pad id as HF's own batches are: what a repetition penalty counts as the prompt."""
        rows = []
        for row, m in zip(input_ids, mask):
            ids = row[m.bool()].tolist()
            for first, end, *_ in reversed(self._row_spans(ids)):
                ids[first:end] = []
            rows.append(ids)
        pad, width = self.tokenizer.pad_token_id or 0, max(map(len, rows))
        return torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=input_ids.device)

    def _embed_text(self, text: str, like: torch.Tensor) -> torch.Tensor:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"] if text else []
        return self.lm.get_input_embeddings()(torch.tensor(ids, dtype=torch.long, device=like.device))

    def _splice(self, ids: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        """One row: (embeddings [length', width], for each given position its position in them)."""
        spans = self._row_spans(ids.tolist())
        embed = self.lm.get_input_embeddings()(ids)
        if not spans:
            return embed, list(range(len(ids)))
        soft = self.soft_tokens([clip for _, _, clip, _, _ in spans])
        parts, where, at, start = [], [], 0, 0
        for k, (first, end, _, head, tail) in enumerate(spans):
            if first < start:
                raise ValueError("two motion markers share a token: separate them with text")
            block = [self._embed_text(head, ids), soft[k], self._embed_text(tail, ids)]
            parts += [embed[start:first], *block]
            where += list(range(at, at + first - start))
            at += first - start + sum(b.shape[0] for b in block)
            where += [at - 1] * (
                end - first
            )  # the marker's positions: the block's last (predicts the next id)
            start = end
        parts.append(embed[start:])
        where += list(range(at, at + len(ids) - start))
        return torch.cat(parts), where

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs):
        """Logits [batch, length, vocab] at the given ids' positions (right padding, as training's and
        lm-eval's log-likelihood batches; a row's padding stays after its tokens)."""
        mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
        rows = [self._splice(row[m.bool()]) for row, m in zip(input_ids, mask)]
        width = max(e.shape[0] for e, _ in rows)
        embeds = torch.zeros(
            len(rows), width, rows[0][0].shape[1], dtype=rows[0][0].dtype, device=self.device
        )
        new_mask = torch.zeros(len(rows), width, dtype=mask.dtype, device=self.device)
        for i, (e, _) in enumerate(rows):
            embeds[i, : e.shape[0]], new_mask[i, : e.shape[0]] = e, 1
        logits = self.lm(inputs_embeds=embeds, attention_mask=new_mask, **kwargs).logits
        out = logits.new_zeros(input_ids.shape[0], input_ids.shape[1], logits.shape[-1])
        for i, (_, where) in enumerate(rows):
            real = mask[i].bool().nonzero().squeeze(1)
            out[i, real] = logits[i, torch.tensor(where, device=self.device)]
        return SimpleNamespace(logits=out)

    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        *,
        max_length: int | None = None,
        max_new_tokens: int | None = None,
        stopping_criteria=None,
        **kwargs,
    ) -> torch.Tensor:
        """The given ids (left padded, as lm-eval's generation batches) followed by the new tokens."""
        from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

        mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
        new = max_new_tokens if max_new_tokens is not None else max_length - input_ids.shape[1]
        rows = [self._splice(row[m.bool()])[0] for row, m in zip(input_ids, mask)]
        width = max(e.shape[0] for e in rows)
        embeds = torch.zeros(len(rows), width, rows[0].shape[1], dtype=rows[0].dtype, device=self.device)
        new_mask = torch.zeros(len(rows), width, dtype=torch.long, device=self.device)
        for i, e in enumerate(rows):  # left padding: every row's last token is the last position
            embeds[i, width - e.shape[0] :], new_mask[i, width - e.shape[0] :] = e, 1

        class _SeeTheIds(StoppingCriteria):  # from embeddings HF hands a criterion only the new tokens
            def __call__(self, ids, scores, **kw):
                full = torch.cat([input_ids, ids], dim=1)
                done = [torch.as_tensor(c(full, scores, **kw), device=ids.device) for c in stopping_criteria]
                return torch.stack([d.expand(ids.shape[0]) for d in done]).any(0)

        stops = StoppingCriteriaList([_SeeTheIds()]) if stopping_criteria else None
        # from embeddings HF applies a repetition penalty to the new tokens only; here over the given ids
        # too, as for a model fed ids (a backbone's generation_config may set one, e.g. Qwen2.5's)
        penalty = kwargs.pop("repetition_penalty", None) or getattr(
            self.generation_config, "repetition_penalty", None
        )
        processors = LogitsProcessorList()
        if penalty and penalty != 1.0:
            processors.append(_FullIdsPenalty(penalty, self.prompt_ids(input_ids, mask)))
        tokens = self.lm.generate(
            inputs_embeds=embeds,
            attention_mask=new_mask,
            max_new_tokens=new,
            stopping_criteria=stops,
            logits_processor=processors,
            repetition_penalty=1.0,
            **kwargs,
        )
        return torch.cat([input_ids, tokens], dim=1)


class _FullIdsPenalty:
    """HF's repetition penalty (CTRL's) over the given ids followed by the new tokens."""

    def __init__(self, penalty: float, given: torch.Tensor) -> None:
        from transformers import RepetitionPenaltyLogitsProcessor

        self.inner, self.given = RepetitionPenaltyLogitsProcessor(penalty), given

    def __call__(self, ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return self.inner(torch.cat([self.given, ids], dim=1), scores)
