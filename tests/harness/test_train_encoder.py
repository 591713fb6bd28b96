"""The encoder baseline's two-stage training (LLaVA protocol) on the tiny backbone, by the SMD loop:
stage 1 (LLM frozen, captions) -> stage 2 (LoRA, QA), killed and resumed to the same result, then lm-eval."""

import json
import os
import signal
import subprocess
import sys

import pytest

pytest.importorskip("peft")
pytest.importorskip("lm_eval")

from harness.data import docs_path  # noqa: E402
from harness.train.main import main as train  # noqa: E402
from tests.builders import KILLING_TRAINER, OFFLINE_ENV, REPO  # noqa: E402

SMALL = ["encoder=small", "projector_hidden=64", "lr=2e-3", "grad_accum=1", "val_limit=4"]


def _sets(*pairs):
    return [x for p in pairs for x in ("--set", p)]


@pytest.fixture(scope="module")
def motion(motion_demo):
    return motion_demo


@pytest.fixture(scope="module")
def stage1(demo, motion, tmp_path_factory):
    out = tmp_path_factory.mktemp("stage1") / "run"
    docs = [str(docs_path(motion["hml"], "motion", s)) for s in ("train", "val")]
    args = ["--task", "caption", "--docs", docs[0], "--val-docs", docs[1], "--backbone", str(demo["model"])]
    assert train([*args, "-o", str(out), *_sets(*SMALL, "lora=false", "epochs=1", "batch_size=4")]) == 0
    return out


def test_stage_one_trains_only_the_projector_and_encoder(stage1):
    record = json.loads((stage1 / "run.json").read_text())
    assert record["status"] == "success" and record["smd"] == {
        "format_version": "motion-marker-1",
        "preset": "motion",
    }
    best = stage1 / "best"
    assert (best / "encoder.json").is_file() and (best / "encoder.safetensors").is_file()
    assert not (best / "adapter_model.safetensors").exists()  # the LLM stayed frozen: no adapter


def test_stage_two_killed_and_resumed_equals_the_whole_run_and_lm_eval_scores_it(
    demo, motion, stage1, tmp_path
):
    from safetensors.torch import load_file

    docs = [str(docs_path(motion["qa"], "motion", s)) for s in ("train", "val")]
    args = ["--task", "qa", "--docs", docs[0], "--val-docs", docs[1], "--backbone", str(demo["model"])]
    args += _sets(
        *SMALL,
        f"encoder_init={stage1 / 'best'}",
        "epochs=2",
        "batch_size=4",
        "save_every=4",
        "train_limit=24",
        "modules_to_save=[]",
    )
    killed = tmp_path / "killed"
    env = {**os.environ, **OFFLINE_ENV, "KILL_AT_STEP": "6"}
    run = subprocess.run(
        [sys.executable, "-c", KILLING_TRAINER, *args, "-o", str(killed)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr[-3000:]
    assert (killed / "checkpoints" / "latest").is_file() and not (killed / "last").exists()
    assert train([*args, "-o", str(killed)]) == 0
    whole = tmp_path / "whole"
    assert train([*args, "-o", str(whole)]) == 0
    resumed, straight = (json.loads((d / "run.json").read_text()) for d in (killed, whole))
    assert resumed["resumed_from"]["step"] == 4 and len(straight["step_losses"]) == 12
    assert max(abs(a - b) for a, b in zip(resumed["step_losses"], straight["step_losses"])) <= 1e-6
    for name in ("encoder.safetensors", "adapter_model.safetensors"):
        a, b = (load_file(d / "last" / name) for d in (killed, whole))
        assert a.keys() == b.keys() and max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-6

    from lm_eval import simple_evaluate

    import harness.evaluate.encoder_lm  # noqa: F401
    from harness.evaluate.lm_eval_io import SEEDS, lm_eval_task_manager

    best = str(whole / "best")
    model_args = {
        "pretrained": str(demo["model"]),
        "peft": best,
        "encoder": best,
        "data_root": str(motion["qa"]),
    }
    manager = lm_eval_task_manager(
        {"pretrained": str(demo["model"]), "smd_variant": "motion", "babel_qa_root": str(motion["qa"])}
    )
    res = simple_evaluate(
        model="smd-encoder",
        model_args=model_args,
        tasks=["smd_babel_qa_mc"],
        limit=4,
        task_manager=manager,
        apply_chat_template=True,
        device="cpu",
        **SEEDS,
    )
    assert 0.0 <= res["results"]["smd_babel_qa_mc"]["acc,none"] <= 1.0


@pytest.mark.parametrize(
    "docs, sets, status, message",
    [  # 2: bad input, nothing started; 1: the run started (its run.json says failed) and could not go on
        ("v5_top3", ["encoder=small"], 2, "reads `motion` docs"),
        ("motion", [], 2, "reads SMD docs"),
        ("motion", ["encoder=small", "encoder_init=/nonexistent/best"], 1, "/nonexistent/best: not found"),
    ],
)
def test_an_encoder_run_on_the_wrong_docs_or_without_its_stage_one_is_refused(
    demo, motion, tmp_path, capsys, docs, sets, status, message
):
    root = motion["qa"] if docs == "motion" else demo["qa"]
    files = [str(docs_path(root, docs, s)) for s in ("train", "val")]
    args = ["--task", "qa", "--docs", files[0], "--val-docs", files[1], "--backbone", str(demo["model"])]
    assert train([*args, "-o", str(tmp_path / "run"), *_sets(*sets)]) == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
