"""The training loss: summed cross-entropy over the answer tokens only."""

from __future__ import annotations

import inspect

from .data import IGNORE


def keeps_logits(model) -> bool:
    return "logits_to_keep" in inspect.signature(model.get_base_model().forward).parameters


def loss_sum(model, batch: dict | list[dict], keep_logits: bool):
    """Summed cross-entropy over the labelled (answer) tokens of a batch, and their count. A batch is a
    dict of padded examples, or a list of packs (training.packing.collate_packed): each pack's prefix is
    run once and its blocks on its cached keys and values.

    Only the positions that predict a labelled token go through the LM head (`logits_to_keep`): for
    QA that is a few positions out of ~1,000, which saves the head's compute and its logits' memory.
    """
    if isinstance(batch, list):
        sums = [_pack_loss_sum(model, pack, keep_logits) for pack in batch]
        return sum(loss for loss, _ in sums), sum(n for _, n in sums)
    # Right padding (training's) needs no mask under causal attention: a real token only sees earlier
    # positions, all real, and the padding's own outputs carry no label. Without a mask SDPA takes its
    # fused causal kernel instead of materialising a (batch, heads, length, length) mask: same loss,
    # several times faster attention on ~1,000-token prompts.
    mask = batch["attention_mask"]
    right_padded = bool((mask[:, 1:] <= mask[:, :-1]).all())
    kwargs = {"input_ids": batch["input_ids"], "attention_mask": None if right_padded else mask}
    return _summed(model, kwargs, batch["labels"], keep_logits)


def _pack_loss_sum(model, pack: dict, keep_logits: bool):
    """One pack: the prefix through the model once (causal, its keys and values kept), then its blocks as
    a batch on that cache, each block on its own copy of it (right-padded blocks need no mask)."""
    kwargs = {"input_ids": pack["input_ids"], "position_ids": pack["position_ids"]}
    if pack["prefix_ids"].shape[1]:  # else (a one-token prompt) each block is its whole example
        head = {"logits_to_keep": 1} if keep_logits else {}  # the prefix's logits are never used
        cache = model(input_ids=pack["prefix_ids"], use_cache=True, **head).past_key_values
        cache.batch_repeat_interleave(len(pack["input_ids"]))
        kwargs["past_key_values"] = cache
    return _summed(model, kwargs, pack["labels"], keep_logits)


def _summed(model, kwargs: dict, labels, keep_logits: bool):
    import torch
    import torch.nn.functional as F

    shifted = labels[:, 1:]
    positions = (shifted != IGNORE).any(0).nonzero().squeeze(1)
    if keep_logits:
        logits = model(**kwargs, logits_to_keep=positions).logits
    else:
        logits = model(**kwargs).logits[:, positions]
    targets = shifted[:, positions]
    # bf16 logits are upcast for the softmax; float64 ones (the packing equivalence test's) stay float64
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        targets.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )
    return loss, int((targets != IGNORE).sum())
