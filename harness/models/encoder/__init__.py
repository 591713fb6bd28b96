"""The encoder-based baseline: the same LLM fed by a learned motion encoder instead of the SMD.

A motion's 263-d HumanML3D features go through an encoder (MotionGPT3's MLD VAE encoder, `mld_vae`, or
a small one trained from scratch, `small`) to one latent per clip; a projector turns it into
`n_tokens` embeddings of the LLM's width, which stand where the SMD stands in the prompt
(`prefix_lm`: the docs carry a `<motion:ID>` marker in place of the SMD text; the features come from
the dataset's joints, `features`). An encoder folder (`folder`) holds its config and weights.

The torch-backed names (the encoders, `MotionPrefixLM`) are imported on first use, so that importing
this package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .features import STD_FLOOR, clip_features, clip_key, dataset_of_root, feature_stats, resample
from .folder import CONFIG_FILE, WEIGHTS_FILE, build_encoder, load_encoder, save_encoder

if TYPE_CHECKING:  # pragma: no cover
    from .mld_vae import LATENT_SCALE, MLD_FEATURES, MldVaeEncoder, load_mld_encoder_state
    from .prefix_lm import MotionPrefixLM, marker_spans
    from .small import Projector, SmallMotionEncoder

__all__ = [
    "CONFIG_FILE",
    "LATENT_SCALE",
    "MLD_FEATURES",
    "STD_FLOOR",
    "WEIGHTS_FILE",
    "MldVaeEncoder",
    "MotionPrefixLM",
    "Projector",
    "SmallMotionEncoder",
    "build_encoder",
    "clip_features",
    "clip_key",
    "dataset_of_root",
    "feature_stats",
    "load_encoder",
    "load_mld_encoder_state",
    "marker_spans",
    "resample",
    "save_encoder",
]

_LAZY = {
    "LATENT_SCALE": "mld_vae",
    "MLD_FEATURES": "mld_vae",
    "MldVaeEncoder": "mld_vae",
    "load_mld_encoder_state": "mld_vae",
    "MotionPrefixLM": "prefix_lm",
    "marker_spans": "prefix_lm",
    "Projector": "small",
    "SmallMotionEncoder": "small",
}


def __getattr__(name: str):
    """The torch-backed names are imported on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
