"""Shared-prefix packing (harness.train.packing): packed equals separate, steps count answers, where it
is refused, and a packed run trains and resumes."""

import json

import pytest

pytest.importorskip("peft")
pytest.importorskip("transformers")

from harness.train import TrainConfig, TrainingError  # noqa: E402
from harness.train.data import Example  # noqa: E402
from tests.builders import interrupt_optimizer_at

RTOL = 1e-5
# (task, qa_target): the QA letter and cloze targets, and captions (one example per reference)
TARGETS = [("qa", "letter"), ("qa", "text"), ("caption", "letter")]


def _docs(demo, task: str) -> list[dict]:
    root = demo["qa"] if task == "qa" else demo["hml"]
    path = root / "docs" / "v5_top3" / "train.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _examples(tokenizer, docs, qa_target, n_motions):
    """The examples of the first `n_motions` motions with more than one example."""
    from harness.train.data import build_examples
    from harness.train.packing import motions

    examples, _ = build_examples(tokenizer, docs, max_length=100_000, qa_target=qa_target)
    groups = [g for g in motions(examples) if len(g) > 1][:n_motions]
    assert len(groups) == n_motions
    return [examples[i] for g in groups for i in g]


def _lora(path, dtype, layers=None):
    """The backbone with LoRA on every default target and random B (peft's zero B would leave A's
    gradients zero, equal whatever the packing), no dropout (its draws differ between layouts)."""
    import torch
    from transformers import AutoModelForCausalLM

    from harness.models import Backbone
    from harness.train.model import add_lora

    torch.manual_seed(0)
    depth = {} if layers is None else {"num_hidden_layers": layers}
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="sdpa", dtype=dtype, **depth)
    model = add_lora(model, TrainConfig(lora_dropout=0.0), Backbone(name="test", path=str(path)))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.02)
    return model


def _loss_and_grads(model, batches):
    from harness.train.loss import keeps_logits, loss_sum

    model.zero_grad(set_to_none=True)
    total, count = 0.0, 0
    for batch in batches:
        loss, n = loss_sum(model, batch, keeps_logits(model))
        loss.backward()
        total, count = total + float(loss.detach()), count + n
    grads = {k: p.grad.detach().clone() for k, p in model.named_parameters() if p.requires_grad}
    return total, count, grads


def assert_packed_equals_separate(path, tokenizer, docs, qa_target, dtype, per_pack=None, layers=None):
    """Two packs in one padded batch (one of them split: a step boundary's part; at most `per_pack`
    examples each) against every example alone, in `dtype`: the summed answer-token loss, its token
    count and every LoRA gradient agree to RTOL."""

    from harness.train.data import collate
    from harness.train.packing import collate_packed, motions, prefix_length

    examples = _examples(tokenizer, docs, qa_target, n_motions=2)
    groups = motions(examples)
    packs = [groups[0][:per_pack], groups[1][: max(1, len(groups[1]) - 1)][:per_pack]]  # the second: a split
    members = [i for p in packs for i in p]
    for p in packs:  # the SMD is shared: most of each example is prefix
        assert prefix_length([examples[i] for i in p]) > 0.8 * min(len(examples[i]) for i in p)
    model = _lora(path, dtype, layers)
    packed = collate_packed(examples, packs, tokenizer.pad_token_id)
    assert [len(t["input_ids"]) for t in packed] == [len(p) for p in packs]
    assert all((t["labels"] != -100).any(1).all() for t in packed)  # every block carries its answer
    loss_p, n_p, grads_p = _loss_and_grads(model, [packed])
    alone = [collate([examples[i]], tokenizer.pad_token_id) for i in members]
    loss_s, n_s, grads_s = _loss_and_grads(model, alone)
    assert n_p == n_s == sum(sum(x != -100 for x in examples[i].labels) for i in members)
    assert loss_p == pytest.approx(loss_s, rel=RTOL)
    assert grads_p.keys() == grads_s.keys() and any("lora_A" in k for k in grads_s)
    for k in grads_s:
        assert float(grads_s[k].norm()) > 0, k  # a zero gradient would compare equal for nothing
        err = float((grads_p[k] - grads_s[k]).norm() / grads_s[k].norm())
        assert err <= RTOL, f"{k}: relative gradient difference {err:.2e}"


@pytest.mark.parametrize(("task", "qa_target"), TARGETS)
def test_packed_loss_and_gradients_equal_separate_examples_on_the_tiny_backbone(demo, task, qa_target):
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(demo["model"])
    # float32, the dtype CPU training runs in: rounding stays well under RTOL on two layers
    assert_packed_equals_separate(demo["model"], tokenizer, _docs(demo, task), qa_target, torch.float32)


