"""`smd evaluate`: score one backbone (zero-shot or with a LoRA adapter) on one lm-eval task, one cell.

    smd evaluate --task smd_babel_qa --dataset babel_qa --data-root data/babel_qa --preset v5_top3 \\
        --backbone qwen2.5-7b [--adapter runs/qa/qwen2.5-7b/v5_top3/best] [--limit N]

One call runs `lm_eval.simple_evaluate` on one task with lm-eval's `hf` model (the backbone from the
registry in `params.yaml`, `peft=<adapter>`, the backbone's chat template and its kwargs) and writes:

    results/<dataset>/<preset>/<backbone>[+<adapter-name>].json             numbers only (harness.results)
    results/<dataset>/<preset>/<backbone>[+<adapter-name>].provenance.json  inputs, versions, hardware, ...
    runs/eval_samples/<dataset>/<preset>/<same name>.jsonl                   one line per scored doc

Samples stay out of `results/` because they grow with the test set (HumanML3D: 4k+ captions per
cell); the provenance names the file and its sha256. A caption samples file is the input format
of `smd score-captions` (`id`, `prediction`, `references`, `motion_id`).

A cell holds `n` (docs scored) and `skipped` (test docs left out because their prompt does not fit
the context; lm-eval's HF backend would cut them from the left) beside lm-eval's metrics, and, from the
per-doc samples (`harness.compare.cell_statistics`): `chance` (QA: mean of 1 / number of options),
`<metric>_ci95_low` / `_ci95_high` (Wilson 95 % interval of each per-doc 0/1 metric; captions: bootstrap
CIs of `bleu_4`, `rouge_l`, `cider`), `<metric>_n` for a per-type metric, and `limit` when `--limit`
left docs unscored. A call whose inputs (task and its version, preset, model path and files, adapter
and docs hashes, limit, extra metadata) equal the existing cell's provenance prints "up to date" and
runs nothing (`--force` re-runs).
A cell holds one task: the MC and the generation variant of a QA task cannot share a cell (the second
is refused).
Exit status: 0 done or up to date, 2 bad input (nothing written); lm-eval errors propagate.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from .backbones import Backbone, get_backbone
from .compare import cell_statistics
from .io import atomic_write_jsonl, folder_digest, read_json, read_jsonl
from .prompt_docs import docs_path
from .qa_options import LETTERS
from .results import CAPTION_DATASETS, DATASETS, QA_DATASETS, Cell, cell_path, provenance_path, write_cell
from .training.data import sha256_file

__all__ = ["TASK_DATASETS", "EvalInputError", "EvalRequest", "main", "run_evaluation"]

EXIT_BAD_INPUT = 2
REPO = Path(__file__).resolve().parents[1]
CHECKOUT_TASKS = REPO / "tasks"
DEFAULT_SAMPLES_DIR = Path("runs/eval_samples")
# Which dataset's docs a task reads: the `<dataset>_root` metadata key of harness.lm_eval_tasks.
TASK_DATASETS = {
    "smd_babel_qa": "babel_qa",
    "smd_babel_qa_mc": "babel_qa",
    "smd_humman_qa": "humman_qa",
    "smd_humman_qa_mc": "humman_qa",
    "smd_babel_qa_cloze": "babel_qa",
    "smd_humman_qa_cloze": "humman_qa",
    "smd_humanml3d_caption": "humanml3d",
    "smd_humanml3d_caption_full": "humanml3d",
}
# lm-eval's defaults, pinned here so that a new lm-eval default cannot change a result silently.
SEEDS = {"random_seed": 0, "numpy_random_seed": 1234, "torch_random_seed": 1234, "fewshot_random_seed": 1234}


class EvalInputError(Exception):
    """A user-facing input error (missing docs, adapter or backbone): exit 2, nothing written."""


@dataclass(frozen=True)
class EvalRequest:
    """Everything one `smd evaluate` call needs; see `main` for the meaning of each option."""

    task: str
    dataset: str
    data_root: Path
    preset: str
    backbone: str
    adapter: Path | None = None
    adapter_name: str | None = None
    params: Path | None = None
    results: Path = Path("results")
    samples_dir: Path = DEFAULT_SAMPLES_DIR
    limit: int | None = None
    batch_size: int | str = 1
    metadata: dict[str, Any] = field(default_factory=dict)
    force: bool = False


# ---------------------------------------------------------------- pure helpers


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
        raise EvalInputError(f"backbone {backbone.name!r}: no cell name can be made of it; register a name")
    return name


def model_args(backbone: Backbone, adapter: Path | None, *, cuda: bool) -> dict[str, Any]:
    """lm-eval `hf` model arguments: weights, dtype (float32 on CPU), chat-template kwargs, adapter.

    lm-eval 0.4.13's HFLM takes `chat_template_args` (passed to `apply_chat_template` with every
    prompt) as a model argument; only a dict `model_args`, as here, can carry it.
    """
    args: dict[str, Any] = {"pretrained": backbone.path, "dtype": backbone.dtype if cuda else "float32"}
    if backbone.trust_remote_code:
        args["trust_remote_code"] = True
    if backbone.chat_template_kwargs:
        args["chat_template_args"] = dict(backbone.chat_template_kwargs)
    if backbone.context_length:
        args["max_length"] = backbone.context_length
    if adapter is not None:
        args["peft"] = str(adapter)
    return args


def cell_metrics(task_results: dict[str, Any], *, n: int, skipped: int) -> dict[str, float]:
    """lm-eval's `results[task]` as cell numbers: `acc,none` -> `acc`, another filter -> `acc_<filter>`;
    a stderr that is not a finite number ("N/A" for corpus metrics) is left out.

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
        elif not metric.endswith("_stderr"):
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
            row["loglikelihoods"] = logliks
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


