"""The one prompt builder: a prompt doc -> chat messages (system, user, assistant target).

Training and evaluation both call `build_messages`, so the tokens a model is trained on are the
tokens lm-eval scores. Bump PROMPT_VERSION (and the lm-eval tasks' metadata.version) with any
change to the wording.
"""

from __future__ import annotations

from .qa_options import LETTERS

PROMPT_VERSION = 1

SYSTEM_QA = (
    "You are an expert in human motion analysis. You are given a structured description of a motion: "
    "its joint angles over time and the body's trajectory. Answer the question about the motion by "
    "choosing one of the options."
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


def caption_user(doc: dict) -> str:
    return f"Motion description:\n{doc['smd']}\nDescribe the motion in one sentence."


def target(doc: dict, reference: int = 0) -> str:
    """The assistant's answer: the gold option's letter (QA) or one reference caption."""
    if is_qa(doc):
        return LETTERS[doc["answer_idx"]]
    return doc["references"][reference].strip()


def render_prompt(tokenizer, doc: dict, chat_template_kwargs: dict | None = None) -> str:
    """The chat-templated prompt (system + user + generation prompt), as lm-eval's
    `--apply_chat_template` renders it; the plain system + user text for a tokenizer without a template."""
    messages = build_messages(doc, with_target=False)
    if not getattr(tokenizer, "chat_template", None):
        return messages[0]["content"] + " " + messages[1]["content"]
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, **(chat_template_kwargs or {})
    )


def build_messages(doc: dict, *, with_target: bool = True, reference: int = 0) -> list[dict[str, str]]:
    """Chat messages for a QA or caption doc, optionally ending with the assistant target."""
    if is_qa(doc):
        messages = [{"role": "system", "content": SYSTEM_QA}, {"role": "user", "content": qa_user(doc)}]
    else:
        messages = [
            {"role": "system", "content": SYSTEM_CAPTION},
            {"role": "user", "content": caption_user(doc)},
        ]
    if with_target:
        messages.append({"role": "assistant", "content": target(doc, reference)})
    return messages