@pytest.mark.slow
@pytest.mark.parametrize(("task", "qa_target"), TARGETS)
def test_packed_loss_and_gradients_equal_separate_examples_on_smollm2(demo, smollm2, task, qa_target):
    """A pretrained backbone (grouped-query attention, RoPE, its trained weights), in float64. In float32 its
    rounding alone is above RTOL: the same two examples run one at a time or as one padded batch give
    LoRA gradients up to ~2e-4 apart (measured on the demo), so float32 cannot tell exact from not."""
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    docs = _docs(demo, task)[:30]
    # its first 4 of 30 layers (its own weights): what packing changes, the mask and positions, acts in
    # every layer alike, and 30 float64 layers on two CPU cores take minutes per case
    assert_packed_equals_separate(smollm2, tokenizer, docs, qa_target, torch.float64, per_pack=2, layers=4)


def _toy(motion: str, prompt: list[int], answer: list[int]) -> Example:
    ids = tuple(prompt + answer)
    return Example(motion, ids, tuple([-100] * len(prompt) + answer), len(prompt), motion=motion)


def test_the_prefix_stops_before_every_answer():
    from harness.train.packing import prefix_length

    # identical prompts: the prefix stops one token short, so the answer is predicted inside the block
    assert prefix_length([_toy("m", [1, 2, 3, 4], [7]), _toy("m", [1, 2, 3, 4], [8])]) == 3
    assert prefix_length([_toy("m", [1, 2, 3, 4], [7]), _toy("m", [1, 2, 9, 4], [7])]) == 2
    assert prefix_length([_toy("m", [1, 2], [7]), _toy("m", [1, 2, 3, 4, 5], [7])]) == 1
    assert prefix_length([_toy("m", [5, 6, 7], [8])]) == 2  # alone: one block, its prompt's last token


def test_each_block_stands_where_it_stands_alone_after_its_prefix():
    from harness.train.packing import collate_packed

    examples = [_toy("m", [1, 2, 3], [7, 8]), _toy("m", [1, 2, 4], [9]), _toy("n", [5], [6])]
    first, second = collate_packed(examples, [(0, 1), (2,)], pad_id=0)
    # prefix [1, 2]; blocks [3, 7, 8] and [4, 9] (right-padded) at positions 2.. each
    assert first["prefix_ids"].tolist() == [[1, 2]]
    assert first["input_ids"].tolist() == [[3, 7, 8], [4, 9, 0]]
    assert first["position_ids"].tolist() == [[2, 3, 4], [2, 3, 4]]
    assert first["labels"].tolist() == [[-100, 7, 8], [-100, 9, -100]]  # padding carries no label
    # a one-token prompt: no prefix (it stops one before the prompt's end), the block is the whole example
    assert second["prefix_ids"].tolist() == [[]] and second["input_ids"].tolist() == [[5, 6]]
    assert second["position_ids"].tolist() == [[0, 1]]


