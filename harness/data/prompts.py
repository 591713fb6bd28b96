"""The one prompt builder: a prompt doc -> chat messages (system, user, assistant target).

Training and evaluation both call `build_messages`, so the tokens a model is trained on are the
tokens lm-eval scores. Bump PROMPT_VERSION (and the lm-eval tasks' metadata.version) with any
change to the wording.

QA has two formulations, chosen by `qa_target` (the `train.qa_target` setting):
- `letter` (the paper's protocol; tasks `smd_*_qa`, `smd_*_qa_mc`): the options are listed with
  letters and the answer is the gold option's letter.
- `text` (OLMES's cloze formulation, "CF"; tasks `smd_*_qa_cloze`): the prompt shows the SMD and the
  question but NOT the options, and the answer is the gold option's text; lm-eval scores the
  log-likelihood of each option's text as the continuation (as lm-eval's `arc_easy` and
  `mmlu_continuation` do). The options stay unlisted because (1) the score only compares the options
  anyway, so listing them adds no information to the choice, only ~10 lines of prompt; (2) a model
  trained on a prompt that lists them can lower its loss by copying a listed option, a shortcut that
  does not discriminate between options and that a 2-layer randomly initialised model finds before it
  reads the motion; (3) OLMES shows small pretrained models (the 135M backbone) score better without
  them. Training with `qa_target: text` sees exactly this prompt and this answer.
"""

from __future__ import annotations

from typing import Literal

from .answers import LETTERS

PROMPT_VERSION = 1
QaTarget = Literal["letter", "text"]
QA_TARGETS: tuple[str, ...] = ("letter", "text")

SYSTEM_QA = (
    "You are an expert in human motion analysis. You are given a structured description of a motion: "
    "its joint angles over time and the body's trajectory. Answer the question about the motion by "
    "choosing one of the options."
)
SYSTEM_QA_CLOZE = (
    "You are an expert in human motion analysis. You are given a structured description of a motion: "
    "its joint angles over time and the body's trajectory. Answer the question about the motion in a "
    "few words."
)
SYSTEM_CAPTION = (
    "You are an expert in human motion analysis. You are given a structured description of a motion: "
    "its joint angles over time and the body's trajectory. Describe the motion in one sentence, the way "
    "a person watching it would."
)


def is_qa(doc: dict) -> bool:
    return "options" in doc


def qa_user(doc: dict) -> str:
    options = "\n".join(f"{LETTERS[i]}. {opt}" for i, opt in enumerate(doc["options"]))
    return (
        f"Motion description:\n{doc['smd']}\n"
        f"Question: {doc['question']}\n"
        f"Options:\n{options}\n"
        "Answer with the letter of the correct option."
    )


def qa_cloze_user(doc: dict) -> str:
    """The cloze formulation's user turn: no options (see the module docstring)."""
    return f"Motion description:\n{doc['smd']}\nQuestion: {doc['question']}"


def _check_qa_target(qa_target: str) -> None:
    if qa_target not in QA_TARGETS:
        raise ValueError(f"qa_target must be one of {', '.join(QA_TARGETS)}, got {qa_target!r}")


def caption_user(doc: dict) -> str:
    return f"Motion description:\n{doc['smd']}\nDescribe the motion in one sentence."


def target(doc: dict, reference: int = 0, qa_target: QaTarget = "letter") -> str:
    """The assistant's answer: the gold option's letter or text (QA) or one reference caption."""
    _check_qa_target(qa_target)
    if is_qa(doc):
        return LETTERS[doc["answer_idx"]] if qa_target == "letter" else doc["options"][doc["answer_idx"]]
    return doc["references"][reference].strip()


def render_prompt(
    tokenizer, doc: dict, chat_template_kwargs: dict | None = None, qa_target: QaTarget = "letter"
) -> str:
    """The chat-templated prompt (system + user + generation prompt), as lm-eval's
    `--apply_chat_template` renders it; the plain system + user text for a tokenizer without a template."""
    messages = build_messages(doc, with_target=False, qa_target=qa_target)
    if not getattr(tokenizer, "chat_template", None):
        return messages[0]["content"] + " " + messages[1]["content"]
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, **(chat_template_kwargs or {})
    )


def build_messages(
    doc: dict, *, with_target: bool = True, reference: int = 0, qa_target: QaTarget = "letter"
) -> list[dict[str, str]]:
    """Chat messages for a QA or caption doc, optionally ending with the assistant target.

    `qa_target` picks the QA formulation (letter or cloze, see the module docstring); captions ignore it.
    """
    _check_qa_target(qa_target)
    if is_qa(doc) and qa_target == "text":
        messages = [
            {"role": "system", "content": SYSTEM_QA_CLOZE},
            {"role": "user", "content": qa_cloze_user(doc)},
        ]
    elif is_qa(doc):
        messages = [{"role": "system", "content": SYSTEM_QA}, {"role": "user", "content": qa_user(doc)}]
    else:
        messages = [
            {"role": "system", "content": SYSTEM_CAPTION},
            {"role": "user", "content": caption_user(doc)},
        ]
    if with_target:
        messages.append({"role": "assistant", "content": target(doc, reference, qa_target)})
    return messages
