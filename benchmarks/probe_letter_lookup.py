"""Can the tiny backbone learn to map an option's text to its letter, and how fast? (issue 5's open point)

    python benchmarks/probe_letter_lookup.py                    # both drills, 3,000 steps each
    python benchmarks/probe_letter_lookup.py --qa   # then LoRA on the demo QA from the drilled model

Answering a 10-option question needs, besides knowing the answer, finding the letter in front of its
text ("B. forward"). This probe trains the tiny backbone in full (no LoRA) on that lookup alone, with
random words from the SMD corpus as options, in two formats side by side:
  list:   "A. w1\\nB. w2\\n..." then 8 queries "w -> letter", loss on every query (dense; short sequences)
  prompt: the demo's QA prompt (its SMD left out, to keep it short) through the chat template with
          "Which option is w" as the question, one target per sequence (what QA training supervises)
and prints accuracy every `--every` steps against the chance level of the option counts. With `--qa`,
the list-drilled model is LoRA-trained on the demo's BABEL-QA train split (the tiny backbone's
`params.yaml` settings) and its test accuracy is reported next to the undrilled tiny backbone's.
Needs the demo's prompt docs and tiny backbone (`dvc repro`), or `--docs` / `--backbone`.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import REPO  # noqa: E402

N_QUERIES = 8


def corpus_words(tokenizer, docs: list[dict]) -> list[int]:
    """Token ids of the corpus words that are one token after a space, as option texts are."""
    words = {w for d in docs for w in re.findall(r"[A-Za-z]+", d["smd"] + " " + " ".join(d["options"]))}
    ids = {w: tokenizer(" " + w, add_special_tokens=False)["input_ids"] for w in sorted(words)}
    return sorted({t[0] for t in ids.values() if len(t) == 1})


def list_batch(rng, tokenizer, words, letters, batch):
    """Dense drill: an option list, then N_QUERIES (word, letter) pairs; loss on each letter."""
    dot, newline = (tokenizer(s, add_special_tokens=False)["input_ids"][0] for s in (".", "\n"))
    width = 4 * len(letters) + 2 * N_QUERIES
    rows, labels = [], []
    for _ in range(batch):
        k = rng.randint(2, len(letters))
        options = rng.sample(words, k)
        ids = [t for i, w in enumerate(options) for t in (letters[i], dot, w, newline)]
        lab = [-100] * len(ids)
        for _ in range(N_QUERIES):
            i = rng.randrange(k)
            ids += [options[i], letters[i]]
            lab += [letters[i], -100]
        rows.append(ids + [newline] * (width - len(ids)))
        labels.append(lab + [-100] * (width - len(lab)))
    return rows, labels


def prompt_batch(rng, tokenizer, words, letters, batch, docs):
    """QA-format drill: the demo prompt (SMD kept) with "Which option is w"; loss on the one letter."""
    from harness.data import render_prompt

    rows, labels = [], []
    for _ in range(batch):
        doc = dict(rng.choice(docs), smd="")  # without the SMD: short sequences, the lookup alone
        k = len(doc["options"])
        options = [tokenizer.decode([t]).strip() for t in rng.sample(words, k)]
        gold = rng.randrange(k)
        doc.update(options=options, answer_idx=gold, question=f"Which option is {options[gold]}?")
        ids = tokenizer(render_prompt(tokenizer, doc), add_special_tokens=False)["input_ids"]
        rows.append(ids + [letters[gold]])
        labels.append([-100] * len(ids) + [letters[gold]])
    width = max(map(len, rows))
    pad = tokenizer.pad_token_id
    return [r + [pad] * (width - len(r)) for r in rows], [lab + [-100] * (width - len(lab)) for lab in labels]


def drill(backbone: Path, make_batch, steps: int, every: int, lr: float, seed: int, save: Path | None):
    """Full training of `backbone` on batches from `make_batch(rng)`; prints accuracy every `every` steps."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    model = AutoModelForCausalLM.from_pretrained(backbone, dtype=torch.float32)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    hits = total = 0
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        rows, labels = make_batch(rng)
        ids, labels = torch.tensor(rows), torch.tensor(labels)
        mask = (ids != tokenizer.pad_token_id).long() if tokenizer.pad_token_id is not None else None
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
        target = labels[:, 1:]
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=-100)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        scored = target != -100
        hits += int((logits.argmax(-1)[scored] == target[scored]).sum())
        total += int(scored.sum())
        if step % every == 0:
            print(f"  step {step:5d}  acc {hits / total:.3f}  ({time.perf_counter() - t0:.0f} s)", flush=True)
            hits = total = 0
    if save is not None:
        model.save_pretrained(save)
        tokenizer.save_pretrained(save)


