"""An encoder folder: what turns a motion into soft tokens, saved and loaded without pickles.

    encoder.json          {"kind": "small" | "mld", "encoder": {...}, "projector": {...}}
    encoder.safetensors   encoder.*, projector.*, feature_mean, feature_std (the features' normalisation)

A stage-2 run writes it beside its LoRA adapter (one folder: `peft=` and `encoder=` name the same path).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from harness.core import atomic_write_bytes, atomic_write_json, read_text

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "build_encoder", "load_encoder", "save_encoder"]

CONFIG_FILE, WEIGHTS_FILE = "encoder.json", "encoder.safetensors"
KINDS = ("small", "mld")


def build_encoder(config: dict[str, Any]):
    """(encoder, projector) of a config, randomly initialised."""
    from .mld_vae import MldVaeEncoder
    from .small import Projector, SmallMotionEncoder

    kind = config.get("kind")
    if kind not in KINDS:
        raise ValueError(f"encoder kind must be one of {', '.join(KINDS)}, got {kind!r}")
    encoder = (SmallMotionEncoder if kind == "small" else MldVaeEncoder)(**config.get("encoder", {}))
    projector = Projector(encoder.latent_dim, **config["projector"])
    return encoder, projector


def save_encoder(
    folder: Path, config: dict[str, Any], encoder, projector, mean: np.ndarray, std: np.ndarray
) -> None:
    import torch
    from safetensors.torch import save

    tensors = {f"encoder.{k}": v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    tensors |= {f"projector.{k}": v.detach().cpu().contiguous() for k, v in projector.state_dict().items()}
    tensors |= {"feature_mean": torch.as_tensor(mean, dtype=torch.float32),
                "feature_std": torch.as_tensor(std, dtype=torch.float32)}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / WEIGHTS_FILE, save(tensors))
    atomic_write_json(folder / CONFIG_FILE, config)


def load_encoder(folder: Path | str):
    """(config, encoder, projector, mean, std) of an encoder folder, strictly loaded.

    Raises:
        ValueError: a missing or unreadable file, or weights that do not fit the config (names the file).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    config_file, weights = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    for path in (config_file, weights):
        if not path.is_file():
            raise ValueError(f"{path}: not found (an encoder folder holds {CONFIG_FILE} and {WEIGHTS_FILE})")
    try:
        config = json.loads(read_text(config_file))
        tensors = load_file(str(weights))
    except (ValueError, SafetensorError, OSError) as e:  # ValueError: not UTF-8, or not JSON
        raise ValueError(f"{folder}: unreadable encoder folder ({e})") from None
    encoder, projector = build_encoder(config)
    try:
        for prefix, module in (("encoder.", encoder), ("projector.", projector)):
            own = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
            module.load_state_dict(own, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{weights}: does not fit {config_file} ({str(e).splitlines()[0]})") from None
    return (
        config,
        encoder.eval(),
        projector.eval(),
        tensors["feature_mean"].numpy(),
        tensors["feature_std"].numpy(),
    )
