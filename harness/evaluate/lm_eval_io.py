"""What goes into lm-eval and what comes out of it, for one results cell: the `hf` model arguments,
pinned seeds, the task YAMLs and their versions, the cell's metrics and the per-doc sample rows.

Helpers around `lm_eval.simple_evaluate` (harness.evaluate runs it), and its git probe made quiet;
nothing here runs a model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from harness.core import read_text, sha256_file
from harness.data import LETTERS
from harness.models import Backbone, check_weights
from harness.results import ANSWER_PRIOR, cell_key

from .tasks import TYPE_METRICS

__all__ = [
    "ANSWER_PRIOR",
    "ANSWER_PRIOR_MODEL",
    "ENCODER_MODEL",
    "SEEDS",
    "SHARED_CONTEXT_MODEL",
    "cell_backbone_name",
    "cell_metrics",
    "encoder_record",
    "finish_request_cache",
    "lm_eval_task_manager",
    "model_args",
    "quiet_git_probe",
    "request_cache",
    "sample_rows",
    "samples_path",
    "task_version",
    "tasks_dir",
]

_LOG = logging.getLogger("smd.evaluate")
REPO = Path(__file__).resolve().parents[2]
CHECKOUT_TASKS = REPO / "tasks"


ENCODER_MODEL = "smd-encoder"  # lm-eval's model name of the encoder baseline (harness.evaluate.encoder_lm)
# the answer-prior baseline's lm-eval model (harness.evaluate.answer_prior; its cell name: harness.results)
ANSWER_PRIOR_MODEL = "smd-answer-prior"
# lm-eval's `hf` with a question's options scored over one pass of its prompt (.shared_context_lm)
SHARED_CONTEXT_MODEL = "smd-hf"
# lm-eval's defaults, pinned here so that a new lm-eval default cannot change a result silently.
SEEDS = {"random_seed": 0, "numpy_random_seed": 1234, "torch_random_seed": 1234, "fewshot_random_seed": 1234}


def cell_backbone_name(backbone: Backbone) -> str:
    """The backbone's name in a cell: the registry name, else a folder's base name or a hub id with
    `/` as `--` (`Qwen/Qwen2.5-7B-Instruct` -> `Qwen--Qwen2.5-7B-Instruct`), kept to Cell's characters."""
    local = Path(backbone.path).expanduser()
    if "/" not in backbone.name and "\\" not in backbone.name:
        raw = backbone.name
    elif local.exists():
        raw = local.resolve().name
    else:
        raw = backbone.name.replace("/", "--")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", raw).lstrip("._-")
    if not name:
        raise ValueError(f"backbone {backbone.name!r}: no cell name can be made of it; register a name")
    return name


def model_args(
    backbone: Backbone,
    adapter: Path | None,
    *,
    cuda: bool,
    encoder: Path | None = None,
    root: Path | None = None,
) -> dict[str, Any]:
    """lm-eval `hf` model arguments: weights, dtype (the entry's `cpu_dtype` on a CPU), chat-template
    kwargs, adapter; with `encoder`, the `smd-encoder` model's too (the encoder folder, the dataset
    `root` of the clips).

    lm-eval 0.4.13's HFLM takes `chat_template_args` (passed to `apply_chat_template` with every
    prompt) as a model argument; only a dict `model_args`, as here, can carry it.
    """
    dtype = backbone.dtype if cuda else backbone.cpu_dtype
    args: dict[str, Any] = {"pretrained": backbone.path, "dtype": dtype}
    if backbone.trust_remote_code:
        args["trust_remote_code"] = True
    if backbone.chat_template_kwargs:
        args["chat_template_args"] = dict(backbone.chat_template_kwargs)
    if backbone.context_length:
        args["max_length"] = backbone.context_length
    if adapter is not None:
        args["peft"] = str(adapter)
    if encoder is not None:
        args |= {"encoder": str(encoder), "data_root": str(root)}
    return args


def cell_metrics(task_results: dict[str, Any], *, n: int, skipped: int) -> dict[str, float]:
    """lm-eval's `results[task]` as cell numbers: `acc,none` -> `acc`, another filter -> `acc_<filter>`;
    a stderr that is not a finite number ("N/A" for corpus metrics) is left out, and so is a per-type
    accuracy whose aggregation found no value (`None`: a type without docs).

    Raises:
        ValueError: a metric (not a stderr) that is not a finite number.
    """
    out: dict[str, float] = {}
    for key, value in task_results.items():
        metric, comma, filter_name = key.partition(",")
        if not comma:  # name, alias, sample_len: not metrics
            continue
        name = metric if filter_name == "none" else f"{metric}_{re.sub(r'[^A-Za-z0-9_]+', '_', filter_name)}"
        finite = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if finite:
            out[name] = value
        elif metric.endswith("_stderr") or (value is None and metric in TYPE_METRICS):
            continue
        else:
            raise ValueError(f"metric {key} is not a finite number: {value!r}")
    return {**out, "n": n, "skipped": skipped}