def qa_after_drill(drilled: Path, backbone: Path, docs_dir: Path, work: Path) -> None:
    """LoRA-train each model on the demo QA train split (tiny settings); test accuracy before and after."""
    from accelerate import Accelerator
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.core import read_jsonl
    from harness.models import get_backbone
    from harness.train import TrainConfig
    from harness.train.main import TrainRequest, run_training
    from harness.train.validation import qa_accuracy

    # the settings `dvc repro` trains the tiny backbone with (params.yaml), on either model folder
    tiny = get_backbone("tiny", REPO / "params.yaml")
    overrides = {k: v for k, v in tiny.train.items() if k not in ("qa", "caption")}
    overrides.update(tiny.train.get("qa") or {}, modules_to_save=list(tiny.modules_to_save), save_every=10**6)
    test = read_jsonl(docs_dir / "test.jsonl")
    for name, model_dir in (("tiny", backbone), ("tiny + lookup drill", drilled)):
        record = run_training(
            TrainRequest(
                "qa",
                (docs_dir / "train.jsonl",),
                (docs_dir / "val.jsonl",),
                str(model_dir),
                work / name.replace(" ", "_"),
                overrides=overrides,
            )
        )
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        for label, adapter in (("untrained", None), ("LoRA", work / name.replace(" ", "_") / "best")):
            model = AutoModelForCausalLM.from_pretrained(model_dir)
            model = PeftModel.from_pretrained(model, adapter) if adapter else model
            result = qa_accuracy(
                model.eval(), tokenizer, test, TrainConfig(val_batch_size=16), {}, 8192, Accelerator(cpu=True)
            )
            acc, invalid = result["val_acc"], result["val_invalid_rate"]
            print(f"{name:22s} {label:9s} test acc {acc:.3f}  invalid {invalid:.3f}")
        print("  val history:", json.dumps([round(h["val_acc"], 3) for h in record["history"]]))


def main() -> None:
    from transformers import AutoTokenizer

    from harness.core import read_jsonl
    from harness.data import LETTERS

    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--backbone", type=Path, default=REPO / "models" / "tiny")
    parser.add_argument("--docs", type=Path, default=REPO / "data/demo/babel_qa/docs/v5_top3")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--formats", nargs="+", default=["list", "prompt"], choices=["list", "prompt"])
    parser.add_argument("--qa", action="store_true", help="then LoRA-train on the demo QA")
    args = parser.parse_args()
    if not (args.backbone / "config.json").is_file():
        parser.error(f"no model at {args.backbone} (run `dvc repro`, or pass --backbone)")
    if not (args.docs / "train.jsonl").is_file():
        parser.error(f"no {args.docs / 'train.jsonl'} (run `dvc repro`, or pass --docs)")
    if args.qa and (missing := [s for s in ("val", "test") if not (args.docs / f"{s}.jsonl").is_file()]):
        parser.error(f"--qa needs {', '.join(f'{s}.jsonl' for s in missing)} in {args.docs}")

    tokenizer = AutoTokenizer.from_pretrained(args.backbone)
    docs = read_jsonl(args.docs / "train.jsonl")
    if not docs or not all("options" in d for d in docs):
        parser.error(f"{args.docs / 'train.jsonl'}: not QA prompt docs (every line needs `options`)")
    words = corpus_words(tokenizer, docs)
    letters = [tokenizer(c, add_special_tokens=False)["input_ids"][0] for c in LETTERS]
    print(f"backbone {args.backbone}; {len(words)} one-token corpus words as options; batch {args.batch}")
    with tempfile.TemporaryDirectory() as tmp:
        drilled = Path(tmp) / "drilled"
        for fmt in args.formats:
            chance = {
                "list": sum(1 / k for k in range(2, 11)) / 9,
                "prompt": sum(1 / len(d["options"]) for d in docs) / len(docs),
            }[fmt]
            print(f"{fmt} drill (chance {chance:.3f}):")
            if fmt == "list":
                make = lambda rng: list_batch(rng, tokenizer, words, letters, args.batch)  # noqa: E731
            else:
                make = lambda rng: prompt_batch(rng, tokenizer, words, letters, args.batch, docs)  # noqa: E731
            save = drilled if fmt == "list" else None
            drill(args.backbone, make, args.steps, args.every, args.lr, args.seed, save)
        if args.qa:
            if "list" not in args.formats:
                parser.error("--qa needs the list drill")
            qa_after_drill(drilled, args.backbone, args.docs, Path(tmp) / "qa")


if __name__ == "__main__":
    main()
