"""Every task end to end, offline, on a tiny backbone the test builds: lm_eval CLI and simple_evaluate."""

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")
pytest.importorskip("transformers")

from tests.builders import REPO, run_lm_eval_cli  # noqa: E402

TASKS_DIR = REPO / "tasks"


def test_lm_eval_cli_runs_the_qa_tasks(demo, tmp_path):
    tasks = "smd_babel_qa,smd_babel_qa_mc"
    results, _ = run_lm_eval_cli(demo["model"], tasks, demo["qa"], tmp_path / "results", 6)
    assert 0.0 <= results["smd_babel_qa_mc"]["acc,none"] <= 1.0
    assert 0.0 <= results["smd_babel_qa"]["invalid_rate,none"] <= 1.0


def test_lm_eval_cli_runs_the_caption_task_and_its_samples_score_offline(demo, tmp_path, capsys):
    from harness.metrics.score_cli import main as score_captions

    task = "smd_humanml3d_caption"
    results, out = run_lm_eval_cli(demo["model"], task, demo["hml"], tmp_path / "results", 5, "--log_samples")
    results = results[task]
    metrics = ("bleu_1", "bleu_4", "rouge_l", "cider", "sacrebleu")
    assert all(0.0 <= results[f"{m},none"] <= 100.0 for m in metrics)
    samples = next(out.rglob("samples_smd_humanml3d_caption_*.jsonl"))
    assert score_captions([str(samples)]) == 0
    offline = json.loads(capsys.readouterr().out)
    assert offline["n_samples"] == len(samples.read_text().splitlines()) > 0
    for m in ("bleu_4", "cider", "rouge_l"):  # the offline scorer agrees with the lm-eval aggregation
        assert abs(offline[m] - results[f"{m},none"]) < 1e-9


def test_simple_evaluate_runs_every_task_of_the_group_with_a_lora_adapter(demo, tmp_path):
    import torch
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(demo["model"])
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    adapter = tmp_path / "adapter"
    get_peft_model(base, config).save_pretrained(adapter)
    # the demo's QA docs stand in for HuMMan-QA: same layout, one root per dataset
    metadata = {
        "smd_variant": "v5_top3",
        "babel_qa_root": str(demo["qa"]),
        "humman_qa_root": str(demo["qa"]),
        "humanml3d_root": str(demo["hml"]),
    }
    res = simple_evaluate(
        model="hf",
        model_args=f"pretrained={demo['model']},peft={adapter}",
        tasks=["smd"],
        task_manager=TaskManager(include_path=str(TASKS_DIR), metadata=metadata),
        apply_chat_template=True,
        limit=3,
        device="cpu",
    )
    results = res["results"]
    for task in ("smd_babel_qa", "smd_humman_qa", "smd_babel_qa_mc", "smd_humman_qa_mc"):
        assert 0.0 <= results[task]["acc,none"] <= 1.0, task
    assert all(
        math.isfinite(results["smd_humanml3d_caption"][f"{m},none"]) for m in ("bleu_4", "rouge_l", "cider")
    )


def test_bare_task_names_resolve_after_a_regular_install():
    import lm_eval.tasks

    installed = Path(lm_eval.tasks.__file__).parent / "smd"
    if not (installed / "smd_babel_qa.yaml").is_file():
        pytest.skip(
            "editable install: the task YAMLs are only installed by `pip install .`; use --include_path tasks"
        )
    from lm_eval.tasks import TaskManager

    names = TaskManager().all_tasks
    assert {"smd", "smd_babel_qa", "smd_humman_qa", "smd_babel_qa_mc", "smd_humman_qa_mc"} <= set(names)


