import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import smd
from smd.angles import ANGLE_KEYS, ANGLES
from tests.builders import REPO, arm_raise, turn_and_squat, walk

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_MOTIONS = {"walk": walk, "arm_raise": arm_raise, "turn_and_squat": turn_and_squat}


def test_shape_of_the_text():
    text = smd.describe(arm_raise())
    lines = text.splitlines()
    assert lines[0] == "Motion: 6.0s (120 frames at 20 FPS)"
    assert lines[1].startswith("Trajectory: displacement 0.00m, height change +0.00m, avg height ")
    assert lines[2] == "Global Trajectory:"
    assert "Joint Angles:" in lines
    assert "[Right Shoulder]" in lines
    i = lines.index(
        f"Right Shoulder Elevation ({ANGLES[ANGLE_KEYS.index('right_shoulder_elevation')].gloss}):"
    )
    assert lines[i + 1].startswith("holds at 0° [0.0s–1.")
    assert lines[i + 2].startswith("increases: ")
    for spec in ANGLES:
        assert f"{spec.name} ({spec.gloss}):" in text


@pytest.mark.parametrize("name", sorted(GOLDEN_MOTIONS))
def test_golden_files_guard_the_format(name):
    """A deliberate format change regenerates these (golden/regenerate.py) AND bumps FORMAT_VERSION."""
    expected = (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")
    version, _, body = expected.partition("\n")
    assert version == f"format: {smd.FORMAT_VERSION}"
    assert smd.describe(GOLDEN_MOTIONS[name]()) == body


def test_text_is_byte_identical_across_processes():
    code = (
        f"import sys, hashlib; sys.path.insert(0, {str(REPO)!r}); import smd;"
        "from tests.builders import turn_and_squat;"
        "a = smd.analyze(turn_and_squat());"
        "print(hashlib.sha256(''.join(smd.render(a, p) for p in smd.PRESETS).encode()).hexdigest())"
    )
    digests = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    a = smd.analyze(turn_and_squat())
    import hashlib

    here = hashlib.sha256("".join(smd.render(a, p) for p in smd.PRESETS).encode()).hexdigest()
    assert digests == {here + "\n"}


def test_presets_and_variant_parameters():
    assert set(smd.PRESETS) == {
        "v5", "v5_top3", "v5_top5", "v5_top10", "v5_top20", "v5_notraj",
        "v5_delta3", "v5_delta5", "v5_delta10", "v5_delta15",
    }  # fmt: skip
    a = smd.analyze(turn_and_squat())
    assert smd.render(a, "v5") == smd.render(a, "v5_delta5") == smd.render(a, smd.Variant())
    assert "Global Trajectory:" not in smd.render(a, "v5_notraj")
    assert (
        smd.render(a, "v5_notraj").split("Joint Angles:")[1] == smd.render(a, "v5").split("Joint Angles:")[1]
    )
    lengths = [len(smd.render(a, p)) for p in ("v5_top3", "v5_top5", "v5_top10", "v5_top20", "v5")]
    assert lengths == sorted(lengths) and lengths[0] < lengths[-1]
    # delta 3 finds more segments than delta 15
    assert len(smd.render(a, "v5_delta3")) > len(smd.render(a, "v5_delta15"))
    with pytest.raises(ValueError, match="unknown SMD variant 'v6'"):
        smd.render(a, "v6")
    with pytest.raises(ValueError, match="unknown variant parameters"):
        smd.Variant.from_dict({"delta": 5, "topk": 3})


def test_top_k_keeps_the_most_active_angles_in_canonical_order():
    a = smd.analyze(turn_and_squat())
    text = smd.render(a, "v5_top3")
    kept = [spec.name for spec in ANGLES if f"{spec.name} (" in text]
    ranked = [ANGLES[i].name for i in np.argsort(-a.activity, kind="stable")[:3]]
    assert len(kept) == 3 and set(kept) == set(ranked)
    assert kept == [spec.name for spec in ANGLES if spec.name in ranked]  # canonical order


@pytest.mark.parametrize(
    "joints, message",
    [
        (np.zeros((10, 21, 3)), r"shape \(T, 22, 3\)"),
        (np.zeros((1, 22, 3)), "at least 2 frames"),
        (np.full((5, 22, 3), np.nan), "non-finite"),
    ],
)
def test_bad_input_is_a_clear_value_error(joints, message):
    with pytest.raises(ValueError, match=message):
        smd.analyze(joints)


def test_bad_fps_and_up_axis_are_rejected():
    joints = arm_raise()
    with pytest.raises(ValueError, match="fps"):
        smd.analyze(joints, fps=0)
    with pytest.raises(ValueError, match="up_axis"):
        smd.analyze(joints, up_axis="x")


def test_nan_reports_where_it_is():
    joints = arm_raise()
    joints[7, 20, 1] = np.inf
    with pytest.raises(ValueError, match="frame 7, joint 20"):
        smd.analyze(joints)


def test_rendering_never_writes_to_the_analysis_and_all_variants_at_once_equal_one_by_one():
    import copy
    import dataclasses

    from tests.builders import turn_and_squat

    a = smd.analyze(turn_and_squat())
    before = copy.deepcopy(a)  # (an analysis also pickles: build workers may pass one)
    texts = smd.render_variants(a, list(smd.PRESETS))
    assert texts == [smd.render(a, p) for p in smd.PRESETS]
    custom = dataclasses.replace(smd.resolve_variant("v5"), delta=7.0)  # a threshold no preset uses
    assert smd.render_variants(a, [custom]) == [smd.render(a, custom)]
    for f in dataclasses.fields(a):  # nothing the renderer did is left in the analysis
        old, new = getattr(before, f.name), getattr(a, f.name)
        if isinstance(old, np.ndarray):
            assert np.array_equal(old, new), f.name
        else:
            assert repr(old) == repr(new), f.name
    assert [d for d, _ in a._angle_tables] == sorted({p.delta for p in smd.PRESETS.values()})
