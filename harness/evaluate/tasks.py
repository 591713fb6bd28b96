"""The functions the lm-evaluation-harness task YAMLs in `tasks/` name (through `tasks/utils.py`).

Docs come from the prompt-doc JSONL files written by `smd make-docs`, through one loader
(`load_docs`, every task's `custom_dataset`): the dataset and the scoring are the task YAML's
`dataset_kwargs`, the variant and the root task metadata:
`--metadata '{"smd_variant": "v5_top3", "data_root": "data/babel_qa"}'`. Prompts come from the
shared prompt builder (`harness.data.prompts`): the system turn is the task's `description` (a doc
field), the user turn `doc_to_text`; with `--apply_chat_template` lm-eval renders exactly the
messages training uses.

QA is scored three ways: generation + answer extraction (`smd_*_qa`), the log-likelihood of each
option's letter (`smd_*_qa_mc`), both on the paper's lettered prompt, and the cloze formulation
(`smd_*_qa_cloze`, OLMES's "CF"): the log-likelihood of each option's text after a prompt that does not
list the options (`harness.data.prompts`, `qa_target="text"`), `acc` and length-normalised `acc_norm`
(log-likelihood per character, lm-eval's definition).

Per-type accuracy (`acc_action`, `acc_direction`, `acc_body_part`, `acc_no_relation`, `acc_before`,
`acc_after`, `acc_in_between`) is a per-doc metric, one pass over the docs (sub-tasks per type would
score every doc twice, once per grouping): every doc reports all seven, `None` for the types and the
relation it is not of, and `agg_type_accuracy` averages the docs that carry a value. Every doc reports
every key because lm-eval gathers a data-parallel run's metrics key by key from every rank, and a
rank whose share holds no doc of some type would otherwise lack the key (a KeyError at the gather;
`tests/harness/test_lm_eval_distributed.py`). A type with no doc at all aggregates to `None` and is
left out of the cell (`lm_eval_io.cell_metrics`); lm-eval has no standard error for a custom
aggregation (N/A), and the cells carry a Wilson interval per type from the samples instead.
Size-weighted group aggregation is not used (the group `smd` has no aggregate metrics).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from harness.core import read_jsonl
from harness.data import (
    ANSWER_TYPES,
    DATASETS,
    LETTERS,
    RELATIONS,
    build_messages,
    caption_user,
    docs_path,
    extract_option,
    qa_cloze_user,
    qa_user,
    render_prompt,
    target,
)
from harness.metrics import CAPTION_ASSET_KEYS, check_caption_assets
from harness.models import context_length

DEFAULT_VARIANT = "v5"
_LOG = logging.getLogger("smd.lm_eval")
# Tokens kept free for the answer: generation tasks' max_gen_toks (tasks/*.yaml), 1 for a letter.
QA_GEN_TOKENS, CAPTION_GEN_TOKENS = 32, 64
SPLITS = ("train", "val", "test")


def _data_root(dataset: str, data_root: str | None, metadata: dict) -> Path:
    """`<dataset>_root` metadata, else `data_root` (one task at a time), else `$SMD_DATA_DIR/<dataset>`.

    `--metadata` reaches every task of a run, so a run of several datasets (the group `smd`) names each
    root: `{"babel_qa_root": ..., "humman_qa_root": ..., "humanml3d_root": ...}`.
    """
    chosen = metadata.get(f"{dataset}_root") or data_root
    if chosen:
        return Path(chosen).expanduser()
    return Path(os.environ.get("SMD_DATA_DIR", "data")).expanduser() / dataset


def _context_limit(metadata: dict):
    """(tokenizer, max_length) of the model under evaluation, from the model_args lm-eval merges into
    the task metadata (`pretrained`, optional `max_length`), resolved like lm-eval's HF backend."""
    pretrained = metadata.get("pretrained")
    if not isinstance(pretrained, str):
        return None, None
    from transformers import AutoConfig, AutoTokenizer

    trust = str(metadata.get("trust_remote_code", False)).lower() == "true"
    tokenizer = AutoTokenizer.from_pretrained(
        metadata.get("tokenizer") or pretrained, trust_remote_code=trust
    )
    config = AutoConfig.from_pretrained(pretrained, trust_remote_code=trust)
    return tokenizer, context_length(config, tokenizer, max_length=metadata.get("max_length"))