def test_an_oracle_that_always_picks_the_gold_letter_scores_one(demo):
    """The MC plumbing (choices, target index, context) is right: a gold-picking model gets acc 1.0."""
    from lm_eval import simple_evaluate
    from lm_eval.api.model import LM
    from lm_eval.tasks import TaskManager

    from harness.core import read_jsonl
    from harness.data import LETTERS, docs_path, qa_cloze_user, qa_user

    docs = read_jsonl(docs_path(demo["qa"], "v5_top3", "test"))
    gold = {qa_user(d): LETTERS[d["answer_idx"]] for d in docs}
    # the cloze prompt is a prefix of the letter prompt: look it up by the whole context
    gold_text = {qa_cloze_user(d) + "\n": d["options"][d["answer_idx"]] for d in docs}

    class Oracle(LM):
        def loglikelihood(self, requests):
            out = []
            for req in requests:
                context, continuation = req.args
                answer = next((g for user, g in gold.items() if user in context), None)
                if answer is None:  # cloze: the context ends with the question, no options follow
                    answer = next(g for user, g in gold_text.items() if context.endswith(user[:-1]))
                out.append((0.0 if continuation == answer else -10.0, continuation == answer))
            return out

        def loglikelihood_rolling(self, requests):
            raise NotImplementedError

        def generate_until(self, requests):
            return [next(g for user, g in gold.items() if user in req.args[0]) for req in requests]

    metadata = {"smd_variant": "v5_top3", "data_root": str(demo["qa"])}
    res = simple_evaluate(
        model=Oracle(),
        tasks=["smd_babel_qa_mc", "smd_babel_qa", "smd_babel_qa_cloze"],
        task_manager=TaskManager(include_path=str(TASKS_DIR), metadata=metadata),
    )
    assert res["results"]["smd_babel_qa_mc"]["acc,none"] == 1.0
    assert res["results"]["smd_babel_qa_cloze"]["acc,none"] == 1.0
    assert res["results"]["smd_babel_qa_cloze"]["acc_norm,none"] == 1.0
    assert res["results"]["smd_babel_qa"]["acc,none"] == 1.0
    assert res["results"]["smd_babel_qa"]["invalid_rate,none"] == 0.0


