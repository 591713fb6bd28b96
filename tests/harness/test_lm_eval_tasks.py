import re

import pytest
import yaml

from harness.data import PROMPT_VERSION, SYSTEM_QA, extract_option
from harness.evaluate.tasks import (
    TYPE_METRICS,
    agg_type_accuracy,
    cloze_process_results,
    doc_to_choice,
    load_docs,
    mc_process_results,
    qa_process_results,
)
from tests.builders import REPO

OPTIONS = ["walk", "walk backwards", "sit", "take/pick something up", "left"]


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("B", 1),
        ("b.", 1),
        ("(C)", 2),
        ("Answer: A", 0),
        ("The answer is E.", 4),
        ("A. walk", 0),
        ("Sit", 2),
        ("the person sits", None),
        ("walk backwards", 1),  # not also "walk"
        ("They take/pick something up!", 3),
        ("A person walks", None),  # a leading article is not the letter A
        ("F", None),  # no such option
        ("", None),
        ("walk or sit", None),  # two options named
        ("B. sit", None),  # letter and text disagree
    ],
)
def test_answer_extraction(answer, expected):
    assert extract_option(answer, OPTIONS) == expected


def _types(**own) -> dict:
    """The seven per-type metrics of a doc: `own` values, None for the others."""
    return {name: own.get(name) for name in TYPE_METRICS}


def test_process_results_counts_invalid_answers_as_wrong():
    doc = {"options": OPTIONS, "answer_idx": 2, "answer_type": "action", "relation": "before"}
    assert qa_process_results(doc, ["C"]) == {
        "acc": 1,
        "invalid_rate": 0,
        **_types(acc_action=1, acc_before=1),
    }
    assert qa_process_results(doc, ["A"]) == {
        "acc": 0,
        "invalid_rate": 0,
        **_types(acc_action=0, acc_before=0),
    }
    assert qa_process_results(doc, ["I do not know"])["invalid_rate"] == 1


def test_each_doc_reports_every_type_with_a_value_only_for_its_own():
    doc = {"doc_id": "q7", "options": OPTIONS, "answer_idx": 1, "answer_type": "body_part",
           "relation": "in_between"}  # fmt: skip
    letters = [(-3.0, False), (-1.0, True), (-2.0, False), (-5.0, False), (-4.0, False)]
    assert mc_process_results(doc, letters) == {"acc": 1, **_types(acc_body_part=1, acc_in_between=1)}
    assert len(TYPE_METRICS) == 7 and "acc_no_relation" in TYPE_METRICS
    # the mean over the docs that carry a value; a type no doc carries has none
    assert agg_type_accuracy([1, None, 0, None, 1, 1]) == 0.75
    assert agg_type_accuracy([None, None]) is None
    with pytest.raises(ValueError, match="doc q7: answer_type 'pose'"):
        mc_process_results({**doc, "answer_type": "pose"}, letters)


def test_cloze_scores_option_texts_and_normalises_by_length():
    doc = {"doc_id": "q1", "options": ["sit", "walk backwards", "jump"], "answer_idx": 1,
           "answer_type": "action", "relation": "no_relation"}  # fmt: skip
    # the gold text is the most likely: both pick it
    assert cloze_process_results(doc, [(-9.0, False), (-2.0, True), (-8.0, False)]) == {
        "acc": 1, "acc_norm": 1, **_types(acc_action=1, acc_no_relation=1),
    }  # fmt: skip
    # "sit" is likelier in total (-3 > -6), the 14-character gold per character (-0.43 > -1.0 > -2.0)
    scored = cloze_process_results(doc, [(-3.0, False), (-6.0, False), (-8.0, False)])
    assert (scored["acc"], scored["acc_norm"]) == (0, 1)
    with pytest.raises(ValueError, match="doc q1: 2 scores for 3 options"):
        cloze_process_results(doc, [(-1.0, True), (-2.0, False)])


def test_choices_are_the_option_letters():
    assert doc_to_choice({"options": OPTIONS}) == ["A", "B", "C", "D", "E"]


def test_docs_follow_the_metadata_and_missing_docs_say_how_to_make_them(tmp_path):
    from harness.core import atomic_write_jsonl

    doc = {"doc_id": "q1", "motion_id": "m", "smd": "S", "question": "Q", "options": ["a", "b"],
           "answer_idx": 0, "answer": "a", "answer_type": "action", "relation": "no_relation"}  # fmt: skip
    atomic_write_jsonl(tmp_path / "docs" / "v5_top3" / "test.jsonl", [doc])
    ds = load_docs("babel_qa", data_root=str(tmp_path), smd_variant="v5_top3")
    assert list(ds) == ["test"] and ds["test"][0]["system"] == SYSTEM_QA and ds["test"][0]["smd"] == "S"
    with pytest.raises(FileNotFoundError, match="smd make-docs"):
        load_docs("babel_qa", data_root=str(tmp_path), smd_variant="v5")