def prompt_tokens(tokenizer, doc: dict, qa_target: str = "letter") -> int:
    """Tokens of a doc's prompt, chat-templated when the tokenizer has a template (as lm-eval's
    --apply_chat_template renders it), otherwise the plain system + user text."""
    prompt = render_prompt(tokenizer, doc, qa_target=qa_target)
    return len(tokenizer(prompt, add_special_tokens=False)["input_ids"])


def option_tokens(tokenizer, doc: dict) -> int:
    """Tokens of a cloze doc's longest option: the continuation lm-eval must fit after its prompt."""
    return max(len(tokenizer(o, add_special_tokens=False)["input_ids"]) for o in doc["options"])


def _drop_too_long(
    rows: list[dict], split: str, metadata: dict, reserve: int | None, qa_target: str = "letter"
) -> list[dict]:
    """Leave out (and report) docs whose prompt does not fit the model's context: lm-eval's HF
    backend would otherwise cut them from the left, silently for log-likelihood. `reserve` tokens are
    kept for the answer; None keeps each doc's longest option (cloze)."""
    tokenizer, max_length = _context_limit(metadata)
    if tokenizer is None:
        return rows
    keep, too_long = [], []
    for r in rows:
        room = reserve if reserve is not None else option_tokens(tokenizer, r)
        fits = prompt_tokens(tokenizer, r, qa_target) <= max_length - room
        (keep if fits else too_long).append(r)
    answer = f"{reserve}" if reserve is not None else "its longest option"
    # an empty test split (every task's `test_split`) ends lm-eval in an IndexError after the model loaded
    if split == "test" and rows and not keep:
        raise ValueError(
            f"{split}: none of the {len(rows)} docs fits the context: every prompt is longer than "
            f"{max_length} - {answer} tokens for the answer (use a shorter preset, e.g. v5_top3, "
            "or a model with a longer context)"
        )
    if too_long:
        _LOG.warning(
            "%s: %d of %d docs left out, prompt longer than the context %d - %s tokens for the answer: %s%s",
            split, len(too_long), len(rows), max_length, answer,
            ", ".join(r["doc_id"] for r in too_long[:10]), " ..." if len(too_long) > 10 else "",
        )  # fmt: skip
    return keep


# Per QA scoring: tokens kept for the answer (None: the doc's longest option) and the prompt's formulation.
QA_SCORINGS = {"generation": (QA_GEN_TOKENS, "letter"), "mc": (1, "letter"), "cloze": (None, "text")}


