"""Builders shared by the harness tests that run lm-eval end to end."""

import pytest


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A 24-motion demo with v5_top3 docs, and a tiny backbone trained on them (~20 s, built once)."""
    pytest.importorskip("transformers")
    from harness.build_smd import main as build_smd
    from harness.demo.generate import generate_demo
    from harness.prompt_docs import main as make_docs
    from harness.qa_options import main as make_options
    from harness.tiny_backbone import TinyConfig, build_tiny_backbone, corpus_from_docs

    root = tmp_path_factory.mktemp("demo")
    generate_demo(root, n_motions=24, seed=3)
    qa = root / "babel_qa"
    assert build_smd([str(qa), "--presets", "v5_top3", "--workers", "2"]) == 0
    assert make_options([str(qa)]) == 0
    assert make_docs([str(qa), "--preset", "v5_top3"]) == 0
    hml = root / "humanml3d"
    assert build_smd([str(hml), "--presets", "v5_top3", "--workers", "2"]) == 0
    assert make_docs([str(hml), "--preset", "v5_top3"]) == 0
    model = build_tiny_backbone(
        root / "tiny", corpus_from_docs([qa / "docs" / "v5_top3" / "train.jsonl"]), TinyConfig(vocab_size=512)
    )
    return {"qa": qa, "hml": hml, "model": model, "root": root}
