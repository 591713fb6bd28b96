"""The DVC pipeline: `params.yaml` `pipeline:` typing, `dvc.yaml` against `harness/pipeline.py`, and the
reduced demo run end to end through `dvc repro` (interrupted training resumes, re-runs are no-ops, a
parameter change re-runs exactly the stages that depend on it).

The agreement tests resolve `dvc.yaml` with DVC's own API (interpolation, `foreach`/`matrix`), then run
each train/evaluate stage's command through `smd`'s entry point with the heavy call replaced by a spy:
what the command would read and write is compared with what the stage declares to DVC.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import pytest
import yaml

from harness import pipeline as pipeline_mod
from harness.core import Params
from harness.data import SCORINGS, task_name
from harness.pipeline import Pipeline, load_pipeline
from harness.results import ANSWER_PRIOR, cell_path, cell_samples_path, parse_cell_key, provenance_path
from tests.builders import REPO

pytest.importorskip("dvc")

SUBPROCESS_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "DVC_NO_ANALYTICS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    # several torch processes may share this machine's few cores: oversubscribed, torch is ~20x slower
    "OMP_NUM_THREADS": "1",
}

# ---------------------------------------------------------------------------------------------- params


def test_repository_params_are_the_demo_profile():
    p = load_pipeline(REPO / "params.yaml")
    # the dataclass defaults are the demo too: `smd stage` without a pipeline: section runs the demo
    assert p == Pipeline()
    assert (p.data_dir, p.runs_dir, p.results_prefix) == ("data/demo", "runs/demo", "demo_")
    assert p.backbones == p.cloze_backbones == ("tiny",) and p.eval_limit is None
    assert p.caption_backbones == ()  # the demo's captions: profiles/captions-demo
    # the demo proves the method against its motion-blind control
    assert p.presets == ("v5_top3", "v5_top3-blind")
    registry = yaml.safe_load((REPO / "params.yaml").read_text())["backbones"]
    assert set(p.backbones) <= set(registry)


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"data_dir": "data", "bogus_key": 1}, "bogus_key"),
        ({"qa_datasets": ["babel_qa", "kit_qa"]}, "kit_qa"),
        ({"caption_dataset": "kit_ml"}, "kit_ml"),
        ({"eval_limit": "ten"}, "eval_limit"),
        ({"presets": ["v5_top3-blind", "v5_top3"]}, "real SMD preset"),
    ],
)
def test_bad_pipeline_sections_are_value_errors_naming_the_culprit(tmp_path, section, named):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"pipeline": section}))
    with pytest.raises(ValueError, match=named):
        load_pipeline(params)


def test_smd_stage_refuses_bad_params_before_training(tmp_path, monkeypatch, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"pipeline": {"bogus_key": 1}}))
    import harness.train.main

    monkeypatch.setattr(harness.train.main, "run_training", _must_not_be_called)
    argv = ["--params", str(params), "train", "--task", "qa", "--backbone", "tiny", "--variant", "v5_top3"]
    assert pipeline_mod.main(argv) == 2
    assert "bogus_key" in capsys.readouterr().err


def _must_not_be_called(*args, **kwargs):
    raise AssertionError("training started despite bad params")


# ------------------------------------------------------------------------------- dvc.yaml vs pipeline.py

# A profile unlike the demo in every pipeline: field, with several items on each matrix axis, so that a
# path built from the wrong field or a swapped matrix axis cannot pass by coincidence.
PAPER_LIKE = {
    "data_dir": "data",
    "runs_dir": "runs/paper",
    "results_dir": "results/measured",
    "results_prefix": "",
    "qa_datasets": ["babel_qa", "humman_qa"],
    "caption_dataset": "humanml3d",
    "presets": ["v5", "v5_top3", "v5-blind"],
    "backbones": ["qwen2.5-7b", "tiny"],
    "cloze_backbones": ["tiny"],
    "caption_backbones": ["qwen2.5-7b"],
    "converted_backbones": ["smollm2-135m"],
    "encoder_backbones": ["qwen2.5-7b"],
    "encoder": "small",
    "eval_limit": 5,
}


@dataclass(frozen=True)
class Out:
    path: Path
    persist: bool
    cache: bool
    metric: bool


@dataclass(frozen=True)
class Stage:
    name: str
    cmd: str
    deps: tuple[Path, ...]
    params: tuple[str, ...]
    outs: tuple[Out, ...]


@dataclass(frozen=True)
class Profile:
    root: Path  # a DVC project holding the repository's dvc.yaml and a params.yaml
    pipeline: Pipeline
    stages: dict[str, Stage]


def _resolve_stages(root: Path) -> dict[str, Stage]:
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    stages = {}
    with Repo(str(root)) as repo:
        for s in repo.index.stages:
            params = tuple(p for d in s.deps if isinstance(d, ParamsDependency) for p in d.params)
            deps = tuple(Path(d.def_path) for d in s.deps if not isinstance(d, ParamsDependency))
            outs = tuple(
                Out(Path(o.def_path), bool(o.persist), bool(o.use_cache), bool(o.metric)) for o in s.outs
            )
            stages[s.name] = Stage(s.name, s.cmd, deps, params, outs)
    return stages


@pytest.fixture(scope="module", params=["repository", "paper-like"])
def profile(request, tmp_path_factory) -> Profile:
    """The repository's dvc.yaml with its own params.yaml, or with a paper-like `pipeline:` section, in a
    scratch DVC project (no-SCM): resolving the stages never touches the checkout's .dvc/."""
    from dvc.repo import Repo

    root = tmp_path_factory.mktemp(f"profile-{request.param}")
    Repo.init(str(root), no_scm=True).close()
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    if request.param == "paper-like":
        params["pipeline"] = dict(PAPER_LIKE)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return Profile(root, load_pipeline(root / "params.yaml"), _resolve_stages(root))