def load_docs(
    dataset: str,
    *,
    scoring: str = "generation",
    full_metrics: bool = False,
    data_root: str | None = None,
    smd_variant: str = DEFAULT_VARIANT,
    **metadata,
):
    """Every task's `custom_dataset`: a `datasets.DatasetDict` of the prompt docs of every split found,
    with the system turn of the scoring's formulation added.

    lm-eval calls it with the task's metadata (`smd_variant`, the dataset root, `--model_args`, ...)
    and the task YAML's `dataset_kwargs`: `dataset`, the QA `scoring` (`QA_SCORINGS`), and for the
    caption task with the full metrics `full_metrics: true` (every asset checked before any caption is
    generated). With the model in the metadata, docs whose prompt plus the scoring's answer tokens
    exceed the model's context are left out and counted in a warning.

    Raises:
        FileNotFoundError: no prompt docs for this dataset and variant (says how to make them).
        ValueError: no test doc fits the model's context; an unknown scoring; a missing caption asset.
    """
    import datasets

    extra = {}
    if DATASETS[dataset].kind == "caption":
        answer_tokens, qa_target = CAPTION_GEN_TOKENS, "letter"
        if full_metrics:
            check_caption_assets(*(metadata.get(k) for k in CAPTION_ASSET_KEYS))
        # lm-eval hands an aggregation only the per-doc items, so each caption doc carries the
        # caption-metric assets of the task metadata (a JSON field) and each item passes them on.
        extra["caption_assets"] = json.dumps({k: metadata.get(k) for k in CAPTION_ASSET_KEYS}, sort_keys=True)
    elif scoring in QA_SCORINGS:
        answer_tokens, qa_target = QA_SCORINGS[scoring]
    else:
        raise ValueError(f"unknown scoring {scoring!r} (known: {', '.join(QA_SCORINGS)})")
    root = _data_root(dataset, data_root, metadata)
    splits = {}
    for split in SPLITS:
        path = docs_path(root, smd_variant, split)
        if path.is_file():
            rows = _drop_too_long(read_jsonl(path), split, metadata, answer_tokens, qa_target)
            system = [build_messages(r, with_target=False, qa_target=qa_target)[0]["content"] for r in rows]
            rows = [{**r, "system": s, **extra} for r, s in zip(rows, system)]
            splits[split] = datasets.Dataset.from_list(rows)
    if not splits:
        raise FileNotFoundError(
            f"no prompt docs for variant {smd_variant!r} in {root / 'docs' / smd_variant}: run "
            f"`smd make-docs {root} --variant {smd_variant}` or pass --metadata '{{\"data_root\": ...}}'"
        )
    return datasets.DatasetDict(splits)


def doc_to_choice(doc: dict) -> list[str]:
    """The option letters: single-token continuations that share one context (one forward pass)."""
    return list(LETTERS[: len(doc["options"])])


TYPE_METRICS = tuple(f"acc_{t}" for t in ANSWER_TYPES + RELATIONS)


def type_metrics(doc: dict, correct: int) -> dict[str, int | None]:
    """`correct` under the doc's answer-type and relation metric (`acc_action`, `acc_before`, ...),
    `None` under the other five: each averages over its own docs only (`agg_type_accuracy`).

    Raises:
        ValueError: the doc's answer_type or relation is not a known one (names the doc).
    """
    answer_type, relation = doc.get("answer_type"), doc.get("relation")
    if answer_type not in ANSWER_TYPES or relation not in RELATIONS:
        raise ValueError(
            f"doc {doc.get('doc_id')}: answer_type {answer_type!r} / relation {relation!r} not in "
            f"{ANSWER_TYPES} / {RELATIONS} (remake the docs with `smd make-docs`)"
        )
    own = {f"acc_{answer_type}", f"acc_{relation}"}
    return {name: (correct if name in own else None) for name in TYPE_METRICS}


def agg_type_accuracy(values: list[int | None]) -> float | None:
    """A per-type accuracy: the mean over the docs of that type (those with a value); `None` when
    there is none, which the cell leaves out."""
    carried = [v for v in values if v is not None]
    return sum(carried) / len(carried) if carried else None


def _argmax(values) -> int:
    """Index of the largest value, the first on ties (numpy's argmax, as lm-eval uses)."""
    return max(range(len(values)), key=lambda i: (values[i], -i))


def mc_process_results(doc: dict, results: list[tuple[float, bool]]) -> dict[str, int | None]:
    """Letter MC: lm-eval's `acc` (argmax of the letters' log-likelihoods) and its per-type split."""
    correct = int(_argmax([ll for ll, _ in results]) == doc["answer_idx"])
    return {"acc": correct, **type_metrics(doc, correct)}


