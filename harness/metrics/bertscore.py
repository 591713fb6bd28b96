"""BERTScore F1 of generated captions, the TM2T / MotionGPT protocol, runnable offline.

`bert-score` with `roberta-large`, layer 17, `idf=True` (document frequencies from the references),
the maximum over each sample's references, and the English baseline rescaling of F1:
`rescaled = (raw - 0.83122575) / (1 - 0.83122575)` (row 17 of bert-score's
`rescale_baseline/en/roberta-large.tsv`, column F). The rescaling is done here rather than by
bert-score because bert-score looks the baseline up by model *name*, and offline the model is a local
path. References follow the same three-reference policy as the COCO scorers (TM2T passes its
policy-applied reference lists to bert-score too; duplicated references weigh in the idf counts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from .coco import three_references

ROBERTA_LARGE_LAYER = 17
# bert-score 0.3.13, rescale_baseline/en/roberta-large.tsv, LAYER 17, F
ROBERTA_LARGE_F_BASELINE = 0.83122575


def rescale_f1(raw: float, baseline: float = ROBERTA_LARGE_F_BASELINE) -> float:
    """bert-score's baseline rescaling of an F1 value."""
    return (raw - baseline) / (1.0 - baseline)


def bertscore_f1(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    model_path: str | Path,
    num_layers: int = ROBERTA_LARGE_LAYER,
    baseline: float = ROBERTA_LARGE_F_BASELINE,
    idf: bool = True,
    batch_size: int = 64,
    device: str | None = None,
    scorer: Callable | None = None,
) -> float:
    """Mean rescaled BERTScore F1 over the corpus.

    Args:
        predictions: one generated caption per sample.
        references: each sample's references (three-reference policy applied here).
        model_path: a local folder holding `roberta-large` (config, weights, tokenizer), e.g. a
            `save_pretrained` copy or a Hugging Face cache snapshot; any name `from_pretrained` resolves
            works, but nothing is downloaded when it is a folder.
        num_layers: the layer whose representations are compared (17 for roberta-large).
        baseline: the F1 baseline of that model and layer (English).
        idf: idf weighting from the references, as the protocol does.
        scorer: `bert_score.score` (default) or a stand-in with the same signature, for tests.

    Returns:
        The mean of the rescaled per-sample F1 (a fraction; tables report x100).
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} reference lists")
    if not predictions:
        raise ValueError("no predictions to score")
    model_path = str(model_path)
    if scorer is None:
        if not Path(model_path).exists():
            raise FileNotFoundError(
                f"BERTScore model not found: {model_path} (give a local copy of roberta-large, "
                "e.g. the folder written by AutoModel/AutoTokenizer.save_pretrained)"
            )
        from bert_score import score as scorer
    cands = [p.strip() for p in predictions]
    refs = [[r.strip() for r in three_references(rs)] for rs in references]
    _, _, f1 = scorer(
        cands,
        refs,
        model_type=model_path,
        num_layers=num_layers,
        idf=idf,
        rescale_with_baseline=False,
        batch_size=batch_size,
        device=device,
        verbose=False,
    )
    raw = [float(x) for x in f1]
    if len(raw) != len(cands):
        raise RuntimeError(f"BERTScore returned {len(raw)} scores for {len(cands)} predictions")
    return sum(rescale_f1(x, baseline) for x in raw) / len(raw)
