"""The figure of `smd plot`, drawn directly (the command itself is tested in test_cli.py)."""

from __future__ import annotations

import pytest

import smd
from harness.plot import plot_analysis
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
