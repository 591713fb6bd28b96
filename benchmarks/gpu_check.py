"""The GPU check: the paper's training and evaluation setting timed on one GPU, printed as one table.

    bash benchmarks/gpu_check.sh            # one CUDA GPU (at most 4.5 min), then the smollm2 profile
    bash benchmarks/gpu_check.sh --dry      # the same code on the CPU with a tiny model (~1 min; CI)

1. **Training tokens/s** on the Qwen2.5-7B architecture built from its config with random weights
   (nothing is downloaded; speed does not depend on the weights), bf16, SDPA, LoRA r 16 on all seven
   projections, side by side on the same random-token sequences of the paper's v5 prompt length (~4K
   tokens: uniform in 3,000-5,000, seeded, with a 2-token answer) and the same 8 examples per
   optimizer step:
     paper: batch 2 x grad-accum 4, plain shuffled batches, the LM head over every position;
     ours:  length-grouped batches, the LM head only on the answer positions (packing none);
     packed: `smd train`'s defaults: ours with shared-prefix packing (harness.train.packing): the
            sequences are motions of 2-4 questions (3 on average, about the paper's QA and caption
            data) that share the SMD and differ in an 80-token question block, each motion one
            sequence with its SMD once; the same 8 answers per optimizer step.
   Answers (examples) per second and peak GPU memory of each.
2. **Projected GPU-hours** of the paper's 5 epochs at each measured answer rate, against the paper's reported
   ~7 (QA) and ~20 (captioning) GPU-hours: QA over the official training splits of BABEL-QA (1,800
   questions) and HuMMan-QA (2,066); captioning over HumanML3D's training split (23,384 motions,
   mirrored copies included) at one sample per reference caption (3.08 captions per motion: 44,970
   descriptions of 14,616 motions), all at the mean length timed here. A projection, not a run: the
   captions' real prompts are as long as the QA ones (the SMD dominates both).
3. **lm-eval `_mc` questions/s**: `smd_babel_qa_mc` through lm-eval's own HF model (HFLM, batch 8) on the
   same random model, over v5 docs of the offline demo, with the tiny backbone's byte-level BPE
   tokenizer (its ids fall inside any vocabulary; the prompts' mean token count is printed beside).

`--dry` runs every step on the CPU in float32 with a 2-layer model of the same family, 200-300-token
sequences and 2 optimizer steps: a check that the script works, not a measurement.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_train_throughput import time_pass, time_steps  # noqa: E402

# the paper's reported training cost on one H200 (DESIGN: ~7 GPU-hours QA, ~20 captioning)
PAPER_HOURS = {"qa": 7.0, "caption": 20.0}
EPOCHS = 5
# training examples per epoch: official splits (../shared fixtures: BABEL-QA 1,800 train questions,
# HuMMan-QA 2,066; HumanML3D train.txt 23,384 ids) and HumanML3D's 44,970 descriptions / 14,616 motions
EXAMPLES = {"qa": 1_800 + 2_066, "caption": round(23_384 * 44_970 / 14_616)}
TARGET_RATIO = 3.0  # issue 17: ours >= 3x the paper's configuration


@dataclass(frozen=True)
class Scale:
    """What one run of the check times: the real 7B setting or the --dry stand-in."""

    model: dict  # Qwen2Config arguments
    lengths: tuple[int, int]  # sequence lengths, uniform in [low, high]
    steps: int  # optimizer steps timed per configuration (after one warm-up step)
    mc_docs: int  # questions scored by lm-eval
    device: str
    bf16: bool


QWEN25_7B = {  # Qwen/Qwen2.5-7B-Instruct config.json
    "vocab_size": 152064,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "max_position_embeddings": 32768,
    "rope_theta": 1e6,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
}
# 4 timed steps and 48 questions: with the model built three times, within the 270 s gpu_check.sh gives it
GPU = Scale(QWEN25_7B, (3_000, 5_000), steps=4, mc_docs=48, device="cuda", bf16=True)
DRY = Scale(
    {**QWEN25_7B, "vocab_size": 512, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
     "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 8192},
    (200, 300), steps=2, mc_docs=4, device="cpu", bf16=False,
)  # fmt: skip
EXAMPLES_PER_STEP = 8
CONFIGS = {  # name: (batch, grad-accum, length-grouped, LM head on the answer positions only)
    "paper": (2, 4, False, False),
    "ours": (2, 4, True, True),
}
PACKED = "packed"  # ours + shared-prefix packing, timed on the same examples
QUESTIONS_PER_MOTION = (2, 3, 4, 3)  # cycled: 3 on average (BABEL-QA 2.3, HuMMan-QA 3.4, captions 3.1)
BLOCK = 80  # tokens a question adds after the shared SMD (question, options, chat turns)


def random_model(scale: Scale):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(**scale.model, attn_implementation="sdpa")
    with torch.device(scale.device):
        model = Qwen2ForCausalLM(config)
    return model.to(torch.bfloat16 if scale.bf16 else torch.float32)


def random_examples(scale: Scale, n: int):
    import torch

    from harness.train.data import IGNORE, Example

    g = torch.Generator().manual_seed(0)
    low, high = scale.lengths
    vocab = scale.model["vocab_size"]
    examples, m = [], 0
    while len(examples) < n:  # motions: a shared SMD, then each question's own block and answer
        smd = torch.randint(
            0, vocab, (int(torch.randint(low, high + 1, (1,), generator=g)) - BLOCK,), generator=g
        )
        for _ in range(QUESTIONS_PER_MOTION[m % len(QUESTIONS_PER_MOTION)]):
            ids = smd.tolist() + torch.randint(0, vocab, (BLOCK,), generator=g).tolist()
            labels = tuple([IGNORE] * (len(ids) - 2) + ids[-2:])
            examples.append(Example("", tuple(ids), labels, len(ids) - 2, motion=f"m{m}"))
        m += 1
    examples = examples[:n]
    return examples, [len(e) for e in examples]


def train_rates(scale: Scale) -> dict[str, dict]:
    """Tokens/s and peak memory of each configuration, LoRA on a fresh random model each."""
    import torch

    from harness.models import Backbone
    from harness.train import TrainConfig
    from harness.train.data import epoch_batches
    from harness.train.loop import add_lora
    from harness.train.packing import epoch_steps

    out = {}
    n = EXAMPLES_PER_STEP * (scale.steps + 1)
    examples, lengths = random_examples(scale, n)
    for name, (batch, accum, grouped, answer_only) in [*CONFIGS.items(), (PACKED, CONFIGS["ours"])]:
        assert batch * accum == EXAMPLES_PER_STEP
        model = add_lora(random_model(scale), TrainConfig(), Backbone(name="qwen2.5-7b", path="-"))
        if scale.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        autocast = torch.autocast(scale.device, dtype=torch.bfloat16, enabled=scale.bf16)
        with autocast:
            if name == PACKED:
                steps = epoch_steps(examples, answers=EXAMPLES_PER_STEP, batch_size=batch, seed=0, epoch=0)
                time_steps(model, examples, steps[:1], 0, True, device=scale.device)  # warm-up
                res = time_steps(model, examples, steps[1:], 0, True, device=scale.device)
                res["padding_frac"] = float("nan")
            else:
                batches = epoch_batches(lengths, batch, seed=0, epoch=0, group_by_length=grouped)
                for part in (batches[:accum], batches[accum:]):  # one warm-up step, then the timed ones
                    res = time_pass(model, examples, part, 0, answer_only, device=scale.device, accum=accum)
                res["answers"] = sum(len(b) for b in batches[accum:])
        res["answers_per_s"] = res["answers"] / res["wall_s"]
        cuda = scale.device == "cuda"
        res["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
        res["mean_tokens"] = sum(lengths) / len(lengths)
        out[name] = res
        del model
        if scale.device == "cuda":
            torch.cuda.empty_cache()
    return out


def projected_hours(answers_per_s: float) -> dict[str, float]:
    return {task: EPOCHS * n / answers_per_s / 3600 for task, n in EXAMPLES.items()}


def mc_rate(scale: Scale, work: Path) -> dict:
    """`smd_babel_qa_mc` questions/s through lm-eval's HFLM on the random model, demo v5 docs."""
    import torch
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from harness.core import read_jsonl
    from harness.data import docs_path
    from harness.data.build_smd import main as build_smd
    from harness.data.prompt_docs import main as make_docs
    from harness.data.qa_options import main as make_options
    from harness.demo.generate import generate_demo
    from harness.evaluate.lm_eval_io import tasks_dir
    from harness.evaluate.tasks import prompt_tokens
    from harness.models.tiny import TinyConfig, build_tiny_backbone, corpus_from_docs

    qa = work / "babel_qa"
    generate_demo(work, n_motions=max(12, scale.mc_docs // 2), seed=3)
    assert build_smd([str(qa), "--variants", "v5", "--workers", str(min(os.cpu_count() or 1, 8))]) == 0
    assert make_options([str(qa)]) == 0
    assert make_docs([str(qa), "--variant", "v5"]) == 0
    test = docs_path(qa, "v5", "test")
    tokenizer_dir = build_tiny_backbone(work / "tok", corpus_from_docs([test]), TinyConfig(vocab_size=512))
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    docs = read_jsonl(test)[: scale.mc_docs]
    prompt_lengths = [prompt_tokens(tokenizer, d, "letter") for d in docs]
    model = random_model(scale).eval()
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=8, max_length=8192)
    metadata = {"smd_variant": "v5", "data_root": str(qa)}
    manager = TaskManager(include_path=str(tasks_dir()), include_defaults=False, metadata=metadata)
    if scale.device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    res = simple_evaluate(
        model=lm, tasks=["smd_babel_qa_mc"], task_manager=manager, apply_chat_template=True, limit=len(docs)
    )
    wall = time.perf_counter() - start
    scored = int(res["n-samples"]["smd_babel_qa_mc"]["effective"])
    return {
        "questions": scored,
        "questions_per_s": scored / wall,
        "mean_prompt_tokens": sum(prompt_lengths) / len(prompt_lengths),
        "wall_s": wall,
    }


def report(scale: Scale, train: dict[str, dict], mc: dict) -> str:
    ours, paper, packed = train["ours"], train["paper"], train[PACKED]
    ratio = ours["tokens_per_s"] / paper["tokens_per_s"]
    packed_ratio = packed["answers_per_s"] / ours["answers_per_s"]
    what = (
        "dry run, CPU, tiny model: not a measurement" if scale is DRY else "Qwen2.5-7B, random weights, bf16"
    )
    lines = [
        f"SMD-Bench GPU check ({what})",
        "",
        "| what | paper config | ours | ours + packing | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    row = lines.append
    verdict = "met" if ratio >= TARGET_RATIO else "not met"
    row(f"| training tokens/s | {paper['tokens_per_s']:,.0f} | {ours['tokens_per_s']:,.0f} | | "
        f"ratio {ratio:.2f}x (target >= {TARGET_RATIO:.0f}x: {verdict}) |")  # fmt: skip
    row(f"| training answers/s | {paper['answers_per_s']:,.2f} | {ours['answers_per_s']:,.2f} | "
        f"{packed['answers_per_s']:,.2f} | packed vs unpacked {packed_ratio:.2f}x, paper -> packed "
        f"{packed['answers_per_s'] / paper['answers_per_s']:.2f}x |")  # fmt: skip
    row(f"| padding | {paper['padding_frac']:.1%} | {ours['padding_frac']:.1%} | | "
        f"mean {ours['mean_tokens']:,.0f} tokens |")  # fmt: skip
    peaks = " | ".join(f"{x['peak_gib']:.1f}" for x in (paper, ours, packed))
    row(f"| peak GPU memory (GiB) | {peaks} | |")
    hours = {k: projected_hours(train[k]["answers_per_s"]) for k in ("paper", "ours", PACKED)}
    for task in ("qa", "caption"):
        row(f"| projected {task} GPU-hours ({EPOCHS} epochs, {EXAMPLES[task]:,} examples) | "
            f"{hours['paper'][task]:,.1f} | {hours['ours'][task]:,.1f} | {hours[PACKED][task]:,.1f} | "
            f"paper reports ~{PAPER_HOURS[task]:.0f} |")  # fmt: skip
    row(f"| lm-eval `_mc` questions/s | | {mc['questions_per_s']:.2f} | | {mc['questions']} questions, "
        f"mean prompt {mc['mean_prompt_tokens']:,.0f} tokens, HFLM batch 8 |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dry", action="store_true", help="CPU, tiny model: checks that the script runs (CI)"
    )
    parser.add_argument("-o", "--output", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    import torch

    scale = DRY if args.dry else GPU
    if not args.dry and not torch.cuda.is_available():
        print("gpu_check: no CUDA device; use --dry for the CPU check", file=sys.stderr)
        return 2
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    start = time.perf_counter()
    train = train_rates(scale)
    with tempfile.TemporaryDirectory() as tmp:
        mc = mc_rate(scale, Path(tmp))
    table = report(scale, train, mc)
    print(table)
    print(f"\n(total {time.perf_counter() - start:.0f} s; torch {torch.__version__})")
    if args.output:
        args.output.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
