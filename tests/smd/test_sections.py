"""The parts of an SMD text: spans that tile it, one per heading, in the SMD's own order."""

import numpy as np

import smd
from smd.sections import HEADER, section_spans
from smd.trajectory import TRAJECTORY_CURVES


def test_the_parts_tile_the_text_and_start_at_their_headings(fixtures):
    from harness.describe import demo_motion

    walk = np.load(fixtures / "humanml3d" / "new_joints" / "012314.npy", allow_pickle=False)  # real, Y-up
    for text in (smd.describe(demo_motion(), fps=20, variant="v5"), smd.describe(walk, fps=20, variant="v5")):
        spans = section_spans(text)
        assert spans[0][1] == 0 and spans[-1][2] == len(text)
        assert all(a[2] == b[1] for a, b in zip(spans, spans[1:]))  # contiguous: every character once
        names = [name for name, _, _ in spans]
        axes = [n for n in names if n.startswith("trajectory: ")]
        assert axes == [f"trajectory: {c.label}" for c in TRAJECTORY_CURVES]
        for name, start, end in spans:
            part = text[start:end]
            if name.startswith("trajectory: "):
                assert part.startswith(name.removeprefix("trajectory: ") + ":")
            elif name.startswith("body part: "):
                assert part.startswith(f"[{name.removeprefix('body part: ')}]\n")
                assert "Joint Angles:" not in part and "\n[" not in part.rstrip("\n")  # one group only
            else:
                assert name == HEADER
        groups = [n.removeprefix("body part: ") for n in names if n.startswith("body part: ")]
        assert groups == [g for g in smd.GROUPS if f"\n[{g}]\n" in text]
        assert names.count(HEADER) == 2  # the summary lines, and the `Joint Angles:` line


def test_a_text_without_headings_is_all_header():
    assert section_spans("Motion: 1.0s\n") == [(HEADER, 0, 13)]