@pytest.mark.parametrize("grouped", [True, False])
def test_steps_count_answers_and_cover_every_example_once(grouped):
    from harness.train.packing import epoch_steps, motions

    sizes = [3, 4, 2, 5, 3, 1, 4, 3, 6, 2, 3, 4] * 5  # SMDs of varied length: length grouping sorts by them
    examples = [
        _toy(f"m{m}", [m] + [1] * (m % 7) + [2, 3], [k]) for m, n in enumerate(sizes) for k in range(n)
    ]
    kw = {"answers": 8, "batch_size": 2, "seed": 1, "group_by_length": grouped}
    steps = epoch_steps(examples, epoch=0, **kw)
    counts = [sum(len(p) for micro in s for p in micro) for s in steps]
    assert counts[:-1] == [8] * (len(steps) - 1) and 0 < counts[-1] <= 8
    assert len(steps) == -(-len(examples) // 8)  # as many steps as an unpacked epoch of 8-example steps
    flat = sorted(i for s in steps for micro in s for p in micro for i in p)
    assert flat == list(range(len(examples)))
    assert all(len(micro) <= 2 for s in steps for micro in s)
    # a pack is one motion's examples; a motion is split only where no whole one fitted
    assert all(len({examples[i].motion for i in p}) == 1 for s in steps for micro in s for p in micro)
    packs = sum(len(micro) for s in steps for micro in s)
    assert packs <= 1.1 * len(motions(examples))
    assert epoch_steps(examples, epoch=0, **kw) == steps  # a pure function of (seed, epoch): exact resume
    assert epoch_steps(examples, epoch=1, **kw) != steps


def test_packing_is_on_where_supported_and_refused_where_not():
    from types import SimpleNamespace

    from harness.train.config import packs
    from harness.train.packing import check_attention

    assert packs(TrainConfig()) and packs(TrainConfig(attn_implementation="eager"))
    assert not packs(TrainConfig(attn_implementation="flash_attention_2"))  # auto: unpacked
    assert not packs(TrainConfig(encoder="small")) and not packs(TrainConfig(packing="none"))
    assert not packs(TrainConfig(gradient_checkpointing=True))  # it drops the prefix's cache
    # data-parallel: a packed step split over processes is not the one-process step, so not yet
    assert not packs(TrainConfig(), processes=2)
    with pytest.raises(ValueError, match="shared_prefix is not supported on 2 processes.*packing: none"):
        packs(TrainConfig(packing="shared_prefix"), processes=2)
    with pytest.raises(ValueError, match="sdpa attention only, not flash_attention_2.*packing: none"):
        TrainConfig(packing="shared_prefix", attn_implementation="flash_attention_2")
    with pytest.raises(ValueError, match="gradient checkpointing drops.*packing: none"):
        TrainConfig(packing="shared_prefix", gradient_checkpointing=True)
    with pytest.raises(ValueError, match="encoder baseline.*packing: none"):
        TrainConfig(packing="shared_prefix", encoder="small")
    # a model whose attention ignores the mask (its config, whatever the setting) is refused at the start
    with pytest.raises(TrainingError, match="eager and sdpa attention only.*flash_attention_2"):
        check_attention(SimpleNamespace(_attn_implementation="flash_attention_2"))
    check_attention(SimpleNamespace(_attn_implementation="sdpa"))


def test_a_flash_attention_model_is_refused_before_training(demo, tmp_path, monkeypatch):
    """A backbone that loads with flash attention (set by its own config here: no flash-attn on CPU) is
    refused before a step is taken, not trained with blocks that see each other."""
    import harness.train.loop as loop
    from harness.train.main import TrainRequest, run_training

    load = loop.load_backbone

    def flash_backbone(*args, **kwargs):
        model, tokenizer = load(*args, **kwargs)
        model.config._attn_implementation = "flash_attention_2"
        return model, tokenizer

    monkeypatch.setattr(loop, "load_backbone", flash_backbone)
    docs = demo["qa"] / "docs" / "v5_top3"
    with pytest.raises(TrainingError, match="flash_attention_2.*packing: none"):
        run_training(
            TrainRequest(
                "qa", (docs / "train.jsonl",), (docs / "val.jsonl",), str(demo["model"]), tmp_path / "run"
            )
        )
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "failed"


def _run(demo, out, sub, **overrides):
    from harness.train.main import TrainRequest, run_training

    docs = demo["qa"] / "docs" / "v5_top3"
    sets = {"epochs": 2, "batch_size": 2, "grad_accum": 2, "lr": 2e-3, "val_limit": 4, "save_every": 1000}
    return run_training(
        TrainRequest(
            "qa", (sub,), (docs / "val.jsonl",), str(demo["model"]), out, overrides={**sets, **overrides}
        )
    )


def test_a_packed_run_trains_fewer_tokens_in_the_same_steps_and_resumes_exactly(demo, tmp_path, monkeypatch):
    """Packed and unpacked runs take the same optimizer steps (answers per step, not sequences); a
    packed run interrupted mid-epoch resumes from its checkpoint to the uninterrupted run's result."""
    import torch
    from safetensors.torch import load_file

    src = demo["qa"] / "docs" / "v5_top3" / "train.jsonl"
    sub = tmp_path / "train.jsonl"
    sub.write_text("".join(src.read_text().splitlines(keepends=True)[:30]))
    packed = _run(demo, tmp_path / "packed", sub, packing="shared_prefix", save_every=3)
    plain = _run(demo, tmp_path / "plain", sub, packing="none")
    assert packed["packing"] == "shared_prefix" and plain["packing"] == "none"
    assert packed["total_steps"] == plain["total_steps"] == len(packed["step_losses"]) == 2 * 8
    ex = packed["examples"]
    assert ex["train"] == 30 and ex["train_packed_tokens"] < 0.6 * ex["train_tokens"]
    assert plain["examples"]["train_packed_tokens"] is None
    assert all(torch.isfinite(torch.tensor(packed["step_losses"])))

    out = tmp_path / "interrupted"
    with interrupt_optimizer_at(monkeypatch, 5):  # epoch 1, step 5: after the step-3 checkpoint
        with pytest.raises(KeyboardInterrupt):
            _run(demo, out, sub, packing="shared_prefix", save_every=3)
    resumed = _run(demo, out, sub, packing="shared_prefix", save_every=3)
    assert resumed["resumed_from"] == {"epoch": 0, "batch": 6, "step": 3}  # 3 steps of 2 micro-batch slots
    assert resumed["step_losses"] == packed["step_losses"] and resumed["history"] == packed["history"]
    a, b = (load_file(d / "last" / "adapter_model.safetensors") for d in (out, tmp_path / "packed"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