def _family(stages: dict[str, Stage], family: str) -> dict[str, Stage]:
    return {name: s for name, s in stages.items() if name.split("@")[0] == family}


def _covered(path: Path, deps: tuple[Path, ...]) -> bool:
    """DVC sees a change of `path`: it is a dependency or lies inside one."""
    return any(path == d or d in path.parents for d in deps)


# (train stage family, task, QA target, the pipeline field naming its backbones)
TRAIN_FAMILIES = [
    ("train-qa", "qa", "letter", "backbones"),
    ("train-qa-text", "qa", "text", "cloze_backbones"),
    ("train-caption", "caption", "letter", "caption_backbones"),
]
# (eval stage family without `-lora`, scoring, the pipeline field naming its backbones)
QA_EVAL_FAMILIES = [
    ("eval-qa", "generation", "backbones"),
    ("eval-qa-mc", "mc", "backbones"),
    ("eval-qa-cloze", "cloze", "cloze_backbones"),
]


def test_every_matrix_cell_has_its_stage(profile):
    p, stages = profile.pipeline, profile.stages
    expected = {}
    for family, _, _, field in TRAIN_FAMILIES:
        expected[family] = {f"{b}-{v}" for b, v in product(getattr(p, field), p.presets)}
    for family, _, field in QA_EVAL_FAMILIES:
        cells = {f"{d}-{b}-{v}" for d, b, v in product(p.qa_datasets, getattr(p, field), p.presets)}
        expected[family] = expected[f"{family}-lora"] = cells
    captions = {f"{b}-{v}" for b, v in product(p.caption_backbones, p.presets)}
    expected["eval-caption"] = expected["eval-caption-lora"] = captions
    expected["eval-qa-prior"] = {name.split("@")[1] for name, *_ in _prior_cells(p)}
    for family, items in expected.items():
        assert set(_family(stages, family)) == {f"{family}@{i}" for i in items}, family
    families = {name.split("@")[0] for name in stages}
    assert families - set(expected) <= {
        "demo",
        "smd-qa",
        "smd-caption",
        "options",
        "docs-qa",
        "docs-caption",
        "tiny-backbone",
        "convert-backbone",
        "tables",
        "headline",  # test_the_headline_stage_reads_cells_the_eval_stages_write
        "attention",  # the attention analysis of the first backbone's QA adapter
        # the encoder baseline (test_encoder_stages_...)
        "docs-motion-qa",
        "docs-motion-caption",
        "train-encoder-s1",
        "train-encoder",
        "eval-encoder",
    }


def _run_smd_command(cmd: str) -> None:
    """A stage's `smd ...` command, as `dvc repro` would run it from the project root (the caller chdirs)."""
    from harness.cli import main as smd_main

    argv = shlex.split(cmd)
    assert argv[:2] == ["smd", "stage"], cmd
    assert smd_main(argv[1:]) == 0, cmd


@pytest.mark.parametrize(("family", "task", "target", "field"), TRAIN_FAMILIES)
def test_train_stages_write_the_run_dir_and_depend_on_what_training_reads(
    profile, family, task, target, field, monkeypatch
):
    import harness.train.main

    calls = []

    def spy(request):
        calls.append(vars(request))  # the TrainRequest's fields by name
        return {"status": "success", "best": {}}

    monkeypatch.setattr(harness.train.main, "run_training", spy)
    monkeypatch.chdir(profile.root)
    p = profile.pipeline
    for b, preset in product(getattr(p, field), p.presets):
        stage = profile.stages[f"{family}@{b}-{preset}"]
        run_dir = p.run_dir(task, b, preset, target)
        # one output, the run folder, kept across an interrupted repro so that training resumes
        assert stage.outs == (Out(run_dir, persist=True, cache=True, metric=False),), stage.name

        calls.clear()
        _run_smd_command(stage.cmd)
        (call,) = calls
        assert (call["task"], call["backbone"], Path(call["out"])) == (task, b, run_dir), stage.name
        # every docs file read is a declared dependency: DVC re-trains when one changes
        assert [Path(d) for d in call["docs"]] == p.docs(task, preset, "train")
        assert [Path(d) for d in call["val_docs"]] == p.docs(task, preset, "val")
        # a QA adapter answers as its stage says; a control's docs are the control's
        assert call["overrides"] == ({"qa_target": target} if task == "qa" else {}), stage.name
        for docs in (*call["docs"], *call["val_docs"]):
            assert _covered(Path(docs), stage.deps), f"{stage.name}: {docs} is no dependency"
        # the train: section DVC tracks is the one training reads; after a change, training starts over
        # (a run folder of other inputs is otherwise an error)
        # params.yaml is read once per command: `smd stage` hands training the mapping it read
        assert isinstance(call["params"], Params) and call["params"].path == Path("params.yaml")
        assert call["restart_changed"] is True
        assert {"train", f"backbones.{b}"} <= set(stage.params), stage.name
        _assert_local_backbone_is_a_dependency(b, stage)


