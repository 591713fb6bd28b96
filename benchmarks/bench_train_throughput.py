"""Training throughput (and, with `--learn`, whether training learns), on the demo benchmark.

    python benchmarks/bench_train_throughput.py                 # tokens/s: ours vs the paper's config
    python benchmarks/bench_train_throughput.py --learn         # accuracy before/after LoRA, wall time
    python benchmarks/bench_train_throughput.py --packing --data data/demo [--smollm2]
                                                                # answers/s: packed vs unpacked

Throughput: the same examples (SMD-length prompts of the demo, tiny backbone, CPU, float32) are
trained through one pass each way; tokens/s counts real (non-padding) tokens.
  ours:  length-grouped batches of `--batch` examples, LM head only on the answer positions
  paper: batch 2, plain shuffled batches (no length grouping, no packing), full logits
With CUDA, the Qwen2.5-7B architecture (built from its config with random weights: nothing is
downloaded) is timed too, bf16 + SDPA + LoRA on SMD-length sequences: tokens/s, peak memory and the
projected hours of a 5-epoch QA run on the paper's data size.

Packing (`--packing`): answers (questions or captions) per second of shared-prefix packing against
separate examples (harness.train.packing), on the same examples of the same docs (a folder of the
demo's datasets: <data>/babel_qa/docs/v5_top3 and <data>/humanml3d/docs/v5_top3, the first
`--motions-timed` motions of each training split), the same steps (`--batch` x `--accum` answers each,
the paper's 2 x 4), the LM head on the answer positions only both ways, timed in one process as
alternating passes A B A B (`--reps` each; the rate of each is its answers over its summed time, so a
noisy neighbour on a shared machine hits both), on the tiny backbone (`--tiny`, default
`models/tiny`) and, with `--smollm2`, the smollm2-135m backbone converted from its wheel. The paper's
projected GPU-hours scale by the measured ratio.

Learning: LoRA-train the tiny backbone on the demo's BABEL-QA train split and report test accuracy
before and after, both by the paper's protocol (greedy generation + answer extraction) and by option-
letter log-likelihood (as `smd_babel_qa_mc`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PRESET = "v5_top3"


def build_demo(root: Path, n_motions: int) -> dict:
    """A demo benchmark with v5_top3 QA docs and a tiny backbone (512-token vocabulary)."""
    from harness.data import docs_path
    from harness.data.build_smd import main as build_smd
    from harness.data.prompt_docs import main as make_docs
    from harness.data.qa_options import main as make_options
    from harness.demo.generate import generate_demo
    from harness.models.tiny import TinyConfig, build_tiny_backbone, corpus_from_docs

    qa = root / "babel_qa"
    if not docs_path(qa, PRESET, "test").is_file():
        generate_demo(root, n_motions=n_motions, seed=3)
        build_smd([str(qa), "--variants", PRESET, "--workers", str(os.cpu_count() or 1)])
        make_options([str(qa)])
        make_docs([str(qa), "--variant", PRESET])
    model = root / "tiny"
    if not (model / "config.json").is_file():
        corpus = corpus_from_docs([docs_path(qa, PRESET, "train")])
        build_tiny_backbone(model, corpus, TinyConfig(vocab_size=512))
    return {"model": model, **{s: docs_path(qa, PRESET, s) for s in ("train", "val", "test")}}


def _lora_model(path, cfg, dtype=None):
    from transformers import AutoModelForCausalLM

    from harness.models import Backbone
    from harness.train.loop import add_lora

    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation="sdpa")
    return add_lora(model, cfg, Backbone(name=str(path), path=str(path)))


def time_steps(model, examples, steps, pad_id: int, packed: bool, device="cpu") -> dict:
    """Train through `steps` (windows of micro-batches: of example indices, or of packs when `packed`),
    one optimizer step each, the loss the token-mean over the step (as harness.train.loop); answers/s."""
    import torch

    from harness.train.data import IGNORE, collate
    from harness.train.loop import loss_sum
    from harness.train.packing import collate_packed, pack_length

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()
    answers = tokens = 0
    start = time.perf_counter()
    for window in steps:
        members = [i for micro in window for u in micro for i in (u if packed else (u,))]
        n_tokens = sum(x != IGNORE for i in members for x in examples[i].labels[1:])
        for micro in window:
            if packed:
                packs = collate_packed(examples, micro, pad_id)
                batch = [{k: v.to(device) for k, v in t.items()} for t in packs]
                tokens += sum(pack_length([examples[i] for i in pack]) for pack in micro)
            else:
                batch = collate([examples[i] for i in micro], pad_id)
                tokens += int(batch["attention_mask"].sum())
                batch = {k: v.to(device) for k, v in batch.items()}
            loss, _ = loss_sum(model, batch, True)
            (loss / n_tokens).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        answers += len(members)
    if device != "cpu":
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    return {"answers": answers, "tokens": tokens, "wall_s": wall}


def packing_side_by_side(path, docs_path, *, qa_target: str, motions: int, batch: int, accum: int, reps: int):
    """Answers/s of packed and unpacked training on the same examples, alternating A B A B."""
    import torch
    from transformers import AutoTokenizer

    from harness.core import read_jsonl
    from harness.train import TrainConfig
    from harness.train.data import build_examples, epoch_batches
    from harness.train.packing import epoch_steps
    from harness.train.packing import motions as by_motion

    tokenizer = AutoTokenizer.from_pretrained(path)
    docs = read_jsonl(docs_path)
    examples, _ = build_examples(tokenizer, docs, max_length=100_000, qa_target=qa_target)
    keep = [i for g in by_motion(examples)[:motions] for i in g]
    examples = [examples[i] for i in keep]
    cfg = TrainConfig(lora_dropout=0.0)
    torch.manual_seed(0)
    model = _lora_model(path, cfg, dtype=torch.float32)
    unpacked = epoch_batches([len(e) for e in examples], batch, seed=0, epoch=0)
    plan = {
        "unpacked": [unpacked[i : i + accum] for i in range(0, len(unpacked), accum)],
        "packed": epoch_steps(examples, answers=batch * accum, batch_size=batch, seed=0, epoch=0),
    }
    pad = tokenizer.pad_token_id
    time_steps(model, examples, plan["packed"][:1], pad, True)  # warm-up
    time_steps(model, examples, plan["unpacked"][:1], pad, False)
    runs = {name: [] for name in plan}
    for _ in range(reps):
        for name in ("unpacked", "packed"):
            runs[name].append(time_steps(model, examples, plan[name], pad, name == "packed"))
    out = {}
    for name, parts in runs.items():
        wall = sum(r["wall_s"] for r in parts)
        out[name] = {
            "answers_per_s": sum(r["answers"] for r in parts) / wall,
            "tokens_per_pass": parts[0]["tokens"],
            "passes_s": [round(r["wall_s"], 1) for r in parts],
        }
    out["ratio"] = out["packed"]["answers_per_s"] / out["unpacked"]["answers_per_s"]
    out["answers"] = len(examples)
    out["motions"] = min(motions, len(by_motion(examples)))
    out["sequences_per_pass"] = {
        "unpacked": len(examples), "packed": sum(len(m) for s in plan["packed"] for m in s)
    }  # fmt: skip
    return out


def packing_report(args) -> int:
    import torch

    from harness.data import docs_path

    backbones = [("tiny", args.tiny)]
    if args.smollm2:
        from harness.models.gguf import SOURCES, convert_gguf, locate_gguf

        folder = args.work / "smollm2-135m" if args.work else Path(tempfile.mkdtemp()) / "smollm2-135m"
        if not (folder / "config.json").is_file():
            convert_gguf(locate_gguf(SOURCES["smollm2-135m"]), SOURCES["smollm2-135m"], folder)
        backbones.append(("smollm2-135m", folder))
    cases = [("qa letter", "babel_qa", "letter", args.pack_batch, args.accum)]
    cases += [("qa cloze", "babel_qa", "text", args.pack_batch, args.accum)] * args.cloze
    cases += [("captions", "humanml3d", "letter", 1, args.pack_batch * args.accum)]  # the paper's 1 x 8
    print(f"torch threads {torch.get_num_threads()}, cpu cores {os.cpu_count()}; A B A B x {args.reps}")
    print("| backbone | docs | answers | unpacked answers/s | packed answers/s | ratio | tokens/pass (u/p) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, path in backbones:
        for what, dataset, target, batch, accum in cases:
            docs = docs_path(args.data / dataset, PRESET, "train")
            if not docs.is_file():
                print(f"| {name} | {what} | no docs at {docs} | | | | |")
                continue
            motions = args.motions_timed if name == "tiny" else args.smollm2_motions
            r = packing_side_by_side(
                path, docs, qa_target=target, motions=motions, batch=batch, accum=accum, reps=args.reps
            )
            u, p = r["unpacked"], r["packed"]
            print(
                f"| {name} | {what} ({r['motions']} motions, {batch} x {accum}) | {r['answers']} | "
                f"{u['answers_per_s']:.2f} | {p['answers_per_s']:.2f} | {r['ratio']:.2f}x | "
                f"{u['tokens_per_pass']:,} / {p['tokens_per_pass']:,} |",
                flush=True,
            )
            if what == "qa letter" or what == "captions":
                task = "qa" if dataset == "babel_qa" else "caption"
                hours = PAPER_PROJECTED[task]
                print(f"|   | paper {task} GPU-hours ~{hours:.0f} unpacked -> ~{hours / r['ratio']:.1f} "
                      "packed (the ratio applied) | | | | | |")  # fmt: skip
    return 0


# the paper's reported training cost per backbone on one H200 (benchmarks/gpu_check.py PAPER_HOURS)
PAPER_PROJECTED = {"qa": 7.0, "caption": 20.0}


def time_pass(model, examples, batches, pad_id, keep_logits: bool, device="cpu", accum: int = 1) -> dict:
    """Train through `batches`, one optimizer step per `accum` batches; real tokens per second."""
    import torch

    from harness.train.data import collate
    from harness.train.loop import loss_sum

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()
    tokens = padded = 0
    start = time.perf_counter()
    for j, b in enumerate(batches):
        batch = {k: v.to(device) for k, v in collate([examples[i] for i in b], pad_id).items()}
        loss, n = loss_sum(model, batch, keep_logits)
        (loss / max(n, 1)).backward()
        if (j + 1) % accum == 0 or j == len(batches) - 1:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        tokens += int(batch["attention_mask"].sum())
        padded += batch["attention_mask"].numel()
    if device != "cpu":
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    return {
        "tokens": tokens,
        "padding_frac": 1 - tokens / padded,
        "wall_s": wall,
        "tokens_per_s": tokens / wall,
    }


def throughput(demo: dict, batch: int, n_examples: int) -> dict:
    import torch
    from transformers import AutoTokenizer

    from harness.core import read_jsonl
    from harness.train import TrainConfig
    from harness.train.data import build_examples, epoch_batches

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(demo["model"])
    docs = read_jsonl(demo["train"])[:n_examples]
    examples, _ = build_examples(tokenizer, docs, max_length=8192)
    lengths = [len(e) for e in examples]
    cfg = TrainConfig()
    results = {}
    # both take 8 examples per optimizer step: the paper 2 x 4, ours `batch` x (8 // batch)
    for name, size, grouped, keep in (("paper", 2, False, False), ("ours", batch, True, True)):
        model = _lora_model(demo["model"], cfg, dtype=torch.float32)
        batches = epoch_batches(lengths, size, seed=0, epoch=0, group_by_length=grouped)
        accum = max(1, 8 // size)
        time_pass(model, examples, batches[:2], tokenizer.pad_token_id, keep)  # warm-up
        results[name] = {
            "batch": f"{size} x {accum}",
            "length_grouped": grouped,
            "answer_logits_only": keep,
            **time_pass(model, examples, batches, tokenizer.pad_token_id, keep, accum=accum),
        }
    results["ratio"] = results["ours"]["tokens_per_s"] / results["paper"]["tokens_per_s"]
    results["examples"] = len(examples)
    results["mean_tokens"] = sum(lengths) / len(lengths)
    results["lengths"] = lengths
    return results


def gpu_7b(lengths: list[int], batch: int, steps: int = 10) -> dict:
    """Qwen2.5-7B architecture with random weights on the GPU: bf16, SDPA, LoRA, grouped batches."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from harness.models import Backbone
    from harness.train import TrainConfig
    from harness.train.data import IGNORE, Example, epoch_batches
    from harness.train.loop import add_lora

    config = Qwen2Config(  # Qwen/Qwen2.5-7B-Instruct config.json
        vocab_size=152064,
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        max_position_embeddings=32768,
        rope_theta=1e6,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model = add_lora(model, TrainConfig(), Backbone(name="qwen2.5-7b", path="-"))
    g = torch.Generator().manual_seed(0)
    examples = []
    for n in lengths:
        ids = torch.randint(0, config.vocab_size, (n,), generator=g).tolist()
        examples.append(Example("", tuple(ids), tuple([IGNORE] * (n - 2) + ids[-2:]), n - 2))
    batches = epoch_batches(lengths, batch, seed=0, epoch=0)[:steps]
    torch.cuda.reset_peak_memory_stats()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        time_pass(model, examples, batches[:1], 0, True, device="cuda")
        res = time_pass(model, examples, batches[1:], 0, True, device="cuda")
    res["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
    # paper QA size: BABEL-QA + HuMMan-QA training questions (~18k) x ~mean tokens, 5 epochs
    n_questions = 18_000
    res["projected_qa_hours"] = n_questions * (sum(lengths) / len(lengths)) * 5 / res["tokens_per_s"] / 3600
    return res


def learn(demo: dict, out: Path, epochs: int, lr: float) -> dict:
    from accelerate import Accelerator
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.core import read_jsonl
    from harness.train import TrainConfig
    from harness.train.loop import qa_accuracy
    from harness.train.main import TrainRequest, run_training

    start = time.perf_counter()
    record = run_training(
        TrainRequest(
            "qa",
            (demo["train"],),
            (demo["val"],),
            str(demo["model"]),
            out,
            overrides={"epochs": epochs, "lr": lr, "modules_to_save": ["norm", "lm_head"]},
        )
    )
    train_s = time.perf_counter() - start
    tokenizer = AutoTokenizer.from_pretrained(demo["model"])
    test = read_jsonl(demo["test"])
    acc = Accelerator(cpu=True)
    cfg = TrainConfig(val_batch_size=16)
    report = {
        "train_wall_s": round(train_s, 1),
        "test_questions": len(test),
        "epochs": epochs,
        "lr": lr,
        "best_epoch": record["best"]["epoch"],
        "history": record["history"],
    }
    for name in ("untrained", "trained"):
        model = AutoModelForCausalLM.from_pretrained(demo["model"])
        if name == "trained":
            model = PeftModel.from_pretrained(model, out / "best")
        model.eval()
        gen = qa_accuracy(model, tokenizer, test, cfg, {}, 8192, acc)
        report[name] = {
            "gen_acc": gen["val_acc"],
            "gen_invalid": gen["val_invalid_rate"],
            "letter_ll_acc": letter_accuracy(model, tokenizer, test),
        }
    report["chance"] = sum(1 / len(d["options"]) for d in test) / len(test)
    return report


def letter_accuracy(model, tokenizer, docs) -> float:
    """Accuracy of the option letter with the highest log-likelihood after the prompt (one pass each)."""
    import torch

    from harness.data import LETTERS, render_prompt

    letter_ids = [tokenizer(x, add_special_tokens=False)["input_ids"][0] for x in LETTERS]
    correct = 0
    with torch.no_grad():
        for doc in docs:
            ids = tokenizer(render_prompt(tokenizer, doc), add_special_tokens=False)["input_ids"]
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
            scores = logits[letter_ids[: len(doc["options"])]]
            correct += int(int(scores.argmax()) == doc["answer_idx"])
    return correct / len(docs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder for the demo (default: a temporary one)")
    parser.add_argument("--motions", type=int, default=200, help="demo size (default 200)")
    parser.add_argument("--batch", type=int, default=8, help="our batch size (default 8)")
    parser.add_argument("--examples", type=int, default=96, help="examples timed per configuration")
    parser.add_argument("--learn", action="store_true", help="train and report accuracy before/after")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=5e-3, help="learning rate of the --learn run")
    parser.add_argument("--packing", action="store_true", help="answers/s, packed vs unpacked")
    parser.add_argument("--data", type=Path, default=Path("data/demo"), help="--packing: datasets folder")
    parser.add_argument("--tiny", type=Path, default=Path("models/tiny"), help="--packing: tiny backbone")
    parser.add_argument("--smollm2", action="store_true", help="--packing: smollm2-135m too")
    parser.add_argument("--motions-timed", type=int, default=24, help="--packing: motions per pass (tiny)")
    parser.add_argument("--smollm2-motions", type=int, default=3, help="--packing: motions (smollm2)")
    parser.add_argument("--pack-batch", type=int, default=2, help="--packing: batch (paper QA: 2)")
    parser.add_argument("--accum", type=int, default=4, help="--packing: grad-accum (paper QA: 4)")
    parser.add_argument("--reps", type=int, default=2, help="--packing: A B passes each")
    parser.add_argument("--cloze", type=int, default=0, choices=(0, 1), help="--packing: cloze target too")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.packing:
        return packing_report(args)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        t0 = time.perf_counter()
        demo = build_demo(work, args.motions)
        print(f"demo ({args.motions} motions) ready in {time.perf_counter() - t0:.1f}s")
        import torch

        print(f"torch threads: {torch.get_num_threads()}, cpu cores: {os.cpu_count()}")
        if args.learn:
            report = learn(demo, work / "run", args.epochs, args.lr)
            print(json.dumps(report, indent=1))
            u, t = report["untrained"], report["trained"]
            print(f"test accuracy (generation): untrained {u['gen_acc']:.3f} -> trained {t['gen_acc']:.3f}")
            print(
                f"test accuracy (letter ll):  untrained {u['letter_ll_acc']:.3f} -> "
                f"trained {t['letter_ll_acc']:.3f}"
            )
            print(f"chance {report['chance']:.3f}; training wall time {report['train_wall_s']}s")
            return 0
        res = throughput(demo, args.batch, args.examples)
        for name in ("paper", "ours"):
            r = res[name]
            print(
                f"{name:5s}: batch {r['batch']}, grouped {r['length_grouped']}, answer-only head "
                f"{r['answer_logits_only']}: {r['tokens_per_s']:,.0f} tokens/s, "
                f"padding {r['padding_frac']:.1%}"
            )
        print(
            f"ratio ours/paper: {res['ratio']:.2f}x "
            f"({res['examples']} examples, mean {res['mean_tokens']:.0f} tokens)"
        )
        if torch.cuda.is_available():
            g = gpu_7b(res["lengths"], batch=4)
            print(
                f"Qwen2.5-7B arch (random weights), bf16+LoRA: {g['tokens_per_s']:,.0f} tokens/s, "
                f"peak {g['peak_mem_gib']:.1f} GiB, projected QA run {g['projected_qa_hours']:.1f} h"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
