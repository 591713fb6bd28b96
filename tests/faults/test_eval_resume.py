"""A killed caption evaluation keeps its generations (lm-eval's request cache, written as each answer is
produced) and the same command resumes: it generates only the missing captions and writes the cell an
uninterrupted run writes."""

import json
import subprocess
import sys

import pytest

pytest.importorskip("lm_eval")

from tests.builders import OFFLINE_ENV, REPO  # noqa: E402

# Runs `smd evaluate ARGV` with HFLM's generation counted; with KILL_AT=k the process dies (os._exit:
# no cleanup, as under SIGKILL) when the k-th generation starts, a second after the ones before it
# were handed to the cache (the model would still be computing that caption).
CHILD = """
import os, sys, time
from lm_eval.models.huggingface import HFLM
calls = {"n": 0}
generate = HFLM._model_generate
kill_at = int(os.environ.get("KILL_AT", "0"))

def counted(self, *args, **kwargs):
    calls["n"] += 1
    if calls["n"] == kill_at:
        time.sleep(1.0)
        os._exit(137)
    return generate(self, *args, **kwargs)

HFLM._model_generate = counted
from harness.evaluate.main import main
rc = main(sys.argv[1:])
print("GENERATIONS", calls["n"])
sys.exit(rc)
"""


def _evaluate(demo, results, samples, *extra, **env) -> subprocess.CompletedProcess:
    argv = [
        *extra,
        "--task",
        "smd_humanml3d_caption",
        "--benchmark",
        "humanml3d",
        "--data-root",
        str(demo["hml"]),
    ]
    argv += ["--variant", "v5_top3", "--backbone", str(demo["model"]), "--results", str(results)]
    argv += ["--samples-dir", str(samples)]
    return subprocess.run(
        [sys.executable, "-c", CHILD, *argv],
        cwd=REPO,
        env={**__import__("os").environ, **OFFLINE_ENV, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def _generations(run) -> int:
    return int(run.stdout.split("GENERATIONS")[-1].split()[0])


def test_a_killed_caption_evaluation_resumes_to_the_uninterrupted_cell(demo, tmp_path):
    whole = _evaluate(demo, tmp_path / "whole", tmp_path / "whole-samples")
    assert whole.returncode == 0, whole.stderr[-3000:]
    docs = _generations(whole)
    assert docs >= 4

    killed = _evaluate(demo, tmp_path / "r", tmp_path / "s", KILL_AT="3")
    assert killed.returncode == 137, killed.stderr[-3000:]
    cell = tmp_path / "r" / "humanml3d" / "v5_top3" / "tiny.json"
    assert not cell.exists()
    assert list((tmp_path / "s").rglob("*.requests-*_rank0.db"))  # the two finished captions, kept

    # what it kept, readable without resuming: the two finished captions, as the whole run wrote them
    kept = _evaluate(demo, tmp_path / "r", tmp_path / "s", "--kept-only")
    assert kept.returncode == 0, kept.stderr[-3000:]
    kept_file = tmp_path / "s" / "humanml3d" / "v5_top3" / "tiny.kept.jsonl"
    assert f"2 of {docs} docs kept -> {kept_file}" in kept.stdout
    assert _generations(kept) == 0 and not cell.exists()
    kept_rows = [json.loads(line) for line in kept_file.read_text().splitlines()]
    whole_rows = {
        r["id"]: r
        for r in map(json.loads, (tmp_path / "whole" / "humanml3d/v5_top3/tiny.samples.jsonl").open())
    }
    assert len(kept_rows) == 2
    for row in kept_rows:
        assert row["prediction"] == whole_rows[row["id"]]["prediction"]
        assert row["references"] == whole_rows[row["id"]]["references"]
    scored = subprocess.run(
        [sys.executable, "-m", "harness.cli", "score-captions", str(kept_file)],
        cwd=REPO,
        env={**__import__("os").environ, **OFFLINE_ENV},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert scored.returncode == 0, scored.stderr[-3000:]
    assert json.loads(scored.stdout)["n_samples"] == 2

    resumed = _evaluate(demo, tmp_path / "r", tmp_path / "s")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _generations(resumed) == docs - 2  # only the captions the killed run had not finished
    reference = tmp_path / "whole" / "humanml3d" / "v5_top3" / "tiny.json"
    assert json.loads(cell.read_text()) == json.loads(reference.read_text())
    samples = "humanml3d/v5_top3/tiny.samples.jsonl"  # beside the cell
    assert (tmp_path / "r" / samples).read_text() == (tmp_path / "whole" / samples).read_text()
    assert not list((tmp_path / "s").rglob("*.requests-*"))  # done: the cache is removed


def test_kept_only_without_a_cache_is_a_one_line_error(demo, tmp_path):
    run = _evaluate(demo, tmp_path / "r", tmp_path / "s", "--kept-only")
    assert run.returncode == 2
    assert "error: no request cache" in run.stderr and "Traceback" not in run.stderr
