"""Training settings and data that cannot give a sound run are refused before training, naming the key
or the file (exit 2); a run whose validation would score nothing fails instead of ending in NaN."""

import json

import pytest
import yaml

pytest.importorskip("peft")

from harness.train.main import main as train  # noqa: E402


def _args(demo, out, *extra: str, val=None) -> list[str]:
    docs = demo["qa"] / "docs" / "v5_top3"
    val = val or docs / "val.jsonl"
    args = ["--task", "qa", "--docs", str(docs / "train.jsonl"), "--val-docs", str(val)]
    return [*args, "-o", str(out), *extra]


@pytest.mark.parametrize(
    "setting, message",
    [
        ("lr=.inf", "train.lr must be a finite number"),
        ("lr=.nan", "train.lr must be a finite number"),
        ("max_grad_norm=.nan", "train.max_grad_norm must be a finite number"),
        ("weight_decay=-1", "train.weight_decay and train.max_grad_norm"),
        ("epochs=0", "train.epochs must be >= 1"),
    ],
)
def test_unsound_settings_are_refused_before_training(demo, tmp_path, capsys, setting, message):
    out = tmp_path / "run"
    assert train(_args(demo, out, "--backbone", str(demo["model"]), "--set", setting)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert not (out / "run.json").exists()  # nothing started


@pytest.mark.parametrize(
    "section, message",
    [
        ({"epochs": "five"}, "backbones.mine.train.epochs"),
        ({"lr": -1.0}, "train.lr must be > 0"),
        ({"lr": float("inf")}, "train.lr must be a finite number"),
        ({"qa": {"batch_size": 0}}, "train.batch_size must be >= 1"),
    ],
)
def test_a_backbones_own_train_section_is_checked_like_the_rest(demo, tmp_path, capsys, section, message):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"backbones": {"mine": {"path": str(demo["model"]), "train": section}}}))
    out = tmp_path / "run"
    assert train(_args(demo, out, "--backbone", "mine", "--params", str(params))) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not (out / "run.json").exists()


def test_a_validation_set_with_nothing_to_score_fails_the_run_in_strict_json(demo, tmp_path, capsys):
    val = demo["qa"] / "docs" / "v5_top3" / "val.jsonl"
    docs = [json.loads(line) for line in val.read_text().splitlines()]
    long = tmp_path / "val-too-long.jsonl"
    long.write_text("".join(json.dumps({**d, "smd": d["smd"] * 400}) + "\n" for d in docs[:3]))
    out = tmp_path / "run"
    assert train(_args(demo, out, "--backbone", str(demo["model"]), "--set", "epochs=1", val=long)) == 1
    assert "empty validation set: all 3 docs exceed the context" in capsys.readouterr().err

    def no_constants(name):
        raise AssertionError(f"run.json holds {name}")

    record = json.loads((out / "run.json").read_text(), parse_constant=no_constants)
    assert record["status"] == "failed"


def test_params_yaml_is_found_in_the_working_directory(tmp_path, monkeypatch):
    """After a regular install the package lives in site-packages: `smd train --backbone NAME` in a
    project folder reads that folder's params.yaml."""
    from harness.models import default_params, get_backbone

    (tmp_path / "model").mkdir()
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"backbones": {"mine": {"path": "./model"}}}))
    monkeypatch.chdir(tmp_path)
    assert default_params() == tmp_path / "params.yaml"
    assert get_backbone("mine").path == str(tmp_path / "model")


def test_a_diverged_loss_fails_the_run_at_once_in_strict_json(demo, tmp_path, capsys, monkeypatch):
    """A loss that turns NaN (too high an lr, an overflow) fails the run where it happens: exit 1,
    `status: failed`, no NaN written anywhere, instead of a crash of the strict-JSON writer."""
    import harness.train.loop as loop

    real = loop.loss_sum

    def diverging(model, batch, keep_logits):
        loss, n = real(model, batch, keep_logits)
        return loss * float("nan"), n

    monkeypatch.setattr(loop, "loss_sum", diverging)
    out = tmp_path / "run"
    assert train(_args(demo, out, "--backbone", str(demo["model"]), "--set", "epochs=1")) == 1
    assert "step 1: loss nan (diverged; lower lr?)" in capsys.readouterr().err

    def no_constants(name):
        raise AssertionError(f"{name} written")

    record = json.loads((out / "run.json").read_text(), parse_constant=no_constants)
    assert record["status"] == "failed"


def test_a_truncated_backbone_is_named_before_training(demo, tmp_path, capsys):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(demo["model"], model)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    out = tmp_path / "run"
    assert train(_args(demo, out, "--backbone", str(model))) == 2
    err = capsys.readouterr().err
    assert f"{weights}: not a readable safetensors file" in err and "Traceback" not in err, err
    assert not (out / "run.json").exists()
