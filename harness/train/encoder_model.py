"""The encoder baseline's model in a training run: the backbone behind a motion encoder and projector
(harness.models.encoder), trained in two stages (the LLaVA protocol) by the same loop as an SMD run.

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

from harness.core import load_npy, read_jsonl
from harness.data import MOTION_FORMAT
from harness.models.encoder import (
    CONFIG_FILE,
    MotionPrefixLM,
    build_encoder,
    clip_features,
    clip_key,
    dataset_of_root,
    feature_stats,
    load_encoder,
)

from .checkpoints import TrainingError
from .config import TrainConfig

__all__ = ["clip_sources", "encoder_inputs", "encoder_model"]

JOINT_FOLDERS = ("joints", "motion_sequences", "new_joints")  # where the datasets' loaders read joints


def clip_sources(files: list[dict], known: dict[str, Path] | None = None) -> dict[str, Path]:
    """{clip: its dataset root} over the docs files of a run (records of `data.read_docs`), added to
    (a copy of) `known`, the clips of files read before."""
    where: dict[str, Path] = dict(known or {})
    for record in files:
        root = Path(record["path"]).parents[2]
        for doc in read_jsonl(record["path"]):
            clip = clip_key(doc)
            if where.setdefault(clip, root) != root:
                raise TrainingError(
                    f"clip {clip} is in two datasets ({where[clip]}, {root}): ids must differ"
                )
    return where


def encoder_inputs(cfg: TrainConfig, files: dict) -> dict:
    """Digests of what an encoder run reads besides its docs: `encoder_init`, `encoder_stats` and the
    joint folders of the docs' datasets (the run's fingerprint: a retrained stage 1 or changed joints is
    another run, never a finished one)."""
    from harness.core import folder_digest, sha256_file

    def digest(path: str | None):
        if not path:
            return None
        p = Path(path)
        return sha256_file(p) if p.is_file() else folder_digest(p)

    roots = sorted({str(Path(f["path"]).parents[2]) for f in files["train"] + files["val"]})
    joints = {
        f"{r}/{j}": folder_digest(Path(r) / j) for r in roots for j in JOINT_FOLDERS if (Path(r) / j).is_dir()
    }
    return {"init": digest(cfg.encoder_init), "stats": digest(cfg.encoder_stats), "joints": joints}


def check_docs_format(cfg: TrainConfig, smd_format: dict | None) -> None:
    """Encoder runs read motion docs (markers), SMD runs SMD docs: either way round nothing would train.

    Raises:
        ValueError: the other kind of docs (an input error: nothing is trained).
    """
    marked = smd_format is not None and smd_format["format_version"] == MOTION_FORMAT
    if smd_format is not None and marked != (cfg.encoder != "none"):
        need = "`motion` docs (smd make-docs ROOT --variant motion)" if cfg.encoder != "none" else "SMD docs"
        raise ValueError(
            f"train.encoder={cfg.encoder} reads {need}; these docs hold {smd_format['format_version']}"
        )


def _initial(cfg: TrainConfig, width: int, train_clips: list[np.ndarray]):
    """(config, encoder, projector, mean, std) the run starts from."""
    init = Path(cfg.encoder_init) if cfg.encoder_init else None
    if init is not None and not init.exists():
        raise TrainingError(f"encoder_init {init}: not found (stage 1's best/, or the MLD checkpoint)")
    if init is not None and cfg.encoder == "small" and not (init / CONFIG_FILE).is_file():
        raise TrainingError(
            f"encoder_init {init}: not an encoder folder (no {CONFIG_FILE}; stage 1 finished?)"
        )
    if init is not None and (init / CONFIG_FILE).is_file():  # stage 2: stage 1's folder
        try:
            config, encoder, projector, mean, std = load_encoder(cfg.encoder_init)
        except ValueError as e:
            raise TrainingError(str(e)) from None
        want = {"width": width, "n_tokens": cfg.encoder_tokens, "hidden": cfg.projector_hidden}
        if config["kind"] != cfg.encoder or config["projector"] != want:
            raise TrainingError(
                f"{cfg.encoder_init}: a {config['kind']} encoder with projector {config['projector']}; this "
                f"run asks for {cfg.encoder} with {want} (encoder_tokens, projector_hidden, backbone width)"
            )
        # fmt: skip
        return config, encoder, projector, mean, std
    projector = {"width": width, "n_tokens": cfg.encoder_tokens, "hidden": cfg.projector_hidden}
    config = {"kind": cfg.encoder, "encoder": {}, "projector": projector}
    encoder, projection = build_encoder(config)
    if cfg.encoder == "mld":
        from harness.models.encoder import load_mld_encoder_state

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
    train_sources = clip_sources(files["train"])
    where = clip_sources(files["val"], train_sources)
    dataset_of = {}

    @cache
    def features(clip: str) -> np.ndarray:
        root = where[clip]
        dataset = dataset_of.setdefault(root, dataset_of_root(root))
        try:
            return clip_features(root, dataset, clip)
        except (FileNotFoundError, ValueError) as e:
            raise TrainingError(f"clip {clip} ({root}): {e}") from None

    train_clips = sorted(train_sources)
    config, encoder, projector, mean, std = _initial(
        cfg, model.config.hidden_size, [features(c) for c in train_clips]
    )
    too_long = [c for c in train_clips if len(features(c)) > getattr(encoder, "max_frames", float("inf"))]
    if too_long:
        raise TrainingError(f"{len(too_long)} clips are longer than the {cfg.encoder} encoder's "
                            f"{encoder.max_frames} frames at 20 fps: {', '.join(too_long[:5])}")  # fmt: skip
    for p in model.parameters():
        p.requires_grad_(False)
    lm = lora(model) if cfg.lora else model
    train_encoder = cfg.encoder_train if cfg.encoder_train is not None else cfg.encoder != "mld"
    for p in encoder.parameters():
        p.requires_grad_(train_encoder)
    return MotionPrefixLM(lm, tokenizer, encoder, projector, features, mean, std, config=config)
