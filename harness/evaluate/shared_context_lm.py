"""lm-eval's model `smd-hf`: the `hf` model, with a question's options scored over one pass of its prompt.

    smd lm-eval --model smd-hf --model_args pretrained=models/tiny,peft=RUN/best \\
        --tasks smd_babel_qa_cloze --apply_chat_template   (`smd evaluate` uses it for every backbone)

lm-eval's HFLM runs one forward pass per (context, continuation) request, context included: a cloze
question costs ten passes over an SMD prompt of 800-4,000 tokens, to score ten options of a few tokens.
(HFLM's `logits_cache` already shares one pass among one-token continuations, the `_mc` letters.)
Here the requests that share a context (HFLM's own tokens of it, `_encode_pair`) are grouped: the context
runs once with its key/value cache kept, the cache is repeated over the group's continuations, and the
continuations (all but their last token, right-padded) run as one batch after it. The log-likelihoods
and `is_greedy` are HFLM's up to float rounding (a test holds them to 1e-4 in float32).

Everything else is HFLM's: tokenisation and the empty-context rule (`loglikelihood`), the model and its
LoRA adapter (`peft=`), dtype, autocast, the request cache (`cache_hook`), `generate_until`. Requests that
HFLM would left-truncate (context + continuation over `max_length + 1` tokens; the truncated context then
depends on the continuation's length) and `loglikelihood_rolling`'s windows are handed to HFLM unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM
from tqdm import tqdm

from .lm_eval_io import SHARED_CONTEXT_MODEL

__all__ = ["SharedContextLM"]

# HFLM's request as `loglikelihood` tokenised it: ((context, continuation) or None, context ids,
# continuation ids)
Request = tuple[tuple[str, str] | None, list[int], list[int]]
Answer = tuple[float, bool]


@register_model(SHARED_CONTEXT_MODEL)
class SharedContextLM(HFLM):
    def _loglikelihood_tokens(
        self, requests: list[Request], disable_tqdm: bool = False, override_bs: int | None = None
    ) -> list[Answer]:
        # rolling windows (key None) have a context each; seq2seq models have no decoder-side context cache
        if self.backend != "causal" or any(request[0] is None for request in requests):
            return super()._loglikelihood_tokens(requests, disable_tqdm, override_bs)
        answers: list[Answer | None] = [None] * len(requests)
        long = [i for i, (_, ctx, cont) in enumerate(requests) if len(ctx) + len(cont) > self.max_length + 1]
        if long:  # HFLM's left truncation cuts each request's context by its own continuation's length
            for i, answer in zip(
                long, super()._loglikelihood_tokens([requests[i] for i in long], disable_tqdm, override_bs)
            ):
                answers[i] = answer
        groups: dict[tuple[int, ...], list[int]] = {}
        skip = set(long)
        for i, (_, ctx, _) in enumerate(requests):
            if i not in skip:
                groups.setdefault(tuple(ctx), []).append(i)
        width = self._continuation_batch(override_bs)
        pbar = tqdm(
            total=len(requests) - len(long),
            disable=disable_tqdm or self.rank != 0,
            desc="Running loglikelihood requests (shared contexts)",
        )
        # longest contexts first, as HFLM: an out-of-memory shows at once
        for ctx in sorted(groups, key=lambda c: -len(c)):
            members = groups[ctx]
            scored = self.score_group(list(ctx), [requests[i][2] for i in members], width)
            for i, answer in zip(members, scored, strict=True):
                answers[i] = answer
                self.cache_hook.add_partial("loglikelihood", requests[i][0], answer)
            pbar.update(len(members))
        pbar.close()
        return answers  # type: ignore[return-value]  (every index is filled above)

    def _continuation_batch(self, override_bs: int | None) -> int | None:
        """How many continuations of a context run in one pass; None: all of them. `auto` takes the whole
        group: beside the context's pass, a group of short continuations is small."""
        size = override_bs if self.batch_size == "auto" else self.batch_size
        return int(size) if size else None

    def _forward(self, **kwargs):
        # as HFLM's `_model_call`: no gradients, its mixed-precision autocast
        with (
            torch.no_grad(),
            torch.autocast(
                device_type=self.device.type,
                dtype=self.mixed_precision_dtype,
                enabled=self.mixed_precision_dtype is not None,
            ),
        ):
            return self.model(**kwargs)

    def score_group(
        self, context: list[int], continuations: list[list[int]], batch: int | None = None, offset: int = 0
    ) -> list[Answer]:
        """(log-likelihood, is_greedy) of each continuation after `context`, the context run once.

        `offset` shifts the continuations' positions (0: right after the context); tests only.
        """
        out = self._forward(
            input_ids=torch.tensor([context], dtype=torch.long, device=self.device),
            use_cache=True,
            logits_to_keep=1,  # only the last position predicts a continuation token
        )
        # the last context token's distribution predicts every continuation's first token
        first = F.log_softmax(out.logits[0, -1], dim=-1, dtype=self.softmax_dtype)
        cache = out.past_key_values
        answers: list[Answer | None] = [None] * len(continuations)
        longer = []
        for k, cont in enumerate(continuations):
            if len(cont) == 1:
                answers[k] = (float(first[cont[0]]), bool(first.argmax() == cont[0]))
            else:
                longer.append(k)
        chunks = list(_chunks(longer, batch or len(longer) or 1))
        for n, chunk in enumerate(chunks):
            # a pass extends the cache it is given, and a batch repeats it: the last chunk may take the
            # context's own cache, earlier ones a copy (`crop` differs across transformers versions)
            shared = cache if n == len(chunks) - 1 else copy.deepcopy(cache)
            rows = [continuations[k] for k in chunk]
            for k, answer in zip(chunk, self._score_rows(len(context) + offset, first, shared, rows)):
                answers[k] = answer
        return answers  # type: ignore[return-value]

    def _score_rows(self, start: int, first: torch.Tensor, cache, rows: list[list[int]]) -> list[Answer]:
        """Continuations of two tokens or more, on the context's cache, as one right-padded batch."""
        width = max(len(r) for r in rows) - 1
        if len(rows) > 1:
            cache.batch_repeat_interleave(len(rows))
        # right padding, no mask: a real token never attends to a later pad
        ids = torch.tensor([r[:-1] + [r[-2]] * (width + 1 - len(r)) for r in rows], device=self.device)
        positions = torch.arange(start, start + width, device=self.device).expand(len(rows), width)
        logits = self._forward(
            input_ids=ids, position_ids=positions, past_key_values=cache, use_cache=True
        ).logits
        logp = F.log_softmax(logits, dim=-1, dtype=self.softmax_dtype)
        answers = []
        for k, row in enumerate(rows):
            target = torch.tensor(row, device=self.device)
            # position j of the batch predicts the row's token j + 1; `first` predicts token 0
            steps = torch.cat([first.unsqueeze(0), logp[k, : len(row) - 1]])
            token_logp = steps.gather(1, target.unsqueeze(1)).squeeze(1)
            answers.append((float(token_logp.sum()), bool((steps.argmax(-1) == target).all())))
        return answers


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
