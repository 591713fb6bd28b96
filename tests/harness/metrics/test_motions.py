"""The motions of caption samples: sub-span ids to frames, features from a features or a joints folder."""

import numpy as np
import pytest

from harness.metrics.motions import load_motion_features, motion_span


def test_motion_span_ids():
    assert motion_span("000003_1.000000_4.500000") == ("000003", 20, 90)
    assert motion_span("000021") == ("000021", None, None)
    assert motion_span("custom", "000021") == ("000021", None, None)


def test_load_motion_features_from_features_and_joints(tmp_path):
    feats_root = tmp_path / "hml"
    (feats_root / "new_joint_vecs").mkdir(parents=True)
    feats = np.random.default_rng(0).normal(size=(150, 263)).astype(np.float32)
    np.save(feats_root / "new_joint_vecs" / "000003.npy", feats)
    np.testing.assert_array_equal(load_motion_features(feats_root, "000003"), feats)
    np.testing.assert_array_equal(load_motion_features(feats_root, "000003_1.000000_4.500000"), feats[20:90])
    with pytest.raises(FileNotFoundError):
        load_motion_features(feats_root, "000004")
    from tests.builders import walk

    joints_dir = tmp_path / "joints"
    joints_dir.mkdir()
    np.save(joints_dir / "000005.npy", walk(3.0))
    out = load_motion_features(joints_dir, "000005")
    assert out.shape == (59, 263) and np.isfinite(out).all()
