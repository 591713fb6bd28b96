from harness.prompts import SYSTEM_CAPTION, SYSTEM_QA, build_messages, target

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