# ---------------------------------------------------------------- inputs


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
        own = yaml.load(path.read_text(encoding="utf-8"), Loader=_TaskYamlLoader) or {}
        config = {**own, **config}
        if "include" not in own:
            break
        path = path.parent / own["include"]
    return (config.get("metadata") or {}).get("version")


def _adapter_record(adapter: Path) -> dict[str, Any]:
    if not adapter.is_dir():
        raise EvalInputError(f"adapter folder not found: {adapter}")
    if not (adapter / "adapter_config.json").is_file():
        raise EvalInputError(f"{adapter}: not a PEFT adapter folder (no adapter_config.json)")
    names = ("adapter_model.safetensors", "adapter_model.bin")
    weights = next((adapter / n for n in names if (adapter / n).is_file()), None)
    if weights is None:
        raise EvalInputError(f"{adapter}: no adapter_model.safetensors (or .bin)")
    return {"path": str(adapter), "weights": weights.name, "sha256": sha256_file(weights)}


def _json_safe(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


@dataclass(frozen=True)
class _Plan:
    """A request with everything resolved and checked, before any model is loaded."""

    backbone: Backbone
    cell: tuple[str, str, str, str | None]  # dataset, variant, backbone, adapter
    docs: Path
    adapter: dict[str, Any] | None
    task_metadata: dict[str, Any]
    inputs: dict[str, Any]  # what decides the numbers: equal inputs, equal cell


def plan(request: EvalRequest) -> _Plan:
    """Resolve and check a request: task, dataset, docs, backbone, adapter, metadata.

    Raises:
        EvalInputError: anything missing or inconsistent (the message names the path or option).
    """
    kind = TASK_DATASETS.get(request.task)
    if kind is None:
        raise EvalInputError(f"unknown task {request.task!r} (known: {', '.join(TASK_DATASETS)})")
    wanted = CAPTION_DATASETS if kind == "humanml3d" else QA_DATASETS
    if request.dataset not in wanted:
        raise EvalInputError(
            f"task {request.task} scores {kind} docs; --dataset must be one of {', '.join(wanted)}"
        )
    docs = docs_path(request.data_root, request.preset, "test")
    if not docs.is_file():
        raise EvalInputError(
            f"test docs not found: {docs} (run `smd make-docs {request.data_root} --preset {request.preset}`)"
        )
    root_key = f"{kind}_root"
    clashing = sorted({"smd_variant", "data_root", root_key} & set(request.metadata))
    if clashing:
        raise EvalInputError(f"--metadata may not set {', '.join(clashing)}: use --preset / --data-root")
    if request.adapter_name and request.adapter is None:
        raise EvalInputError("--adapter-name needs --adapter")
    try:
        backbone = get_backbone(request.backbone, request.params)
    except (FileNotFoundError, ValueError) as e:
        raise EvalInputError(str(e)) from None
    adapter = _adapter_record(request.adapter) if request.adapter is not None else None
    adapter_name = (request.adapter_name or "lora") if adapter else None
    cell = (request.dataset, request.preset, cell_backbone_name(backbone), adapter_name)
    try:
        Cell(*cell)  # the names' rules, checked before an hour of evaluation
    except ValueError as e:
        raise EvalInputError(str(e)) from None
    docs_sha = sha256_file(docs)
    inputs = {
        "task": request.task,
        "task_version": task_version(request.task),
        "preset": request.preset,
        "model": backbone.path,
        "model_files": folder_digest(backbone.path),
        "adapter_sha256": adapter["sha256"] if adapter else None,
        "docs_sha256": docs_sha,
        "limit": request.limit,
        "metadata": _json_safe(request.metadata),
    }
    task_metadata = {"smd_variant": request.preset, root_key: str(request.data_root), **request.metadata}
    return _Plan(backbone, cell, docs, adapter, task_metadata, inputs)


# ---------------------------------------------------------------- the run


def run_evaluation(request: EvalRequest) -> tuple[str, Path]:
    """Evaluate one cell unless it is up to date; returns (`"written"` or `"up to date"`, cell path).

    Raises:
        EvalInputError: bad input, or the cell holds another task's results (without `force`).
    """
    resolved = plan(request)
    path = cell_path(request.results, *resolved.cell)
    previous = _read_provenance(path)
    if previous is not None and not request.force:
        if previous.get("inputs") == resolved.inputs:
            return "up to date", path
        if previous.get("task") not in (None, request.task):
            raise EvalInputError(
                f"{path} holds {previous['task']} results; {request.task} would replace them "
                "(one task per cell; --force to replace)"
            )

    import torch
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    cuda = torch.cuda.is_available()
    args = model_args(resolved.backbone, request.adapter, cuda=cuda)
    # lm-eval's CLI merges model_args into the task metadata; simple_evaluate with a TaskManager does
    # not, and the task glue needs `pretrained` / `max_length` to leave out prompts that do not fit.
    # Indexing only our folder, not lm-eval's thousands of task files, saves seconds per call.
    task_manager = TaskManager(
        include_path=str(tasks_dir()), include_defaults=False, metadata=args | resolved.task_metadata
    )
    started, clock = datetime.now(timezone.utc), time.monotonic()
    res = simple_evaluate(
        model="hf",
        model_args=args,
        tasks=[request.task],
        task_manager=task_manager,
        apply_chat_template=True,
        batch_size=request.batch_size,
        device="cuda" if cuda else "cpu",
        limit=request.limit,
        log_samples=True,
        **SEEDS,
    )
    if res is None:  # a non-main process of a data-parallel run: rank 0 writes
        return "not main process", path
    wall = time.monotonic() - clock
    counts = res["n-samples"][request.task]
    in_split = len(read_jsonl(resolved.docs))
    skipped = in_split - int(counts["original"])
    if skipped:
        print(f"{request.task}: {skipped} of {in_split} test docs left out, prompt too long", file=sys.stderr)
    metrics = cell_metrics(res["results"][request.task], n=int(counts["effective"]), skipped=skipped)

    rows = sample_rows(res["samples"][request.task])
    samples_file = request.samples_dir / Path(*resolved.cell[:2]) / (path.stem + ".jsonl")
    atomic_write_jsonl(samples_file, rows)
    # what the tables print beside the scores: chance, 95 % CIs, and whether only a subset was scored
    metrics |= cell_statistics(rows, captions=resolved.cell[0] in CAPTION_DATASETS)
    if request.limit is not None and metrics["n"] < in_split - skipped:
        metrics["limit"] = request.limit

    from .provenance import git_state, hardware, versions

    provenance = {
        "status": "success",
        "task": request.task,
        "task_version": res["versions"].get(request.task),
        "inputs": resolved.inputs,
        "backbone": {"name": resolved.backbone.name, "path": resolved.backbone.path},
        "model_args": _json_safe(args),
        "adapter": resolved.adapter,
        "data": {
            "root": str(request.data_root),
            "docs": {"path": str(resolved.docs), "sha256": resolved.inputs["docs_sha256"], "docs": in_split},
        },
        "task_metadata": _json_safe(resolved.task_metadata),
        "limit": request.limit,
        "seeds": SEEDS,
        "samples": {"path": str(samples_file), "sha256": sha256_file(samples_file), "rows": len(rows)},
        "git": git_state(),
        "versions": versions(),
        "hardware": hardware(),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 3),
        "lm_eval_config": _json_safe(res.get("config")),
    }
    write_cell(request.results, Cell(*resolved.cell, metrics=metrics), provenance)
    return "written", path


