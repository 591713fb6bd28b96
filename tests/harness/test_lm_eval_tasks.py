import pytest
import yaml

from harness.lm_eval_tasks import doc_to_choice, extract_option, load_docs, qa_process_results
from harness.prompts import PROMPT_VERSION, SYSTEM_QA
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


def test_process_results_counts_invalid_answers_as_wrong():
    doc = {"options": OPTIONS, "answer_idx": 2}
    assert qa_process_results(doc, ["C"]) == {"acc": 1, "invalid_rate": 0}
    assert qa_process_results(doc, ["A"]) == {"acc": 0, "invalid_rate": 0}
    assert qa_process_results(doc, ["I do not know"]) == {"acc": 0, "invalid_rate": 1}


def test_choices_are_the_option_letters():
    assert doc_to_choice({"options": OPTIONS}) == ["A", "B", "C", "D", "E"]


def test_docs_follow_the_metadata_and_missing_docs_say_how_to_make_them(tmp_path):
    from harness.io import atomic_write_jsonl

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
    for path in sorted((REPO / "tasks").glob("smd_*.yaml")):
        config = _load_yaml(path)
        if "metadata" in config:
            assert config["metadata"]["version"] == float(PROMPT_VERSION), path.name
