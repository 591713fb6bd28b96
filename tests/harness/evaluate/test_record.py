"""harness.evaluate.run and .record: one lm-eval run of a plan, and its record (cell, samples,
provenance, run log), which depends only on the plan and the run."""

import pytest

pytest.importorskip("lm_eval")
pytest.importorskip("peft")

from harness.core import read_json, read_jsonl  # noqa: E402
from harness.evaluate.plan import plan_evaluation  # noqa: E402
from harness.evaluate.record import read_provenance, record_evaluation  # noqa: E402
from harness.evaluate.run import run_lm_eval  # noqa: E402
from harness.results import cell_samples_path, provenance_path  # noqa: E402
from tests.builders import tiny_eval_request  # noqa: E402


@pytest.fixture(scope="module")
def recorded(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("record")
    request = tiny_eval_request(demo, out, task="smd_babel_qa_mc", benchmark="demo_babel_qa_mc")
    plan = plan_evaluation(request)
    run = run_lm_eval(plan)
    path = record_evaluation(plan, run)
    files = (path, provenance_path(path), cell_samples_path(path))
    return {"plan": plan, "run": run, "path": path, "bytes": [f.read_bytes() for f in files], "files": files}


def test_the_record_is_the_plan_and_the_run(recorded):
    plan, run, path = recorded["plan"], recorded["run"], recorded["path"]
    assert path == plan.cell_file
    provenance = read_provenance(path)
    assert provenance["inputs"] == plan.inputs and provenance["task"] == plan.request.task
    assert provenance["model_args"] == run.model_args
    assert provenance["data"]["docs"] == {
        "path": str(plan.docs),
        "sha256": plan.inputs["docs_sha256"],
        "docs": plan.docs_count,
    }
    rows = read_jsonl(cell_samples_path(path))
    assert len(rows) == read_json(path)["n"] == 3 and provenance["samples"]["rows"] == 3
    assert read_json(path)["limit"] == 3  # a subset of the split was scored
    assert not list(plan.request_cache.parent.glob(f"{plan.request_cache.name}_rank*.db"))  # finished
    log = read_json(provenance["run_log"])
    assert log["started_at"] == run.started.isoformat(timespec="seconds")


def test_recording_the_same_run_again_rewrites_the_committed_files_byte_for_byte(recorded):
    """Cell, provenance and samples hold only what the plan and the run decide; times go to the run log."""
    record_evaluation(recorded["plan"], recorded["run"])
    assert [f.read_bytes() for f in recorded["files"]] == recorded["bytes"]