def _read_provenance(path: Path) -> dict | None:
    """The provenance of an existing cell; None when either file is missing or unreadable."""
    if not (path.is_file() and provenance_path(path).is_file()):
        return None
    try:
        data = read_json(provenance_path(path))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------- CLI


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not JSON ({e})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def _batch_size(text: str) -> int | str:
    return text if text == "auto" or text.startswith("auto:") else _positive_int(text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="smd evaluate", description="Score one backbone (+ adapter) on one lm-eval task; write its cell."
    )
    p.add_argument("--task", required=True, choices=tuple(TASK_DATASETS))
    p.add_argument("--dataset", required=True, choices=DATASETS, help="the cell's dataset name")
    p.add_argument("--data-root", type=Path, required=True, help="dataset folder holding docs/<preset>/")
    p.add_argument("--preset", required=True, help="SMD preset (the cell's variant), e.g. v5_top3")
    p.add_argument("--backbone", required=True, help="params.yaml backbone name, model folder or hub id")
    p.add_argument("--adapter", type=Path, help="PEFT adapter folder (omitted: zero-shot)")
    p.add_argument("--adapter-name", help="the cell's adapter name (default: lora)")
    p.add_argument("--params", type=Path, help="params file with `backbones:` (default: the repository's)")
    p.add_argument("--results", type=Path, default=Path("results"), help="results folder (default: results)")
    p.add_argument("--limit", type=_positive_int, help="score only the first N test docs (recorded)")
    p.add_argument("--batch-size", type=_batch_size, default=1, help="int or auto (default: 1)")
    p.add_argument(
        "--samples-dir",
        type=Path,
        default=DEFAULT_SAMPLES_DIR,
        help=f"per-doc outputs go to DIR/<dataset>/<preset>/<cell>.jsonl (default: {DEFAULT_SAMPLES_DIR})",
    )
    p.add_argument(
        "--metadata",
        type=_json_object,
        default={},
        help="extra task metadata as JSON, e.g. '{\"bertscore_model\": PATH}' for the _full caption task",
    )
    p.add_argument("--force", action="store_true", help="re-run even when the cell is up to date")
    return p


def main(argv: list[str] | None = None) -> int:
    """`smd evaluate --task T --dataset D --data-root DIR --preset P --backbone B [--adapter DIR]`."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    request = EvalRequest(
        task=args.task,
        dataset=args.dataset,
        data_root=args.data_root,
        preset=args.preset,
        backbone=args.backbone,
        adapter=args.adapter,
        adapter_name=args.adapter_name,
        params=args.params,
        results=args.results,
        samples_dir=args.samples_dir,
        limit=args.limit,
        batch_size=args.batch_size,
        metadata=args.metadata,
        force=args.force,
    )
    try:
        status, path = run_evaluation(request)
    except EvalInputError as e:
        print(f"smd evaluate: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if status == "written":
        numbers = ", ".join(f"{k}={v:.4g}" for k, v in sorted(read_json(path).items()))
        print(f"{path}: {numbers}")
    elif status == "up to date":
        print(f"{path}: up to date (--force to re-run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
