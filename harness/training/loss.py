"""The training loss: summed cross-entropy over the answer tokens only."""

from __future__ import annotations

import inspect

from .data import IGNORE


def keeps_logits(model) -> bool:
    return "logits_to_keep" in inspect.signature(model.get_base_model().forward).parameters


def loss_sum(model, batch: dict, keep_logits: bool):
    """Summed cross-entropy over the labelled (answer) tokens of a batch, and their count.

    Only the positions that predict a labelled token go through the LM head (`logits_to_keep`): for
    QA that is a few positions out of ~1,000, which saves the head's compute and its logits' memory.
    """
    import torch.nn.functional as F

    shifted = batch["labels"][:, 1:]
    positions = (shifted != IGNORE).any(0).nonzero().squeeze(1)
    kwargs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if keep_logits:
        logits = model(**kwargs, logits_to_keep=positions).logits
    else:
        logits = model(**kwargs).logits[:, positions]
    targets = shifted[:, positions]
    loss = F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),
        targets.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )
    return loss, int((targets != IGNORE).sum())