def test_encoder_stages_train_both_stages_and_score_the_motion_docs(profile, monkeypatch):
    """Stage 1 on the caption dataset's motion docs (LLM frozen), stage 2 from stage 1's folder on the
    QA datasets', each writing the run folder dvc.yaml declares; each eval cell reads stage 2's folder."""
    import harness.evaluate.main
    import harness.train.main

    calls = []

    def spy(request):
        calls.append(vars(request))  # the TrainRequest's fields by name
        return {"status": "success", "best": {}}

    monkeypatch.setattr(harness.train.main, "run_training", spy)
    monkeypatch.setattr(
        harness.evaluate.main, "run_evaluation", lambda request: calls.append(request) or ("x", None)
    )
    monkeypatch.chdir(profile.root)
    p = profile.pipeline
    names = {
        n for n in profile.stages if n.split("@")[0] in ("train-encoder-s1", "train-encoder", "eval-encoder")
    }
    expected = {f"train-encoder-s1@{b}" for b in p.encoder_backbones}
    expected |= {f"train-encoder@{b}-{t}" for b in p.encoder_backbones for t in ("letter", "text")}
    expected |= {
        f"eval-encoder@{d}-{b}-scoring{i}"
        for d in p.qa_datasets
        for b in p.encoder_backbones
        for i in range(3)
    }
    assert names == expected
    for name in sorted(names):
        stage = profile.stages[name]
        calls.clear()
        if name.startswith("train"):
            _run_smd_command(stage.cmd)
            (call,) = calls
            step1 = name.startswith("train-encoder-s1")
            assert stage.outs == (Out(Path(call["out"]), persist=True, cache=True, metric=False),)
            assert call["task"] == ("caption" if step1 else "qa")
            assert all("/docs/motion/" in str(d) for d in (*call["docs"], *call["val_docs"]))
            assert (
                call["overrides"]["encoder"] == p.encoder
                and (call["overrides"].get("lora") is False) == step1
            )
            if not step1:
                first = Path(call["overrides"]["encoder_init"]).parent
                assert _covered(first, stage.deps), f"{name}: stage 1's folder is no dependency"
            for docs in (*call["docs"], *call["val_docs"]):
                assert _covered(Path(docs), stage.deps), f"{name}: {docs} is no dependency"
        else:
            _run_smd_command(stage.cmd)
            (request,) = calls
            assert request.preset == "motion" and request.encoder == request.adapter
            assert _covered(request.encoder, stage.deps)
            cell = cell_path(
                p.results_dir, request.benchmark, "motion", request.backbone, request.adapter_name
            )
            assert Out(cell, persist=False, cache=False, metric=False) in stage.outs, name


def _assert_local_backbone_is_a_dependency(backbone: str, stage: Stage) -> None:
    """A backbone built by the pipeline (a local folder, `./models/tiny`) is a dependency; a hub id is not."""
    path = yaml.safe_load(Path("params.yaml").read_text())["backbones"][backbone]["path"]
    # harness.models.backbones: `./` marks a folder relative to params.yaml (the cwd)
    if path.startswith("."):
        assert _covered(Path(path), stage.deps), f"{stage.name}: backbone {path} is no dependency"


def _eval_cells(p: Pipeline):
    """(stage name, dataset, scoring, backbone, preset, lora) of each eval stage dvc.yaml should have."""
    for lora in (False, True):
        suffix = "-lora" if lora else ""
        for family, scoring, field in QA_EVAL_FAMILIES:
            for d, b, preset in product(p.qa_datasets, getattr(p, field), p.presets):
                yield f"{family}{suffix}@{d}-{b}-{preset}", d, scoring, b, preset, lora
        for b, preset in product(p.caption_backbones, p.presets):
            yield f"eval-caption{suffix}@{b}-{preset}", p.caption_dataset, "generation", b, preset, lora


def _prior_cells(p: Pipeline):
    """(stage name, dataset, scoring, preset) of each answer-prior stage: every QA dataset, preset and
    scoring (its matrix names a scoring by its place in SCORINGS)."""
    for d, preset, (i, scoring) in product(p.qa_datasets, p.presets, enumerate(SCORINGS)):
        yield f"eval-qa-prior@{d}-{preset}-scoring{i}", d, scoring, preset


def _prior_cell(p: Pipeline, dataset: str, scoring: str, preset: str) -> Path:
    return cell_path(p.results_dir, p.benchmark(dataset, scoring), preset, ANSWER_PRIOR, None)


def test_prior_stages_declare_the_cell_that_smd_evaluate_writes(profile, monkeypatch):
    import harness.evaluate.main
    from harness.data import docs_path

    requests = []
    monkeypatch.setattr(harness.evaluate.main, "run_evaluation", lambda r: requests.append(r) or ("", Path()))
    monkeypatch.chdir(profile.root)
    p = profile.pipeline
    for name, dataset, scoring, preset in _prior_cells(p):
        stage = profile.stages[name]
        cell = _prior_cell(p, dataset, scoring, preset)
        assert Out(cell, persist=False, cache=False, metric=False) in stage.outs, name
        requests.clear()
        _run_smd_command(stage.cmd)
        (req,) = requests
        assert (req.benchmark, req.preset, req.backbone, req.adapter) == (
            p.benchmark(dataset, scoring),
            preset,
            ANSWER_PRIOR,
            None,
        ), name
        assert req.task == task_name(dataset, scoring) and req.limit == p.eval_limit, name
        # it counts answers in the training docs and scores the test docs: both under the dep
        for split in ("train", "test"):
            assert _covered(docs_path(req.data_root, preset, split), stage.deps), name


def _cell(p: Pipeline, dataset: str, scoring: str, backbone: str, preset: str, lora: bool) -> Path:
    adapter = pipeline_mod.ADAPTER_NAMES[pipeline_mod.SCORING_TARGETS[scoring]] if lora else None
    return cell_path(p.results_dir, p.benchmark(dataset, scoring), preset, backbone, adapter)


