"""lm-eval's model `smd-hf`: the `hf` model, with a question's options scored over one pass of its prompt.

    smd lm-eval --model smd-hf --model_args pretrained=models/tiny,peft=RUN/best \\
        --tasks smd_babel_qa_cloze --apply_chat_template   (`smd evaluate` uses it for every backbone)

lm-eval's HFLM runs one forward pass per (context, continuation) request, context included: a cloze
question costs ten passes over an SMD prompt of 800-4,000 tokens, to score ten options of a few tokens.
(HFLM's `logits_cache` already shares one pass among continuations equal but for their last token, the
`_mc` letters.) Here the requests that share a context (HFLM's own tokens of it, `_encode_pair`) are
grouped: the context runs once with its key/value cache kept (with the tokens all its continuations
begin with, such as the newline before each `_mc` letter), the cache is repeated over the group's
continuations, and the rest of each distinct continuation (all but its last token, right-padded) runs
as one batch after it (`batch_size` continuations per pass). The log-likelihoods and `is_greedy` are
HFLM's up to float rounding (a test holds them to 1e-4 in float32).

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
        # the tokens each continuation runs after the context: all but its last. What all of them share
        # (the newline before each `_mc` letter) runs with the context, as HFLM's logits cache shares it;
        # the rest runs once per distinct prefix
        prefixes = list(dict.fromkeys(tuple(cont[:-1]) for cont in continuations))
        common = _common_prefix(prefixes)
        out = self._forward(
            input_ids=torch.tensor([context + list(common)], dtype=torch.long, device=self.device),
            use_cache=True,
            logits_to_keep=len(common) + 1,  # the positions that predict continuation tokens
        )
        # row j predicts the token after the context and the shared tokens' first j
        head = F.log_softmax(out.logits[0], dim=-1, dtype=self.softmax_dtype)
        cache = out.past_key_values
        steps = {prefix: head for prefix in prefixes if len(prefix) == len(common)}
        rest = [prefix for prefix in prefixes if len(prefix) > len(common)]
        chunks = list(_chunks(rest, batch or len(rest) or 1))
        start = len(context) + len(common) + offset
        for n, chunk in enumerate(chunks):
            # a pass extends the cache it is given, and a batch repeats it: the last chunk may take the
            # context's own cache, earlier ones a copy (`crop` differs across transformers versions)
            shared = cache if n == len(chunks) - 1 else copy.deepcopy(cache)
            tails = [prefix[len(common) :] for prefix in chunk]
            for prefix, logp in zip(chunk, self._run_prefixes(start, shared, tails)):
                steps[prefix] = torch.cat([head, logp])
        answers = []
        for cont in continuations:
            # row j predicts the continuation's token j
            target = torch.tensor(cont, device=self.device)
            rows = steps[tuple(cont[:-1])]
            token_logp = rows.gather(1, target.unsqueeze(1)).squeeze(1)
            answers.append((float(token_logp.sum()), bool((rows.argmax(-1) == target).all())))
        return answers

    def _run_prefixes(self, start: int, cache, prefixes: list[tuple[int, ...]]) -> list[torch.Tensor]:
        """Log-probabilities after each prefix's tokens, on the context's cache, as one right-padded batch."""
        width = max(len(p) for p in prefixes)
        if len(prefixes) > 1:
            cache.batch_repeat_interleave(len(prefixes))
        # right padding, no mask: a real token never attends to a later pad
        ids = torch.tensor([list(p) + [p[-1]] * (width - len(p)) for p in prefixes], device=self.device)
        positions = torch.arange(start, start + width, device=self.device).expand(len(prefixes), width)
        logits = self._forward(
            input_ids=ids, position_ids=positions, past_key_values=cache, use_cache=True
        ).logits
        logp = F.log_softmax(logits, dim=-1, dtype=self.softmax_dtype)
        return [logp[k, : len(p)] for k, p in enumerate(prefixes)]


def _common_prefix(prefixes: list[tuple[int, ...]]) -> tuple[int, ...]:
    shortest = min(prefixes, key=len)
    for j, token in enumerate(shortest):
        if any(prefix[j] != token for prefix in prefixes):
            return shortest[:j]
    return shortest


def _chunks(items: list[tuple[int, ...]], size: int) -> Iterator[list[tuple[int, ...]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
