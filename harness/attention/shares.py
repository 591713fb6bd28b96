"""Which part of its prompt a model attends to when it answers: the arithmetic of `smd attention`.

Pure functions over arrays and strings (harness.attention runs the model):
- `answer_attention`: a forward pass's attention maps (layers x heads x queries x keys) -> one weight
  per prompt token: the mean, over the chosen layers, all heads and every query position that
  predicts an answer token, of the attention that query pays to each prompt token, renormalised over
  the prompt (the answer's own earlier tokens are left out), so the weights sum to 1.
- `prompt_parts` / `token_parts`: where the SMD, the question and the options lie in the rendered
  prompt, and which part each token belongs to: the SMD's own parts (smd.sections: header, each
  trajectory axis, each body-part group), "question", "options", and everything else (system
  message, instruction, chat template) as "instructions and template".
- `part_shares`: the weight of each part (sums to 1); `char_weights`: a weight per character of a
  span, each character carrying the weight of the token that covers it (the heatmap's shading).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.data import LETTERS
from smd import GROUPS
from smd.sections import HEADER, section_spans
from smd.trajectory import TRAJECTORY_CURVES

__all__ = [
    "OTHER",
    "answer_attention",
    "char_weights",
    "in_reading_order",
    "layer_indices",
    "part_shares",
    "prompt_parts",
    "token_parts",
]

OTHER = "instructions and template"
QUESTION, OPTIONS = "question", "options"


def in_reading_order(names: Sequence[str]) -> list[str]:
    """The parts in the order a prompt shows them: the SMD's header, its trajectory axes and body-part
    groups in the SMD's own order, then the question, the options and the rest."""
    order = [HEADER, *(f"trajectory: {c.label}" for c in TRAJECTORY_CURVES)]
    order += [*(f"body part: {g}" for g in GROUPS), QUESTION, OPTIONS, OTHER]
    rank = {name: i for i, name in enumerate(order)}
    return sorted(names, key=rank.__getitem__)


def layer_indices(spec: str, n_layers: int) -> list[int]:
    """`all`, a Python slice `a:b` (`-4:` = the last four) or a comma list `0,5,-1` -> layer indices.

    Raises:
        ValueError: a spec that selects no layer or names one the model does not have.
    """
    spec = spec.strip()
    if spec == "all":
        return list(range(n_layers))
    try:
        if ":" in spec:
            start, _, stop = spec.partition(":")
            chosen = list(range(n_layers))[slice(int(start) if start else None, int(stop) if stop else None)]
        else:
            chosen = [int(x) for x in spec.split(",")]
    except ValueError:
        raise ValueError(f"--layers {spec!r}: use all, a slice a:b, or a comma list of indices") from None
    if not chosen or any(not -n_layers <= i < n_layers for i in chosen):
        raise ValueError(f"--layers {spec!r}: the model has layers 0..{n_layers - 1}")
    return sorted({i % n_layers for i in chosen})


def answer_attention(attentions: np.ndarray, prompt_len: int, answer_len: int) -> np.ndarray:
    """(prompt_len,) weights summing to 1 from `attentions` (layers, heads, seq, seq) of the chosen
    layers over the sequence prompt + answer: query position p predicts token p + 1, so the queries
    prompt_len - 1 ... prompt_len + answer_len - 2 are those that produce the answer."""
    if attentions.ndim != 4 or attentions.shape[-1] < prompt_len + answer_len - 1 or answer_len < 1:
        raise ValueError(
            f"attention maps of shape {attentions.shape} do not cover {prompt_len} + {answer_len}"
        )
    queries = slice(prompt_len - 1, prompt_len + answer_len - 1)
    weights = attentions[:, :, queries, :prompt_len].astype(np.float64).mean(axis=(0, 1, 2))
    total = weights.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError(f"attention to the prompt sums to {total}: not a distribution")
    return weights / total


def prompt_parts(prompt: str, doc: dict) -> dict[str, tuple[int, int]]:
    """Character spans in `prompt` of the doc's `smd`, its `question` and (listed options only) its
    `options` block, from the first option's line to the end of the last one's.

    Raises:
        ValueError: the SMD text or the question is not in the prompt.
    """
    start = prompt.find(doc["smd"])
    if start < 0:
        raise ValueError(f"doc {doc.get('doc_id')}: its SMD text is not in the rendered prompt")
    spans = {"smd": (start, start + len(doc["smd"]))}
    if "question" in doc:
        q = prompt.find(doc["question"], spans["smd"][1])
        if q < 0:
            raise ValueError(f"doc {doc.get('doc_id')}: its question is not in the rendered prompt")
        spans[QUESTION] = (q, q + len(doc["question"]))
        options = doc.get("options") or []
        first = prompt.find(f"{LETTERS[0]}. {options[0]}", spans[QUESTION][1]) if options else -1
        if first >= 0:
            last_line = f"{LETTERS[len(options) - 1]}. {options[-1]}"
            last = prompt.find(last_line, first)
            spans[OPTIONS] = (first, last + len(last_line))
    return spans


def token_parts(
    offsets: Sequence[tuple[int, int]], prompt: str, spans: dict[str, tuple[int, int]]
) -> list[str]:
    """The part of each token (by `offsets` into `prompt`): the part of its first character that is
    not a space (BPE tokens carry the space before a word), else of its first character."""
    smd_start, smd_end = spans["smd"]
    smd_parts = [
        (name, a + smd_start, b + smd_start) for name, a, b in section_spans(prompt[smd_start:smd_end])
    ]
    others = [(name, a, b) for name, (a, b) in spans.items() if name != "smd"]
    parts = []
    for s, e in offsets:
        text = prompt[s:e]
        at = s + (len(text) - len(text.lstrip())) if text.strip() else s
        found = next((name for name, a, b in smd_parts + others if a <= at < b), OTHER)
        parts.append(found)
    return parts


def part_shares(parts: Sequence[str], weights: np.ndarray) -> dict[str, float]:
    """{part: summed weight}, in reading order; sums to the weights' sum (1 for `answer_attention`)."""
    shares: dict[str, float] = {}
    for part, w in zip(parts, weights.tolist(), strict=True):
        shares[part] = shares.get(part, 0.0) + w
    return {name: shares[name] for name in in_reading_order(list(shares))}


def char_weights(offsets: Sequence[tuple[int, int]], weights: np.ndarray, start: int, end: int) -> np.ndarray:
    """(end - start,) weight of each character of the prompt span [start, end): the weight of the
    token covering it (0 where no token does, e.g. a character the tokenizer merged away)."""
    out = np.zeros(end - start)
    for (s, e), w in zip(offsets, weights.tolist(), strict=True):
        a, b = max(s, start), min(e, end)
        if a < b:
            out[a - start : b - start] = w
    return out