def test_eval_stages_declare_the_cell_that_smd_evaluate_writes(profile, monkeypatch):
    import harness.evaluate.main
    from harness.data import docs_path
    from harness.models import load_registry

    requests = []

    def spy(request):
        requests.append(request)
        return "up to date", Path("unused")

    monkeypatch.setattr(harness.evaluate.main, "run_evaluation", spy)
    monkeypatch.chdir(profile.root)
    p = profile.pipeline
    registry = load_registry(Path("params.yaml"))
    for name, dataset, scoring, b, preset, lora in _eval_cells(p):
        stage = profile.stages[name]
        cell = _cell(p, dataset, scoring, b, preset, lora)
        # the cell, its provenance and its per-doc samples: outputs DVC does not cache (git versions them:
        # compare and report work on a clone); no metric (`dvc metrics show` shows the headline file)
        assert stage.outs == (
            Out(cell, persist=False, cache=False, metric=False),
            Out(provenance_path(cell), persist=False, cache=False, metric=False),
            Out(cell_samples_path(cell), persist=False, cache=False, metric=False),
        ), name

        requests.clear()
        _run_smd_command(stage.cmd)
        (req,) = requests
        assert (req.benchmark, req.results, req.preset, req.backbone) == (
            p.benchmark(dataset, scoring),
            Path(p.results_dir),
            preset,
            b,
        ), name
        adapter_name = req.adapter_name if req.adapter else None
        written = cell_path(
            req.results,
            req.benchmark,
            req.preset,
            harness.evaluate.lm_eval_io.cell_backbone_name(registry[b]),
            adapter_name,
        )
        assert written == cell, f"{name}: smd evaluate writes {written}, dvc.yaml declares {cell}"
        assert req.limit == p.eval_limit and isinstance(req.params, Params), name
        assert req.params.path == Path("params.yaml"), name
        # lm-eval batches as the backbone's registry entry says (the demo's tiny: 16; the stage's
        # params include backbones.<b>, so a change re-runs it)
        assert req.batch_size == registry[b].eval_batch_size, name
        # per-doc samples stay with the profile's runs: another profile's cell of the same name (the
        # reduced CI demo's) must not overwrite them
        assert Path(p.runs_dir) in req.samples_dir.parents, name
        assert req.task == task_name(dataset, scoring), name
        test_docs = docs_path(req.data_root, preset, "test")
        assert req.data_root == p.root(dataset) and _covered(test_docs, stage.deps), name
        assert {f"backbones.{b}", "pipeline.eval_limit"} <= set(stage.params), name
        _assert_local_backbone_is_a_dependency(b, stage)
        train_out = p.run_dir(p.task_of(dataset), b, preset, pipeline_mod.SCORING_TARGETS[scoring])
        if lora:
            # the adapter comes from the train stage's output, declared as a dependency: DVC orders the
            # two stages and re-evaluates after re-training
            assert req.adapter == train_out / "best", name
            assert train_out in stage.deps, name
        else:
            assert req.adapter is None and not _covered(train_out, stage.deps), name


def test_the_headline_stage_reads_cells_the_eval_stages_write(profile, monkeypatch):
    """The headline file is the project's only metric; each number it picks is a cell some eval stage
    declares (so DVC runs that stage first) under the headline stage's deps."""
    import harness.results.headline

    calls = []
    monkeypatch.setattr(harness.results.headline, "run_stage", lambda request: calls.append(request) or 0)
    monkeypatch.chdir(profile.root)
    p, stage = profile.pipeline, profile.stages["headline"]
    metrics = [o for s in profile.stages.values() for o in s.outs if o.metric]
    assert metrics == [Out(Path("reports/headline.json"), persist=False, cache=False, metric=True)]
    _run_smd_command(stage.cmd)
    (request,) = calls
    assert request.output == Path("reports/headline.json") and request.results == Path(p.results_dir)
    picks = [harness.results.headline.parse_pick(a) for a in request.picks]
    cells = {o.path for s in profile.stages.values() for o in s.outs if s.name.startswith("eval-")}
    names = {pick.name for pick in picks}
    for pick in picks:
        path = cell_path(p.results_dir, *parse_cell_key(pick.cell))
        assert path in cells and _covered(path, stage.deps), pick
    for dataset in p.qa_datasets:  # every QA dataset and scoring: the adapter, the control, the prior
        assert {f"{dataset}.{s}.{n}" for s in SCORINGS for n in ("lora", "blind", "prior")} <= names
    if p.caption_backbones:
        assert f"{p.caption_dataset}.bleu_4.lora" in names


# ------------------------------------------------------------ typed requests vs the argv they replaced
#
# `smd stage` used to spell each request as an argv for the stage's `main` to parse back. These builders
# are that argv, as commit 9cd0563's harness/pipeline.py wrote it (kept here as the reference): the typed
# request the pipeline now hands the stage must be the one `main` parses from it, field for field.


def _old_train_argv(p: Pipeline, task: str, backbone: str, preset: str, target: str) -> list[str]:
    argv = ["--task", task, "--backbone", backbone, "--params", "params.yaml", "--restart-changed"]
    argv += ["--output", str(p.run_dir(task, backbone, preset, target))]
    argv += ["--docs", *map(str, p.docs(task, preset, "train"))]
    argv += ["--val-docs", *map(str, p.docs(task, preset, "val"))]
    return argv + (["--set", f"qa_target={target}"] if task == "qa" else [])


def _old_train_encoder_argv(p: Pipeline, step: int, backbone: str, target: str) -> list[str]:
    from harness.data import MOTION_VARIANT

    task = "caption" if step == 1 else "qa"
    out = p.encoder_run_dir(backbone, 1 if step == 1 else target)
    argv = ["--task", task, "--backbone", backbone, "--params", "params.yaml", "--restart-changed"]
    argv += ["--output", str(out), "--docs", *map(str, p.docs(task, MOTION_VARIANT, "train"))]
    argv += ["--val-docs", *map(str, p.docs(task, MOTION_VARIANT, "val")), "--set", f"encoder={p.encoder}"]
    if step == 1:
        return [*argv, "--set", "lora=false"]
    first = p.encoder_run_dir(backbone, 1) / "best"
    return [*argv, "--set", f"encoder_init={first}", "--set", f"qa_target={target}"]


