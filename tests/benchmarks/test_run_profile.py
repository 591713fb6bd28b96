"""benchmarks/run_profile.py: a profile's `dvc exp run` read from its script and applied to params.yaml."""

import pytest
import yaml

from benchmarks.run_profile import ProfileError, apply_overrides, record_exp_run
from tests.builders import REPO


def test_the_smollm2_cloze_profile_is_read_from_its_script():
    sets, targets = record_exp_run(REPO / "profiles" / "smollm2-cloze")
    assert sets["pipeline.cloze_backbones"] == ["smollm2-135m"] and sets["pipeline.eval_limit"] is None
    assert sets["backbones.smollm2-135m.cpu_dtype"] == "bfloat16"
    assert targets == [
        "eval-qa-cloze@babel_qa-smollm2-135m-v5_top3",
        "eval-qa-cloze-lora@babel_qa-smollm2-135m-v5_top3",
        "eval-qa-cloze-lora@babel_qa-smollm2-135m-v5_top3-blind",
    ]
    # the script's environment still chooses (EPOCHS), as under `dvc exp run`
    again, _ = record_exp_run(REPO / "profiles" / "smollm2-cloze", env={"EPOCHS": "3"})
    assert again["backbones.smollm2-135m.train.epochs"] == 3


def test_overrides_set_existing_keys_only_and_leave_the_input_alone():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    out = apply_overrides(params, {"pipeline.eval_limit": 8, "backbones.tiny.train.epochs": 2})
    assert out["pipeline"]["eval_limit"] == 8 and out["backbones"]["tiny"]["train"]["epochs"] == 2
    assert params["pipeline"]["eval_limit"] != 8
    with pytest.raises(ProfileError, match="pipeline.eval_limt: params.yaml has no such key"):
        apply_overrides(params, {"pipeline.eval_limt": 8})
    with pytest.raises(ProfileError, match="no 'nope' there"):
        apply_overrides(params, {"nope.x": 1})


def test_a_script_that_fails_or_calls_dvc_otherwise_is_refused(tmp_path):
    failing = tmp_path / "failing"
    failing.write_text("echo broken >&2; exit 3\n")
    with pytest.raises(ProfileError, match="exited 3: broken"):
        record_exp_run(failing)
    repro = tmp_path / "repro"
    repro.write_text("dvc repro eval-qa\n")
    with pytest.raises(ProfileError, match="one `dvc exp run` call"):
        record_exp_run(repro)
    queued = tmp_path / "queued"
    queued.write_text("dvc exp run --queue -S demo.seed=1\n")
    with pytest.raises(ProfileError, match="--queue"):
        record_exp_run(queued)
