"""harness.evaluate.plan: what an evaluation will run, resolved before any model loads; the run and
`--kept-only` read the request cache under the key the plan names."""

import pytest

pytest.importorskip("lm_eval")

from harness.core import read_jsonl  # noqa: E402
from harness.evaluate.kept import write_kept  # noqa: E402
from harness.evaluate.lm_eval_io import ANSWER_PRIOR, request_cache  # noqa: E402
from harness.evaluate.main import run_evaluation  # noqa: E402
from harness.evaluate.plan import EvalInputError, EvalRequest, plan_evaluation  # noqa: E402
from harness.results import cell_path  # noqa: E402
from tests.builders import tiny_eval_request  # noqa: E402


def _request(demo, tmp_path, **fields) -> EvalRequest:
    return tiny_eval_request(demo, tmp_path, **fields)


def test_the_plan_resolves_the_cell_docs_and_the_inputs_that_decide_the_numbers(demo, tmp_path):
    plan = plan_evaluation(_request(demo, tmp_path))
    assert plan.cell == ("demo_babel_qa", "v5_top3", "tiny", None)
    assert plan.cell_file == cell_path(tmp_path / "results", *plan.cell)
    assert plan.docs_count == len(read_jsonl(plan.docs))
    assert plan.inputs["limit"] == 3 and plan.inputs["model"] == str(demo["model"])
    assert plan.lm_eval_model == "smd-hf"
    assert plan.model_args(cuda=False) == {"pretrained": str(demo["model"]), "dtype": "float32"}


def test_the_request_cache_is_keyed_by_the_inputs_and_the_batch_size(demo, tmp_path):
    plan = plan_evaluation(_request(demo, tmp_path))
    assert plan.request_cache == request_cache(
        tmp_path / "samples", plan.cell, {**plan.inputs, "batch_size": 1, "lm_eval_model": "smd-hf"}
    )
    assert plan_evaluation(_request(demo, tmp_path)).request_cache == plan.request_cache  # a pure function
    # batches pad, and padding may move a near-tie: another batch size is another cache
    assert plan_evaluation(_request(demo, tmp_path, batch_size=2)).request_cache != plan.request_cache
    assert plan_evaluation(_request(demo, tmp_path, limit=2)).request_cache != plan.request_cache


def test_the_run_writes_and_kept_reads_the_cache_the_plan_names(demo, tmp_path, monkeypatch):
    """One key, computed once: lm-eval is handed the plan's cache, and `--kept-only` looks for it there."""
    import lm_eval
    import torch

    seen = {}

    def not_main_process(**kwargs):  # what simple_evaluate returns on a data-parallel run's other ranks
        seen.update(kwargs)
        return None

    monkeypatch.setattr(lm_eval, "simple_evaluate", not_main_process)
    request = _request(demo, tmp_path)
    plan = plan_evaluation(request)
    assert run_evaluation(request) == ("not main process", plan.cell_file)
    assert seen["use_cache"] == str(plan.request_cache)
    cuda = torch.cuda.is_available()
    assert seen["model"] == plan.lm_eval_model and seen["model_args"] == plan.model_args(cuda=cuda)
    assert not plan.cell_file.exists()  # rank 0 records
    with pytest.raises(ValueError, match=f"no request cache {plan.request_cache}_rank"):
        write_kept(plan)


def test_the_answer_prior_plans_no_model(demo, tmp_path):
    plan = plan_evaluation(_request(demo, tmp_path, backbone=ANSWER_PRIOR))
    assert plan.backbone is None and plan.cell[2] == ANSWER_PRIOR
    assert plan.lm_eval_model == "smd-answer-prior"
    assert plan.model_args(cuda=True) == {"train_docs": str(plan.prior_docs)}
    with pytest.raises(ValueError, match="keeps nothing"):  # no model, no cache of generations
        write_kept(plan)


def test_a_bad_request_fails_in_the_plan(demo, tmp_path):
    with pytest.raises(EvalInputError, match="--adapter-name needs --adapter"):
        plan_evaluation(_request(demo, tmp_path, adapter_name="lora"))
    with pytest.raises(EvalInputError, match="test docs not found"):
        plan_evaluation(_request(demo, tmp_path, data_root=tmp_path))
    with pytest.raises(EvalInputError, match="--benchmark: unknown benchmark 'babel'"):
        plan_evaluation(_request(demo, tmp_path, benchmark="babel"))


def test_the_benchmark_option_keeps_its_old_spelling_as_a_deprecated_alias(capsys):
    from harness.evaluate.main import parse_request

    argv = ["--task", "smd_babel_qa_mc", "--data-root", "d", "--variant", "v5", "--backbone", "tiny"]
    new = parse_request([*argv, "--benchmark", "demo_babel_qa_mc"])
    assert new.benchmark == "demo_babel_qa_mc" and "deprecated" not in capsys.readouterr().err
    assert parse_request([*argv, "--dataset", "demo_babel_qa_mc"]) == new
    assert "--dataset is deprecated" in capsys.readouterr().err
