import pytest

from harness.data import SYSTEM_CAPTION, SYSTEM_QA, SYSTEM_QA_CLOZE, build_messages, render_prompt, target

QA_DOC = {
    "doc_id": "000001",
    "motion_id": "m1",
    "smd": "Motion: 2.0s (40 frames at 20 FPS)\n",
    "question": "What action does the person do?",
    "options": ["sit", "walk", "jump"],
    "answer_idx": 1,
    "answer": "walk",
    "answer_type": "action",
    "relation": "no_relation",
}
CAPTION_DOC = {
    "doc_id": "m1",
    "motion_id": "m1",
    "smd": "Motion: 2.0s\n",
    "references": [" a person walks. ", "b"],
}


def test_qa_messages_list_lettered_options_and_end_with_the_gold_letter():
    system, user, assistant = build_messages(QA_DOC)
    assert system == {"role": "system", "content": SYSTEM_QA}
    assert user["role"] == "user"
    assert QA_DOC["smd"] in user["content"] and "Question: What action does the person do?" in user["content"]
    assert "A. sit\nB. walk\nC. jump" in user["content"]
    assert assistant == {"role": "assistant", "content": "B"}


def test_without_target_the_prompt_is_the_same_prefix():
    assert build_messages(QA_DOC, with_target=False) == build_messages(QA_DOC)[:2]
    assert build_messages(CAPTION_DOC, with_target=False) == build_messages(CAPTION_DOC)[:2]


def test_caption_messages_target_a_stripped_reference():
    system, user, assistant = build_messages(CAPTION_DOC, reference=0)
    assert system["content"] == SYSTEM_CAPTION and CAPTION_DOC["smd"] in user["content"]
    assert assistant["content"] == "a person walks." == target(CAPTION_DOC)
    assert target(CAPTION_DOC, reference=1) == "b"


def test_the_letter_prompt_is_the_papers_byte_for_byte():
    """The letter tasks' prompt is the paper's protocol: the cloze formulation must not touch it (a change
    here needs PROMPT_VERSION and every task's metadata.version bumped)."""
    assert build_messages(QA_DOC, qa_target="letter") == build_messages(QA_DOC)
    assert build_messages(QA_DOC)[1]["content"] == (
        "Motion description:\nMotion: 2.0s (40 frames at 20 FPS)\n\n"
        "Question: What action does the person do?\n"
        "Options:\nA. sit\nB. walk\nC. jump\nAnswer with the letter of the correct option."
    )


def test_cloze_messages_show_no_options_and_end_with_the_gold_text():
    system, user, assistant = build_messages(QA_DOC, qa_target="text")
    assert system == {"role": "system", "content": SYSTEM_QA_CLOZE}
    assert user["content"] == (
        "Motion description:\nMotion: 2.0s (40 frames at 20 FPS)\n\nQuestion: What action does the person do?"
    )
    assert "sit" not in user["content"] and "jump" not in user["content"]
    assert (
        assistant == {"role": "assistant", "content": "walk"} and target(QA_DOC, qa_target="text") == "walk"
    )
    assert build_messages(QA_DOC, with_target=False, qa_target="text") == [system, user]
    # captions have one formulation
    assert build_messages(CAPTION_DOC, qa_target="text") == build_messages(CAPTION_DOC)


def test_an_unknown_qa_target_is_an_error():
    with pytest.raises(ValueError, match="qa_target must be one of letter, text"):
        build_messages(QA_DOC, qa_target="letters")

    class Plain:  # no chat template: plain system + user text
        chat_template = None

    assert (
        render_prompt(Plain(), QA_DOC, qa_target="text")
        == SYSTEM_QA_CLOZE + " " + build_messages(QA_DOC, qa_target="text")[1]["content"]
    )
