"""An evaluation checks everything it will need before a model generates a token: the full caption
metrics' assets (BERTScore model, T2M evaluator, motions, spaCy's model) fail in seconds, named."""

import json
import subprocess
import sys
import time

import pytest

pytest.importorskip("lm_eval")

from harness.evaluate.main import main as evaluate  # noqa: E402
from harness.metrics.assets import check_caption_assets  # noqa: E402
from tests.builders import OFFLINE_ENV, REPO  # noqa: E402

FULL = "smd_humanml3d_caption_full"


def _evaluate(demo, tmp_path, metadata: dict | None) -> list[str]:
    argv = ["--task", FULL, "--benchmark", "humanml3d", "--data-root", str(demo["hml"])]
    argv += ["--variant", "v5_top3", "--backbone", str(demo["model"]), "--results", str(tmp_path / "results")]
    argv += ["--samples-dir", str(tmp_path / "samples")]
    return argv + (["--metadata", json.dumps(metadata)] if metadata is not None else [])


ALL_SET = {"bertscore_model": "{model}", "evaluator_dir": "{tmp}", "motions_dir": "{tmp}"}


@pytest.mark.parametrize(
    "assets, named",
    [
        (None, "needs bertscore_model"),
        ({"bertscore_model": "{tmp}/none"}, "needs evaluator_dir"),
        ({**ALL_SET, "bertscore_model": "{tmp}/none"}, "none: not a model folder"),
        ({**ALL_SET, "motions_dir": "{tmp}/m"}, "motions_dir"),
        (ALL_SET, "T2M evaluator: no checkpoint"),
    ],
)
def test_smd_evaluate_checks_the_full_metrics_assets_first(demo, tmp_path, capsys, assets, named):
    if assets is not None:
        assets = {k: v.format(tmp=tmp_path, model=demo["model"]) for k, v in assets.items()}
    started = time.monotonic()
    assert evaluate(_evaluate(demo, tmp_path, assets)) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err, err
    assert time.monotonic() - started < 10
    assert not (tmp_path / "results").exists() and not (tmp_path / "samples").exists()


def test_spacys_english_model_is_checked_too(demo, tmp_path, monkeypatch):
    """With every file in place, a missing spaCy model is still named before generation."""
    import importlib.util

    evaluator = tmp_path / "t2m"
    (evaluator / "glove").mkdir(parents=True)
    for name in (
        "finest.tar",
        "t2m_mean.npy",
        "t2m_std.npy",
        "glove/our_vab_words.pkl",
    ):
        (evaluator / name).write_bytes(b"")
    with pytest.raises(ValueError, match="our_vab_idx.pkl"):  # the vocabulary's index, read by the metrics
        check_caption_assets(str(demo["model"]), str(evaluator), str(tmp_path))
    for name in ("glove/our_vab_idx.pkl", "glove/our_vab_data.npy"):
        (evaluator / name).write_bytes(b"")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "en_core_web_sm" else real(n, *a)
    )
    with pytest.raises(ValueError, match="python -m spacy download en_core_web_sm"):
        check_caption_assets(str(demo["model"]), str(evaluator), str(tmp_path))


def test_lm_eval_on_the_full_task_without_its_assets_fails_before_generating(demo, tmp_path):
    metadata = json.dumps({"smd_variant": "v5_top3", "data_root": str(demo["hml"])})
    cmd = [
        sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={demo['model']}",
        "--tasks", FULL, "--include_path", str(REPO / "tasks"), "--metadata", metadata,
        "--apply_chat_template", "--device", "cpu", "--output_path", str(tmp_path / "out"),
    ]  # fmt: skip
    started = time.monotonic()
    run = subprocess.run(cmd, capture_output=True, text=True, env={**__import__("os").environ, **OFFLINE_ENV})
    assert run.returncode != 0
    assert "needs bertscore_model" in run.stderr, run.stderr[-2000:]
    assert "Running generate_until" not in run.stderr
    assert time.monotonic() - started < 60
