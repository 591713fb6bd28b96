"""The figure of `smd plot`: the most active angle curves with their detected segments, and the trajectory.

matplotlib is the caller's: `plot_analysis` takes `matplotlib.pyplot` (the CLI picks the Agg backend and
says how to install matplotlib when it is missing), so importing this module does not import it.
"""

from __future__ import annotations

import numpy as np

import smd
from smd.render import selected_angles

__all__ = ["SEGMENT_COLOURS", "plot_analysis"]

# segment kind -> span colour in `smd plot`
SEGMENT_COLOURS = {"holds": "0.6", "increases": "tab:green", "decreases": "tab:red", "repeats": "tab:blue"}


def plot_analysis(analysis: smd.MotionAnalysis, plt, *, title: str, variant: str = "v5", top: int = 6):
    """A matplotlib Figure: the `top` most active angles with their segments, and the trajectory."""
    from matplotlib.patches import Patch

    delta = smd.PRESETS[variant].delta
    chosen = selected_angles(analysis, smd.Variant(delta=delta, top_k=top))
    segments = analysis.angle_segments(delta)
    t = np.arange(analysis.n_frames) / analysis.fps

    n_rows = max(len(chosen), 2)
    fig = plt.figure(figsize=(14, 2.2 * n_rows + 1.0), layout="constrained")
    grid = fig.add_gridspec(n_rows, 2, width_ratios=(2.2, 1.0))
    frames = f"{analysis.n_frames} frames at {analysis.fps:g} FPS"
    fig.suptitle(f"{title}: {analysis.duration:.1f}s, {frames} (delta {delta:g}°)")

    first = None
    for row, i in enumerate(chosen):
        ax = fig.add_subplot(grid[row, 0], sharex=first)
        first = first or ax
        _plot_angle(ax, t, analysis, segments[i], i)
        if row < len(chosen) - 1:
            ax.tick_params(labelbottom=False)
        else:
            ax.set_xlabel("time (s)")
    if first is not None:
        handles = [Patch(color=c, alpha=0.3, label=k) for k, c in SEGMENT_COLOURS.items()]
        first.legend(handles=handles, loc="upper right", fontsize=7, ncols=4)

    split = max(n_rows - 1, 1)
    _plot_top_view(fig.add_subplot(grid[:split, 1]), analysis)
    _plot_height_heading(fig.add_subplot(grid[split:, 1]), t, analysis)
    return fig


def _plot_angle(ax, t: np.ndarray, analysis: smd.MotionAnalysis, segs, i: int) -> None:
    spec = smd.ANGLES[i]
    ax.plot(t, analysis.angles[:, i], color="0.35", lw=0.8, label="raw")
    ax.plot(t, analysis.smoothed[:, i], color="black", lw=1.6, label="smoothed")
    for s in segs:
        colour = SEGMENT_COLOURS.get(s.kind, "0.8")
        ax.axvspan(s.t0, s.t1, color=colour, alpha=0.18, lw=0)
        if s.kind == "repeats":
            # start = low, end = high of the cycles
            ax.hlines([s.start, s.end], s.t0, s.t1, colors=colour, linestyles="dashed", lw=1.0)
            ax.annotate(f"×{s.cycles}", (s.t0, s.end), fontsize=7, color=colour, va="bottom")
        else:
            ax.plot([s.t0, s.t1], [s.start, s.end], "o", color=colour, ms=3.5)
            if s.kind != "holds":
                ax.plot([s.t0, s.t1], [s.start, s.end], color=colour, lw=0.8, ls=":")
    if not analysis.determined[i]:
        ax.text(0.5, 0.5, "undetermined", transform=ax.transAxes, ha="center", va="center", color="tab:red")
    ax.set_ylabel("deg")
    ax.set_title(f"{spec.name} ({spec.gloss}): activity {analysis.activity[i]:.0f}°", fontsize=9, loc="left")
    ax.grid(alpha=0.3)


def _plot_top_view(ax, analysis: smd.MotionAnalysis) -> None:
    traj = analysis.trajectory
    forward, lateral, heading = traj[:, 1], traj[:, 2], np.radians(traj[:, 3])
    ax.plot(lateral, forward, color="tab:blue", lw=1.5)
    ax.plot(lateral[0], forward[0], "o", color="tab:green", label="start")
    ax.plot(lateral[-1], forward[-1], "s", color="tab:red", label="end")
    span = max(np.ptp(forward), np.ptp(lateral), 0.5)
    step = max(int(round(analysis.fps)), 1)  # an arrow every ~1 s
    idx = np.arange(0, analysis.n_frames, step)
    # heading is the facing direction (left turn +) in the canonical frame: forward = (sin h, cos h)
    # in (lateral, forward) coordinates, with lateral = +left
    length = 0.12 * span
    dx, dy = np.sin(heading[idx]), np.cos(heading[idx])
    ax.quiver(
        lateral[idx],
        forward[idx],
        dx,
        dy,
        angles="xy",
        scale_units="xy",
        scale=1.0 / length,
        width=0.006,
        color="tab:orange",
        label="heading (every ~1 s)",
    )
    # keep the arrow tips inside the axes
    ax.update_datalim(np.column_stack([lateral[idx] + length * dx, forward[idx] + length * dy]))
    ax.autoscale_view()
    ax.set_aspect("equal", adjustable="datalim")
    ax.invert_xaxis()  # left (+) on the left, as seen from above facing +forward
    ax.set_xlabel("lateral (m, left +)")
    ax.set_ylabel("forward (m)")
    ax.set_title("Trajectory, top view", fontsize=9, loc="left")
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)


def _plot_height_heading(ax, t: np.ndarray, analysis: smd.MotionAnalysis) -> None:
    ax.plot(t, analysis.trajectory[:, 0], color="tab:purple", lw=1.2)
    ax.set_ylabel("pelvis height (m)", color="tab:purple", fontsize=8)
    ax.set_xlabel("time (s)")
    ax.grid(alpha=0.3)
    twin = ax.twinx()
    twin.plot(t, analysis.trajectory[:, 3], color="tab:orange", lw=1.2)
    twin.set_ylabel("heading (deg, left +)", color="tab:orange", fontsize=8)
    ax.set_title("Height and heading", fontsize=9, loc="left")
