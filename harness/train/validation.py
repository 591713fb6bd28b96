"""Validation after each epoch, measured as the matching lm-eval task scores it: letter QA by greedy
generation and the tasks' answer extraction (`smd_*_qa`), text-target QA the cloze way (argmax of the
options' log-likelihoods, `smd_*_qa_cloze`), captions by loss on the answer tokens; and which epoch is
the best.

Text-target runs are validated by log-likelihood rather than by matching generated text to an option:
the cloze prompt lists no options, so a generated answer may name none of them, and only the cloze
score is the number the run is evaluated on. The prompt runs once and its key/value cache is shared by
the options, so it costs about one forward pass per doc, like generating a few tokens."""

from __future__ import annotations

import math

from harness.data import extract_option, render_prompt

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


def option_logliks(net, prompt_ids: list[int], options_ids: list[list[int]], device) -> list[float]:
    """Summed log-probability of each option's tokens after the prompt: lm-eval's `loglikelihood` of
    (context, option). The prompt's key/value cache is computed once and repeated for the options."""
    import torch

    if not getattr(net, "reuses_prompt_cache", True):  # soft tokens: each option scored in full, as lm-eval
        rows = [prompt_ids + o for o in options_ids]
        ids = torch.tensor([r + [r[-1]] * (max(map(len, rows)) - len(r)) for r in rows], device=device)
        logp = torch.log_softmax(net(input_ids=ids).logits.float(), -1)
        start = len(prompt_ids)
        return [
            sum(float(logp[k, start + j - 1, o[j]]) for j in range(len(o))) for k, o in enumerate(options_ids)
        ]
    out = net(input_ids=torch.tensor([prompt_ids], device=device), use_cache=True)
    first = torch.log_softmax(out.logits[0, -1].float(), -1)
    cache = out.past_key_values
    width = max(len(o) for o in options_ids)
    totals = [float(first[o[0]]) for o in options_ids]
    if width == 1:
        return totals
    cache.batch_repeat_interleave(len(options_ids))
    # right padding: a real token never attends to a later pad, so pads need no mask
    ids = torch.tensor([o + [o[-1]] * (width - len(o)) for o in options_ids], device=device)
    mask = torch.ones((len(options_ids), len(prompt_ids) + width), dtype=torch.long, device=device)
    logp = torch.log_softmax(
        net(input_ids=ids, attention_mask=mask, past_key_values=cache, use_cache=True).logits.float(), -1
    )
    for k, o in enumerate(options_ids):
        totals[k] += sum(float(logp[k, j - 1, o[j]]) for j in range(1, len(o)))
    return totals


def cloze_accuracy(
    model, tokenizer, docs: list[dict], cfg: TrainConfig, chat_kwargs: dict, max_length: int, accelerator
) -> dict:
    """Cloze accuracy (`smd_*_qa_cloze`'s `acc`): the gold option's text has the highest log-likelihood
    after the cloze prompt. Docs whose prompt and longest option exceed the context are left out."""
    import torch

    scored = []
    for doc in docs:
        prompt = render_prompt(tokenizer, doc, chat_kwargs, qa_target="text")
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        options = [tokenizer(o, add_special_tokens=False)["input_ids"] for o in doc["options"]]
        if len(prompt_ids) + max(len(o) for o in options) <= max_length:
            scored.append((doc, prompt_ids, options))
    mine = scored[accelerator.process_index :: accelerator.num_processes]
    net = accelerator.unwrap_model(model)
    net.eval()
    correct = 0
    with torch.no_grad():
        for doc, prompt_ids, options in mine:
            lls = option_logliks(net, prompt_ids, options, accelerator.device)
            best = max(range(len(lls)), key=lambda i: (lls[i], -i))  # first on ties, as lm-eval
            correct += int(best == doc["answer_idx"])
    net.train()
    totals = accelerator.reduce(torch.tensor([correct, len(mine)], device=accelerator.device), "sum")
    correct, n = (int(x) for x in totals.tolist())
    return {"val_acc": correct / n if n else float("nan"), "val_n": n}


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
