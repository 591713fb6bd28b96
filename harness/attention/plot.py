"""The figures of `smd attention`: a heatmap of one SMD text shaded by attention, and the bar chart of
the attention shares of the prompt's parts across docs.

matplotlib is the caller's (as in harness.describe.plot): importing this module does not import it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["char_grid", "plot_heatmap", "plot_shares"]

# DejaVu Sans Mono (matplotlib's own monospace font): a character advances 0.602 of the font size
_ADVANCE = 0.602
_FONT_PT = 7.0
_LINE = 1.45  # line height in font sizes


def char_grid(text: str, weights: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(lines, grid): the text's lines and a (lines, widest line) array whose cell [i, j] is the weight
    of character j of line i (NaN past a line's end): the heatmap drawn exactly under the text."""
    if len(weights) != len(text):
        raise ValueError(f"{len(weights)} weights for {len(text)} characters")
    lines = text.split("\n")
    grid = np.full((len(lines), max(map(len, lines), default=1) or 1), np.nan)
    start = 0
    for i, line in enumerate(lines):
        grid[i, : len(line)] = weights[start : start + len(line)]
        start += len(line) + 1  # the newline
    return lines, grid


def plot_heatmap(text: str, weights: np.ndarray, plt, *, title: str):
    """A matplotlib Figure: the SMD text in its lines, each character on a cell shaded by the share
    of the answer's attention on its token (% of the prompt's), with a colour bar."""
    lines, grid = char_grid(text, weights * 100)
    cols, rows = grid.shape[1], len(lines)
    width_in = cols * _ADVANCE * _FONT_PT / 72
    height_in = rows * _LINE * _FONT_PT / 72
    fig = plt.figure(figsize=(width_in + 1.6, height_in + 0.9))
    ax = fig.add_axes(
        (
            0.2 / (width_in + 1.6),
            0.2 / (height_in + 0.9),
            width_in / (width_in + 1.6),
            height_in / (height_in + 0.9),
        )
    )
    top = np.nanmax(grid) if np.isfinite(grid).any() and np.nanmax(grid) > 0 else 1.0
    image = ax.imshow(
        grid, cmap="Reds", vmin=0, vmax=top, aspect="auto", interpolation="nearest", extent=(0, cols, rows, 0)
    )
    for i, line in enumerate(lines):
        ax.text(0, i + 0.5, line, family="DejaVu Sans Mono", size=_FONT_PT, va="center", ha="left")
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9, loc="left")
    bar = fig.add_axes(
        (
            (width_in + 0.4) / (width_in + 1.6),
            0.2 / (height_in + 0.9),
            0.15 / (width_in + 1.6),
            min(height_in, 3.0) / (height_in + 0.9),
        )
    )
    fig.colorbar(image, cax=bar).set_label("attention on the token (% of prompt)", fontsize=7)
    bar.tick_params(labelsize=6)
    return fig


def plot_shares(shares: dict[str, float], plt, *, title: str, per_doc: list[dict[str, float]] | None = None):
    """A matplotlib Figure: one horizontal bar per prompt part, its mean share of the answer's
    attention (%), with the spread over docs (min-max) when `per_doc` is given."""
    names = list(shares)
    values = np.array([shares[n] for n in names]) * 100
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(names) + 1.2), layout="constrained")
    error = None
    if per_doc:
        each = np.array([[d.get(n, 0.0) for n in names] for d in per_doc]) * 100
        error = np.vstack([values - each.min(axis=0), each.max(axis=0) - values])
    ax.barh(range(len(names)), values, xerr=error, color="tab:red", alpha=0.75, capsize=2)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(
        "share of the answer's attention on the prompt (%)" + (", bars: min-max over docs" if per_doc else "")
    )
    ax.set_title(title, fontsize=9)
    ends = values if error is None else values + error[1]
    for i, (v, end) in enumerate(zip(values, ends)):
        ax.text(end, i, f"  {v:.1f}", va="center", fontsize=7)  # right of its bar and its spread
    return fig
