"""lm-eval's model `smd-answer-prior`: the trivial baseline every QA table reports beside chance.

    lm_eval --model smd-answer-prior --model_args train_docs=data/demo/babel_qa/docs/v5_top3/train.jsonl \\
        --tasks smd_babel_qa_cloze --apply_chat_template   (or `smd evaluate --backbone answer-prior`)

It answers, among a question's options, the answer most frequent in the training split for the
question's type (`answer_type`: action, direction, body part), never reading the motion. Ties go to
the answer most frequent over all types, then to the earlier option. It is scored through the very
path a model is (lm-eval's task, its filters and metrics, the cell, its CIs, `smd compare`): for
generation it writes the chosen option's letter; for log-likelihood scorings (`_mc`, `_cloze`) it
gives the chosen option 0 and every other option -1, so the argmax is its choice under either
normalisation. What a model scores above it is what it read beyond the questions' priors.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from lm_eval.api.instance import Instance
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from harness.core import read_jsonl
from harness.data import LETTERS

from .lm_eval_io import ANSWER_PRIOR_MODEL

__all__ = ["AnswerPriorLM", "answer_counts", "prior_choice"]


def answer_counts(rows: list[dict], source: str) -> tuple[dict[str, Counter], Counter]:
    """(answers counted per question type, answers counted over all types) of training docs.

    Raises:
        ValueError: a doc without `answer_type` or `answer` (the message names `source` and its id).
    """
    per_type: dict[str, Counter] = {}
    overall: Counter = Counter()
    for row in rows:
        if not isinstance(row.get("answer_type"), str) or not isinstance(row.get("answer"), str):
            raise ValueError(f"{source}: doc {row.get('doc_id', '?')} has no answer_type / answer")
        per_type.setdefault(row["answer_type"], Counter())[row["answer"]] += 1
        overall[row["answer"]] += 1
    if not overall:
        raise ValueError(f"{source}: no training docs to count answers in")
    return per_type, overall


def prior_choice(doc: dict, per_type: dict[str, Counter], overall: Counter) -> int:
    """Index of the option the prior answers for `doc`: most frequent for its type, then overall,
    then the earliest option."""
    counts = per_type.get(doc["answer_type"], Counter())
    options = doc["options"]
    return min(range(len(options)), key=lambda i: (-counts[options[i]], -overall[options[i]], i))


@register_model(ANSWER_PRIOR_MODEL)
class AnswerPriorLM(LM):
    def __init__(self, train_docs: str, **_ignored) -> None:
        super().__init__()
        path = Path(train_docs)
        if not path.is_file():
            raise FileNotFoundError(f"answer prior: training docs not found: {path}")
        self.train_docs = str(path)
        self.per_type, self.overall = answer_counts(read_jsonl(path), str(path))

    def _choice(self, request: Instance) -> int:
        return prior_choice(request.doc, self.per_type, self.overall)

    def generate_until(self, requests: list[Instance]) -> list[str]:
        return [LETTERS[self._choice(r)] for r in requests]

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        # lm-eval builds one request per option, `idx` its index among the doc's choices
        return [(0.0, True) if r.idx == self._choice(r) else (-1.0, False) for r in requests]

    def loglikelihood_rolling(self, requests: list[Instance]) -> list[float]:
        raise NotImplementedError("the answer prior scores QA tasks only (it has no text model)")

    # the prompt is never read; lm-eval still renders it through a chat template when asked to
    def apply_chat_template(
        self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        return "\n".join(turn["content"] for turn in chat_history)

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return None

    @property
    def tokenizer_name(self) -> str:
        return ANSWER_PRIOR_MODEL
