"""The training loss: summed cross-entropy over the answer tokens only."""

from __future__ import annotations

import inspect

from .data import IGNORE


def keeps_logits(model) -> bool:
    return "logits_to_keep" in inspect.signature(model.get_base_model().forward).parameters


def loss_sum(model, batch: dict, keep_logits: bool):
    """Summed cross-entropy over the labelled (answer) tokens of a batch, and their count. A packed
    batch (training.packing: a 4-D attention mask and position ids) is run with both as given.

    Only the positions that predict a labelled token go through the LM head (`logits_to_keep`): for
    QA that is a few positions out of ~1,000, which saves the head's compute and its logits' memory.
    """
    shifted = batch["labels"][:, 1:]
    positions = (shifted != IGNORE).any(0).nonzero().squeeze(1)
    mask = batch["attention_mask"]
    if mask.dim() == 4:  # packed (training.packing): its block mask and positions, as given
        kwargs = {
            "input_ids": batch["input_ids"],
            "attention_mask": mask,
            "position_ids": batch["position_ids"],
        }
        return _summed(model, kwargs, shifted, positions, keep_logits)
    # Right padding (training's) needs no mask under causal attention: a real token only sees earlier
    # positions, all real, and the padding's own outputs carry no label. Without a mask SDPA takes its
    # fused causal kernel instead of materialising a (batch, heads, length, length) mask: same loss,
    # several times faster attention on ~1,000-token prompts.
    right_padded = bool((mask[:, 1:] <= mask[:, :-1]).all())
    kwargs = {"input_ids": batch["input_ids"], "attention_mask": None if right_padded else mask}
    return _summed(model, kwargs, shifted, positions, keep_logits)


def _summed(model, kwargs: dict, shifted, positions, keep_logits: bool):
    import torch
    import torch.nn.functional as F

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
