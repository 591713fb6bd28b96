"""`smd attention`: which parts of the SMD a model attends to when it answers or captions.

    smd attention --task smd_babel_qa --data-root data/demo/babel_qa --variant v5_top3 \\
        --backbone tiny [--adapter runs/demo/qa/tiny/v5_top3/best] [--n 8] [--layers all] -o reports/attention

For each of N test docs the prompt is rendered exactly as lm-eval scores it (harness.data.prompts, the
backbone's chat template), the model answers greedily (or, `--answer gold`, is fed the gold answer),
and one forward pass over prompt + answer with eager attention gives the attention maps. The weight of
each prompt token is the attention that the queries producing the answer pay it, averaged over heads,
the chosen layers and the answer's tokens, renormalised over the prompt (harness.attention.shares).
Tokens are mapped to characters through the tokenizer's offsets, and to the prompt's parts: the SMD's
header, each trajectory axis, each body-part group, the question, the options, and the rest
(instructions and chat template).

Writes, into OUT:
    <doc id>.png / .pdf   the SMD text shaded per character by its token's weight, with a colour bar
                          (the first K docs only with `--heatmaps K`)
    summary.json          per-part shares of the prompt's attention (each doc's sum to 1) and their
                          mean over docs, per doc the answer, the gold answer and whether it is correct
    sections.png          the mean shares as a bar chart, with their min-max over docs

Layers: all by default (the mean over every layer; `--layers=-4:` for the last four, `0,5` for two).
Early layers of small models spread attention by position; reading the average over all layers is
the paper's choice and the least tuned one. Most heads park attention on the first token (an
"attention sink"); that share is reported, in "instructions and template", not hidden.
Eager attention materialises every layer's (heads x tokens x tokens) map: memory grows with the
square of the prompt; on a large model use the short variant (`v5_top3`) and few docs.
Exit status: 0 done; 2 bad input (missing docs, backbone or adapter; a doc that does not fit).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from harness.core import (
    OUTPUT_OPTION,
    VARIANT_OPTION,
    add_renamed_option,
    atomic_write_figure,
    atomic_write_json,
    positive_int,
    read_jsonl,
)
from harness.data import SCORINGS, TASKS, docs_format, docs_path, extract_option, is_qa, render_prompt, target
from harness.models import adapter_record, get_backbone

from .shares import (
    OTHER,
    answer_attention,
    char_weights,
    in_reading_order,
    layer_indices,
    part_shares,
    prompt_parts,
    token_parts,
)

__all__ = ["attend", "main"]

EXIT_BAD_INPUT = 2
_LOG = logging.getLogger("smd.attention")
MAX_NEW_TOKENS = {"qa": 8, "caption": 40}


class AttentionInputError(Exception):
    """A user-facing input error: exit 2, one line."""


def load_model(backbone, adapter: Path | None):
    """(model, tokenizer) with eager attention (the only implementation that returns its maps)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(backbone.path, trust_remote_code=backbone.trust_remote_code)
    if not tokenizer.is_fast:
        raise AttentionInputError(
            f"{backbone.path}: a fast tokenizer is needed (its offsets map tokens to text)"
        )
    on_gpu = torch.cuda.is_available() and backbone.dtype not in ("auto", "float32")
    dtype = getattr(torch, backbone.dtype) if on_gpu else torch.float32
    model = AutoModelForCausalLM.from_pretrained(
        backbone.path, dtype=dtype, attn_implementation="eager", trust_remote_code=backbone.trust_remote_code
    )
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return model.to(device).eval(), tokenizer


