"""harness.models.encoder.features: resampling, the feature statistics and which registry entry a folder
reads."""

import numpy as np
import pytest

from harness.data import DATASETS, Dataset
from harness.models.encoder import STD_FLOOR, dataset_of_root, feature_stats, features, resample


def test_resample_keeps_the_duration_and_interpolates_linearly():
    t = np.arange(31) / 30.0  # 1 s at 30 fps
    joints = np.repeat(t[:, None, None], 22, axis=1).repeat(3, axis=2)  # every coordinate = time
    out = resample(joints, 30.0, 20.0)
    assert out.shape == (21, 22, 3)
    np.testing.assert_allclose(out[:, 0, 0], np.arange(21) / 20.0, atol=1e-12)
    assert resample(joints, 20.0, 20.0) is joints


def test_feature_stats_floor_a_constant_feature():
    clips = [np.array([[1.0, 0.0], [3.0, 0.0]], dtype=np.float32), np.array([[2.0, 0.0]], dtype=np.float32)]
    mean, std = feature_stats(clips)
    np.testing.assert_allclose(mean, [2.0, 0.0])
    np.testing.assert_allclose(std, [np.std([1.0, 3.0, 2.0]), STD_FLOOR], rtol=1e-6)


def _folder(tmp_path, name, layout):
    (tmp_path / name / layout).mkdir(parents=True)
    return tmp_path / name


def test_a_folder_named_after_a_dataset_reads_that_entry(tmp_path):
    assert dataset_of_root(_folder(tmp_path, "humman_qa", "questions")) is DATASETS["humman_qa"]
    assert dataset_of_root(_folder(tmp_path, "humanml3d", "new_joints")) is DATASETS["humanml3d"]


def test_an_unnamed_folder_reads_its_kind_only_when_that_kind_agrees(tmp_path, monkeypatch):
    qa = _folder(tmp_path, "copy", "questions")
    entry = dataset_of_root(qa)
    assert entry.kind == "qa" and (entry.fps, entry.up_axis) == (DATASETS["babel_qa"].fps, "z")
    # a folder named after a dataset of the other kind is not that dataset
    assert dataset_of_root(_folder(tmp_path / "x", "humanml3d", "questions")).kind == "qa"
    other = Dataset("other_qa", "Other-QA", "qa", 60.0, "y")
    monkeypatch.setattr(features, "DATASETS", {**DATASETS, other.name: other})
    with pytest.raises(ValueError, match=r"copy: not named after a dataset.*other_qa.*name the folder"):
        dataset_of_root(qa)
    assert dataset_of_root(_folder(tmp_path, "other_qa", "questions")) is other
