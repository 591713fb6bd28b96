"""The pipeline's conventions (where each stage reads and writes) and the two `dvc.yaml` stage
commands whose inputs are lists in `params.yaml` (DVC interpolates strings into a command, not lists).

    smd stage train --task qa --backbone tiny --variant v5_top3 [--target text]
    smd stage evaluate --dataset babel_qa --backbone tiny --variant v5_top3 [--scoring mc] [--lora]
    smd stage headline --output reports/headline.json

A QA dataset is scored three ways: `generation` (the paper's protocol: the model writes its answer),
`mc` (log-likelihood of each option's letter) and `cloze` (log-likelihood of each option's text, for
small models; scored with an adapter trained on answer texts). A cell's benchmark (the first part of its
key) is its lm-eval task's name without `smd_` after the profile's results prefix (`demo_babel_qa`,
`demo_babel_qa_mc`, `demo_babel_qa_cloze`: `Pipeline.benchmark`), so the three never share a cell.
A preset may be a motion-blind control (`v5_top3-blind`, harness.data.prompt_docs): its docs, adapters and
cells are built exactly like the real preset's.

The `pipeline:` section of `params.yaml` names the profile: where the datasets live, which QA datasets
train one adapter jointly, the caption dataset, presets, backbones, and where runs and results go. The
default is the offline demo; the paper's configuration is one `dvc exp run -S ...` away (docs/pipeline.md).
`dvc.yaml` spells the same paths; `tests/harness/test_pipeline.py` holds the two to each other.

Each sub-command builds its stage's typed request (`harness.train.main.TrainRequest`,
`harness.evaluate.main.EvalRequest`) from these paths and runs it with the stage's `run_stage`, as
`smd train` / `smd evaluate` run the request they parse from their arguments: no argv in between.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.core import (
    OUTPUT_OPTION,
    VARIANT_OPTION,
    Params,
    add_renamed_option,
    load_params,
    typed_from_mapping,
)
from harness.data import (
    ANSWER_PRIOR,
    BLIND_SUFFIX,
    DATASETS,
    MOTION_VARIANT,
    SCORINGS,
    benchmark_name,
    check_prefix,
    docs_path,
    docs_variant,
    get_dataset,
    task_name,
)
from harness.models import load_registry

# what the adapter of a scoring was trained to answer (harness.train.config.TrainConfig.qa_target)
SCORING_TARGETS = {"generation": "letter", "mc": "letter", "cloze": "text"}
# adapter names in cells, and the run folder of each QA target beside `qa/`
ADAPTER_NAMES = {"letter": "lora", "text": "lora-text"}
ADAPTER_NAME = ADAPTER_NAMES["letter"]
# the stage each `smd stage` sub-command runs (imported when it runs; tests/test_layout.py reads this map
# to find each dvc.yaml stage's code)
STAGE_MODULES = {
    "train": "harness.train.main",
    "train-encoder": "harness.train.main",
    "evaluate": "harness.evaluate.main",
    "headline": "harness.results.headline",
}
RUN_TASK_DIRS = {("qa", "letter"): "qa", ("qa", "text"): "qa-text", ("caption", "letter"): "caption"}
# the encoder baseline (harness.models.encoder): its adapters' names in cells, and its run folders
# beside `qa/`
ENCODER_ADAPTER_NAMES = {"letter": "encoder-letter", "text": "encoder-text"}
ENCODER_RUN_DIRS = {1: "encoder-s1", "letter": "encoder-letter", "text": "encoder-text"}
# the caption metrics the headline shows (a cell without one, e.g. no T2M evaluator: left out)
HEADLINE_CAPTION_METRICS = ("r_precision_top1", "bleu_4", "cider")


@dataclass(frozen=True)
class Pipeline:
    """The `pipeline:` section of params.yaml (unknown keys are rejected).

    Attributes:
        data_dir: every dataset's root is `<data_dir>/<dataset>`.
        runs_dir: training runs go to `<runs_dir>/<task>/<backbone>/<preset>`, evaluation samples to
            `<runs_dir>/eval_samples/`.
        results_dir: result cells go to `<results_dir>/<benchmark>/<preset>/...`, the benchmark
            `<results_prefix><dataset>[_mc|_cloze]` (`benchmark`).
        results_prefix: `demo_` keeps the demo's cells apart from real-data cells.
        qa_datasets: QA datasets one adapter is trained on jointly (each evaluated on its own).
        caption_dataset: the captioning dataset.
        presets: the docs variants: SMD presets and motion-blind controls (`v5_top3-blind`).
        backbones: registry names whose adapters answer with a letter; QA is scored by generation (the
            paper's protocol) and by the letters' log-likelihood (`mc`), zero-shot and with the adapter.
        cloze_backbones: registry names that also get an adapter trained on answer texts, QA scored by
            cloze (zero-shot and with that adapter).
        caption_backbones: registry names trained and scored on captions (empty: no caption stages).
        converted_backbones: registry names whose folder the `convert-backbone` stage builds from the
            GGUF in their wheel (`smd convert-gguf`; harness.models.gguf), e.g. `smollm2-135m`.
        encoder_backbones: registry names that get the encoder baseline (harness.models.encoder): a motion
            encoder of kind `encoder` (`small`, trained from scratch) and a projector trained in two stages
            (`train-encoder-s1` on captions with the LLM frozen, then `train-encoder` with LoRA on the QA
            datasets, answers by letter and by text), scored on the `motion` docs like the SMD cells.
        eval_limit: documents per evaluation (None: all), for reduced runs.
    """

    data_dir: str = "data/demo"
    runs_dir: str = "runs/demo"
    results_dir: str = "results"
    results_prefix: str = "demo_"
    qa_datasets: tuple[str, ...] = ("babel_qa",)
    caption_dataset: str = "humanml3d"
    presets: tuple[str, ...] = ("v5_top3", "v5_top3-blind")
    backbones: tuple[str, ...] = ("tiny",)
    cloze_backbones: tuple[str, ...] = ("tiny",)
    caption_backbones: tuple[str, ...] = ()
    converted_backbones: tuple[str, ...] = ()
    encoder_backbones: tuple[str, ...] = ("tiny",)
    encoder: str = "small"
    eval_limit: int | None = None

    def __post_init__(self):
        for names, kind in ((self.qa_datasets, "qa"), ((self.caption_dataset,), "caption")):
            for name in names:
                if get_dataset(name).kind != kind:
                    raise ValueError(f"pipeline: {name!r} is a {get_dataset(name).kind} dataset, not {kind}")
        check_prefix(self.results_prefix)
        if not self.presets or docs_variant(self.presets[0])[1]:
            raise ValueError(f"pipeline: presets must start with a real SMD preset, got {list(self.presets)}")
        if self.eval_limit is not None and self.eval_limit < 1:
            raise ValueError(f"pipeline: eval_limit must be >= 1 or null, got {self.eval_limit}")

    def root(self, dataset: str) -> Path:
        return Path(self.data_dir) / dataset

    def datasets(self, task: str) -> tuple[str, ...]:
        return self.qa_datasets if task == "qa" else (self.caption_dataset,)

    def docs(self, task: str, preset: str, split: str) -> list[Path]:
        return [docs_path(self.root(d), preset, split) for d in self.datasets(task)]

    def run_dir(self, task: str, backbone: str, preset: str, target: str = "letter") -> Path:
        return Path(self.runs_dir) / RUN_TASK_DIRS[task, target] / backbone / preset

    def encoder_run_dir(self, backbone: str, step: int | str) -> Path:
        """Stage 1 (`step` 1), or stage 2 answering by `letter` / `text`."""
        return Path(self.runs_dir) / ENCODER_RUN_DIRS[step] / backbone

    def samples_dir(self) -> Path:
        return Path(self.runs_dir) / "eval_samples"

    def task_of(self, dataset: str) -> str:
        return "qa" if dataset in self.qa_datasets else "caption"

    def benchmark(self, dataset: str, scoring: str = "generation") -> str:
        """The benchmark of `dataset` scored by `scoring` under this profile's results prefix: the first
        part of its cells' keys (`demo_babel_qa_cloze`)."""
        return benchmark_name(dataset, scoring, self.results_prefix)


def load_pipeline(params: Params | Path | str) -> Pipeline:
    return typed_from_mapping(Pipeline, load_params(params).section("pipeline"), "pipeline")


def _stage(name: str) -> ModuleType:
    """The stage module of an `smd stage` sub-command, imported by name when the stage runs.

    A stage's dvc.yaml code deps are the import closure of this driver and its own module
    (tests/test_layout.py reads imports with `ast`, type-only ones too): an import statement here, even
    of a request type for an annotation, would make every stage's code a dependency of every other
    stage. So the requests below are built with the stage module's own class, and annotated `Any`."""
    return importlib.import_module(STAGE_MODULES[name])


def train_request(
    p: Pipeline, task: str, backbone: str, preset: str, params: Params, target: str = "letter"
) -> Any:
    """The train stage's `harness.train.main.TrainRequest` of one task x backbone x preset: its adapter
    answers QA by `target`."""
    return _stage("train").TrainRequest(
        task=task,
        docs=tuple(p.docs(task, preset, "train")),
        val_docs=tuple(p.docs(task, preset, "val")),
        backbone=backbone,
        out=p.run_dir(task, backbone, preset, target),
        params=params,
        overrides={"qa_target": target} if task == "qa" else {},
        # a changed train: section or docs start the persisted run folder over (dvc re-runs the stage)
        restart_changed=True,
    )


def train_encoder_request(
    p: Pipeline, step: int, backbone: str, params: Params, target: str = "letter"
) -> Any:
    """The `TrainRequest` of the encoder baseline's stage 1 (captions, the LLM frozen) or stage 2 (the QA
    datasets with LoRA, from stage 1's encoder)."""
    task = "caption" if step == 1 else "qa"
    overrides: dict[str, Any] = {"encoder": p.encoder}
    if step == 1:
        overrides["lora"] = False
    else:
        overrides |= {"encoder_init": str(p.encoder_run_dir(backbone, 1) / "best"), "qa_target": target}
    return _stage("train-encoder").TrainRequest(
        task=task,
        docs=tuple(p.docs(task, MOTION_VARIANT, "train")),
        val_docs=tuple(p.docs(task, MOTION_VARIANT, "val")),
        backbone=backbone,
        out=p.encoder_run_dir(backbone, 1 if step == 1 else target),
        params=params,
        overrides=overrides,
        restart_changed=True,
    )


def evaluate_request(
    p: Pipeline,
    dataset: str,
    backbone: str,
    preset: str,
    lora: bool,
    params: Params,
    scoring: str = "generation",
    encoder: bool = False,
) -> Any:
    """The evaluate stage's `harness.evaluate.main.EvalRequest` of one dataset x scoring x backbone x
    preset: zero-shot, with the adapter of its train stage (`lora`), or the encoder baseline on the motion
    docs (`encoder`)."""
    if scoring != "generation" and dataset not in p.qa_datasets:
        raise ValueError(f"{dataset}: only QA datasets have the {scoring!r} scoring")
    target = SCORING_TARGETS[scoring]
    adapter = encoder_dir = adapter_name = None
    if encoder:  # the encoder baseline: stage 2's folder holds the adapter and the encoder
        adapter = encoder_dir = p.encoder_run_dir(backbone, target) / "best"
        preset, adapter_name = MOTION_VARIANT, ENCODER_ADAPTER_NAMES[target]
    elif lora:
        adapter = p.run_dir(p.task_of(dataset), backbone, preset, target) / "best"
        adapter_name = ADAPTER_NAMES[target]
    entry = load_registry(params).get(backbone)  # an unregistered folder or hub id: lm-eval's default
    batch = entry.eval_batch_size if entry else 1
    if batch < 1:
        raise ValueError(f"backbones.{backbone}.eval_batch_size must be >= 1, got {batch}")
    return _stage("evaluate").EvalRequest(
        task=task_name(dataset, scoring),
        benchmark=p.benchmark(dataset, scoring),
        data_root=p.root(dataset),
        preset=preset,
        backbone=backbone,
        adapter=adapter,
        encoder=encoder_dir,
        adapter_name=adapter_name,
        params=params,
        results=Path(p.results_dir),
        # per-doc samples beside the profile's runs: two profiles with the same results_prefix (the demo
        # and .ci/reduced-demo) would otherwise overwrite each other's files under evaluate's default
        samples_dir=p.samples_dir(),
        limit=p.eval_limit,
        batch_size=batch,
    )


def headline_picks(p: Pipeline) -> list[str]:
    """The headline numbers (harness.results.headline) as `NAME=CELL:METRIC`: per QA dataset and scoring,
    the first backbone of the scoring with its adapter on the first preset (`lora`), on that preset's
    motion-blind control when the profile has it (`blind`), and the answer prior (`prior`); per caption
    metric, the first caption backbone with its adapter (`lora`, `blind`)."""
    preset = p.presets[0]
    blind = preset + BLIND_SUFFIX
    variants = {"lora": preset, "blind": blind} if blind in p.presets else {"lora": preset}
    picks = []
    for dataset in p.qa_datasets:
        for scoring in SCORINGS:
            cell = f"{p.benchmark(dataset, scoring)}/{{variant}}/{{model}}"
            backbones = p.cloze_backbones if SCORING_TARGETS[scoring] == "text" else p.backbones
            if backbones:
                model = f"{backbones[0]}+{ADAPTER_NAMES[SCORING_TARGETS[scoring]]}"
                picks += [
                    f"{dataset}.{scoring}.{name}={cell.format(variant=v, model=model)}:acc"
                    for name, v in variants.items()
                ]
            picks.append(f"{dataset}.{scoring}.prior={cell.format(variant=preset, model=ANSWER_PRIOR)}:acc")
    if p.caption_backbones:
        model = f"{p.caption_backbones[0]}+{ADAPTER_NAME}"
        picks += [
            f"{p.caption_dataset}.{metric}.{name}={p.benchmark(p.caption_dataset)}/{v}/{model}:{metric}"
            for metric in HEADLINE_CAPTION_METRICS
            for name, v in variants.items()
        ]
    return picks


def headline_request(p: Pipeline, output: Path) -> Any:
    """The headline stage's `harness.results.headline.HeadlineRequest`: the profile's picks."""
    return _stage("headline").HeadlineRequest(Path(p.results_dir), output, tuple(headline_picks(p)))


def main(argv: list[str] | None = None) -> int:
    """`smd stage train|evaluate|headline ...`: one cell of the dvc.yaml matrix, paths from params.yaml."""
    parser = argparse.ArgumentParser(prog="smd stage", description=main.__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    sub = parser.add_subparsers(dest="stage", required=True)
    train = sub.add_parser("train", help="train the adapter of one task x backbone x preset")
    train.add_argument("--task", choices=("qa", "caption"), required=True)
    train.add_argument(
        "--target",
        choices=sorted(ADAPTER_NAMES),
        default="letter",
        help="QA answers: letters or option texts",
    )
    encoder = sub.add_parser(
        "train-encoder", help="train the encoder baseline of one backbone (stage 1 or 2)"
    )
    encoder.add_argument("--step", type=int, choices=(1, 2), required=True)
    encoder.add_argument(
        "--target", choices=sorted(ADAPTER_NAMES), default="letter", help="stage 2's answers"
    )
    encoder.add_argument("--backbone", required=True)
    evaluate = sub.add_parser("evaluate", help="evaluate one dataset x backbone x preset (zero-shot or LoRA)")
    evaluate.add_argument("--dataset", choices=list(DATASETS), required=True)
    evaluate.add_argument("--scoring", choices=list(SCORINGS), default="generation", help="QA scoring")
    evaluate.add_argument("--lora", action="store_true", help="with the adapter of the train stage")
    evaluate.add_argument("--encoder", action="store_true", help="the encoder baseline on the motion docs")
    headline = sub.add_parser("headline", help="the headline numbers of the profile's cells (dvc metrics)")
    headline.add_argument(*OUTPUT_OPTION, type=Path, required=True, help="the JSON file")
    for s in (train, evaluate):
        s.add_argument("--backbone", required=True)
        # dvc.yaml's stage commands still use the old spelling: renamed there with the next re-lock
        add_renamed_option(s, VARIANT_OPTION, old=("--preset",), required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        params = load_params(args.params)  # read once: the stage below gets this very mapping
        p = load_pipeline(params)
        if args.stage == "train":
            request = train_request(p, args.task, args.backbone, args.variant, params, args.target)
        elif args.stage == "train-encoder":
            request = train_encoder_request(p, args.step, args.backbone, params, args.target)
        elif args.stage == "headline":  # reads cells only: no params to hand on
            request = headline_request(p, args.output)
        else:
            request = evaluate_request(
                p, args.dataset, args.backbone, args.variant, args.lora, params, args.scoring, args.encoder
            )
    except (ValueError, FileNotFoundError) as e:
        print(f"smd stage: error: {e}", file=sys.stderr)
        return 2
    return _stage(args.stage).run_stage(request)