def _old_evaluate_argv(
    p: Pipeline, dataset: str, backbone: str, preset: str, lora: bool, scoring: str, encoder: bool
) -> list[str]:
    from harness.data import MOTION_VARIANT
    from harness.models import load_registry

    argv = ["--task", task_name(dataset, scoring), "--benchmark", p.benchmark(dataset, scoring)]
    argv += ["--data-root", str(p.root(dataset)), "--variant", preset, "--backbone", backbone]
    argv += ["--params", "params.yaml", "--results", p.results_dir, "--samples-dir", str(p.samples_dir())]
    target = pipeline_mod.SCORING_TARGETS[scoring]
    if encoder:
        run = p.encoder_run_dir(backbone, target) / "best"
        argv[argv.index(preset)] = MOTION_VARIANT
        argv += ["--adapter", str(run), "--encoder", str(run)]
        argv += ["--adapter-name", pipeline_mod.ENCODER_ADAPTER_NAMES[target]]
    elif lora:
        adapter = p.run_dir(p.task_of(dataset), backbone, preset, target) / "best"
        argv += ["--adapter", str(adapter), "--adapter-name", pipeline_mod.ADAPTER_NAMES[target]]
    entry = load_registry(Path("params.yaml")).get(backbone)
    argv += ["--batch-size", str(entry.eval_batch_size if entry else 1)]
    return argv + (["--limit", str(p.eval_limit)] if p.eval_limit is not None else [])


def _stage_cells(p: Pipeline):
    """(stage name, the stage's core function, the argv `smd stage` used to pass) of every train and
    evaluate stage of the profile."""
    for family, task, target, field in TRAIN_FAMILIES:
        for b, preset in product(getattr(p, field), p.presets):
            yield f"{family}@{b}-{preset}", "train", _old_train_argv(p, task, b, preset, target)
    for b in p.encoder_backbones:
        yield f"train-encoder-s1@{b}", "train", _old_train_encoder_argv(p, 1, b, "letter")
        for target in ("letter", "text"):
            yield f"train-encoder@{b}-{target}", "train", _old_train_encoder_argv(p, 2, b, target)
    for name, d, scoring, b, preset, lora in _eval_cells(p):
        yield name, "evaluate", _old_evaluate_argv(p, d, b, preset, lora, scoring, False)
    for name, d, scoring, preset in _prior_cells(p):
        yield name, "evaluate", _old_evaluate_argv(p, d, ANSWER_PRIOR, preset, False, scoring, False)
    for d, b, (i, scoring) in product(p.qa_datasets, p.encoder_backbones, enumerate(SCORINGS)):
        yield (
            f"eval-encoder@{d}-{b}-scoring{i}",
            "evaluate",
            _old_evaluate_argv(p, d, b, "", False, scoring, True),
        )


def test_each_stage_is_called_with_the_request_its_old_argv_parsed_to(profile, monkeypatch):
    """Every train / evaluate stage of dvc.yaml, run as `dvc repro` runs it: the typed request `smd stage`
    hands the stage's core function equals what the stage's `main` parses from the argv it was handed
    before (and `main` itself hands the core the request it parses)."""
    import harness.evaluate.main
    import harness.train.main
    from harness.core import load_params

    received = []
    monkeypatch.setattr(harness.train.main, "run_training", lambda r: received.append(r) or {"status": "x"})
    monkeypatch.setattr(harness.evaluate.main, "run_evaluation", lambda r: received.append(r) or ("x", None))
    monkeypatch.chdir(profile.root)
    params = load_params(Path("params.yaml"))
    stages = {"train": harness.train.main, "evaluate": harness.evaluate.main}
    cells = list(_stage_cells(profile.pipeline))
    assert {name for name, _, _ in cells} == {
        n
        for n in profile.stages
        if n.split("@")[0].startswith(("train", "eval-qa", "eval-caption", "eval-enc"))
    }
    for name, stage, old_argv in cells:
        received.clear()
        _run_smd_command(profile.stages[name].cmd)
        (request,) = received
        assert request == stages[stage].parse_request(old_argv, params=params), name
        # the stage's own command line reaches the core with the request it parses, too
        received.clear()
        assert stages[stage].main(old_argv, params=params) == 0, name
        assert received == [request], name


def test_dvc_plots_show_renders_the_projects_figures():
    """`plots:` names each figure: a committed file, or an output of a stage (written by `dvc repro`)."""
    declared = yaml.safe_load((REPO / "dvc.yaml").read_text())
    plots = [next(iter(p)) if isinstance(p, dict) else p for p in declared["plots"]]
    assert {"reports/figure.png", "docs/readback.png"} <= set(plots)
    outs = {
        str(next(iter(o)) if isinstance(o, dict) else o)
        for stage in declared["stages"].values()
        for o in stage.get("outs", [])
    }
    tracked = subprocess.run(
        ["git", "ls-files", *plots], cwd=REPO, capture_output=True, text=True
    ).stdout.split()
    for plot in plots:
        assert plot.endswith(".png"), plot
        assert plot in tracked or plot in outs or any(plot.startswith(o.rstrip("/") + "/") for o in outs), (
            plot
        )


def test_tables_depend_on_every_cell(profile):
    p, tables = profile.pipeline, profile.stages["tables"]
    for _, dataset, scoring, b, preset, lora in _eval_cells(p):
        cell = _cell(p, dataset, scoring, b, preset, lora)
        assert _covered(cell, tables.deps), cell
    for _, dataset, scoring, preset in _prior_cells(p):
        assert _covered(_prior_cell(p, dataset, scoring, preset), tables.deps)
    assert Path("reports/tables.md") in {o.path for o in tables.outs}


# ------------------------------------------------------------------------------- the reduced demo, e2e

