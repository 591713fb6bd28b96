"""Answers to 10-option questions: the option letters, and which option a generated answer names.

One definition for everything that reads an answer: the lm-eval generation tasks score with it and
training validates with it, so a validation accuracy and a test accuracy count the same answers.
"""

from __future__ import annotations

import re

__all__ = ["LETTERS", "MAX_OPTIONS", "extract_option"]

MAX_OPTIONS = 10
LETTERS = "ABCDEFGHIJ"[:MAX_OPTIONS]

_PUNCT = re.compile(r"[^\w\s/]")


def _norm(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


_LEADING_LETTER = re.compile(
    r"^\W*(?:the\s+)?(?:answer|option)?\s*(?:is)?\s*:?\s*\(?([A-J])\)?(?=$|[\s.:,)\]])(.*)$", re.S | re.I
)


def extract_option(text: str, options: list[str]) -> int | None:
    """Index of the option an answer names, by letter or by option text; None when it names none.

    Case and punctuation are ignored. A leading letter counts when it stands alone ("B", "B.", "(B)",
    "Answer: B") or is followed by its own option's text ("B. walk"); otherwise the answer must be one
    option's text, or contain exactly one option's text.
    """
    normed = [_norm(o) for o in options]
    m = _LEADING_LETTER.match(text.strip())
    if m:
        idx = LETTERS.index(m.group(1).upper())
        rest = _norm(m.group(2))
        if idx < len(options) and (not rest or rest == normed[idx] or rest.startswith(normed[idx] + " ")):
            return idx
        if rest in normed:  # "B. sit" where B is not "sit": contradicts itself
            return None
    answer = _norm(text)
    if answer in normed:
        return normed.index(answer)
    hits = [i for i, o in enumerate(normed) if o and re.search(rf"(?<!\w){re.escape(o)}(?!\w)", answer)]
    # "walk" inside "walk backwards": keep only options not contained in another hit
    hits = [i for i in hits if not any(j != i and normed[i] in normed[j] for j in hits)]
    return hits[0] if len(hits) == 1 else None
