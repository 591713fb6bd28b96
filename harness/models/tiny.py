"""A tiny Llama-architecture backbone built offline: the default model of the demo and the tests.

A byte-level BPE tokenizer is trained on the SMD corpus (prompt docs of the given datasets), a
ChatML chat template is attached, and a 2-layer Llama with that vocabulary is initialised from a
fixed seed; both are saved like any Hugging Face model (`save_pretrained`). The same inputs give
the same files.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from harness.core import read_jsonl
from harness.data import SYSTEM_CAPTION, SYSTEM_QA, build_messages

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
# ChatML, as Qwen2.5: the assistant turn ends with <|im_end|>, which is also the EOS token.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass(frozen=True)
class TinyConfig:
    vocab_size: int = 2048
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 8192
    # untied: the head can then be trained in full next to LoRA (peft `modules_to_save`) without breaking
    # the tie that lm-eval re-applies when it loads an adapter (`tie_weights()` on a wrapped head fails)
    tie_word_embeddings: bool = False
    seed: int = 0


def corpus_from_docs(paths: Iterable[Path]) -> Iterator[str]:
    """Every text a model will see for these prompt-doc files: system, user and target turns."""
    yield SYSTEM_QA
    yield SYSTEM_CAPTION
    for path in paths:
        for doc in read_jsonl(path):
            for message in build_messages(doc):
                yield message["content"]


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    """A byte-level BPE `PreTrainedTokenizerFast` with the ChatML template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        unk_token=None,
        additional_special_tokens=["<|im_start|>", "<|endoftext|>"],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"
    return fast


def build_tiny_backbone(out: Path | str, texts: Iterable[str], config: TinyConfig = TinyConfig()) -> Path:
    """Train the tokenizer on `texts`, initialise the model, save both to `out`."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    out = Path(out)
    tokenizer = train_tokenizer(texts, config.vocab_size)
    torch.manual_seed(config.seed)
    model_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_key_value_heads,
        max_position_embeddings=config.max_position_embeddings,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=config.tie_word_embeddings,
        torch_dtype="float32",
    )
    model = LlamaForCausalLM(model_config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=False
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """`smd tiny-backbone -o OUT --docs DOCS.jsonl ... [--params params.yaml]`: build the tiny backbone from
    prompt docs; the model's size comes from the `tiny:` section of the params file (TinyConfig)."""
    from harness.core import OUTPUT_OPTION, positional_output

    parser = argparse.ArgumentParser(prog="smd tiny-backbone", description=main.__doc__)
    parser.add_argument(
        *OUTPUT_OPTION, type=Path, metavar="DIR", help="folder to save the model and tokenizer in"
    )
    # the old positional OUT (dvc.yaml's `tiny-backbone` stage still spells it so): deprecated
    parser.add_argument("out", type=Path, nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--docs", type=Path, nargs="+", required=True, help="prompt-doc JSONL files (corpus)")
    parser.add_argument("--params", type=Path, help="params file with a `tiny:` section (default: defaults)")
    parser.add_argument("--vocab-size", type=int, help="overrides the params' vocab_size")
    parser.add_argument("--seed", type=int, help="overrides the params' seed")
    args = parser.parse_args(argv)
    positional_output(parser, args)
    missing = [p for p in args.docs if not p.is_file()]
    if missing:
        parser.error(f"docs not found: {', '.join(map(str, missing))}")
    try:
        config = load_tiny_config(args.params)
    except (ValueError, FileNotFoundError) as e:
        parser.error(str(e))
    overrides = {"vocab_size": args.vocab_size, "seed": args.seed}
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    path = build_tiny_backbone(args.output, corpus_from_docs(args.docs), config)
    print(f"tiny backbone saved to {path}")
    return 0


def load_tiny_config(params: Path | None) -> TinyConfig:
    """The `tiny:` section of a params file (unknown keys rejected); defaults without a file."""
    if params is None:
        return TinyConfig()
    from harness.core import load_params, typed_from_mapping

    return typed_from_mapping(TinyConfig, load_params(params).section("tiny"), "tiny")
