"""Evaluation on two processes: `accelerate launch` of lm-eval's command line gives the metrics and the
per-doc answers of one process, for a letter (`_mc`), a cloze and a generation task.

Two CPU processes through torchrun (`--multi_gpu`, as `test_train_distributed` explains), with lm-eval's
`hf` model where it would shard over CUDA devices (`tests/lm_eval_data_parallel.py`): each process
scores its share of the requests, and rank 0 gathers them. An odd number of docs, so that one process
gets a padding request, as lm-eval pads on GPUs.
"""

import json
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("lm_eval")
pytest.importorskip("accelerate")

from tests.builders import OFFLINE_ENV, REPO  # noqa: E402
from tests.harness.test_train_distributed import _free_port  # noqa: E402

TASKS = "smd_babel_qa_mc,smd_babel_qa_cloze,smd_babel_qa"
LIMIT = 7  # docs per task: 4 on one process, 3 (and a padding request) on the other


def _lm_eval(demo, out, launcher: list[str], model: str, **env) -> subprocess.CompletedProcess:
    metadata = json.dumps({"smd_variant": "v5_top3", "data_root": str(demo["qa"])})
    args = [
        "--model", model, "--model_args", f"pretrained={demo['model']}", "--tasks", TASKS,
        "--include_path", str(REPO / "tasks"), "--metadata", metadata, "--apply_chat_template",
        "--limit", str(LIMIT), "--device", "cpu", "--output_path", str(out), "--log_samples",
        "--verbosity", "WARNING",
    ]  # fmt: skip
    run = subprocess.run(
        [*launcher, *args],
        env={**os.environ, **OFFLINE_ENV, "OMP_NUM_THREADS": "1", **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return run


def _results(out) -> tuple[dict, dict]:
    """The `results` section and, per task, each doc's filtered answer, from an lm-eval output folder."""
    results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]
    answers = {}
    for path in out.rglob("samples_*.jsonl"):
        task = re.match(r"samples_(.+)_\d{4}-", path.name).group(1)
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        answers[task] = {r["doc_id"]: (r["filtered_resps"], r["target"]) for r in rows}
    return results, answers


def test_two_processes_score_what_one_does(demo, tmp_path):
    one = tmp_path / "one"
    _lm_eval(demo, one, [sys.executable, "-m", "lm_eval"], "hf")
    two = tmp_path / "two"
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    # as a module from the repository root: run as a file, its folder (tests/, which holds a `harness`
    # package of tests) would come first on sys.path
    launch += ["--main_process_port", str(_free_port()), "-m", "tests.lm_eval_data_parallel"]
    # HFLM builds a plain Accelerator(): on CPU only this flag makes it see the two processes (MULTI_CPU)
    served = tmp_path / "served"
    served.mkdir()
    _lm_eval(demo, two, launch, "hf-dp", ACCELERATE_USE_CPU="1", SMD_SERVED_DIR=str(served))

    # the work was shared: per task, each process scored its own docs (4 and 3; the one padding
    # request repeats a doc of the process that scores it), and together all of them
    shares = []
    for rank in (0, 1):
        rows = [json.loads(line) for line in (served / f"served.rank{rank}.jsonl").read_text().splitlines()]
        shares.append({(r["task"], r["doc_id"]) for r in rows})
    assert not shares[0] & shares[1]
    for task in TASKS.split(","):
        counts = sorted(len({d for t, d in share if t == task}) for share in shares)
        assert counts == [3, 4], (task, counts)

    results_one, answers_one = _results(one)
    results_two, answers_two = _results(two)
    for task in TASKS.split(","):
        assert len(answers_one[task]) == LIMIT
        assert answers_two[task] == answers_one[task], task  # every doc, the same answer
        metrics = {k: v for k, v in results_one[task].items() if "," in k}  # name, alias, counts: not metrics
        assert any(isinstance(v, float) for v in metrics.values()), task
        assert set(results_two[task]) >= set(metrics), task
        for key, value in metrics.items():  # numbers, "N/A" stderrs and per-type None alike
            if isinstance(value, float):
                assert results_two[task][key] == pytest.approx(value, abs=1e-9), (task, key)
            else:
                assert results_two[task][key] == value, (task, key)
