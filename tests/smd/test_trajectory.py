import numpy as np

import smd
from smd.segments import HOLD, UP
from tests.builders import piecewise, standing_root, times, walk


def test_known_displacement_comes_back():
    joints = walk(duration=5.0, speed=1.0)
    a = smd.analyze(joints)
    assert abs(a.summary.displacement - 1.0 * (5.0 - 1 / 20)) < 0.02
    forward = a.trajectory_segments()[1]
    assert [s.kind for s in forward] == [UP]
    assert abs(forward[0].end - 4.95) < 0.05
    text = smd.render(a)
    assert "Lateral Position (left +): static at 0.000m throughout" in text
    assert "Heading (left turn +): static at 0° throughout" in text


def test_known_heading_change_comes_back():
    t = times(5.0, 20.0)
    yaw = piecewise(t, [(0, 0), (1, 0), (3, 90), (5, 90)])
    a = smd.analyze(smd.forward_kinematics({"pelvis_rotation": yaw}, standing_root(t.size)))
    heading = a.trajectory_segments()[3]
    assert [s.kind for s in heading] == [HOLD, UP, HOLD]
    # holds absorb the first and last half-threshold (7.5 degrees) of a ramp
    assert abs(heading[0].start) < 1 and abs(heading[2].start - 90) < 1
    assert heading[1].start < 7.5 and heading[1].end > 90 - 7.5
    assert 1.0 <= heading[1].t0 < 1.6 and 2.4 < heading[1].t1 <= 3.0


def test_static_values_print_to_the_millimetre():
    t = times(2.0, 20.0)
    a = smd.analyze(smd.forward_kinematics({}, standing_root(t.size, 0.954)))
    text = smd.render(a)
    # the floor is the lowest joint (the toe), so the pelvis height is measured above it
    height = a.trajectory[0, 0]
    assert f"Height: static at {height:.3f}m throughout" in text
    assert np.isclose(a.summary.mean_height, height)
