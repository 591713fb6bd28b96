"""Shared-prefix packing: a motion's examples trained together, its SMD prompt encoded once.

The examples of one motion (its questions, or its reference captions) are tokenised separately
(training.data) and share a long first part: the system turn and the SMD. A pack runs that part once,
the `prefix` (the longest common token prefix of the examples, so its tokens are each example's own by
construction), and each example's remaining tokens as a block on top of it:

    prefix     [ 0 .. P-1 ]                        one causal pass; its keys and values are kept (KV cache)
    blocks     [ P .. n1-1 ]  [ P .. n2-1 ]  ...   one batch; each block attends to the cached prefix and
                                                   to itself up to each token, at the positions it has alone

so every token of a block sees the same tokens at the same positions as in its example alone, and the
loss on a block's answer tokens, and its gradients (they flow into the prefix through its cached keys and
values), are the example's (up to float rounding). The prefix stops at least one token before each
example's answer: the answer's first token is predicted from the block's first position. Everything a
question adds to the prompt (QA: the question and options) lies in its block, so a pack costs one SMD plus
~50-100 tokens per question instead of one SMD per question.

Why a cache and not one sequence with a block-diagonal 4-D mask: the prefix pass is plain causal
attention (SDPA's fused kernel, flash on a GPU) and the blocks attend over (block x prefix) only, where a
4-D mask takes attention off the fused kernel over the whole (pack x pack) square: on CPU the masked
path measured about twice the time of the cache on the tiny backbone, and its attention weights, kept for
the backward pass, took smollm2's memory past 13 GB. The cache needs the layers to keep it, which
gradient checkpointing does not (config.packs).

An optimizer step counts answers, not sequences: it takes `batch_size x grad_accum` examples, as an
unpacked step does, so the effective batch and the token-mean loss are the unpacked run's. A motion that
does not fit the rest of a step is split (its first examples in this step, the others in the next, each
part a pack of its own), after looking a few motions ahead for one that fits whole. A step's packs are
run `batch_size` at a time as one micro-batch (one after the other inside it): a pack costs about the
memory of one example plus its short blocks.

Dropout (LoRA's) is the one thing that differs from separate examples: the prefix's dropout draws are
shared by the blocks of a pack instead of drawn per example (the same in expectation).
"""

from __future__ import annotations

from collections.abc import Sequence

from .checkpoints import TrainingError
from .config import PACKING_ATTENTION
from .data import IGNORE, Example

Pack = tuple[int, ...]  # indices of one motion's examples (all of them, or a split-off part)
# motions looked ahead for one that fills a step's remainder whole before a motion is split
LOOKAHEAD = 16


def motions(examples: Sequence[Example]) -> list[Pack]:
    """The examples' indices by motion (`Example.motion`), motions in first-appearance order."""
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        groups.setdefault(e.motion, []).append(i)
    return [tuple(g) for g in groups.values()]


def prefix_length(members: Sequence[Example]) -> int:
    """Tokens the examples share from the start, stopping one before the shortest prompt's end: each
    block then starts with at least the prompt's last token, whose output predicts the answer's first."""
    limit = min(e.n_prompt for e in members) - 1
    first = members[0].input_ids
    n = 0
    while n < limit and all(e.input_ids[n] == first[n] for e in members[1:]):
        n += 1
    return n


def pack_length(members: Sequence[Example]) -> int:
    p = prefix_length(members)
    return p + sum(len(e) - p for e in members)


def epoch_steps(
    examples: Sequence[Example],
    *,
    answers: int,
    batch_size: int,
    seed: int,
    epoch: int,
    group_by_length: bool = True,
) -> list[list[list[Pack]]]:
    """The optimizer steps of one epoch, each a list of micro-batches of at most `batch_size` packs; every
    step but the last holds exactly `answers` examples. A pure function of (seed, epoch), as
    data.epoch_batches, which makes resume exact.

    The motions are shuffled; with `group_by_length`, as data.epoch_batches does with examples, they are
    cut into chunks of 50 steps' worth, each sorted by prefix length (longest first), and the steps are
    shuffled once filled, so a micro-batch holds packs of similar length (little padding). By the
    prefix, the SMD, which is most of a pack, and not by the whole pack's length: that would put motions
    of as many questions side by side, and a step could then rarely be filled without a split.
    """
    import torch

    groups = motions(examples)
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    queue = [groups[i] for i in torch.randperm(len(groups), generator=g).tolist()]
    if group_by_length:
        per_step = max(1, answers * len(groups) // max(1, len(examples)))  # motions per step, about
        mega = per_step * 50
        length = {p: prefix_length([examples[i] for i in p]) for p in queue}
        queue = [
            p
            for s in range(0, len(queue), mega)
            for p in sorted(queue[s : s + mega], key=lambda p: -length[p])
        ]
    steps = _fill(queue, answers)
    if group_by_length:
        steps = [steps[i] for i in torch.randperm(len(steps), generator=g).tolist()]
    return [[step[i : i + batch_size] for i in range(0, len(step), batch_size)] for step in steps]


def _fill(queue: list[Pack], answers: int) -> list[list[Pack]]:
    """Steps of exactly `answers` examples (the last: what is left), from the motions in queue order: a
    step takes the largest of the next LOOKAHEAD motions that fits its remainder whole (the first of
    equals), and splits the next motion when none does."""
    queue, steps = list(queue), []
    while queue:
        room, step = answers, []
        while room and queue:
            sizes = [(len(p), -j) for j, p in enumerate(queue[:LOOKAHEAD]) if len(p) <= room]
            fits = -max(sizes)[1] if sizes else None
            if fits is None:
                step.append(queue[0][:room])
                queue[0] = queue[0][room:]
                room = 0
            else:
                pack = queue.pop(fits)
                step.append(pack)
                room -= len(pack)
        steps.append(step)
    return steps


def collate_packed(examples: Sequence[Example], packs: Sequence[Pack], pad_id: int) -> list[dict]:
    """The tensors of each pack: `prefix_ids` (1, P), the prefix; `input_ids`, `labels` and
    `position_ids` (blocks, L), each block's tokens, its answer labels (-100 on prompt and padding) and its
    positions P.. as in its example alone, right-padded (a padding token comes after every real one, so
    under causal attention no real token sees it, and it carries no label)."""
    import torch

    tensors = []
    for pack in packs:
        members = [examples[i] for i in pack]
        p = prefix_length(members)
        width = max(len(e) for e in members) - p
        input_ids = torch.full((len(members), width), pad_id, dtype=torch.long)
        labels = torch.full((len(members), width), IGNORE, dtype=torch.long)
        for r, e in enumerate(members):
            input_ids[r, : len(e) - p] = torch.tensor(e.input_ids[p:])
            labels[r, : len(e) - p] = torch.tensor(e.labels[p:])
        tensors.append(
            {
                "prefix_ids": torch.tensor([members[0].input_ids[:p]], dtype=torch.long),
                "input_ids": input_ids,
                "labels": labels,
                "position_ids": torch.arange(p, p + width).repeat(len(members), 1),
            }
        )
    return tensors


def check_attention(config) -> None:
    """A model packing can train: its attention implementation is one packed = separate was verified
    with (eager, SDPA: tests/harness/test_train_packing.py), whatever the setting asked for.

    Raises:
        TrainingError: another implementation (flash_attention_2, set by the backbone's own config).
    """
    impl = getattr(config, "_attn_implementation", None)
    if impl not in PACKING_ATTENTION:
        raise TrainingError(
            f"packing shared_prefix is verified exact with {' and '.join(PACKING_ATTENTION)} attention only; "
            f"the model runs {impl}: set train.packing: none"
        )
