"""What a motion encoder reads: a clip's 263-d HumanML3D features, normalised.

A clip is what one doc's SMD describes: a QA doc's whole motion (`motion_id`), a caption doc's sample
(`doc_id`: a whole motion or a sub-span). Its joints are read and brought into the SMD's canonical frame
(Y up, facing +Z, on the floor: `harness.data.load_canonical`, the dataset's own frame rate and
up axis from the registry), resampled to HumanML3D's 20 fps, and turned into features with HumanML3D's
recipe (`harness.data.motion_features`, retargeted to its target skeleton). Normalisation is per feature:
`(x - mean) / std`, with HumanML3D's Mean.npy / Std.npy for the MLD encoder, or the statistics of the
training clips for an encoder trained here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.data import DATASETS, HML_FPS, Dataset, dataset_kind, load_canonical, parse_span_id

__all__ = ["STD_FLOOR", "clip_features", "clip_key", "dataset_of_root", "feature_stats", "resample"]

STD_FLOOR = 1e-3  # a feature constant over the training clips (a foot contact never set) stays finite


def clip_key(doc: dict) -> str:
    """The clip a doc's SMD describes: a QA doc's motion, a caption doc's sample."""
    return str(doc["motion_id"] if "options" in doc else doc["doc_id"])


def resample(joints: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """(T, 22, 3) joints at `fps_in` -> at `fps_out`, linearly interpolated over the same duration."""
    if fps_in == fps_out:
        return joints
    duration = (len(joints) - 1) / fps_in
    t_out = np.arange(int(np.floor(duration * fps_out + 1e-9)) + 1) / fps_out
    t_in = np.arange(len(joints)) / fps_in
    flat = joints.reshape(len(joints), -1)
    out = np.stack([np.interp(t_out, t_in, flat[:, k]) for k in range(flat.shape[1])], axis=1)
    return out.reshape(len(t_out), *joints.shape[1:])


def clip_features(root: Path | str, dataset: Dataset, clip: str) -> np.ndarray:
    """(frames, 263) float32 raw (unnormalised) features of one clip at 20 fps.

    Raises:
        FileNotFoundError: the clip's motion file is missing; ValueError: its joints are unusable.
    """
    from harness.data import joints_to_features, target_skeleton

    span = parse_span_id(clip) if dataset.kind == "caption" else None
    doc = {"motion_id": span[0] if span else clip, "doc_id": clip}
    joints = resample(load_canonical(Path(root), dataset, doc), dataset.fps, HML_FPS)
    return joints_to_features(joints, target_skeleton())


def feature_stats(clips: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per feature over every frame of `clips`, std floored at STD_FLOOR."""
    frames = np.concatenate(clips, axis=0).astype(np.float64)
    return frames.mean(axis=0).astype(np.float32), np.maximum(frames.std(axis=0), STD_FLOOR).astype(
        np.float32
    )


def dataset_of_root(root: Path) -> Dataset:
    """The registry entry of a dataset folder, by its name. A folder not named after a dataset (a copy,
    a test's) is read with its layout kind's frame rate and up axis, the only facts a clip's features
    take from the entry, when every dataset of that kind agrees on them.

    Raises:
        ValueError: the folder's name is no dataset and the datasets of its kind differ in those facts.
    """
    kind = "qa" if dataset_kind(root) == "qa" else "caption"
    named = DATASETS.get(Path(root).name)
    if named is not None and named.kind == kind:
        return named
    of_kind = [d for d in DATASETS.values() if d.kind == kind]
    if len({(d.fps, d.up_axis) for d in of_kind}) > 1:
        names = ", ".join(d.name for d in of_kind)
        raise ValueError(
            f"{root}: not named after a dataset, and the {kind} datasets ({names}) differ in frame rate or"
            " up axis: name the folder after its dataset"
        )
    return of_kind[0]