# The demo of docs/pipeline.md, cut to run in a few minutes on two CPU cores: one variant (the motion-blind
# control only swaps the docs; `.ci/reduced-demo` runs the whole matrix) and every stage family, captions
# included. For the tiny backbone its own `backbones.tiny.train` settings (lr, epochs, batches) win over
# these `train:` ones; save_every and val_limit, which it leaves alone, apply.
REDUCED = {
    ("pipeline", "presets"): ["v5_top3"],
    ("pipeline", "backbones"): ["tiny"],
    ("pipeline", "cloze_backbones"): ["tiny"],
    ("pipeline", "caption_backbones"): ["tiny"],
    ("pipeline", "encoder_backbones"): [],  # tested in tests/harness/test_train_encoder.py, not again here
    ("demo", "motions"): 30,
    ("train", "epochs"): 2,
    ("train", "save_every"): 1,  # a checkpoint after every optimizer step: the interrupt finds one early
    ("train", "qa", "batch_size"): 2,
    ("train", "qa", "grad_accum"): 1,
    ("train", "caption", "batch_size"): 2,
    ("train", "caption", "grad_accum"): 1,
    ("train", "val_limit"): 8,
    ("pipeline", "eval_limit"): 4,
    # a prefix that is not the demo's: any results_prefix works end to end (cells, tables, metrics)
    ("pipeline", "results_prefix"): "ci_",
    ("tiny", "vocab_size"): 512,
}
TRAIN_QA = "train-qa@tiny-v5_top3"
# what the pipeline computes, not what the checkout happens to hold
NOT_COPIED = (
    "data/",
    "runs/",
    "models/",
    "reports/",
    "results/demo_",
    "dvc.lock",
    ".dvc/tmp/",
    ".dvc/cache/",
)
RUNNING = re.compile(r"Running stage '([^']+)'")


def _set(params: dict, keys: tuple[str, ...], value) -> None:
    for key in keys[:-1]:
        params = params[key]
    assert keys[-1] in params, f"params.yaml has no {'.'.join(keys)}: the reduced demo is out of date"
    params[keys[-1]] = value


def _edit_params(root: Path, changes: dict) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    for keys, value in changes.items():
        _set(params, keys, value)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory) -> Path:
    """The checkout's pipeline files (tracked and untracked, not ignored) in a fresh git repository, with
    the reduced demo's parameters. Its `smd` runs this copy's code (PYTHONPATH), whatever is installed."""
    for module in ("transformers", "peft", "accelerate", "lm_eval"):
        pytest.importorskip(module)
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout and git")
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    root = tmp_path_factory.mktemp("demo-project")
    for rel in filter(None, listed):
        source = REPO / rel
        if rel.startswith(NOT_COPIED) or not source.is_file():  # deleted in the worktree: skip
            continue
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, root / rel)
    assert (root / "dvc.yaml").is_file() and (root / "harness" / "pipeline.py").is_file()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    _edit_params(root, REDUCED)
    return root


def _env(root: Path) -> dict[str, str]:
    env = {**os.environ, **SUBPROCESS_ENV}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])  # `smd`
    env["PYTHONPATH"] = str(root)  # ahead of an installed (or editable) harness
    return env


def _dvc(root: Path, *args: str, timeout: float = 600) -> str:
    """`dvc ARGS` in the project; its combined output. A failure shows the output's tail."""
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=root,
        env=_env(root),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"dvc {' '.join(args)} exited {proc.returncode}:\n{output[-6000:]}"
    return output


def _would_run(root: Path, *extra: str) -> set[str]:
    return set(RUNNING.findall(_dvc(root, "repro", "--dry", *extra)))


def _checkpoint(run_dir: Path) -> tuple[int, int, int] | None:
    """(epoch, batch, global optimizer step) of the newest complete checkpoint, from `checkpoints/latest`
    (e.g. `e000-b000003`) and the run's record (written before training starts); None before the first."""
    try:
        tag = (run_dir / "checkpoints" / "latest").read_text().strip()
    except FileNotFoundError:
        return None
    match = re.fullmatch(r"e(\d+)-b(\d+)", tag)
    assert match, f"unexpected checkpoint tag {tag!r}"
    epoch, batch = int(match[1]), int(match[2])
    run = json.loads((run_dir / "run.json").read_text())
    return epoch, batch, epoch * run["steps_per_epoch"] + math.ceil(batch / run["config"]["grad_accum"])


def test_interrupted_training_stage_resumes_from_its_checkpoint(demo_project):
    """Kill `dvc repro` mid-training (SIGKILL: no handler runs, as when a machine dies); the next repro
    keeps the persisted run folder and training continues from the checkpoint instead of starting over.
    First of the e2e tests: it needs the untrained project."""
    root = demo_project
    run_dir = root / "runs" / "demo" / "qa" / "tiny" / "v5_top3"
    assert not run_dir.exists(), "the interrupt test must run first, on an untrained project"
    log = root.parent / "interrupted-repro.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dvc", "repro", TRAIN_QA],
            cwd=root,
            env=_env(root),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the kill reaches the `smd` child too
        )
        try:
            deadline = time.monotonic() + 400
            while (ckpt := _checkpoint(run_dir)) is None or ckpt[2] < 2:
                assert proc.poll() is None, (
                    f"repro ended before a step-2 checkpoint:\n{log.read_text()[-4000:]}"
                )
                assert time.monotonic() < deadline, "no step-2 checkpoint within 400 s"
                time.sleep(0.1)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:  # the whole group already ended (the assertion above says why)
                pass
            proc.wait()
    killed_at = _checkpoint(run_dir)  # it may have moved on between the poll and the kill
    interrupted = json.loads((run_dir / "run.json").read_text())
    assert interrupted["status"] == "running", "the kill came too late: training had already finished"

    output = _dvc(root, "repro", TRAIN_QA)
    assert RUNNING.findall(output) == [TRAIN_QA], "upstream stages finished before the kill must not re-run"
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "success"
    assert run["resumed_from"] is not None, "training started over instead of resuming"
    resumed = run["resumed_from"]
    assert (resumed["epoch"], resumed["batch"], resumed["step"]) == killed_at  # the newest checkpoint
    assert killed_at[2] >= 2
    # the step count of an uninterrupted run, from the docs and the batch settings in force (a backbone's
    # own `train:` settings win over the section's, so they are read back from the run's config)
    n_docs = len((root / "data/demo/babel_qa/docs/v5_top3/train.jsonl").read_text().splitlines())
    assert run["examples"]["skipped_too_long"]["train"] == 0 and run["examples"]["train"] == n_docs
    config = run["config"]
    uninterrupted_steps = (
        math.ceil(math.ceil(n_docs / config["batch_size"]) / config["grad_accum"]) * config["epochs"]
    )
    assert resumed["step"] < uninterrupted_steps == run["total_steps"]
    assert run["history"][-1]["step"] == uninterrupted_steps and len(run["history"]) == config["epochs"]
    assert len(run["step_losses"]) == uninterrupted_steps  # no step lost or done twice


