"""Validation after each epoch: QA accuracy through the lm-eval tasks' answer extraction (greedy
generation), caption loss on the answer tokens; and which epoch is the best."""

from __future__ import annotations

import math

from ..lm_eval_tasks import extract_option
from ..prompts import render_prompt
from .config import TrainConfig
from .data import Example, collate
from .loss import loss_sum


def qa_accuracy(
    model, tokenizer, docs: list[dict], cfg: TrainConfig, chat_kwargs: dict, max_length: int, accelerator
) -> dict:
    """Accuracy by greedy generation of a few tokens and the lm-eval tasks' answer extraction."""
    import torch

    prompts = []
    for doc in docs:
        ids = tokenizer(render_prompt(tokenizer, doc, chat_kwargs), add_special_tokens=False)["input_ids"]
        if len(ids) + cfg.val_max_new_tokens <= max_length:
            prompts.append((doc, ids))
    prompts.sort(key=lambda p: len(p[1]))  # similar lengths per batch: little left padding
    mine = prompts[accelerator.process_index :: accelerator.num_processes]
    net = accelerator.unwrap_model(model)
    net.eval()
    correct = invalid = 0
    with torch.no_grad():
        for i in range(0, len(mine), cfg.val_batch_size):
            chunk = mine[i : i + cfg.val_batch_size]
            batch = collate(
                [Example("", tuple(ids), tuple(ids), len(ids)) for _, ids in chunk],
                tokenizer.pad_token_id,
                left=True,
            )
            generated = net.generate(
                input_ids=batch["input_ids"].to(accelerator.device),
                attention_mask=batch["attention_mask"].to(accelerator.device),
                max_new_tokens=cfg.val_max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            width = batch["input_ids"].shape[1]
            for (doc, _), row in zip(chunk, generated[:, width:], strict=True):
                text = tokenizer.decode(row, skip_special_tokens=True).split("\n\n")[0]  # the task's stop
                idx = extract_option(text, doc["options"])
                correct += int(idx == doc["answer_idx"])
                invalid += int(idx is None)
    net.train()
    totals = accelerator.reduce(torch.tensor([correct, invalid, len(mine)], device=accelerator.device), "sum")
    correct, invalid, n = (int(x) for x in totals.tolist())
    return {
        "val_acc": correct / n if n else float("nan"),
        "val_invalid_rate": invalid / n if n else 0.0,
        "val_n": n,
    }


def mean_loss(model, examples: list[Example], cfg: TrainConfig, pad_id: int, accelerator, keep: bool) -> dict:
    """Token-mean loss over the answer tokens of the validation examples."""
    import torch

    order = sorted(range(len(examples)), key=lambda i: len(examples[i]))
    mine = order[accelerator.process_index :: accelerator.num_processes]
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(mine), cfg.val_batch_size):
            batch = collate([examples[j] for j in mine[i : i + cfg.val_batch_size]], pad_id)
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            loss, n = loss_sum(model, batch, keep)
            total, count = total + float(loss), count + n
    model.train()
    totals = accelerator.reduce(torch.tensor([total, float(count)], device=accelerator.device), "sum")
    total, count = totals.tolist()
    return {"val_loss": total / count if count else float("nan"), "val_n": int(count)}


def better(task: str, metrics: dict, best: dict | None) -> bool:
    key = "val_acc" if task == "qa" else "val_loss"
    value = metrics.get(key)
    if value is None or math.isnan(value):
        return best is None
    if best is None or best.get(key) is None or math.isnan(best[key]):
        return True
    return value > best[key] if task == "qa" else value < best[key]