def sample_rows(samples: list[dict]) -> list[dict]:
    """One row per scored doc, sorted by doc id: the doc's `id` and `motion_id`, the `prediction`
    (generated text, or the option letter with the highest log-likelihood), the `target`, the
    references of a caption doc and the doc's numeric per-sample metrics."""
    rows = []
    for s in samples:
        doc = s.get("doc") or {}
        row = {"id": str(doc.get("doc_id", s.get("doc_id"))), "motion_id": doc.get("motion_id")}
        responses = s.get("filtered_resps") or []
        if responses and isinstance(responses[0], (list, tuple)):  # log-likelihood per option
            logliks = [float(r[0]) for r in responses]
            row["prediction"] = LETTERS[max(range(len(logliks)), key=logliks.__getitem__)]
            # strict JSON: an option the model gives probability 0 (-inf) is recorded as null
            row["loglikelihoods"] = [v if math.isfinite(v) else None for v in logliks]
        else:
            row["prediction"] = responses[0] if responses else ""
        row["target"] = s.get("target")
        if "options" in doc:  # the doc's chance level is 1 / len(options)
            row["n_options"] = len(doc["options"])
        if "references" in doc:
            row["references"] = list(doc["references"])
        for metric in s.get("metrics") or []:
            value = s.get(metric)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                row[metric] = value
        rows.append(row)
    return sorted(rows, key=lambda r: r["id"])


def tasks_dir() -> Path:
    """The task YAMLs: the checkout's `tasks/`, else where `pip install .` put them."""
    if (CHECKOUT_TASKS / "smd.yaml").is_file():
        return CHECKOUT_TASKS
    import lm_eval.tasks

    return Path(lm_eval.tasks.__file__).parent / "smd"


class _TaskYamlLoader(yaml.SafeLoader):
    """Reads a task YAML without importing what its `!function` tags name."""


_TaskYamlLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


def task_version(task: str, folder: Path | None = None) -> float | str | None:
    """`metadata.version` of a task YAML, following `include:` as lm-eval does (the file's own keys win)."""
    path = (folder or tasks_dir()) / f"{task}.yaml"
    config: dict = {}
    for _ in range(10):  # include chains are short; a cycle must not hang
        own = yaml.load(read_text(path), Loader=_TaskYamlLoader) or {}
        config = {**own, **config}
        if "include" not in own:
            break
        path = path.parent / own["include"]
    return (config.get("metadata") or {}).get("version")


def encoder_record(encoder: Path, scored: dict[str, str] | None, docs: Path) -> dict[str, Any]:
    """Path and hash of an encoder folder (harness.models.encoder.folder); the docs must be `motion` docs.

    Raises:
        ValueError: not an encoder folder, or docs that carry SMD text instead of motion markers.
    """
    from harness.data import MOTION_FORMAT
    from harness.models.encoder import CONFIG_FILE, WEIGHTS_FILE

    weights = encoder / WEIGHTS_FILE
    if not (encoder / CONFIG_FILE).is_file() or not weights.is_file():
        raise ValueError(f"{encoder}: not an encoder folder (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    check_weights(weights)
    if scored is not None and scored["format_version"] != MOTION_FORMAT:
        raise ValueError(
            f"{docs}: SMD docs; an encoder reads the `motion` docs (`smd make-docs ROOT --variant motion`)"
        )
    return {"path": str(encoder), "sha256": sha256_file(weights)}


def request_cache(samples_dir: Path, cell: tuple, inputs: dict) -> Path:
    """The prefix of a cell's lm-eval request cache (lm-eval adds `_rank<k>.db`), beside its samples.

    Keyed by a digest of the cell's inputs (model files, adapter, docs, task version, limit...): lm-eval
    keys answers by prompt alone, so another model's cache must never answer for this one.
    """
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return samples_dir / f"{cell_key(*cell)}.requests-{digest}"


def samples_path(samples_dir: Path, cell: tuple) -> Path:
    """The per-doc samples of a cell: `samples_dir/<benchmark>/<variant>/<backbone>[+<adapter>].jsonl`."""
    return samples_dir / f"{cell_key(*cell)}.jsonl"


def finish_request_cache(cache: Path) -> None:
    """After a finished run: remove its request cache (the samples hold every answer now) and name the
    caches of the same cell left by runs of other inputs (a changed model, docs or batch size), which
    no later run of these inputs reads. They are not removed: `--kept-only` with those inputs reads them."""
    for db in cache.parent.glob(f"{cache.name}_rank*.db"):
        db.unlink()
    stem = cache.name.partition(".requests-")[0]
    stale = sorted(str(p) for p in cache.parent.glob(f"{stem}.requests-*_rank*.db"))
    if stale:
        _LOG.warning(
            "request caches of other inputs of this cell, no longer read (delete them when done): %s",
            ", ".join(stale),
        )


def lm_eval_task_manager(metadata: dict[str, Any]):
    """lm-eval's TaskManager over our task folder only, with `metadata` (model args and task metadata).

    lm-eval's CLI merges model_args into the task metadata; simple_evaluate with a TaskManager does
    not, and the task glue needs `pretrained` / `max_length` to leave out prompts that do not fit.
    Indexing only our folder, not lm-eval's thousands of task files, saves seconds per call.
    """
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(tasks_dir()), include_defaults=False, metadata=metadata)


@contextmanager
def quiet_git_probe() -> Iterator[None]:
    """lm-eval's `simple_evaluate` with its git probe asked quietly.

    lm-eval records the working directory's commit by running `git describe` with git's stderr
    inherited, so outside a checkout the user reads `fatal: not a git repository`. The same question,
    stderr discarded, answers None there; our own record of the code's commit is the run log's
    (`harness.core.git_state`, None outside a checkout).
    """
    import lm_eval.evaluator

    def commit_of_working_directory() -> str | None:
        try:
            found = subprocess.run(
                ["git", "describe", "--always"], capture_output=True, text=True, check=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return found.stdout.strip()

    original = lm_eval.evaluator.get_git_commit_hash
    lm_eval.evaluator.get_git_commit_hash = commit_of_working_directory
    try:
        yield
    finally:
        lm_eval.evaluator.get_git_commit_hash = original
