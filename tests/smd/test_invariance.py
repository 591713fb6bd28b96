"""The same movement gives the same joint-angle text whatever the frame, rate, size or up axis."""

import re

import numpy as np
import pytest

import smd
from tests.builders import mirror, rotate_about_up, to_z_up, turn_and_squat, walk

MOTIONS = {"walk": walk, "turn_and_squat": turn_and_squat}


def joint_text(text: str) -> str:
    return text.split("Joint Angles:\n", 1)[1].rstrip("\n")


@pytest.mark.parametrize("name", MOTIONS)
def test_rotation_about_the_vertical_and_floor_position_do_not_matter(name):
    joints = MOTIONS[name]()
    moved = rotate_about_up(joints, 137.0) + np.array([3.2, 0.0, -1.7])
    assert smd.describe(moved) == smd.describe(joints)


@pytest.mark.parametrize("name", MOTIONS)
def test_z_up_input_gives_the_same_text(name):
    joints = MOTIONS[name]()
    assert smd.describe(to_z_up(joints), up_axis="z") == smd.describe(joints)


@pytest.mark.parametrize("name", MOTIONS)
def test_body_size_changes_distances_not_angles(name):
    joints = MOTIONS[name]()
    big = smd.describe(joints * 1.15)
    assert joint_text(big) == joint_text(smd.describe(joints))
    assert big != smd.describe(joints)  # the trajectory does scale


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


_DURATION = re.compile(r"\((?:period )?(\d+\.\d)s\)")


def _same_up_to_rounding(a: str, b: str) -> None:
    """Same words and structure; values and times may differ by one rounding step (1 degree,
    0.1 s); durations, the difference of two such times, by two."""
    assert _NUMBER.sub("#", a) == _NUMBER.sub("#", b)
    for x, y in zip(_DURATION.findall(a), _DURATION.findall(b)):
        assert abs(float(x) - float(y)) <= 0.2 + 1e-9, (x, y)
    a, b = _DURATION.sub("", a), _DURATION.sub("", b)
    for x, y in zip(_NUMBER.findall(a), _NUMBER.findall(b)):
        step = 0.1 if "." in x else 1.0
        assert abs(float(x) - float(y)) <= step + 1e-9, (x, y)


def test_resampling_from_20_to_30_fps_moves_numbers_by_at_most_one_rounding_step():
    from tests.builders import arm_raise

    for build in (arm_raise, turn_and_squat):
        at20, at30 = smd.describe(build(fps=20.0), fps=20.0), smd.describe(build(fps=30.0), fps=30.0)
        _same_up_to_rounding(joint_text(at20), joint_text(at30))


def test_mirroring_swaps_the_left_and_right_sections():
    joints = turn_and_squat()
    text, mirrored = joint_text(smd.describe(joints)), joint_text(smd.describe(mirror(joints)))
    sections = dict(re.findall(r"\[(.+?)\]\n(.*?)(?=\n\[|\Z)", text, flags=re.S))
    mirrored_sections = dict(re.findall(r"\[(.+?)\]\n(.*?)(?=\n\[|\Z)", mirrored, flags=re.S))
    swapped = 0
    for group, body in sections.items():
        if group.startswith(("Left", "Right")):
            other = group.replace("Left", "@").replace("Right", "Left").replace("@", "Right")
            expected = body.replace("Left", "@").replace("Right", "Left").replace("@", "Right")
            assert mirrored_sections[other] == expected
            swapped += 1
    assert swapped == 10
