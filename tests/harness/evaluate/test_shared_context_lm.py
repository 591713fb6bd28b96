"""harness.evaluate.shared_context_lm: `smd-hf` gives HFLM's log-likelihoods and is_greedy, in request order,
with one pass of each question's prompt."""

import pytest

pytest.importorskip("lm_eval")
torch = pytest.importorskip("torch")

from harness.evaluate.lm_eval_io import SHARED_CONTEXT_MODEL, lm_eval_task_manager  # noqa: E402

TOL = 1e-4  # float32; HFLM and smd-hf run the same tokens in differently shaped matmuls


@pytest.fixture(scope="module")
def lms(demo, tmp_path_factory):
    """HFLM and smd-hf on the tiny backbone, and both again with the same random LoRA adapter."""
    from lm_eval.api.registry import get_model
    from lm_eval.models.huggingface import HFLM
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    import harness.evaluate.shared_context_lm  # noqa: F401  (registers smd-hf)

    torch.manual_seed(0)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    adapter = tmp_path_factory.mktemp("lora") / "adapter"
    get_peft_model(AutoModelForCausalLM.from_pretrained(demo["model"]), config).save_pretrained(adapter)
    args = {"pretrained": str(demo["model"]), "dtype": "float32", "device": "cpu", "batch_size": 4}
    shared = get_model(SHARED_CONTEXT_MODEL)
    return {
        "plain": (HFLM(**args), shared(**args)),
        "lora": (HFLM(**args, peft=str(adapter)), shared(**args, peft=str(adapter))),
    }


def _requests(demo, lm, task: str, limit: int = 4):
    """The task's own loglikelihood requests (lm-eval's doc_to_text / doc_to_choice, chat-templated)."""
    metadata = {"smd_variant": "v5_top3", "babel_qa_root": str(demo["qa"]), "pretrained": str(demo["model"])}
    loaded = lm_eval_task_manager(metadata).load([task])["tasks"][task]
    loaded.build_all_requests(
        limit=limit,
        apply_chat_template=True,
        chat_template=lm.apply_chat_template,
        tokenizer_name=lm.tokenizer_name,
    )
    requests = [inst for inst in loaded.instances if inst.request_type == "loglikelihood"]
    assert len(requests) >= 4 * limit
    return requests


@pytest.mark.parametrize("adapter", ["plain", "lora"])
@pytest.mark.parametrize("task", ["smd_babel_qa_cloze", "smd_babel_qa_mc"])
def test_the_log_likelihoods_and_is_greedy_are_hflms(demo, lms, task, adapter):
    hf, shared = lms[adapter]
    requests = _requests(demo, hf, task)
    want, got = hf.loglikelihood(requests), shared.loglikelihood(requests)
    assert max(abs(w[0] - g[0]) for w, g in zip(want, got, strict=True)) < TOL
    assert [w[1] for w in want] == [g[1] for g in got]
    if task.endswith("_cloze"):  # the continuations of several tokens are the point
        assert max(len(shared.tok_encode(r.args[1], add_special_tokens=False)) for r in requests) > 1


def test_answers_come_back_in_request_order_when_contexts_interleave(demo, lms):
    hf, shared = lms["plain"]
    requests = _requests(demo, hf, "smd_babel_qa_cloze", limit=3)
    # option 0 of every question, then option 1 of every question, ...: contexts interleave
    mixed = sorted(requests, key=lambda r: (r.idx, r.doc_id))
    assert mixed != requests
    want, got = hf.loglikelihood(mixed), shared.loglikelihood(mixed)
    assert max(abs(w[0] - g[0]) for w, g in zip(want, got, strict=True)) < TOL


def test_one_continuation_per_pass_and_a_batch_give_the_same_answers(demo, lms):
    """The batch size splits a question's options into passes on copies of its context's cache."""
    hf, shared = lms["plain"]
    context, conts = _group(shared, _requests(demo, hf, "smd_babel_qa_cloze", limit=1))
    whole = shared.score_group(context, conts)
    for batch in (1, 3):
        parts = shared.score_group(context, conts, batch)
        assert max(abs(a[0] - b[0]) for a, b in zip(whole, parts, strict=True)) < TOL
        assert [a[1] for a in whole] == [b[1] for b in parts]


def test_wrong_positions_break_the_equality(demo, lms):
    """The continuations' positions matter, so the tests above would catch wrong ones: positions counted
    from 0 (what a forgotten context length gives; 3e-3 apart on the tiny backbone, which barely reads
    positions), or one off (2e-4 apart)."""
    hf, shared = lms["plain"]
    context, conts = _group(shared, _requests(demo, hf, "smd_babel_qa_cloze", limit=1))
    right = shared.score_group(context, conts)
    for offset, apart in ((-len(context), 10 * TOL), (1, TOL)):
        wrong = shared.score_group(context, conts, offset=offset)
        assert max(abs(a[0] - b[0]) for a, b in zip(right, wrong, strict=True)) > apart, offset


def test_requests_hflm_would_truncate_go_to_hflm(demo, lms):
    hf, shared = lms["plain"]
    requests = _requests(demo, hf, "smd_babel_qa_cloze", limit=1)
    tokenised = [((r.args), *shared._encode_pair(*r.args)) for r in requests]
    short = len(tokenised[0][1]) - 5  # shorter than the prompt: every request is left-truncated
    for lm in (hf, shared):
        lm._max_length = short
    try:
        want = hf._loglikelihood_tokens(tokenised, disable_tqdm=True)
        got = shared._loglikelihood_tokens(tokenised, disable_tqdm=True)
    finally:
        for lm in (hf, shared):
            lm._max_length = None
    assert want == got


def _group(lm, requests) -> tuple[list[int], list[list[int]]]:
    pairs = [lm._encode_pair(*r.args) for r in requests if r.doc_id == requests[0].doc_id]
    assert len({tuple(ctx) for ctx, _ in pairs}) == 1
    return pairs[0][0], [cont for _, cont in pairs]
