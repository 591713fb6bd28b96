"""bfloat16 vs float32 on this CPU, side by side: what a backbone's `cpu_dtype: bfloat16` buys.

    python benchmarks/bench_cpu_dtype.py [--model models/smollm2-135m] [--tokens 1400] [--rounds 3]

On one random-token sequence of `--tokens` tokens (a demo SMD prompt is ~1,400 for smollm2-135m), in
alternating rounds (float32, bfloat16, float32, ...; the machines here are noisy, so the pairs are
compared, not two separate runs):
  - a LoRA training step's forward and backward, as `smd train` runs it (LoRA r 16, alpha 32, dropout
    0.05 on the seven projections; bf16 weights under autocast for bfloat16, as accelerate's CPU bf16);
  - an evaluation forward (no gradients, the KV cache kept, one logit), as lm-eval's context pass.
Prints tokens/s of each and the median of the per-round bfloat16 / float32 ratios. Needs the model folder
(`smd convert-gguf smollm2-135m -o models/smollm2-135m`); a CPU without native bf16 instructions
(AVX512-BF16 or AMX) will show a ratio below 1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def load(path: Path, dtype):
    from transformers import AutoModelForCausalLM

    from harness.models import Backbone
    from harness.train import TrainConfig
    from harness.train.model import add_lora

    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation="sdpa")
    return add_lora(model, TrainConfig(), Backbone(name=str(path), path=str(path)))


def timed(model, ids, bf16: bool) -> dict[str, float]:
    import torch

    model.train()
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = model(input_ids=ids, logits_to_keep=1)
    out.logits.float().sum().backward()
    train = time.perf_counter() - start
    model.zero_grad(set_to_none=True)
    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        model(input_ids=ids, use_cache=True, logits_to_keep=1)
    forward = time.perf_counter() - start
    n = ids.shape[1]
    return {"train_tok_s": n / train, "eval_tok_s": n / forward}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/smollm2-135m"))
    parser.add_argument("--tokens", type=int, default=1400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if not (args.model / "config.json").is_file():
        print(f"bench_cpu_dtype: no model at {args.model} (smd convert-gguf smollm2-135m -o {args.model})")
        return 2
    import torch

    models = {"float32": load(args.model, torch.float32), "bfloat16": load(args.model, torch.bfloat16)}
    torch.manual_seed(0)
    ids = torch.randint(0, models["float32"].config.vocab_size, (1, args.tokens))
    for name, model in models.items():  # warm-up
        timed(model, ids[:, :64], name == "bfloat16")
    rounds = []
    for _ in range(args.rounds):
        rounds.append({name: timed(model, ids, name == "bfloat16") for name, model in models.items()})
    print(f"{args.model.name}, {args.tokens} tokens, {args.rounds} rounds, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    print("| what | float32 tokens/s | bfloat16 tokens/s | bf16 / fp32 (median of rounds) |")
    print("| --- | ---: | ---: | ---: |")
    rows = (("train_tok_s", "LoRA training step (fwd + bwd)"), ("eval_tok_s", "evaluation forward"))
    for key, what in rows:
        f32 = statistics.median(r["float32"][key] for r in rounds)
        b16 = statistics.median(r["bfloat16"][key] for r in rounds)
        ratio = statistics.median(r["bfloat16"][key] / r["float32"][key] for r in rounds)
        print(f"| {what} | {f32:,.0f} | {b16:,.0f} | {ratio:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