def _demo_cells(root: Path) -> set[Path]:
    """Every reduced demo cell, relative to the project: QA by generation, _mc and cloze and captions,
    zero-shot and LoRA."""
    p = load_pipeline(root / "params.yaml")
    cells = {_cell(p, *cell[1:]) for cell in _eval_cells(p)}
    cells |= {_prior_cell(p, *cell[1:]) for cell in _prior_cells(p)}
    assert len(cells) == 2 * 4 + 3 and p.presets == ("v5_top3",)
    return cells


def test_repro_writes_the_demo_cells_and_tables_then_is_up_to_date(demo_project):
    root = demo_project
    _dvc(root, "repro")
    cells = _demo_cells(root)
    for cell in cells:
        n = json.loads((root / cell).read_text())["n"]
        assert n == REDUCED["pipeline", "eval_limit"], f"{cell}: pipeline.eval_limit not applied"
        assert json.loads((root / provenance_path(cell)).read_text())["status"] == "success"
    written = {p.relative_to(root) for p in (root / "results").glob("ci_*/*/*.json")}
    assert written == cells | set(map(provenance_path, cells))
    tables = (root / "reports" / "tables.md").read_text()
    assert "tiny" in tables and "LoRA" in tables and "zero-shot" in tables and "(profile ci)" in tables

    # a forced re-run of a cell rewrites its committed files byte for byte (only inputs in them)
    cell = Path("results/ci_babel_qa/v5_top3/tiny+lora.json")
    assert cell in cells
    before = (root / cell).read_bytes(), (root / provenance_path(cell)).read_bytes()
    _dvc(root, "repro", "--force", "--single-item", "eval-qa-lora@babel_qa-tiny-v5_top3")
    assert ((root / cell).read_bytes(), (root / provenance_path(cell)).read_bytes()) == before

    output = _dvc(root, "repro", "--dry")
    assert not RUNNING.findall(output), output
    assert "up to date" in output

    # the one metric: the headline numbers, read off the cells
    shown = json.loads(_dvc(root, "metrics", "show", "--json"))
    workspace = shown[""]["data"]
    assert set(workspace) == {"reports/headline.json"}
    headline = workspace["reports/headline.json"]["data"]
    assert (
        headline["babel_qa"]["mc"]["lora"]
        == json.loads((root / "results/ci_babel_qa_mc/v5_top3/tiny+lora.json").read_text())["acc"]
    )


def test_a_parameter_change_reruns_exactly_its_dependents(demo_project):
    """`repro --dry` names the stages whose own dependencies changed; with --force-downstream also those
    downstream, i.e. everything a real `dvc repro` would run (it re-runs what a re-run stage changes)."""
    root = demo_project
    _dvc(root, "repro")  # a no-op after the previous test; run alone, this builds the pipeline
    original = (root / "params.yaml").read_text()
    assert not _would_run(root)
    p = load_pipeline(root / "params.yaml")
    train = {f"{family}@tiny-{v}" for family, *_ in TRAIN_FAMILIES for v in p.presets}
    cells = list(_eval_cells(p))
    evaluate_lora = {name for name, *_, lora in cells if lora}
    evaluate_zero_shot = {name for name, *_, lora in cells if not lora}
    assert len(train) == 3 and len(evaluate_lora) == len(evaluate_zero_shot) == 4
    evaluate_zero_shot |= {name for name, *_ in _prior_cells(p)}  # the answer prior: eval_limit too
    try:
        lr = yaml.safe_load(original)["train"]["lr"]
        _edit_params(root, {("train", "lr"): float(lr) * 2})
        assert _would_run(root) == train
        # the attention analysis reads the first QA adapter
        assert _would_run(root, "--force-downstream") == train | evaluate_lora | {
            "tables",
            "headline",
            "attention",
        }

        (root / "params.yaml").write_text(original)
        assert not _would_run(root), "restoring params.yaml must leave nothing to run"

        _edit_params(root, {("pipeline", "eval_limit"): 3})
        assert _would_run(root) == evaluate_lora | evaluate_zero_shot
        assert _would_run(root, "--force-downstream") == evaluate_lora | evaluate_zero_shot | {
            "tables",
            "headline",
        }
    finally:
        (root / "params.yaml").write_text(original)


