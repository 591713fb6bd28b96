"""The dataset registry: every fact about a benchmark dataset, written once, and the names derived from it.

    babel_qa    BABEL-QA   QA       30 FPS, Z up   smd_babel_qa, smd_babel_qa_mc, smd_babel_qa_cloze
    humman_qa   HuMMan-QA  QA       30 FPS, Z up   smd_humman_qa, smd_humman_qa_mc, smd_humman_qa_cloze
    humanml3d   HumanML3D  caption  20 FPS, Y up   smd_humanml3d_caption, smd_humanml3d_caption_full

Frame rates and axes come from the loaders' modules (`harness.data`), which read the files; the CLI
choices, the pipeline's checks, evaluation, result cells and tables all derive from `DATASETS` here.

Benchmark names. A cell's benchmark, the first part of its key `<benchmark>/<variant>/<model>`, is
`<prefix><dataset><scoring suffix>`: the prefix keeps one profile's cells apart from another's (`demo_`
for the synthetic demo, `ci_`, or none for real data; any run of lower-case letters and digits followed
by `_`), the suffix says how QA was scored, as the lm-eval task name does (`""` generation, the paper's
protocol; `_mc` the letters' log-likelihood; `_cloze` the option texts'). `demo_babel_qa_cloze` is
BABEL-QA's demo layout scored by cloze.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .humanml3d import HML_FPS, HML_UP_AXIS
from .qa import QA_FPS, QA_UP_AXIS

__all__ = [
    "ANSWER_PRIOR",
    "DATASETS",
    "DEMO_PREFIX",
    "SCORINGS",
    "TASKS",
    "Dataset",
    "BenchmarkName",
    "check_prefix",
    "get_dataset",
    "benchmark_name",
    "parse_benchmark",
    "task_name",
]

Kind = Literal["qa", "caption"]
# how a QA dataset is scored -> the suffix of its lm-eval task and of its cells' benchmark
SCORINGS = {"generation": "", "mc": "_mc", "cloze": "_cloze"}
# the caption tasks: text metrics only, and `_full` with BERTScore and the T2M evaluator's
CAPTION_TASK_SUFFIXES = ("_caption", "_caption_full")
# the answer-prior baseline's backbone name in cells (harness.evaluate.answer_prior): no model, no adapter
ANSWER_PRIOR = "answer-prior"
DEMO_PREFIX = "demo_"  # the synthetic demo's cells (`smd make-demo` mimics the datasets with demo=True)
_PREFIX = re.compile(r"^(?:[a-z0-9]+_)?$")


@dataclass(frozen=True)
class Dataset:
    """One benchmark dataset.

    Attributes:
        name: its folder under the data dir (`<data_dir>/<name>`) and the base of its benchmark names.
        title: its name in tables and papers.
        kind: `qa` (10-option questions, `questions/` layout) or `caption` (`new_joints/` + `texts/`).
        fps / up_axis: the frame rate and vertical axis of its joint files.
        demo: the synthetic demo (`smd make-demo`) writes a dataset of this layout.
    """

    name: str
    title: str
    kind: Kind
    fps: float
    up_axis: Literal["y", "z"]
    demo: bool = False

    @property
    def tasks(self) -> tuple[str, ...]:
        """Every lm-eval task that reads this dataset's docs."""
        if self.kind == "qa":
            return tuple(f"smd_{self.name}{suffix}" for suffix in SCORINGS.values())
        return tuple(f"smd_{self.name}{suffix}" for suffix in CAPTION_TASK_SUFFIXES)


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset("babel_qa", "BABEL-QA", "qa", QA_FPS, QA_UP_AXIS, demo=True),
        Dataset("humman_qa", "HuMMan-QA", "qa", QA_FPS, QA_UP_AXIS),
        Dataset("humanml3d", "HumanML3D", "caption", HML_FPS, HML_UP_AXIS, demo=True),
    )
}
# lm-eval task -> the dataset whose docs it reads
TASKS: dict[str, Dataset] = {task: d for d in DATASETS.values() for task in d.tasks}


def get_dataset(name: str) -> Dataset:
    """The registry entry `name`; raises ValueError listing the known ones."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})")
    return DATASETS[name]


def task_name(dataset: str, scoring: str | None = "generation") -> str:
    """The lm-eval task scoring `dataset` (`babel_qa`, `mc` -> `smd_babel_qa_mc`; captions: the
    text-metric task)."""
    d = get_dataset(dataset)
    if d.kind == "caption":
        if scoring not in (None, "generation"):
            raise ValueError(f"{dataset}: only QA datasets have the {scoring!r} scoring")
        return f"smd_{d.name}{CAPTION_TASK_SUFFIXES[0]}"
    if scoring not in SCORINGS:
        raise ValueError(f"unknown scoring {scoring!r} (known: {', '.join(SCORINGS)})")
    return f"smd_{d.name}{SCORINGS[scoring]}"


def check_prefix(prefix: str) -> str:
    """`prefix` if it is a valid results prefix (empty, or letters/digits then `_`), else ValueError."""
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        raise ValueError(f"results prefix {prefix!r}: empty or lower-case letters/digits ending in '_'")
    return prefix


def benchmark_name(dataset: str, scoring: str | None = "generation", prefix: str = "") -> str:
    """A cell's benchmark: `benchmark_name("babel_qa", "cloze", "ci_")` -> `ci_babel_qa_cloze`."""
    d = get_dataset(dataset)
    suffix = SCORINGS[scoring] if d.kind == "qa" and scoring is not None else ""
    if d.kind == "caption" and scoring not in (None, "generation"):
        raise ValueError(f"{dataset}: only QA datasets have the {scoring!r} scoring")
    return f"{check_prefix(prefix)}{d.name}{suffix}"


@dataclass(frozen=True)
class BenchmarkName:
    """A cell's benchmark, parsed: `ci_babel_qa_mc` -> prefix `ci_`, dataset babel_qa, scoring mc
    (None for captions)."""

    prefix: str
    dataset: Dataset
    scoring: str | None

    @property
    def base(self) -> str:
        """The name without the scoring suffix (`ci_babel_qa`): one dataset of one profile."""
        return self.prefix + self.dataset.name

    @property
    def task(self) -> str:
        return task_name(self.dataset.name, self.scoring)


def parse_benchmark(name: str) -> BenchmarkName:
    """Parse a cell's benchmark; raises ValueError for a name no registry dataset makes."""
    for d in DATASETS.values():
        scorings = SCORINGS.items() if d.kind == "qa" else [(None, "")]
        for scoring, suffix in sorted(scorings, key=lambda kv: -len(kv[1])):  # `_mc` before ""
            stem = name.removesuffix(suffix) if suffix else name
            if (not suffix or name.endswith(suffix)) and stem.endswith(d.name):
                prefix = stem[: -len(d.name)]
                if _PREFIX.match(prefix):
                    return BenchmarkName(prefix, d, scoring)
    raise ValueError(
        f"unknown benchmark {name!r}: expected [prefix_]<dataset>[_mc|_cloze], <dataset> one of "
        + ", ".join(DATASETS)
    )