def cloze_process_results(doc: dict, results: list[tuple[float, bool]]) -> dict[str, int | None]:
    """Cloze: lm-eval's `acc` and `acc_norm` (log-likelihood per character of the option text, as
    lm-eval's default multiple-choice scoring computes it) and the per-type split of `acc`."""
    lls = [ll for ll, _ in results]
    if len(lls) != len(doc["options"]):
        raise ValueError(f"doc {doc.get('doc_id')}: {len(lls)} scores for {len(doc['options'])} options")
    per_char = [ll / len(o) for ll, o in zip(lls, doc["options"], strict=True)]
    correct = int(_argmax(lls) == doc["answer_idx"])
    return {
        "acc": correct,
        "acc_norm": int(_argmax(per_char) == doc["answer_idx"]),
        **type_metrics(doc, correct),
    }


def qa_process_results(doc: dict, results: list[str]) -> dict[str, int | None]:
    """Generation QA: accuracy by exact option match; an answer naming no option is wrong and invalid."""
    idx = extract_option(results[0], doc["options"])
    correct = int(idx == doc["answer_idx"])
    return {"acc": correct, "invalid_rate": int(idx is None), **type_metrics(doc, correct)}


CAPTION_TEXT_METRICS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider", "sacrebleu")
CAPTION_ASSET_METRICS = (
    "bertscore_f1",
    "r_precision_top1",
    "r_precision_top2",
    "r_precision_top3",
    "mm_dist",
)


def _caption_item(doc: dict, results: list[str]) -> tuple:
    """(id, prediction, references, motion id, the task's caption assets as JSON) of one doc."""
    assets = doc.get("caption_assets", "{}")
    return (doc["doc_id"], results[0].strip(), tuple(doc["references"]), doc["motion_id"], assets)


def caption_process_results(doc: dict, results: list[str]) -> dict[str, tuple]:
    """One item per text metric; the corpus is scored once, in the aggregation (sorted by id there)."""
    return dict.fromkeys(CAPTION_TEXT_METRICS, _caption_item(doc, results))


def caption_full_process_results(doc: dict, results: list[str]) -> dict[str, tuple]:
    """The same for the text metrics, BERTScore and the T2M evaluator's."""
    return dict.fromkeys(CAPTION_TEXT_METRICS + CAPTION_ASSET_METRICS, _caption_item(doc, results))


def _aggregate(metric: str):
    def aggregate(items: list) -> float:
        from harness.metrics import corpus_metric

        assets = json.loads(items[0][4]) if items else {}  # the same on every doc of the task
        items = [item[:4] for item in items]
        if metric == "bertscore_f1" and not assets.get("bertscore_model"):
            raise ValueError(
                "bertscore_f1 needs --metadata '{\"bertscore_model\": PATH}' (a local roberta-large)"
            )
        if metric in CAPTION_ASSET_METRICS[1:] and not (
            assets.get("evaluator_dir") and assets.get("motions_dir")
        ):
            raise ValueError(f'{metric} needs --metadata \'{{"evaluator_dir": DIR, "motions_dir": DIR}}\'')
        if metric in CAPTION_TEXT_METRICS:  # text metrics never wait for the models
            assets = {}
        elif metric != "bertscore_f1":
            assets.pop("bertscore_model", None)
        else:
            assets = {"bertscore_model": assets["bertscore_model"]}
        return float(corpus_metric(items, metric, **{k: v for k, v in assets.items() if v}))

    aggregate.__name__ = f"aggregate_{metric}"
    return aggregate


# lm-eval hands an aggregation only its items, so each caption metric has its own callable; the YAMLs
# name them `utils.agg_<metric>` (module attributes, set here from one table).
AGGREGATIONS = {f"agg_{m}": _aggregate(m) for m in CAPTION_TEXT_METRICS + CAPTION_ASSET_METRICS}
globals().update(AGGREGATIONS)

# What the task YAMLs name (`!function utils.NAME`; `tasks/utils.py` imports exactly these).
__all__ = [
    "load_docs",
    "qa_user",
    "qa_cloze_user",
    "caption_user",
    "target",
    "doc_to_choice",
    "mc_process_results",
    "cloze_process_results",
    "qa_process_results",
    "caption_process_results",
    "caption_full_process_results",
    "agg_type_accuracy",
    *AGGREGATIONS,
]
