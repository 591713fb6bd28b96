"""Caption metrics (docs/protocols.md, "Captions"): COCO BLEU/ROUGE-L/CIDEr with TM2T's reference policy,
sacreBLEU, BERTScore, and the T2M evaluator's R-Precision / MM-Dist.

Heavy dependencies (pycocoevalcap, sacrebleu, bert-score, torch) are imported by the functions that need
them, so importing this package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .assets import CAPTION_ASSET_KEYS, check_caption_assets
from .coco import _check as check_captions  # the scorers' input check; results.stats' bootstrap shares it
from .coco import coco_scores, nlgeval_text, sacrebleu_score, three_references
from .motions import load_motion_features
from .readers import read_predictions
from .retrieval import euclidean_distance_matrix, r_precision, top_k_hits
from .score import caption_scores, corpus_metric

if TYPE_CHECKING:  # pragma: no cover
    from .bertscore import bertscore_f1, rescale_f1
    from .t2m_evaluator import T2MEvaluator
    from .t2m_text import WordVectorizer, load_plain_pickle, spacy_tagger

__all__ = [
    "CAPTION_ASSET_KEYS",
    "T2MEvaluator",
    "WordVectorizer",
    "bertscore_f1",
    "caption_scores",
    "check_caption_assets",
    "check_captions",
    "coco_scores",
    "corpus_metric",
    "euclidean_distance_matrix",
    "load_motion_features",
    "load_plain_pickle",
    "nlgeval_text",
    "r_precision",
    "read_predictions",
    "rescale_f1",
    "sacrebleu_score",
    "spacy_tagger",
    "three_references",
    "top_k_hits",
]

_LAZY = {
    "bertscore_f1": "bertscore",
    "rescale_f1": "bertscore",
    "T2MEvaluator": "t2m_evaluator",
    "WordVectorizer": "t2m_text",
    "load_plain_pickle": "t2m_text",
    "spacy_tagger": "t2m_text",
}


def __getattr__(name: str):
    """Torch-backed names, and the T2M evaluator's text side, are imported on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
