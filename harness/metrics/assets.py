"""What the full caption metrics need, checked before a model generates a token.

`smd_humanml3d_caption_full` scores BERTScore with a local model folder and R-Precision / MM-Dist with
the T2M evaluator (checkpoint, GloVe vocabulary and vectors, normalisation statistics), the motions'
features and spaCy's English model. All of them are read only in the aggregation, after every caption
has been generated: one missing file would throw hours of generation away. So the task's docs loader
and `smd evaluate` call `check_caption_assets` first, and a missing asset is one line naming it and
how to get it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .t2m_text import SPACY_HELP, SPACY_MODEL

__all__ = ["CAPTION_ASSET_KEYS", "check_caption_assets"]

# the task metadata keys that name the assets, in `check_caption_assets`'s argument order
CAPTION_ASSET_KEYS = ("bertscore_model", "evaluator_dir", "motions_dir")


def check_caption_assets(
    bertscore_model: str | None, evaluator_dir: str | None, motions_dir: str | None
) -> None:
    """Raise a ValueError naming the first missing asset (and how to get it); None when all are there."""
    metadata = '--metadata \'{"bertscore_model": PATH, "evaluator_dir": DIR, "motions_dir": DIR}\''
    for key, value in zip(CAPTION_ASSET_KEYS, (bertscore_model, evaluator_dir, motions_dir)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"smd_humanml3d_caption_full needs {key}: {metadata}")
    model = Path(bertscore_model).expanduser()
    if not (model / "config.json").is_file():
        raise ValueError(
            f"bertscore_model {model}: not a model folder (no config.json); save roberta-large there "
            "with transformers' save_pretrained on a machine with internet"
        )
    if not Path(motions_dir).expanduser().is_dir():
        raise ValueError(f"motions_dir {motions_dir}: no such folder (HumanML3D's new_joint_vecs/)")
    from .t2m_evaluator import find_evaluator_files  # torch: only once the cheap checks pass

    try:
        files = find_evaluator_files(Path(evaluator_dir).expanduser())
    except FileNotFoundError as e:
        raise ValueError(f"{e} (text-to-motion's checkpoint, glove/ and meta/)") from None
    for name in ("our_vab_idx.pkl", "our_vab_data.npy"):  # what load_vocabulary / WordVectorizer read
        if not (files["glove"] / name).is_file():
            raise ValueError(f"T2M evaluator: no {files['glove'] / name} (text-to-motion's glove/ folder)")
    if importlib.util.find_spec("spacy") is None or importlib.util.find_spec(SPACY_MODEL) is None:
        raise ValueError(SPACY_HELP)
