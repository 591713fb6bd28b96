"""`smd evaluate` on the 24-motion demo and the tiny backbone, offline: cells, provenance, samples, skips."""

import hashlib
import json
import math
from pathlib import Path

import pytest
import yaml

pytest.importorskip("lm_eval")
pytest.importorskip("peft")

from harness.core import read_json, read_jsonl  # noqa: E402
from harness.data import docs_path  # noqa: E402
from harness.evaluate.lm_eval_io import (
    cell_backbone_name,
    cell_metrics,
    model_args,
    sample_rows,
    task_version,
)
from harness.evaluate.main import main  # noqa: E402
from harness.models import Backbone  # noqa: E402
from harness.results import provenance_path  # noqa: E402
from smd import FORMAT_VERSION  # noqa: E402

LIMIT = 4


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_params(folder, model, **extra_entries):
    params = folder / "params.yaml"
    entries = {"tiny": {"path": str(model), "dtype": "float32"}, **extra_entries}
    params.write_text(yaml.safe_dump({"backbones": entries}))
    return params


def _argv(demo, out, params, *, task="smd_babel_qa", benchmark="demo_babel_qa", root=None, extra=()):
    return [
        "--task", task, "--benchmark", benchmark, "--data-root", str(root or demo["qa"]),
        "--variant", "v5_top3", "--backbone", "tiny", "--params", str(params),
        "--results", str(out / "results"),
        "--samples-dir", str(out / "samples"), "--limit", str(LIMIT), *extra,
    ]  # fmt: skip


def _run_spied(argv):
    """main(argv) with lm_eval.simple_evaluate wrapped: (exit status, what simple_evaluate returned)."""
    import lm_eval

    original, seen = lm_eval.simple_evaluate, {}

    def spy(*args, **kwargs):
        seen["res"] = original(*args, **kwargs)
        return seen["res"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lm_eval, "simple_evaluate", spy)
        rc = main(argv)
    return rc, seen.get("res")


@pytest.fixture
def no_run(monkeypatch):
    """lm_eval.simple_evaluate that fails the test if called: proves a call ran nothing."""
    import lm_eval

    def refuse(*args, **kwargs):
        raise AssertionError("simple_evaluate was called")

    monkeypatch.setattr(lm_eval, "simple_evaluate", refuse)