def _load_yaml(path):
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))
    return yaml.load(path.read_text(), Loader=Loader)


def test_task_versions_follow_the_prompt_version():
    from harness.evaluate.lm_eval_io import task_version

    for path in sorted((REPO / "tasks").glob("smd_*.yaml")):
        if "task" in _load_yaml(path):  # smd.yaml is the group
            assert task_version(path.stem, REPO / "tasks") == float(PROMPT_VERSION), path.name


def test_every_function_the_task_yamls_name_is_what_utils_exports():
    """`!function utils.NAME` resolves an attribute of tasks/utils.py, which star-imports
    `harness.evaluate.tasks`: its `__all__` is exactly the names the YAMLs call."""
    import importlib.util

    import harness.evaluate.tasks as tasks

    named = set()
    for path in (REPO / "tasks").glob("*.yaml"):
        named |= set(re.findall(r"!function utils\.(\w+)", path.read_text()))
    assert named == set(tasks.__all__)
    spec = importlib.util.spec_from_file_location("smd_task_utils", REPO / "tasks" / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    assert all(callable(getattr(utils, name)) for name in named)
    assert tasks.agg_bleu_1.__name__ == "aggregate_bleu_1"  # one per caption metric, from one table


def test_every_task_loads_through_lm_evals_task_manager(tmp_path):
    pytest.importorskip("lm_eval")
    from lm_eval.tasks import TaskManager, get_task_dict

    from harness.core import atomic_write_jsonl

    doc = {"doc_id": "q1", "motion_id": "m", "smd": "S", "question": "Q?", "options": ["a", "bb"],
           "answer_idx": 1, "answer": "bb", "answer_type": "direction", "relation": "after"}  # fmt: skip
    for split in ("val", "test"):
        atomic_write_jsonl(tmp_path / "docs" / "v5_top3" / f"{split}.jsonl", [doc])
    metadata = {"smd_variant": "v5_top3", "babel_qa_root": str(tmp_path), "humman_qa_root": str(tmp_path)}
    tm = TaskManager(include_path=str(REPO / "tasks"), metadata=metadata)
    names = ["smd_babel_qa", "smd_babel_qa_mc", "smd_babel_qa_cloze", "smd_humman_qa_cloze"]
    tasks = get_task_dict(names, tm)
    cloze = tasks["smd_babel_qa_cloze"]
    [loaded] = list(cloze.test_docs())
    assert cloze.doc_to_choice(loaded) == ["a", "bb"] and cloze.doc_to_target(loaded) == 1
    assert cloze.doc_to_text(loaded) == "Motion description:\nS\nQuestion: Q?"
    assert loaded["system"].endswith("in a few words.")
    mc = tasks["smd_babel_qa_mc"]
    assert mc.doc_to_choice(next(iter(mc.test_docs()))) == ["A", "B"]
    for name in names:
        metrics = set(tasks[name].aggregation())
        assert set(TYPE_METRICS) <= metrics, name
    assert {"acc", "acc_norm"} <= set(cloze.aggregation())
    assert {"smd_babel_qa_cloze", "smd_humman_qa_cloze"} <= set(
        _load_yaml(REPO / "tasks" / "smd.yaml")["task"]
    )


def _resolved(path) -> dict:
    """A task YAML with its `include:` chain merged in (the included file first, as lm-eval does)."""
    config = _load_yaml(path)
    if "include" in config:
        config = {**_resolved(path.parent / config.pop("include")), **config}
    return config


def test_the_tasks_need_nothing_of_the_hf_model_that_lm_evals_vllm_model_lacks():
    """For the paper profile on GPUs, `lm_eval --model vllm` must run the same YAMLs: their requests
    are the two kinds every lm-eval model serves (loglikelihood for `multiple_choice`, generate_until),
    and their generation settings are the backend-neutral ones lm-eval translates for vLLM
    (`normalize_gen_kwargs`: `until`, `max_gen_toks`, `do_sample` -> temperature 0), nothing an HF
    `generate()` alone would understand (num_beams, repetition_penalty, ...)."""
    pytest.importorskip("lm_eval")
    from lm_eval.models.utils import normalize_gen_kwargs

    paths = sorted((REPO / "tasks").glob("smd_*.yaml"))
    assert len(paths) == 8
    for path in paths:
        config = _resolved(path)
        assert config["output_type"] in {"multiple_choice", "generate_until"}, path.name
        if config["output_type"] == "generate_until":
            kwargs = normalize_gen_kwargs(config["generation_kwargs"])
            assert kwargs["do_sample"] is False and kwargs["temperature"] == 0.0, path.name
            assert set(kwargs) == {"until", "max_gen_toks", "do_sample", "temperature"}, path.name
