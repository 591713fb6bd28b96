"""The encoder baseline's model in a training run: the backbone behind a motion encoder and projector
(harness.encoder), trained in two stages (the LLaVA protocol) by the same loop as an SMD run.

- stage 1 (`lora: false`): the LLM is frozen; the projector (and, with `encoder_train`, the encoder)
  learns, on captions, to put a motion where the LLM can read it;
- stage 2 (`lora: true`, `encoder_init` = stage 1's `best/`): LoRA is added and trained with the
  projector (and the encoder with `encoder_train`) on the task.
The docs are the `motion` variant's (`<motion:ID>` where the SMD stands); each clip's features come from
the dataset its docs file lies in (`<root>/docs/<variant>/<split>.jsonl`). An encoder trained here
normalises features by the training clips' statistics; the MLD encoder by HumanML3D's Mean.npy /
Std.npy, named by `encoder_stats` (a folder holding them) and frozen unless `encoder_train`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from ..encoder.features import clip_features, clip_key, dataset_of_root, feature_stats
from ..encoder.folder import CONFIG_FILE, build_encoder, load_encoder
from ..encoder.prefix_lm import MotionPrefixLM
from ..io import load_npy, read_jsonl
from .checkpoints import TrainingError
from .config import TrainConfig

__all__ = ["clip_sources", "encoder_model"]


def clip_sources(files: list[dict]) -> dict[str, Path]:
    """{clip: its dataset root} over the docs files of a run (records of `data.read_docs`)."""
    where: dict[str, Path] = {}
    for record in files:
        root = Path(record["path"]).parents[2]
        for doc in read_jsonl(record["path"]):
            clip = clip_key(doc)
            if where.setdefault(clip, root) != root:
                raise TrainingError(
                    f"clip {clip} is in two datasets ({where[clip]}, {root}): ids must differ"
                )
    return where


def _initial(cfg: TrainConfig, width: int, train_clips: list[np.ndarray]):
    """(config, encoder, projector, mean, std) the run starts from."""
    if cfg.encoder_init and (Path(cfg.encoder_init) / CONFIG_FILE).is_file():  # stage 2: stage 1's folder
        try:
            config, encoder, projector, mean, std = load_encoder(cfg.encoder_init)
        except ValueError as e:
            raise TrainingError(str(e)) from None
        if config["kind"] != cfg.encoder or config["projector"]["width"] != width:
            raise TrainingError(f"{cfg.encoder_init}: a {config['kind']} encoder for width "
                                f"{config['projector']['width']}, not {cfg.encoder} for {width}")  # fmt: skip
        return config, encoder, projector, mean, std
    projector = {"width": width, "n_tokens": cfg.encoder_tokens, "hidden": cfg.projector_hidden}
    config = {"kind": cfg.encoder, "encoder": {}, "projector": projector}
    encoder, projection = build_encoder(config)
    if cfg.encoder == "mld":
        from ..encoder.mld_vae import load_mld_encoder_state

        if not cfg.encoder_init or not cfg.encoder_stats:
            raise TrainingError("encoder mld needs encoder_init (the MLD checkpoint) and encoder_stats "
                                "(the folder with HumanML3D's Mean.npy and Std.npy)")  # fmt: skip
        try:
            encoder.load_state_dict(load_mld_encoder_state(cfg.encoder_init), strict=True)
            stats = Path(cfg.encoder_stats)
            mean, std = load_npy(stats / "Mean.npy"), load_npy(stats / "Std.npy")
        except (ValueError, FileNotFoundError, RuntimeError) as e:
            raise TrainingError(str(e).splitlines()[0]) from None
        return config, encoder, projection, mean, std
    return config, encoder, projection, *feature_stats(train_clips)


def encoder_model(cfg: TrainConfig, model, tokenizer, files: dict, lora) -> MotionPrefixLM:
    """`model` (frozen, with LoRA from `lora(model)` in stage 2) behind the run's encoder and projector.

    Raises:
        TrainingError: a clip without joints, an unusable `encoder_init`, or an unsupported setting.
    """
    where = clip_sources(files["train"] + files["val"])
    dataset_of = {}

    @cache
    def features(clip: str) -> np.ndarray:
        root = where[clip]
        dataset = dataset_of.setdefault(root, dataset_of_root(root))
        try:
            return clip_features(root, dataset, clip)
        except (FileNotFoundError, ValueError) as e:
            raise TrainingError(f"clip {clip} ({root}): {e}") from None

    train_clips = sorted({clip_key(d) for f in files["train"] for d in read_jsonl(f["path"])})
    config, encoder, projector, mean, std = _initial(
        cfg, model.config.hidden_size, [features(c) for c in train_clips]
    )
    for p in model.parameters():
        p.requires_grad_(False)
    lm = lora(model) if cfg.lora else model
    for p in encoder.parameters():
        p.requires_grad_(cfg.encoder_train)
    return MotionPrefixLM(lm, tokenizer, encoder, projector, features, mean, std, config=config)
