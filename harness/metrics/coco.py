"""BLEU@1-4, ROUGE-L and CIDEr with the COCO caption scorers, TM2T's reference policy, and sacreBLEU.

Protocol (docs/protocols.md, "Captions"), as TM2T's `final_evaluations_m2t.py` runs it through NLGEval:

- every scorer gets each string `strip()`ped and nothing else, exactly what NLGEval hands them (no
  lower-casing, no punctuation removal, no PTB tokenizer, inner whitespace kept): BLEU and CIDEr then
  split on any whitespace, pycocoevalcap's ROUGE-L on single spaces, so a doubled space inside a caption
  is an empty token to ROUGE-L as it is in the published numbers;
- each sample keeps exactly three references (`three_references`): more than three -> the first three;
  two (A, B) -> A, B, A; one (A) -> A, A, A;
- `pycocoevalcap` Bleu(4) (corpus BLEU, "closest" reference length), Rouge (beta 1.2, mean over samples)
  and Cider (corpus document frequencies, mean over samples), on their own scale (fractions; tables
  report x100).

sacreBLEU is reported beside them (corpus BLEU with its default 13a tokenizer on the stripped strings,
same three references per sample, on sacreBLEU's 0-100 scale) with its signature.
"""

from __future__ import annotations

from collections.abc import Sequence

N_REFERENCES = 3


def three_references(references: Sequence[str]) -> list[str]:
    """TM2T's reference policy: exactly three references per sample.

    >>> three_references(["A", "B", "C", "D"])
    ['A', 'B', 'C']
    >>> three_references(["A", "B"])
    ['A', 'B', 'A']
    >>> three_references(["A"])
    ['A', 'A', 'A']

    Raises:
        ValueError: no reference at all.
    """
    refs = list(references)
    if not refs:
        raise ValueError("a sample has no reference caption")
    if len(refs) >= N_REFERENCES:
        return refs[:N_REFERENCES]
    if len(refs) == 2:
        return refs + refs[:1]
    return refs * N_REFERENCES


def nlgeval_text(text: str) -> str:
    """A caption as NLGEval hands it to the COCO scorers: `strip()`ped, inner whitespace untouched.

    >>> nlgeval_text("  a  man\twalks \n")
    'a  man\twalks'
    """
    return text.strip()


def _check(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} reference lists")
    if not predictions:
        raise ValueError("no predictions to score")
    for p in predictions:
        if not isinstance(p, str):
            raise TypeError(f"predictions must be strings, got {type(p).__name__}")


def coco_scores(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """BLEU@1..4, ROUGE-L and CIDEr of a corpus, COCO scorers, three-reference policy.

    Args:
        predictions: one generated caption per sample.
        references: the sample's reference captions (any number >= 1; the policy keeps three).

    Returns:
        `{"bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider"}` as plain floats (fractions).
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    _check(predictions, references)
    res = {i: [nlgeval_text(p)] for i, p in enumerate(predictions)}
    gts = {i: [nlgeval_text(r) for r in three_references(refs)] for i, refs in enumerate(references)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, _ = Rouge().compute_score(gts, res)
    cider, _ = Cider().compute_score(gts, res)
    out = {f"bleu_{n + 1}": float(b) for n, b in enumerate(bleu)}
    out["rouge_l"] = float(rouge)
    out["cider"] = float(cider)
    return out


def sacrebleu_score(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> tuple[float, str]:
    """sacreBLEU corpus BLEU (0-100) and its signature; stripped strings, three references per sample."""
    import sacrebleu

    _check(predictions, references)
    hyps = [p.strip() for p in predictions]
    per_sample = [[r.strip() for r in three_references(refs)] for refs in references]
    streams = [list(stream) for stream in zip(*per_sample)]
    metric = sacrebleu.metrics.BLEU()
    result = metric.corpus_score(hyps, streams)
    return float(result.score), str(metric.get_signature())