def test_prompts_longer_than_the_context_are_left_out_and_reported(demo, caplog):
    from functools import partial

    from transformers import AutoTokenizer

    from harness.evaluate.tasks import load_docs, option_tokens, prompt_tokens

    babel_qa_docs = partial(load_docs, "babel_qa", scoring="mc")  # what each task's dataset_kwargs say
    babel_qa_gen_docs = partial(load_docs, "babel_qa", scoring="generation")
    babel_qa_cloze_docs = partial(load_docs, "babel_qa", scoring="cloze")

    tokenizer = AutoTokenizer.from_pretrained(demo["model"])
    full = babel_qa_docs(data_root=str(demo["qa"]), smd_variant="v5_top3")["test"]
    lengths = sorted(prompt_tokens(tokenizer, d) for d in full)
    limit = lengths[len(lengths) // 2]  # half the prompts fit
    meta = {"data_root": str(demo["qa"]), "smd_variant": "v5_top3", "pretrained": str(demo["model"])}
    with caplog.at_level("WARNING", logger="smd.lm_eval"):
        kept = babel_qa_docs(**meta, max_length=str(limit))["test"]
    expected = sum(n <= limit - 1 for n in lengths)
    assert len(kept) == expected < len(full)
    assert f"{len(full) - expected} of {len(full)} docs left out" in caplog.text
    gen = babel_qa_gen_docs(**meta, max_length=str(limit))["test"]  # keeps room for 32 answer tokens
    assert len(gen) == sum(n <= limit - 32 for n in lengths)
    assert len(babel_qa_docs(**{**meta, "max_length": None})["test"]) == len(full)  # 8192-token model
    # cloze: its own (shorter) prompt, and room for the doc's longest option text
    cloze_limit = sorted(prompt_tokens(tokenizer, d, "text") for d in full)[len(full) // 2]
    cloze = babel_qa_cloze_docs(**meta, max_length=str(cloze_limit))["test"]
    fits = [
        d["doc_id"]
        for d in full
        if prompt_tokens(tokenizer, d, "text") + option_tokens(tokenizer, d) <= cloze_limit
    ]
    assert [d["doc_id"] for d in cloze] == fits and 0 < len(fits) < len(full)


def test_answer_budgets_match_the_task_files():
    from harness.evaluate.tasks import CAPTION_GEN_TOKENS, QA_GEN_TOKENS

    assert f"max_gen_toks: {QA_GEN_TOKENS}" in (TASKS_DIR / "_smd_qa_generation.yaml").read_text()
    assert f"max_gen_toks: {CAPTION_GEN_TOKENS}" in (TASKS_DIR / "smd_humanml3d_caption.yaml").read_text()


def test_per_type_accuracy_is_aggregated_per_type_and_lands_in_the_cell(tmp_path):
    """Constructed docs and a fake model that is right on known docs: every QA task reports the accuracy
    of each answer type and relation over its own docs, a type without docs is absent (never NaN), the
    standard errors are lm-eval's closed form, and the cell keeps them all."""
    from lm_eval import simple_evaluate
    from lm_eval.api.model import LM
    from lm_eval.tasks import TaskManager

    from harness.core import atomic_write_jsonl
    from harness.data import LETTERS
    from harness.evaluate.lm_eval_io import cell_metrics

    kinds = [("action", "before"), ("action", "after"), ("action", "no_relation"), ("action", "before"),
             ("direction", "no_relation"), ("direction", "in_between")]  # fmt: skip
    right = {"q0", "q1", "q4"}  # action 2/4, direction 1/2; before 1/2, after 1/1, none 1/2, between 0/1
    options = ["sit", "walk", "jump", "turn left"]
    docs = [
        {
            "doc_id": f"q{i}",
            "motion_id": f"m{i}",
            "smd": f"SMD {i}",
            "question": f"Question {i}?",
            "options": options,
            "answer_idx": 1 + i % 3,
            "answer": options[1 + i % 3],
            "answer_type": t,
            "relation": r,
        }  # fmt: skip
        for i, (t, r) in enumerate(kinds)
    ]
    for split in ("val", "test"):
        atomic_write_jsonl(tmp_path / "docs" / "v5_top3" / f"{split}.jsonl", docs)

    def answer(context: str) -> int:
        doc = next(d for d in docs if f"Question: {d['question']}" in context)
        return doc["answer_idx"] if doc["doc_id"] in right else 0  # option 0 is never the gold

    class Fake(LM):
        def loglikelihood(self, requests):
            out = []
            for req in requests:
                context, continuation = req.args
                pick = answer(context)
                hit = continuation in (LETTERS[pick], options[pick])
                out.append((-1.0 if hit else -5.0, hit))
            return out

        def loglikelihood_rolling(self, requests):
            raise NotImplementedError

        def generate_until(self, requests):
            return [options[answer(req.args[0])] for req in requests]

    tasks = ["smd_babel_qa", "smd_babel_qa_mc", "smd_babel_qa_cloze"]
    res = simple_evaluate(
        model=Fake(),
        tasks=tasks,
        task_manager=TaskManager(
            include_path=str(TASKS_DIR), metadata={"smd_variant": "v5_top3", "data_root": str(tmp_path)}
        ),
    )
    expected = {"acc": 3 / 6, "acc_action": 2 / 4, "acc_direction": 1 / 2, "acc_before": 1 / 2,
                "acc_after": 1.0, "acc_no_relation": 1 / 2, "acc_in_between": 0.0}  # fmt: skip
    for task in tasks:
        results = res["results"][task]
        json.dumps(results, allow_nan=False)  # strict JSON: no NaN anywhere
        cell = cell_metrics(results, n=6, skipped=0)
        assert {k: cell[k] for k in expected} == pytest.approx(expected), task
        # no such docs: lm-eval reports no value, and the cell has no such metric
        assert results["acc_body_part,none"] is None and "acc_body_part" not in cell, task
        # a custom aggregation has no standard error in lm-eval (N/A): the cell carries none
        assert results["acc_action_stderr,none"] == "N/A" and "acc_action_stderr" not in cell, task
        assert cell["acc_stderr"] == pytest.approx((0.5 * 0.5 * 6 / 5) ** 0.5 / 6**0.5), task
    assert res["results"]["smd_babel_qa_cloze"]["acc_norm,none"] == pytest.approx(0.5)
    assert res["results"]["smd_babel_qa"]["invalid_rate,none"] == 0.0