def _git(root: Path, *args: str) -> str:
    who = {"GIT_AUTHOR_NAME": "ci", "GIT_AUTHOR_EMAIL": "ci@example.invalid"}
    who |= {"GIT_COMMITTER_NAME": "ci", "GIT_COMMITTER_EMAIL": "ci@example.invalid"}
    run = subprocess.run(["git", *args], cwd=root, env={**os.environ, **who}, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _queue_settled(root: Path, timeout: float) -> str:
    """`dvc queue status` once no task is queued or running (the workers have drained the queue)."""
    deadline = time.monotonic() + timeout
    while True:
        status = _dvc(root, "queue", "status")
        if not re.search(r"\b(Queued|Running)\b", status):
            return status
        assert time.monotonic() < deadline, f"queue still busy after {timeout} s:\n{status}"
        time.sleep(5)


def test_a_queued_sweep_runs_each_value_and_exp_show_compares_them(demo_project):
    """A sweep on DVC's queue, as docs/pipeline.md runs the paper's ablations: two values of a parameter
    queued with `dvc exp run --queue -S`, run by two workers (`dvc queue start -j 2`), each experiment
    in its own temporary workspace; `dvc exp show` then lists both with their parameters and cells.
    Each experiment re-runs one cell and the headline (`--single-item`): the queue's machinery is the
    same for the whole pipeline, which the tests above run, at a fifth of the time."""
    root = demo_project
    _dvc(root, "repro")  # a no-op after the previous tests; run alone, this builds the pipeline
    # queued experiments start from a commit: the reproduced project, lock and cells included
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "reduced demo, reproduced")
    limits = {"sweep-limit-2": 2, "sweep-limit-3": 3}
    stages = ("eval-qa-lora@babel_qa-tiny-v5_top3", "headline")  # headline: babel_qa.generation.lora
    for name, limit in limits.items():
        run = ("exp", "run", "--queue", "--single-item", "--name", name, "-S", f"pipeline.eval_limit={limit}")
        _dvc(root, *run, *stages)
    try:
        _dvc(root, "queue", "start", "-j", "2")
        status = _queue_settled(root, timeout=900)
    finally:
        _dvc(root, "queue", "stop", "--kill")  # a timed-out task must not outlive the test
    assert status.count("Success") == 2 and "Failed" not in status, status

    shown = json.loads(_dvc(root, "exp", "show", "--json"))
    experiments = {e["name"]: e for head in shown for e in head.get("experiments") or []}
    assert set(limits) <= set(experiments), list(experiments)
    headline = {}
    for name, limit in limits.items():
        (run,) = experiments[name]["revs"]
        data = run["data"]
        assert data["params"]["params.yaml"]["data"]["pipeline"]["eval_limit"] == limit, name
        # the experiment's headline numbers: the only metrics file; its re-run cell's number is its own
        assert set(data["metrics"]) == {"reports/headline.json"}, name
        headline[name] = data["metrics"]["reports/headline.json"]["data"]["babel_qa"]["generation"]["lora"]
    # each value's cell, scored on its own first docs of the same samples, is the headline's number
    lora_cell = root / "results/ci_babel_qa/v5_top3/tiny+lora.samples.jsonl"
    accs = [json.loads(line)["acc"] for line in lora_cell.read_text().splitlines()]
    for name, limit in limits.items():
        assert headline[name] == pytest.approx(sum(accs[:limit]) / limit), name
    # the workspace itself is untouched: its cells keep the committed limit
    for cell in _demo_cells(root):
        assert json.loads((root / cell).read_text())["n"] == REDUCED["pipeline", "eval_limit"]

    table = _dvc(root, "exp", "show", "--md", "--only-changed")
    rows = [line for line in table.splitlines() if any(name in line for name in limits)]
    assert len(rows) == 2, table


# ---------------------------------------------------------------------------------------------- profiles


def _exp_run_call(script: Path, tmp_path: Path, env: dict[str, str] | None = None) -> tuple[dict, list[str]]:
    """The `dvc exp run` a profile script makes, with a stand-in `dvc` on PATH: ({key: value}, targets)."""
    from benchmarks.run_profile import record_exp_run

    return record_exp_run(script, (str(tmp_path / "out"),), env)


# every profile script, from the folder itself: a new profile cannot escape the check
PROFILE_SCRIPTS = sorted(f"profiles/{p.name}" for p in (REPO / "profiles").iterdir()) + [".ci/reduced-demo"]


def test_the_profile_list_holds_the_documented_profiles():
    documented = {"profiles/smollm2-demo", "profiles/captions-demo", "profiles/tiny-cloze-long"}
    assert documented <= set(PROFILE_SCRIPTS)


@pytest.mark.parametrize("script", PROFILE_SCRIPTS)
def test_profile_scripts_set_existing_params_and_name_existing_stages(script, tmp_path):
    """Each profile's overrides are keys params.yaml has (a renamed key would silently add a new one),
    give a valid pipeline, and every stage it targets exists in the resolved dvc.yaml."""
    from dvc.repo import Repo

    sets, targets = _exp_run_call(REPO / script, tmp_path)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for key, value in sets.items():
        *parents, last = key.split(".")
        node = params
        for part in parents:
            node = node[part]
        assert last in node, f"{script}: -S {key}: params.yaml has no such key"
        node[last] = value
    root = tmp_path / "project"
    root.mkdir()
    Repo.init(str(root), no_scm=True).close()
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    load_pipeline(root / "params.yaml")  # typed: a bad value is a ValueError
    stages = _resolve_stages(root)
    assert set(targets) <= set(stages), set(targets) - set(stages)
    if script == "profiles/smollm2-demo":
        assert targets and all("smollm2-135m" in t for t in targets)
        assert {"convert-backbone@smollm2-135m", "train-qa@smollm2-135m-v5_top3-blind"} <= set(stages)
        assert any(t.endswith("-v5_top3-blind") for t in targets)  # the control
    if script == "profiles/smollm2-test-split":  # the same profile, whole test split, own prefix, no control
        assert sets["pipeline.eval_limit"] is None and sets["pipeline.results_prefix"] == "smollm2_"
        assert sets["train.train_limit"] == 128 and not any(t.endswith("-blind") for t in targets)
