"""harness.data.motions: a doc's joints as its SMD describes them, in the SMD's canonical frame."""

import numpy as np
import pytest

from harness.data import DATASETS, load_canonical
from harness.data.humanml3d import span_id
from smd.canonical import canonicalize
from tests.builders import to_z_up, walk


def test_a_caption_sample_shows_its_own_span_from_time_zero(tmp_path):
    hml = DATASETS["humanml3d"]
    joints = walk(8.0, fps=hml.fps)
    (tmp_path / "new_joints").mkdir()
    np.save(tmp_path / "new_joints" / "000001.npy", joints)
    whole = load_canonical(tmp_path, hml, {"doc_id": "000001", "motion_id": "000001"})
    span = load_canonical(tmp_path, hml, {"doc_id": span_id("000001", 2.0, 5.0), "motion_id": "000001"})
    assert len(whole) == len(joints) and len(span) == 60  # [int(2*20), int(5*20))
    np.testing.assert_allclose(span, canonicalize(joints[40:100], hml.fps, hml.up_axis))


def test_a_qa_doc_shows_its_whole_motion_brought_to_y_up(tmp_path):
    qa = DATASETS["babel_qa"]
    joints = to_z_up(walk(3.0, fps=qa.fps))
    (tmp_path / "joints").mkdir()
    np.save(tmp_path / "joints" / "m0.npy", joints)
    out = load_canonical(tmp_path, qa, {"doc_id": "q1", "motion_id": "m0"})
    assert out.shape == joints.shape
    np.testing.assert_allclose(out, canonicalize(joints, qa.fps, "z"))
    assert np.ptp(out[:, :, 1]) > 1.0 > np.ptp(out[:, 0, 1])  # Y is up now: the body spans it, the pelvis not
    with pytest.raises(FileNotFoundError, match="gone"):
        load_canonical(tmp_path, qa, {"doc_id": "q2", "motion_id": "gone"})
    with pytest.raises(ValueError, match="invalid motion id"):
        load_canonical(tmp_path, qa, {"doc_id": "q3", "motion_id": "../m0"})
