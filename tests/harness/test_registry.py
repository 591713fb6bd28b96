"""The dataset registry: one definition per dataset, every name derived from it."""

from __future__ import annotations

import pytest
import yaml

from harness.data import (
    DATASETS,
    HML_FPS,
    QA_FPS,
    SCORINGS,
    TASKS,
    benchmark_name,
    check_prefix,
    parse_benchmark,
    task_name,
)
from tests.builders import REPO


def test_every_registry_task_is_a_task_yaml_reading_that_dataset():
    yamls = {p.stem: p for p in (REPO / "tasks").glob("smd_*.yaml")}
    assert set(TASKS) == set(yamls)  # no task without a YAML, no YAML the registry does not know
    for task, dataset in TASKS.items():
        kwargs = yaml.load(yamls[task].read_text(), Loader=_FunctionLoader)["dataset_kwargs"]
        assert kwargs["dataset"] == dataset.name, task
        if dataset.kind == "qa":  # the loader's scoring is the one the task's name says
            assert task_name(dataset.name, kwargs["scoring"]) == task
    common = yaml.load((REPO / "tasks" / "_smd_task.yaml").read_text(), Loader=_FunctionLoader)
    assert common["custom_dataset"] == "utils.load_docs"  # one loader, told the dataset by each task


class _FunctionLoader(yaml.SafeLoader):
    pass


_FunctionLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


def test_frame_rates_are_the_loaders():
    assert DATASETS["babel_qa"].fps == DATASETS["humman_qa"].fps == QA_FPS == 30.0
    assert DATASETS["humanml3d"].fps == HML_FPS == 20.0


@pytest.mark.parametrize("prefix", ["", "demo_", "ci_", "run2_"])
@pytest.mark.parametrize("scoring", list(SCORINGS))
def test_benchmark_names_round_trip_under_any_prefix(prefix, scoring):
    for d in DATASETS.values():
        s = scoring if d.kind == "qa" else None
        name = parse_benchmark(benchmark_name(d.name, s, prefix))
        assert (name.prefix, name.dataset, name.scoring) == (prefix, d, s)
        assert name.task == task_name(d.name, s)


@pytest.mark.parametrize("bad", ["ci", "CI_", "ci-", "_", "a b_"])
def test_a_bad_prefix_is_refused(bad):
    with pytest.raises(ValueError, match="results prefix"):
        check_prefix(bad)


def test_unknown_names_are_refused_naming_the_known_datasets():
    for bad in ("babel", "ci_babel_qa_x", "humanml3d_mc", "cibabel_qa"):
        with pytest.raises(ValueError, match="babel_qa, humman_qa, humanml3d"):
            parse_benchmark(bad)
    with pytest.raises(ValueError, match="only QA datasets"):
        benchmark_name("humanml3d", "cloze")


@pytest.mark.parametrize(
    "name, base, scoring, task",
    [
        ("babel_qa", "babel_qa", "generation", "smd_babel_qa"),
        ("humman_qa_mc", "humman_qa", "mc", "smd_humman_qa_mc"),
        ("demo_babel_qa_cloze", "demo_babel_qa", "cloze", "smd_babel_qa_cloze"),
        ("demo_humanml3d", "demo_humanml3d", None, "smd_humanml3d_caption"),
        ("ci_humman_qa_mc", "ci_humman_qa", "mc", "smd_humman_qa_mc"),
    ],
)
def test_a_benchmark_gives_its_dataset_scoring_and_task(name, base, scoring, task):
    parsed = parse_benchmark(name)
    assert (parsed.base, parsed.scoring, parsed.task) == (base, scoring, task)