@pytest.fixture(scope="module")
def zero_shot(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("zero_shot")
    params = _write_params(out, demo["model"])
    rc, res = _run_spied(_argv(demo, out, params))
    cell = out / "results" / "demo_babel_qa" / "v5_top3" / "tiny.json"
    return {"rc": rc, "res": res, "out": out, "params": params, "cell": cell}


def test_zero_shot_cell_holds_lm_evals_numbers_and_the_doc_counts(zero_shot):
    assert zero_shot["rc"] == 0
    cell = read_json(zero_shot["cell"])
    lm_eval_results = zero_shot["res"]["results"]["smd_babel_qa"]
    assert cell["acc"] == lm_eval_results["acc,none"]
    assert cell["invalid_rate"] == lm_eval_results["invalid_rate,none"]
    assert cell["n"] == LIMIT and cell["skipped"] == 0
    assert all(isinstance(v, (int, float)) and "," not in k for k, v in cell.items())


def test_provenance_records_inputs_versions_and_the_limit(zero_shot, demo):
    prov = read_json(provenance_path(zero_shot["cell"]))
    docs = docs_path(demo["qa"], "v5_top3", "test")
    assert prov["limit"] == LIMIT and prov["inputs"]["limit"] == LIMIT
    assert prov["data"]["docs"]["sha256"] == prov["inputs"]["docs_sha256"] == _sha256(docs)
    assert prov["task"] == "smd_babel_qa" and prov["task_version"] == prov["inputs"]["task_version"] == 1.0
    assert prov["adapter"] is None and "peft" not in prov["model_args"]
    assert prov["model_args"] == {"pretrained": str(demo["model"]), "dtype": "float32"}
    assert prov["task_metadata"] == {"smd_variant": "v5_top3", "babel_qa_root": str(demo["qa"])}
    assert {"torch", "transformers", "peft", "lm_eval"} <= set(prov["versions"])
    assert prov["lm_eval_config"]["random_seed"] == 0 and prov["lm_eval_config"]["limit"] == LIMIT
    assert prov["inputs"]["smd"] == {"format_version": FORMAT_VERSION, "preset": "v5_top3"}
    # only what the inputs decide is committed; when, where and from which commit goes to the run log
    assert not {"git", "hardware", "started_at", "finished_at", "wall_seconds"} & set(prov)
    log = read_json(Path(prov["run_log"]))
    assert log["hardware"]["cpu_count"] >= 1 and "commit" in (log["git"] or {"commit": None})
    assert log["wall_seconds"] > 0 and log["started_at"] <= log["finished_at"]


def test_samples_hold_one_row_per_scored_doc_beside_the_cell_without_smd_text(zero_shot):
    prov = read_json(provenance_path(zero_shot["cell"]))
    samples = zero_shot["cell"].with_name("tiny.samples.jsonl")
    assert prov["samples"] == {"path": str(samples), "sha256": _sha256(samples), "rows": LIMIT}
    assert "Joint Angles" not in samples.read_text()  # the SMD stays in the docs, out of results/
    # when and where it ran stays with the runs, out of the committed files
    assert prov["run_log"] == str(
        zero_shot["out"] / "samples" / "demo_babel_qa" / "v5_top3" / "tiny.run.json"
    )
    rows = read_jsonl(samples)
    lm_eval_samples = zero_shot["res"]["samples"]["smd_babel_qa"]
    expected = {s["doc"]["doc_id"]: (s["filtered_resps"][0], s["acc"]) for s in lm_eval_samples}
    assert {r["id"]: (r["prediction"], r["acc"]) for r in rows} == expected


def test_the_cell_carries_chance_cis_and_the_limit_and_compares_with_itself(zero_shot):
    from harness.results.compare import compare_runs, load_run
    from harness.results.stats import wilson_interval

    cell = read_json(zero_shot["cell"])
    assert cell["limit"] == LIMIT  # the demo's test split has more docs than LIMIT
    docs = [s["doc"] for s in zero_shot["res"]["samples"]["smd_babel_qa"]]
    assert cell["chance"] == pytest.approx(sum(1 / len(d["options"]) for d in docs) / len(docs))
    successes = round(cell["acc"] * cell["n"])
    assert (cell["acc_ci95_low"], cell["acc_ci95_high"]) == wilson_interval(successes, cell["n"])
    assert "invalid_rate_ci95_high" in cell
    run = load_run(str(zero_shot["cell"]))  # the samples file the provenance names, sha256 checked
    (acc, *_) = compare_runs(run, run, resamples=200)["metrics"]
    assert acc["metric"] == "acc" and acc["n"] == LIMIT and acc["diff"] == 0 and acc["mcnemar_p"] == 1.0


def test_a_second_call_with_the_same_inputs_is_up_to_date(zero_shot, demo, no_run, capsys):
    before = zero_shot["cell"].read_bytes(), provenance_path(zero_shot["cell"]).read_bytes()
    assert main(_argv(demo, zero_shot["out"], zero_shot["params"])) == 0
    assert "up to date" in capsys.readouterr().out
    assert (zero_shot["cell"].read_bytes(), provenance_path(zero_shot["cell"]).read_bytes()) == before


@pytest.mark.parametrize("extra", [["--force"], ["--limit", "3"]], ids=["force", "changed-limit"])
def test_force_or_changed_inputs_run_again(zero_shot, demo, no_run, extra):
    with pytest.raises(AssertionError, match="simple_evaluate was called"):
        main(_argv(demo, zero_shot["out"], zero_shot["params"], extra=extra))


def test_another_task_may_not_replace_a_cell(zero_shot, demo, no_run, capsys):
    before = zero_shot["cell"].read_bytes()
    # the cell's name says its task: `demo_babel_qa` is generation, `demo_babel_qa_mc` the letters' MC
    assert main(_argv(demo, zero_shot["out"], zero_shot["params"], task="smd_babel_qa_mc")) == 2
    assert "--benchmark 'demo_babel_qa' names task smd_babel_qa" in capsys.readouterr().err
    assert zero_shot["cell"].read_bytes() == before


def test_a_lora_adapter_gets_its_own_cell_with_the_adapter_hash(demo, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    adapter = tmp_path / "adapter"
    get_peft_model(AutoModelForCausalLM.from_pretrained(demo["model"]), config).save_pretrained(adapter)
    params = _write_params(tmp_path, demo["model"])
    rc, res = _run_spied(_argv(demo, tmp_path, params, extra=["--adapter", str(adapter)]))
    assert rc == 0
    cell = tmp_path / "results" / "demo_babel_qa" / "v5_top3" / "tiny+lora.json"
    assert read_json(cell)["acc"] == res["results"]["smd_babel_qa"]["acc,none"]
    prov = read_json(provenance_path(cell))
    weights = adapter / "adapter_model.safetensors"
    assert prov["adapter"]["sha256"] == prov["inputs"]["adapter_sha256"] == _sha256(weights)
    assert prov["model_args"]["peft"] == str(adapter)
    assert not (tmp_path / "results" / "demo_babel_qa" / "v5_top3" / "tiny.json").exists()


def test_an_adapter_of_another_smd_preset_is_refused_naming_both(demo, tmp_path, capsys):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    run = tmp_path / "run"
    get_peft_model(AutoModelForCausalLM.from_pretrained(demo["model"]), config).save_pretrained(run / "best")
    # the run.json `smd train` writes beside best/: trained on the v5 preset, scored on v5_top3 docs
    (run / "run.json").write_text(json.dumps({"smd": {"format_version": FORMAT_VERSION, "preset": "v5"}}))
    params = _write_params(tmp_path, demo["model"])
    assert main(_argv(demo, tmp_path, params, extra=["--adapter", str(run / "best")])) == 2
    err = capsys.readouterr().err
    assert f"trained on SMD {FORMAT_VERSION} preset v5," in err
    assert f"hold SMD {FORMAT_VERSION} preset v5_top3" in err
    assert not (tmp_path / "results").exists()


def test_the_caption_cell_has_the_text_metrics_and_scorable_samples(demo, tmp_path):
    from harness.metrics.readers import read_predictions

    params = _write_params(tmp_path, demo["model"])
    argv = _argv(
        demo, tmp_path, params, task="smd_humanml3d_caption", benchmark="demo_humanml3d", root=demo["hml"]
    )
    rc, res = _run_spied(argv)
    assert rc == 0
    cell = read_json(tmp_path / "results" / "demo_humanml3d" / "v5_top3" / "tiny.json")
    for metric in ("bleu_4", "rouge_l", "cider"):
        assert cell[metric] == res["results"]["smd_humanml3d_caption"][f"{metric},none"]
    assert not any(k.endswith("_stderr") for k in cell)  # lm-eval gives "N/A" for corpus metrics
    samples = tmp_path / "results" / "demo_humanml3d" / "v5_top3" / "tiny.samples.jsonl"
    predictions = read_predictions(samples)  # the input of `smd score-captions`
    assert len(predictions) == cell["n"] == LIMIT and all(p.references for p in predictions)
    for metric in ("bleu_4", "rouge_l", "cider"):  # bootstrap CIs from the per-doc samples
        assert cell[f"{metric}_ci95_low"] <= cell[metric] <= cell[f"{metric}_ci95_high"] + 1e-12, metric
    assert "chance" not in cell


def test_prompts_too_long_for_the_context_are_counted_as_skipped(demo, tmp_path):
    from transformers import AutoTokenizer

    from harness.evaluate.tasks import QA_GEN_TOKENS, prompt_tokens

    tokenizer = AutoTokenizer.from_pretrained(demo["model"])
    docs = read_jsonl(docs_path(demo["qa"], "v5_top3", "test"))
    lengths = sorted(prompt_tokens(tokenizer, d) for d in docs)
    context = lengths[len(lengths) // 2] + QA_GEN_TOKENS  # about half the prompts fit
    short = {"path": str(demo["model"]), "dtype": "float32", "context_length": context}
    params = _write_params(tmp_path, demo["model"], short=short)
    argv = _argv(demo, tmp_path, params)
    argv[argv.index("tiny")] = "short"
    assert main(argv + ["--limit", "1"]) == 0
    cell = read_json(tmp_path / "results" / "demo_babel_qa" / "v5_top3" / "short.json")
    prov = read_json(provenance_path(tmp_path / "results" / "demo_babel_qa" / "v5_top3" / "short.json"))
    assert prov["model_args"]["max_length"] == context
    assert 0 < cell["skipped"] < len(docs) and cell["n"] == 1


@pytest.mark.parametrize("what", ["adapter", "docs", "backbone"])
def test_a_missing_input_exits_2_naming_it_and_writes_nothing(demo, tmp_path, no_run, capsys, what):
    params = _write_params(tmp_path, demo["model"])
    argv = _argv(demo, tmp_path, params)
    missing = {
        "adapter": str(tmp_path / "no_adapter"),
        "docs": str(docs_path(demo["qa"], "v5_delta15", "test")),  # a preset with no docs made
        "backbone": "no-such-backbone",
    }[what]
    if what == "adapter":
        argv += ["--adapter", missing]
    elif what == "docs":
        argv[argv.index("v5_top3")] = "v5_delta15"
    else:
        argv[argv.index("tiny")] = missing
    assert main(argv) == 2
    assert missing in capsys.readouterr().err
    assert not (tmp_path / "results").exists() and not (tmp_path / "samples").exists()


# ---------------------------------------------------------------- pure helpers


def test_cell_metrics_strip_the_filter_and_drop_stderrs_that_are_not_numbers():
    results = {"alias": "x", "sample_len": 4, "acc,none": 0.5, "acc_stderr,none": "N/A", "cider,none": 0.25}
    assert cell_metrics(results, n=4, skipped=1) == {"acc": 0.5, "cider": 0.25, "n": 4, "skipped": 1}
    assert cell_metrics({"acc,strict": 1.0}, n=1, skipped=0)["acc_strict"] == 1.0
    with pytest.raises(ValueError, match="bleu_4,none"):
        cell_metrics({"bleu_4,none": math.nan}, n=1, skipped=0)
    # a per-type accuracy of a type without docs has no value and is left out; any other metric must have one
    assert "acc_action" not in cell_metrics({"acc,none": 1.0, "acc_action,none": None}, n=1, skipped=0)
    with pytest.raises(ValueError, match="acc,none"):
        cell_metrics({"acc,none": None}, n=1, skipped=0)


def test_multiple_choice_samples_predict_the_most_likely_letter():
    sample = {
        "doc": {"doc_id": "q1", "motion_id": "m1"},
        "target": 2,
        "filtered_resps": [(-3.0, False), (-1.0, True), (-2.0, False)],
        "metrics": ["acc"],
        "acc": 0.0,
    }
    (row,) = sample_rows([sample])
    assert row["prediction"] == "B" and row["loglikelihoods"] == [-3.0, -1.0, -2.0] and row["acc"] == 0.0


def test_an_option_of_probability_zero_is_recorded_as_null_in_strict_json():
    sample = {"doc": {"doc_id": "q1"}, "target": 0, "filtered_resps": [(-math.inf, False), (-1.0, True)]}
    (row,) = sample_rows([sample])
    assert row["prediction"] == "B" and row["loglikelihoods"] == [None, -1.0]
    json.dumps(row, allow_nan=False)


def test_every_test_doc_too_long_is_one_line_before_the_model_loads(demo, tmp_path, capsys, monkeypatch):
    import lm_eval

    monkeypatch.setattr(lm_eval, "simple_evaluate", lambda **kw: pytest.fail("the model was loaded"))
    tiny = {"path": str(demo["model"]), "dtype": "float32", "context_length": 40}
    argv = _argv(demo, tmp_path, _write_params(tmp_path, demo["model"], short=tiny))
    argv[argv.index("tiny")] = "short"
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "test: none of the" in err and "docs fits the context" in err and "Traceback" not in err, err
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("broken", ["backbone", "adapter"])
def test_a_truncated_safetensors_file_is_named_before_the_model_loads(demo, tmp_path, capsys, broken):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(demo["model"], model)
    argv = _argv(demo, tmp_path, _write_params(tmp_path, model))
    weights = model / "model.safetensors"
    if broken == "adapter":
        adapter = tmp_path / "adapter"
        adapter.mkdir()
        (adapter / "adapter_config.json").write_text("{}")
        weights = adapter / "adapter_model.safetensors"
        shutil.copy(model / "model.safetensors", weights)
        argv += ["--adapter", str(adapter)]
    weights.write_bytes(weights.read_bytes()[:1000])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{weights}: not a readable safetensors file" in err and "Traceback" not in err, err


def test_a_finished_run_names_the_caches_of_other_inputs_it_leaves(tmp_path, caplog):
    from harness.evaluate.lm_eval_io import finish_request_cache

    (tmp_path / "d").mkdir()
    mine, other = tmp_path / "d" / "tiny.requests-aaaa", tmp_path / "d" / "tiny.requests-bbbb_rank0.db"
    for path in (Path(f"{mine}_rank0.db"), other, tmp_path / "d" / "tiny+lora.requests-cccc_rank0.db"):
        path.write_bytes(b"")
    finish_request_cache(mine)
    assert not Path(f"{mine}_rank0.db").exists() and other.exists()
    assert str(other) in caplog.text and "tiny+lora" not in caplog.text


def test_cell_backbone_names(tmp_path):
    folder = tmp_path / "my model"
    folder.mkdir()
    assert cell_backbone_name(Backbone("qwen2.5-7b", "Qwen/Qwen2.5-7B-Instruct")) == "qwen2.5-7b"
    assert cell_backbone_name(Backbone("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct")) == (
        "Qwen--Qwen2.5-7B-Instruct"
    )
    assert cell_backbone_name(Backbone(str(folder), str(folder))) == "my-model"


def test_model_args_follow_the_registry_entry(tmp_path):
    entry = Backbone(
        "glm",
        "THUDM/glm-4-9b-chat",
        dtype="bfloat16",
        trust_remote_code=True,
        chat_template_kwargs={"enable_thinking": False},
        context_length=4096,
    )
    assert model_args(entry, tmp_path, cuda=True) == {
        "pretrained": "THUDM/glm-4-9b-chat",
        "dtype": "bfloat16",
        "trust_remote_code": True,
        "chat_template_args": {"enable_thinking": False},
        "max_length": 4096,
        "peft": str(tmp_path),
    }
    assert model_args(Backbone("q", "Qwen/Qwen2.5-3B-Instruct"), None, cuda=False) == {
        "pretrained": "Qwen/Qwen2.5-3B-Instruct",
        "dtype": "float32",
    }
    native = Backbone("s", "models/smollm2-135m", dtype="float32", cpu_dtype="bfloat16")
    assert model_args(native, None, cuda=False)["dtype"] == "bfloat16"  # a CPU with native bf16
    assert model_args(native, None, cuda=True)["dtype"] == "float32"


def test_task_version_follows_include_and_the_file_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text("task: base\nfn: !function utils.f\nmetadata:\n  version: 1.0\n")
    (tmp_path / "child.yaml").write_text("include: base.yaml\ntask: child\nmetadata:\n  version: 2.5\n")
    (tmp_path / "same.yaml").write_text("include: base.yaml\ntask: same\n")
    assert task_version("child", tmp_path) == 2.5
    assert task_version("same", tmp_path) == 1.0


def test_outside_a_git_checkout_lm_eval_s_git_probe_prints_nothing(tmp_path, monkeypatch, capfd):
    """lm-eval runs `git describe` in the working directory with git's stderr inherited; `smd evaluate`
    runs it inside `quiet_git_probe`, where the same question answers None without a word."""
    import lm_eval.evaluator

    from harness.evaluate.lm_eval_io import quiet_git_probe

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # tmp_path is no checkout
    lm_eval.evaluator.get_git_commit_hash()
    assert "not a git repository" in capfd.readouterr().err  # what the user read before
    original = lm_eval.evaluator.get_git_commit_hash
    with quiet_git_probe():
        assert lm_eval.evaluator.get_git_commit_hash() is None
    assert capfd.readouterr().err == ""
    assert lm_eval.evaluator.get_git_commit_hash is original


def test_evaluate_run_outside_a_git_checkout_leaks_no_git_error(demo, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    params = _write_params(tmp_path, demo["model"])
    assert main(_argv(demo, tmp_path, params, extra=["--limit", "1"])) == 0
    assert "fatal" not in capfd.readouterr().err
