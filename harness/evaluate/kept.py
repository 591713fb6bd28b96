"""What a killed or failed evaluation kept: the answers in its lm-eval request cache, matched back to
their docs, as sample rows that `smd score-captions` scores.

    smd evaluate <the killed run's arguments> --kept-only
        -> runs/eval_samples/<benchmark>/<preset>/<cell>.kept.jsonl

lm-eval's cache (`CachingLM`, a SqliteDict) stores each answer as it is produced, under a sha256 of
the request (`hash_args`: the request type, the chat-templated prompt, the generation kwargs). The
requests are rebuilt here with lm-eval's own `Task.build_all_requests` and the backbone's tokenizer
(no weights: seconds, not a model load), hashed the same way and looked up. The answers are pickles;
they are read with an unpickler that admits plain values only (strings, numbers, tuples), never a
class, so a cache file from elsewhere cannot run code.
"""

from __future__ import annotations

import io
import pickle
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from harness.core import atomic_write_jsonl

from .lm_eval_io import ANSWER_PRIOR, SEEDS, lm_eval_task_manager, model_args, samples_path
from .plan import EvalPlan

__all__ = ["kept_rows", "read_request_cache", "write_kept"]


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"holds a {module}.{name}: a request cache holds plain values only")


def read_request_cache(db: Path) -> dict[str, Any]:
    """{request hash: answer} of one lm-eval request cache file (`<prefix>_rank<k>.db`).

    Raises:
        ValueError: the file is no request cache, or an answer is not a plain value (names the file).
    """
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
            rows = con.execute('SELECT key, value FROM "unnamed"').fetchall()
        return {key: _PlainUnpickler(io.BytesIO(value)).load() for key, value in rows}
    except (sqlite3.Error, pickle.UnpicklingError, EOFError) as e:
        raise ValueError(f"{db}: not a readable lm-eval request cache ({e})") from None


class _ChatTemplateOnly:
    """What `Task.build_all_requests` asks of a model: rank, world size and HFLM's own chat template
    method, which reads only `tokenizer` and `chat_template_args`."""

    rank, world_size = 0, 1

    def __init__(self, tokenizer, chat_template_args: dict[str, Any]):
        self.tokenizer = tokenizer
        self.chat_template_args = chat_template_args

    def apply_chat_template(
        self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        from lm_eval.models.huggingface import HFLM

        return HFLM.apply_chat_template(self, chat_history, add_generation_prompt)


def kept_rows(
    task_name: str, task_manager, model_args: dict[str, Any], answers: dict[str, Any], *,
    limit: int | None, fewshot_seed: int,
) -> tuple[list[dict], int]:  # fmt: skip
    """(rows, docs): the sample rows of the docs whose answer `answers` holds, and the number of docs
    the run would score. Rows are those of a finished run's samples (`id`, `motion_id`, `prediction`,
    `target`, `references`), sorted by id, without per-doc metrics (nothing was aggregated).

    Raises:
        ValueError: the task is not a generation task (log-likelihood answers are cheap to recompute).
    """
    from lm_eval.api.model import hash_args
    from lm_eval.evaluator_utils import get_sample_size
    from transformers import AutoTokenizer

    task = task_manager.load([task_name])["tasks"][task_name]
    if task.get_config("output_type") != "generate_until":
        raise ValueError(f"{task_name}: --kept-only reads generations; this task scores log-likelihoods")
    task.set_fewshot_seed(seed=fewshot_seed)  # as simple_evaluate does; our tasks are zero-shot
    tokenizer = AutoTokenizer.from_pretrained(
        model_args["pretrained"], trust_remote_code=bool(model_args.get("trust_remote_code"))
    )
    model = _ChatTemplateOnly(tokenizer, dict(model_args.get("chat_template_args") or {}))
    task.build_all_requests(
        limit=get_sample_size(task, limit),
        rank=0,
        world_size=1,
        apply_chat_template=True,
        fewshot_as_multiturn=True,  # simple_evaluate's default
        chat_template=model.apply_chat_template,
        tokenizer_name="",
    )
    rows = []
    for instance in task.instances:
        key = hash_args(instance.request_type, instance.args)
        if key not in answers:
            continue
        doc = instance.doc
        row = {"id": str(doc.get("doc_id", instance.doc_id)), "motion_id": doc.get("motion_id")}
        row["prediction"] = answers[key]
        row["target"] = task.doc_to_target(doc)
        if "references" in doc:
            row["references"] = list(doc["references"])
        rows.append(row)
    return sorted(rows, key=lambda r: r["id"]), len(task.instances)


def write_kept(plan: EvalPlan) -> tuple[Path, int, int]:
    """Write what a killed or failed run of `plan` kept as `<samples>.kept.jsonl`; returns (file, docs
    kept, docs the run would score). The run's answers are found under the plan's request cache, the
    key the run itself wrote them under.

    Raises:
        ValueError: a log-likelihood task, no cache of these inputs, or an unreadable cache.
    """
    if plan.backbone is None:
        raise ValueError(f"--backbone {ANSWER_PRIOR} keeps nothing: it reads no model (re-run it: seconds)")
    request, cache = plan.request, plan.request_cache
    dbs = sorted(cache.parent.glob(f"{cache.name}_rank*.db"))
    if not dbs:
        raise ValueError(
            f"no request cache {cache}_rank*.db: no run of these inputs (same arguments, batch size "
            "included) kept anything, or it finished and its samples hold every answer"
        )
    answers = {key: value for db in dbs for key, value in read_request_cache(db).items()}
    # the tokenizer's model arguments: `cuda` decides the dtype only, and no weights are loaded
    args = model_args(plan.backbone, request.adapter, cuda=False)
    rows, docs = kept_rows(
        request.task, lm_eval_task_manager(args | plan.task_metadata), args, answers,
        limit=request.limit, fewshot_seed=SEEDS["fewshot_random_seed"],
    )  # fmt: skip
    out = samples_path(request.samples_dir, plan.cell).with_suffix(".kept.jsonl")
    atomic_write_jsonl(out, rows)
    return out, len(rows), docs
