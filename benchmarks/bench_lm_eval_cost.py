"""Tokens the model actually runs per question, against the prompt's own tokens, per lm-eval task.

    python benchmarks/bench_lm_eval_cost.py [--data data/demo] [--limit 40]

Builds the tiny backbone from the demo's prompt docs (run `smd make-demo`, `smd build-smd`,
`smd make-options`, `smd make-docs --variant v5_top3` first), counts every token that goes through
the model's forward pass while lm-eval (HF backend, batch size 1) runs each task, and prints the
ratio to the chat-templated prompt tokens. Target for the multiple-choice tasks: <= 1.05 (the ten
single-token letters share one context: one forward pass per question).

    python benchmarks/bench_lm_eval_cost.py --shared-context [--limit 40] [--rounds 3]

Side by side instead: lm-eval's `hf` model (HFLM) against the project's `smd-hf` (one pass of each
question's prompt for all its options), on the same requests of `smd_babel_qa_cloze` and
`smd_babel_qa_mc`, batch size 1, passes alternating A B in one process: wall time (summed), tokens run,
the time ratio (median of the rounds' ratios: a shared machine stalls now and then) and the largest
log-likelihood difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    parser.add_argument("--variant", default="v5_top3")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--shared-context", action="store_true", help="hf vs smd-hf, side by side")
    parser.add_argument("--rounds", type=int, default=3, help="A B rounds of --shared-context")
    args = parser.parse_args()
    if args.shared_context:
        shared_context(args)
        return

    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.core import read_jsonl
    from harness.data import docs_path, render_prompt
    from harness.models.tiny import build_tiny_backbone, corpus_from_docs

    qa, hml = args.data / "babel_qa", args.data / "humanml3d"
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_backbone(
            Path(tmp) / "tiny", corpus_from_docs([docs_path(qa, args.variant, "train")])
        )
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        counted = {"tokens": 0, "calls": 0}

        def count(_module, _args, kwargs):
            ids = kwargs.get("input_ids") if kwargs.get("input_ids") is not None else _args[0]
            counted["tokens"] += int(ids.numel())
            counted["calls"] += 1

        model.register_forward_pre_hook(count, with_kwargs=True)
        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=1, device="cpu")
        tasks_dir = Path(__file__).resolve().parents[1] / "tasks"
        print(
            f"tiny backbone, preset {args.variant}, {args.limit} test docs per task, HF backend, batch size 1"
        )
        print(f"{'task':24s} {'prompt tok/q':>13s} {'run tok/q':>10s} {'forwards/q':>11s} {'ratio':>7s}")
        for task, root in (
            ("smd_babel_qa_mc", qa),
            ("smd_babel_qa", qa),
            ("smd_humanml3d_caption", hml),
        ):
            docs = read_jsonl(docs_path(root, args.variant, "test"))[: args.limit]
            prompt = sum(
                len(tokenizer(render_prompt(tokenizer, d), add_special_tokens=False)["input_ids"])
                for d in docs
            )
            counted.update(tokens=0, calls=0)
            manager = TaskManager(
                include_path=str(tasks_dir), metadata={"smd_variant": args.variant, "data_root": str(root)}
            )
            simple_evaluate(
                model=lm, tasks=[task], task_manager=manager, apply_chat_template=True, limit=args.limit
            )
            n = len(docs)
            print(
                f"{task:24s} {prompt / n:13.1f} {counted['tokens'] / n:10.1f} {counted['calls'] / n:11.2f} "
                f"{counted['tokens'] / prompt:7.3f}"
            )


def shared_context(args: argparse.Namespace) -> None:
    """HFLM vs SharedContextLM on the same loglikelihood requests, alternating, one process."""
    import statistics
    import time

    from lm_eval.models.huggingface import HFLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.data import docs_path
    from harness.evaluate.lm_eval_io import lm_eval_task_manager
    from harness.evaluate.shared_context_lm import SharedContextLM
    from harness.models.tiny import build_tiny_backbone, corpus_from_docs

    qa = args.data / "babel_qa"
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_backbone(
            Path(tmp) / "tiny", corpus_from_docs([docs_path(qa, args.variant, "train")])
        )
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        counted = {"tokens": 0}

        def count(_module, _args, kwargs):
            ids = kwargs.get("input_ids") if kwargs.get("input_ids") is not None else _args[0]
            counted["tokens"] += int(ids.numel())

        model.register_forward_pre_hook(count, with_kwargs=True)
        lms = {
            name: cls(pretrained=model, tokenizer=tokenizer, batch_size=1, device="cpu")
            for name, cls in (("hf", HFLM), ("smd-hf", SharedContextLM))
        }
        metadata = {"smd_variant": args.variant, "babel_qa_root": str(qa), "pretrained": str(model_dir)}
        print(
            f"tiny backbone, preset {args.variant}, {args.limit} test docs, batch size 1, "
            f"{args.rounds} A B rounds"
        )
        print(
            f"{'task':20s} {'hf s':>7s} {'smd-hf s':>9s} {'ratio':>6s} {'hf tok/q':>9s} {'smd tok/q':>10s} "
            f"{'max |dLL|':>10s}"
        )
        for task in ("smd_babel_qa_cloze", "smd_babel_qa_mc"):
            loaded = lm_eval_task_manager(metadata).load([task])["tasks"][task]
            loaded.build_all_requests(
                limit=args.limit,
                apply_chat_template=True,
                chat_template=lms["hf"].apply_chat_template,
                tokenizer_name=lms["hf"].tokenizer_name,
            )
            requests = loaded.instances
            n = len({r.doc_id for r in requests})
            seconds = {name: 0.0 for name in lms}
            ratios = []
            tokens = {name: 0 for name in lms}
            answers = {}
            for _ in range(args.rounds):
                took = {}
                for name, lm in lms.items():
                    counted["tokens"] = 0
                    clock = time.perf_counter()
                    answers[name] = lm.loglikelihood(requests, disable_tqdm=True)
                    took[name] = time.perf_counter() - clock
                    seconds[name] += took[name]
                    tokens[name] = counted["tokens"]
                ratios.append(took["hf"] / took["smd-hf"])
            diff = max(abs(a[0] - b[0]) for a, b in zip(answers["hf"], answers["smd-hf"], strict=True))
            greedy = all(a[1] == b[1] for a, b in zip(answers["hf"], answers["smd-hf"], strict=True))
            print(
                f"{task:20s} {seconds['hf']:7.2f} {seconds['smd-hf']:9.2f} "
                f"{statistics.median(ratios):5.2f}x "
                f"{tokens['hf'] / n:9.1f} {tokens['smd-hf'] / n:10.1f} "
                f"{diff:10.2e}{'' if greedy else '  is_greedy differs'}"
            )


if __name__ == "__main__":
    main()