def _stop_ids(model, tokenizer) -> set[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    return ids | ({tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set())


def attend(
    model,
    tokenizer,
    doc: dict,
    *,
    qa_target: str,
    layers: str,
    answer: str,
    max_new_tokens: int,
    chat_template_kwargs: dict | None = None,
    max_length: int | None = None,
) -> dict:
    """One doc's attention: its prompt, token offsets and weights, answer and gold (see the module doc).

    Raises:
        AttentionInputError: the prompt does not fit the context.
    """
    import torch

    prompt = render_prompt(tokenizer, doc, chat_template_kwargs, qa_target=qa_target)
    enc = tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], [tuple(o) for o in enc["offset_mapping"]]
    if max_length is not None and len(ids) + max_new_tokens > max_length:
        raise AttentionInputError(
            f"doc {doc['doc_id']}: prompt of {len(ids)} tokens + {max_new_tokens} for the answer does not fit"
            f" the context {max_length} (use a shorter preset, e.g. v5_top3)"
        )
    device = next(model.parameters()).device
    prompt_ids = torch.tensor([ids], device=device)
    gold = target(doc, qa_target=qa_target)
    with torch.no_grad():
        if answer == "gold":
            answer_ids = tokenizer(gold, add_special_tokens=False)["input_ids"]
        else:
            out = model.generate(
                prompt_ids,
                attention_mask=torch.ones_like(prompt_ids),
                do_sample=False,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.eos_token_id,
            )
            answer_ids = out[0, len(ids) :].tolist()
            stop = _stop_ids(model, tokenizer)
            end = next((i for i, t in enumerate(answer_ids) if t in stop), len(answer_ids))
            answer_ids = answer_ids[: max(end, 1)]  # an immediate end of turn is the answer itself
        full = torch.tensor([ids + answer_ids], device=device)
        maps = model(full, output_attentions=True).attentions
    chosen = layer_indices(layers, len(maps))
    stacked = np.stack([maps[i][0].float().cpu().numpy() for i in chosen])
    weights = answer_attention(stacked, len(ids), len(answer_ids))
    text = tokenizer.decode(answer_ids, skip_special_tokens=True).strip()
    correct = None
    if is_qa(doc):
        picked = extract_option(text, doc["options"]) if qa_target == "letter" else None
        correct = picked == doc["answer_idx"] if qa_target == "letter" else text == gold
    spans = prompt_parts(prompt, doc)
    return {
        "id": str(doc["doc_id"]),
        "prompt": prompt,
        "offsets": offsets,
        "weights": weights,
        "answer": text,
        "gold": gold,
        "correct": correct,
        "layers": chosen,
        "spans": spans,
        "parts": token_parts(offsets, prompt, spans),
    }


def _save(fig, path: Path) -> None:
    """A figure written atomically, byte for byte the same on every run (no creation date in a PDF)."""
    atomic_write_figure(
        path,
        fig,
        format=path.suffix[1:],
        dpi=110,
        metadata={"CreationDate": None} if path.suffix == ".pdf" else None,
    )


def _select(docs: list[dict], ids: list[str] | None, n: int, path: Path) -> list[dict]:
    if not ids:
        return docs[:n]
    by_id = {str(d["doc_id"]): d for d in docs}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise AttentionInputError(f"{path}: no doc {', '.join(missing)}")
    return [by_id[i] for i in ids]


def _check_layers(spec: str, backbone) -> None:
    """`--layers` against the backbone's config, before its weights load."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(backbone.path, trust_remote_code=backbone.trust_remote_code)
    try:
        layer_indices(spec, config.num_hidden_layers)
    except ValueError as e:
        raise AttentionInputError(str(e)) from None


def run(args: argparse.Namespace) -> dict:
    """Check the inputs, then attend over the chosen docs and write the figures and the summary."""
    kind = TASKS[args.task].kind
    qa_target = "text" if args.task.endswith(SCORINGS["cloze"]) else "letter"
    try:
        docs_file = docs_path(args.data_root, args.variant, "test")
    except ValueError as e:
        raise AttentionInputError(f"--variant: {e}") from None
    if not docs_file.is_file():
        raise AttentionInputError(
            f"test docs not found: {docs_file} "
            f"(run `smd make-docs {args.data_root} --variant {args.variant}`)"
        )
    docs = read_jsonl(docs_file)
    if (kind == "qa") != all(is_qa(d) for d in docs):
        raise AttentionInputError(f"{docs_file}: not {kind} docs, which task {args.task} reads")
    chosen = _select(docs, args.ids, args.n, docs_file)
    if not chosen:
        raise AttentionInputError(f"{docs_file}: no docs")
    try:
        backbone = get_backbone(args.backbone, args.params)
        adapter = (
            adapter_record(args.adapter, docs_format(docs, str(docs_file)), docs_file)
            if args.adapter
            else None
        )
    except (FileNotFoundError, ValueError) as e:
        raise AttentionInputError(str(e)) from None
    _check_layers(args.layers, backbone)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plot import plot_heatmap, plot_shares

    model, tokenizer = load_model(backbone, args.adapter)
    max_new = args.max_new_tokens or MAX_NEW_TOKENS[kind]
    args.output.mkdir(parents=True, exist_ok=True)
    per_doc = []
    for doc in chosen:
        one = attend(
            model,
            tokenizer,
            doc,
            qa_target=qa_target,
            layers=args.layers,
            answer=args.answer,
            max_new_tokens=max_new,
            chat_template_kwargs=dict(backbone.chat_template_kwargs or {}),
            max_length=backbone.context_length,
        )
        shares = part_shares(one["parts"], one["weights"])
        start, end = one["spans"]["smd"]
        title = f"{one['id']}: answer {one['answer']!r}, gold {one['gold']!r}" + (
            "" if one["correct"] is None else (" (correct)" if one["correct"] else " (wrong)")
        )
        if args.heatmaps is None or len(per_doc) < args.heatmaps:
            fig = plot_heatmap(
                doc["smd"], char_weights(one["offsets"], one["weights"], start, end), plt, title=title
            )
            for suffix in ("png", "pdf"):
                _save(fig, args.output / f"{one['id']}.{suffix}")
            plt.close(fig)
        per_doc.append({k: one[k] for k in ("id", "answer", "gold", "correct")} | {"shares": shares})
    names = in_reading_order(list({n for d in per_doc for n in d["shares"]}))
    mean = {n: float(np.mean([d["shares"].get(n, 0.0) for d in per_doc])) for n in names}
    summary = {
        "task": args.task,
        "preset": args.variant,  # the committed summary's key (a dvc output): renamed with its re-run
        "backbone": backbone.name,
        "adapter": str(args.adapter) if adapter else None,
        "answer": args.answer,
        "layers": args.layers,
        "n_layers_used": len(one["layers"]),
        "docs": len(per_doc),
        "shares": mean,
        "smd_share": sum(v for n, v in mean.items() if n not in (OTHER, "question", "options")),
        "per_doc": per_doc,
    }
    atomic_write_json(args.output / "summary.json", summary)
    who = backbone.name + ("+adapter" if adapter else "")
    fig = plot_shares(
        mean,
        plt,
        title=f"{args.task} {args.variant}, {who}: {len(per_doc)} docs",
        per_doc=[d["shares"] for d in per_doc],
    )
    _save(fig, args.output / "sections.png")
    plt.close(fig)
    return summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="smd attention", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--task", required=True, choices=tuple(TASKS), help="the lm-eval task whose prompt is read"
    )
    p.add_argument("--data-root", type=Path, required=True, help="dataset folder holding docs/<variant>/")
    add_renamed_option(p, VARIANT_OPTION, old=("--preset",), required=True, help="docs variant, e.g. v5_top3")
    p.add_argument("--backbone", required=True, help="params.yaml backbone name, model folder or hub id")
    p.add_argument("--adapter", type=Path, help="PEFT adapter folder (omitted: the backbone alone)")
    p.add_argument(
        "--params", type=Path, help="file with `backbones:` (default: ./params.yaml, else the checkout's)"
    )
    p.add_argument("--n", type=positive_int, default=8, help="the first N test docs (default 8)")
    p.add_argument("--ids", nargs="+", help="these doc ids instead of the first N")
    p.add_argument(
        "--layers",
        default="all",
        help="all (default), a slice a:b (--layers=-4: for the last four), or a list 0,5,-1",
    )
    p.add_argument(
        "--answer",
        choices=("generated", "gold"),
        default="generated",
        help="attention while the model writes its own greedy answer (default) or the gold one",
    )
    p.add_argument(
        "--max-new-tokens", type=positive_int, help=f"answer length cap (default {MAX_NEW_TOKENS})"
    )
    p.add_argument(
        "--heatmaps", type=positive_int, help="draw the heatmaps of the first K docs only (default: all)"
    )
    add_renamed_option(
        p, *OUTPUT_OPTION, old=("--out",), type=Path, required=True, metavar="DIR", help="output folder"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        summary = run(args)
    except AttentionInputError as e:
        print(f"smd attention: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    shares = ", ".join(f"{k} {v:.1%}" for k, v in summary["shares"].items())
    print(f"{summary['docs']} docs -> {args.output}/summary.json: SMD {summary['smd_share']:.1%} ({shares})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
