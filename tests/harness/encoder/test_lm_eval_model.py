"""lm-eval runs the existing tasks unchanged on `smd-encoder`: motion docs, soft tokens, the same scoring."""

import json

import numpy as np
import pytest

pytest.importorskip("lm_eval")

from harness.core import read_jsonl  # noqa: E402
from harness.data import DATASETS, docs_path  # noqa: E402
from harness.models.encoder import (  # noqa: E402
    build_encoder,
    clip_features,
    clip_key,
    feature_stats,
    load_encoder,
    save_encoder,
)


@pytest.fixture(scope="module")
def roots(motion_demo):
    return motion_demo


@pytest.fixture(scope="module")
def encoder_folder(demo, roots, tmp_path_factory):
    import torch
    from transformers import AutoConfig

    width = AutoConfig.from_pretrained(demo["model"]).hidden_size
    config = {
        "kind": "small",
        "encoder": {"width": 32, "latent_dim": 64},
        "projector": {"width": width, "n_tokens": 4, "hidden": 64},
    }
    torch.manual_seed(0)
    encoder, projector = build_encoder(config)
    docs = read_jsonl(docs_path(roots["qa"], "motion", "train"))
    clips = [clip_features(roots["qa"], DATASETS["babel_qa"], clip_key(d)) for d in docs[:6]]
    folder = tmp_path_factory.mktemp("encoder")
    save_encoder(folder, config, encoder, projector, *feature_stats(clips))
    return folder


def test_motion_docs_carry_a_marker_where_the_smd_stands_and_the_same_questions(demo, roots):
    motion = read_jsonl(docs_path(roots["qa"], "motion", "test"))
    smd_docs = read_jsonl(docs_path(demo["qa"], "v5_top3", "test"))
    assert [d["doc_id"] for d in motion] == [d["doc_id"] for d in smd_docs]  # paired: the same docs
    assert all(d["smd"] == f"<motion:{d['motion_id']}>" for d in motion)
    assert {(d["smd_format"], d["smd_preset"]) for d in motion} == {("motion-marker-1", "motion")}
    captions = read_jsonl(docs_path(roots["hml"], "motion", "test"))
    assert all(d["smd"] == f"<motion:{d['doc_id']}>" for d in captions)


def test_clip_features_are_hml3d_features_at_20_fps(roots):
    docs = read_jsonl(docs_path(roots["qa"], "motion", "test"))
    features = clip_features(roots["qa"], DATASETS["babel_qa"], clip_key(docs[0]))
    assert features.shape[1] == 263 and np.isfinite(features).all()
    from harness.core import load_npy
    from harness.data import find_motion

    joints = load_npy(find_motion(roots["qa"], docs[0]["motion_id"]))
    assert abs(len(features) + 1 - (len(joints) - 1) * 20 / 30 - 1) <= 1  # 30 fps resampled to 20


def test_an_encoder_folder_round_trips(encoder_folder):
    import torch

    config, encoder, projector, mean, std = load_encoder(encoder_folder)
    assert config["kind"] == "small" and mean.shape == std.shape == (263,)
    with torch.no_grad():
        assert projector(encoder(torch.zeros(1, 8, 263), torch.tensor([8]))).shape[1] == 4
    (encoder_folder / "encoder.json").write_text(
        json.dumps({**config, "projector": {**config["projector"], "n_tokens": 2}})
    )
    with pytest.raises(ValueError, match="does not fit"):
        load_encoder(encoder_folder)
    (encoder_folder / "encoder.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    "task, key", [("smd_babel_qa_mc", "qa"), ("smd_babel_qa", "qa"), ("smd_humanml3d_caption", "hml")]
)
def test_lm_eval_scores_the_tasks_with_the_encoder_model(demo, roots, encoder_folder, task, key):
    from lm_eval import simple_evaluate

    import harness.evaluate.encoder_lm  # noqa: F401  (registers smd-encoder)
    from harness.evaluate.lm_eval_io import SEEDS, lm_eval_task_manager

    args = {"pretrained": str(demo["model"]), "encoder": str(encoder_folder), "data_root": str(roots[key])}
    root_key = "babel_qa_root" if key == "qa" else "humanml3d_root"
    manager = lm_eval_task_manager(
        {"pretrained": args["pretrained"], "smd_variant": "motion", root_key: str(roots[key])}
    )
    res = simple_evaluate(
        model="smd-encoder",
        model_args=args,
        tasks=[task],
        task_manager=manager,
        apply_chat_template=True,
        limit=3,
        log_samples=True,
        device="cpu",
        **SEEDS,
    )
    samples = res["samples"][task]
    assert len(samples) == 3
    assert all("<motion:" in s["arguments"][0][0] for s in samples)  # the prompt held the marker
    metric = "acc,none" if key == "qa" else "bleu_4,none"
    assert np.isfinite(res["results"][task][metric])


def test_smd_lm_eval_is_lm_evals_command_line_with_the_encoder_model(demo, roots, encoder_folder, tmp_path):
    import os
    import subprocess
    import sys

    from tests.builders import OFFLINE_ENV, REPO

    args = f"pretrained={demo['model']},encoder={encoder_folder},data_root={roots['qa']}"
    metadata = json.dumps(
        {"smd_variant": "motion", "data_root": str(roots["qa"]), "pretrained": str(demo["model"])}
    )
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "harness.cli",
        "lm-eval",
        "--model",
        "smd-encoder",
        "--model_args",
        args,
        "--tasks",
        "smd_babel_qa_mc",
        "--include_path",
        str(REPO / "tasks"),
        "--metadata",
        metadata,
        "--apply_chat_template",
        "--limit",
        "2",
        "--device",
        "cpu",
        "--output_path",
        str(out),
    ]
    run = subprocess.run(
        cmd,
        env={**os.environ, **OFFLINE_ENV, "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    (results,) = out.rglob("results_*.json")
    assert json.loads(results.read_text())["results"]["smd_babel_qa_mc"]["alias"] == "smd_babel_qa_mc"
