"""The figure of `smd plot`, drawn directly (the command itself is tested in test_cli.py)."""

from __future__ import annotations

import pytest

import smd
from harness.describe import plot_analysis
from tests.builders import walk


def test_the_figure_has_one_axes_per_chosen_angle_and_the_trajectory_panels():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plot_analysis(smd.analyze(walk(duration=4.0), fps=20.0), plt, title="walk", top=3)
    try:
        titles = [ax.get_title(loc="left") for ax in fig.axes]
        # three angle curves, the top view, and height with its heading twin
        assert len(fig.axes) == 3 + 3
        assert "Trajectory, top view" in titles and "Height and heading" in titles
        assert fig.get_suptitle().startswith("walk: ")
    finally:
        plt.close(fig)


def test_the_plotted_curve_is_the_branch_the_text_states(fixtures):
    """The tennis serve's `smd plot` once drew a shoulder from -330° while the text said 29°: the
    figure's smoothed curve and the text read back must lie on the same branch."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from smd.readback import read_back

    analysis = smd.analyze(np.load(fixtures / "humanml3d" / "new_joints" / "012314.npy", allow_pickle=False))
    back = read_back(smd.render(analysis, "v5")).curves
    fig = plot_analysis(analysis, plt, title="012314", top=8)
    try:
        names = {spec.name: i for i, spec in enumerate(smd.ANGLES)}
        plotted = 0
        for ax in fig.axes:
            name = ax.get_title(loc="left").split(" (")[0]
            if name in names:
                smoothed = ax.lines[1].get_ydata()  # the raw curve, then the smoothed one
                assert np.abs(smoothed - back[names[name]]).mean() < 10, name
                plotted += 1
        assert plotted == 8
    finally:
        plt.close(fig)
