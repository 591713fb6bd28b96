"""Training examples from prompt docs, through the one prompt builder and the backbone's chat template.

prompt = apply_chat_template(build_messages(doc, with_target=False), add_generation_prompt=True)
full   = apply_chat_template(build_messages(doc))
input_ids = tok(prompt) + tok(full[len(prompt):]), labels -100 on the prompt: the loss is on the
assistant's answer (and its end-of-turn tokens) only, and the prompt tokens are the ones lm-eval feeds
the model for the same doc. Captions give one example per reference caption. `qa_target` (letter or
text) picks the QA formulation: a text example is the cloze task's prompt and gold option text.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.core import read_jsonl, sha256_file
from harness.data import build_messages, docs_format, is_qa, render_prompt

IGNORE = -100


@dataclass(frozen=True)
class Example:
    """One tokenised training example; `labels` is -100 on the prompt tokens. `motion` names the SMD it
    reads (a digest of the doc's SMD text): the examples of one motion are packed into one sequence
    (training.packing)."""

    doc_id: str
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    n_prompt: int
    motion: str = ""

    def __len__(self) -> int:
        return len(self.input_ids)


def read_docs(paths: Iterable[Path | str], task: str) -> tuple[list[dict], list[dict]]:
    """Docs of every file (in order) and a record per file (path, sha256, docs).

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: a file holds docs of the other task (QA docs for captioning or the reverse).
    """
    docs, files = [], []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"docs file not found: {path}")
        rows = read_jsonl(path)
        wrong = [r.get("doc_id") for r in rows if is_qa(r) != (task == "qa")]
        if wrong:
            raise ValueError(f"{path}: {len(wrong)} doc(s) are not {task} docs (first: {wrong[0]})")
        docs.extend(rows)
        smd = docs_format(rows, str(path))
        files.append({"path": str(path), "sha256": sha256_file(path), "docs": len(rows), "smd": smd})
    return docs, files


def single_format(files: list[dict]) -> dict[str, str] | None:
    """The one SMD format and preset of a run's docs files (records of `read_docs`; None: no docs).

    Raises:
        ValueError: files of two formats or presets, naming each (an adapter learns one format).
    """
    with_docs = [f for f in files if f["smd"] is not None]
    if len({(f["smd"]["format_version"], f["smd"]["preset"]) for f in with_docs}) > 1:
        listed = "; ".join(f"{f['path']}: {f['smd']}" for f in with_docs)
        raise ValueError(f"the docs of one run hold several SMD formats or presets: {listed}")
    return dict(with_docs[0]["smd"]) if with_docs else None


def encode_example(
    tokenizer,
    doc: dict,
    *,
    reference: int = 0,
    chat_template_kwargs: dict | None = None,
    backbone: str = "?",
    qa_target: str = "letter",
) -> Example:
    """Tokenise one doc (one reference caption) into prompt + target with prompt labels masked.

    Raises:
        ValueError: the templated conversation does not start with the templated prompt (a chat
            template that rewrites earlier turns once an answer follows): the target cannot be split off.
    """
    kwargs = chat_template_kwargs or {}
    prompt = render_prompt(tokenizer, doc, kwargs, qa_target=qa_target)
    messages = build_messages(doc, reference=reference, qa_target=qa_target)
    full = tokenizer.apply_chat_template(messages, tokenize=False, **kwargs)
    if not full.startswith(prompt):
        raise ValueError(
            f"backbone {backbone}: the chat template renders the conversation with the answer differently "
            f"from the prompt alone (doc {doc.get('doc_id')}), so the answer tokens cannot be split off; "
            "check its chat_template_kwargs in params.yaml"
        )
    target_text = full[len(prompt) :]
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    target_ids = tokenizer(target_text, add_special_tokens=False)["input_ids"]
    if not target_ids:
        raise ValueError(f"backbone {backbone}: empty target for doc {doc.get('doc_id')}")
    return Example(
        doc_id=str(doc.get("doc_id")),
        input_ids=tuple(prompt_ids + target_ids),
        labels=tuple([IGNORE] * len(prompt_ids) + target_ids),
        n_prompt=len(prompt_ids),
        motion=motion_key(doc),
    )


def motion_key(doc: dict) -> str:
    """What the examples of one motion share: its SMD text (a motion-blind doc's is another motion's,
    which is what its prompt holds), by digest; a doc without one (the encoder's `motion` docs) is its own."""
    smd = doc.get("smd")
    if smd is None:
        return f"doc:{doc.get('doc_id')}"
    return hashlib.sha1(str(smd).encode()).hexdigest()[:16]


def build_examples(
    tokenizer,
    docs: list[dict],
    *,
    max_length: int,
    chat_template_kwargs: dict | None = None,
    backbone: str = "?",
    qa_target: str = "letter",
) -> tuple[list[Example], list[str]]:
    """Examples of all docs (captions: one per reference) and the ids of those left out as too long.

    A too-long example is skipped whole: cutting it would train on a prompt the model never sees at
    evaluation, or cut the answer off.
    """
    examples, skipped = [], []
    for doc in docs:
        refs = range(len(doc["references"])) if not is_qa(doc) else range(1)
        for ref in refs:
            ex = encode_example(
                tokenizer,
                doc,
                reference=ref,
                chat_template_kwargs=chat_template_kwargs,
                backbone=backbone,
                qa_target=qa_target,
            )
            if len(ex) > max_length:
                skipped.append(ex.doc_id if is_qa(doc) else f"{ex.doc_id}#{ref}")
            else:
                examples.append(ex)
    return examples, skipped


def epoch_batches(
    lengths: list[int], batch_size: int, *, seed: int, epoch: int, group_by_length: bool = True
) -> list[list[int]]:
    """The batches (lists of example indices) of one epoch: a pure function of (seed, epoch).

    Length grouping (as transformers' LengthGroupedSampler): shuffle, cut into mega-batches of 50
    batches, sort each by length (longest first), cut into batches, shuffle the batch order. Batches
    then hold examples of similar length (little padding) while the order stays random. Being a pure
    function of the epoch is what makes resume exact: no sampler state to save.
    """
    import torch

    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(len(lengths), generator=g).tolist()
    if not group_by_length:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    mega = batch_size * 50
    batches = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega], key=lambda i: -lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    perm = torch.randperm(len(batches), generator=g).tolist()
    return [batches[i] for i in perm]


def steps_per_epoch(n_batches: int, grad_accum: int) -> int:
    return math.ceil(n_batches / grad_accum)


def collate(examples: list[Example], pad_id: int, *, left: bool = False) -> dict:
    """Padded tensors: input_ids, attention_mask, labels (-100 on padding); left padding for generation."""
    import torch

    width = max(len(e) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e)
        sl = slice(width - n, width) if left else slice(0, n)
        ids[row, sl] = torch.tensor(e.input_ids)
        labels[row, sl] = torch.tensor(e.labels)
        mask[row, sl] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
