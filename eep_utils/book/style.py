"""Figures drawn for the page: one call, made once at a notebook's top, sets matplotlib for the book.

    from eep_utils.book.style import use_book_style
    use_book_style()

The book's content column is 784 px wide on a 1400 px screen and 358 px on a 390 px phone
(sphinx-book-theme). A figure is drawn at the size it is shown: 6.4 in (614 CSS px) by default, so that it
is shown at exactly its drawn size on a desktop, and shrunk only on a phone; `figure_size(wide=True)` gives
the whole column (8.17 in) for a figure that needs the room. Figures are saved as SVG with their text kept as
text (`svg.fonttype: none`): they stay sharp at any zoom, and the browser check
(`python -m eep_utils.book.browse`) measures every label as it is shown. Text sizes:

    smallest text   10 pt = 13.3 px at 1400 px;  7.8 px on a phone (5.8 px in a wide figure)
    tick labels     11 pt = 14.7 px at 1400 px;  8.5 px on a phone
    labels, titles  12 pt = 16 px (the body's size) at 1400 px

Labels are fitted inside the drawn size by matplotlib's constrained layout: a figure function does not call
`tight_layout()` or `subplots_adjust()` (the second warns, and a warning is printed on the page).

`annotated_matrix` draws a matrix with its numbers in the cells, each in black or white by the cell's
luminance; `dot_plot` draws estimates with their intervals (a bar must start at zero: where the interesting
range is far from zero, draw dots). `figure_problems(fig)` lists what breaks these rules in a figure, for the
figure functions' tests.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, LinearSegmentedColormap, Normalize, to_rgb
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.text import Text

# The content column of sphinx-book-theme 1.3, measured in Chromium.
COLUMN_PX = {1400: 784, 390: 358}
CSS_PX_PER_INCH = 96
POINTS_PER_INCH = 72  # an SVG from matplotlib is measured in points; a browser shows 1 pt as 4/3 CSS px
FIGURE_WIDTH_IN = 6.4
WIDE_FIGURE_WIDTH_IN = COLUMN_PX[1400] / CSS_PX_PER_INCH
# The browser check's floor: no figure text smaller than this, in CSS px, on a 1400 px screen.
MIN_DISPLAYED_TEXT_PX = 9
MIN_TEXT_PT = 10
TICK_PT = 11
LABEL_PT = 12

# A matrix's cells run from near-white to a mid blue, never to a near-black that hides its number; the
# number's colour is chosen per cell anyway (`text_colour`).
MATRIX_CMAP = LinearSegmentedColormap.from_list(
    "eep_matrix", matplotlib.colormaps["Blues"](np.linspace(0.05, 0.85, 256)))
# A dot and its interval, and a reference line (chance, a baseline).
DOT_COLOUR = "#1f4e79"
REFERENCE_COLOUR = "0.45"

BOOK_RC = {
    "figure.figsize": (FIGURE_WIDTH_IN, FIGURE_WIDTH_IN * 0.55),
    "figure.dpi": CSS_PX_PER_INCH,
    # The layout engine fits labels inside the drawn size; the notebook's default "tight" crop would change
    # the size, and with it the scale the figure is shown at.
    "figure.constrained_layout.use": True,
    "savefig.format": "svg",
    "savefig.bbox": "standard",
    "svg.fonttype": "none",
    # The same element ids on every build: an unchanged figure leaves its page unchanged.
    "svg.hashsalt": "eep-book",
    "font.size": LABEL_PT,
    "axes.titlesize": LABEL_PT,
    "axes.titleweight": "bold",
    "axes.labelsize": LABEL_PT,
    "figure.titlesize": LABEL_PT + 1,
    "figure.labelsize": LABEL_PT,
    "xtick.labelsize": TICK_PT,
    "ytick.labelsize": TICK_PT,
    "legend.fontsize": TICK_PT,
    "legend.title_fontsize": TICK_PT,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "grid.alpha": 0.3,
    "lines.linewidth": 2,
    "lines.markersize": 7,
    "image.cmap": MATRIX_CMAP.name,
}
# How the notebook's inline backend saves a figure: at its drawn size (no crop) and without a date, so that
# a rebuild writes the same file.
SVG_SAVE = {"bbox_inches": None, "metadata": {"Date": None}}

matplotlib.colormaps.register(MATRIX_CMAP, force=True)


def use_book_style() -> None:
    """Set matplotlib for the book: sizes, fonts and colours above, and figures shown as SVG in a notebook."""
    matplotlib.rcParams.update(BOOK_RC)
    if "IPython" in sys.modules and sys.modules["IPython"].get_ipython() is not None:
        _show_svg_in_notebook()


def _show_svg_in_notebook() -> None:
    # pyplot is imported first: its import activates the inline backend, which would reset the formats to
    # PNG if it ran after this. Setting the backend's own configuration keeps SVG for any later activation.
    import matplotlib.pyplot  # noqa: F401
    from matplotlib_inline.backend_inline import set_matplotlib_formats
    from matplotlib_inline.config import InlineBackend

    backend = InlineBackend.instance()
    backend.print_figure_kwargs = dict(SVG_SAVE)
    backend.figure_formats = {"svg"}
    set_matplotlib_formats("svg", **SVG_SAVE)


def figure_size(height_ratio: float = 0.55, wide: bool = False) -> tuple[float, float]:
    """(width, height) in inches: the book's figure width (or the whole column), `height_ratio` × as tall."""
    width = WIDE_FIGURE_WIDTH_IN if wide else FIGURE_WIDTH_IN
    return width, width * height_ratio


def relative_luminance(colour) -> float:
    """WCAG 2 relative luminance of a colour (0 black, 1 white)."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(colour)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def text_colour(background) -> str:
    """Black or white, whichever contrasts more with the background (WCAG contrast ratio)."""
    luminance = relative_luminance(background)
    on_black = (luminance + 0.05) / 0.05
    on_white = 1.05 / (luminance + 0.05)
    return "black" if on_black >= on_white else "white"


def annotated_matrix(ax: Axes, values, row_labels: Sequence[str], column_labels: Sequence[str], *,
                     number_format: str = "{:.2f}", cmap: Colormap | str = MATRIX_CMAP,
                     vmin: float | None = None, vmax: float | None = None, colorbar_label: str | None = None):
    """A matrix as coloured cells with each number written in its cell, black or white by the cell's colour.
    Drawn as vector cells (not a raster image), so it stays sharp in the SVG. Missing values (NaN) are left
    blank. Returns the cells (a QuadMesh), for a colour bar."""
    values = np.asarray(values, dtype=float)
    if values.shape != (len(row_labels), len(column_labels)):
        raise ValueError(f"annotated_matrix: values of shape {values.shape} need {values.shape[0]} row labels and "
                         f"{values.shape[1]} column labels, got {len(row_labels)} and {len(column_labels)}")
    cmap = matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap
    norm = Normalize(vmin=np.nanmin(values) if vmin is None else vmin,
                     vmax=np.nanmax(values) if vmax is None else vmax)
    cells = ax.pcolormesh(np.ma.masked_invalid(values), cmap=cmap, norm=norm, edgecolors="white", linewidth=1.5)
    ax.set_xticks(np.arange(values.shape[1]) + 0.5, column_labels)
    ax.set_yticks(np.arange(values.shape[0]) + 0.5, row_labels)
    ax.invert_yaxis()  # the first row on top, as a table reads
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    for (row, column), value in np.ndenumerate(values):
        if np.isfinite(value):
            ax.text(column + 0.5, row + 0.5, number_format.format(value), ha="center", va="center",
                    fontsize=TICK_PT, color=text_colour(cmap(norm(value))))
    if colorbar_label is not None:
        ax.figure.colorbar(cells, ax=ax, label=colorbar_label, shrink=0.8)
    return cells


def dot_plot(ax: Axes, labels: Sequence[str], estimates, lows, highs, *, unit: str,
             reference: float | None = None, reference_label: str | None = None, colours=None) -> Axes:
    """Estimates as dots with their intervals as lines, one row per label (long labels read horizontally).
    `unit` names the axis with its unit and the interval's, e.g. "mean return (episodes, 95% CI)"; a
    `reference` (chance, a baseline) is drawn as a dashed line."""
    estimates, lows, highs = (np.asarray(a, dtype=float) for a in (estimates, lows, highs))
    if not len(labels) == len(estimates) == len(lows) == len(highs):
        raise ValueError(f"dot_plot: {len(labels)} labels need as many estimates, lows and highs, got "
                         f"{len(estimates)}, {len(lows)} and {len(highs)}")
    outside = [label for label, low, mid, high in zip(labels, lows, estimates, highs) if not low <= mid <= high]
    if outside:
        raise ValueError(f"dot_plot: the estimate lies outside its interval for {outside}")
    rows = np.arange(len(labels))
    colours = DOT_COLOUR if colours is None else colours
    ax.hlines(rows, lows, highs, colors=colours, linewidth=2.5)
    ax.scatter(estimates, rows, color=colours, s=50, zorder=3)
    ax.set_yticks(rows, labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)  # the first label on top
    ax.set_xlabel(unit)
    ax.grid(axis="x")
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    if reference is not None:
        ax.axvline(reference, color=REFERENCE_COLOUR, linestyle="--", linewidth=1.5, zorder=1)
        if reference_label:
            ax.annotate(reference_label, (reference, 1), xycoords=("data", "axes fraction"), xytext=(4, 0),
                        textcoords="offset points", va="top", fontsize=MIN_TEXT_PT, color=REFERENCE_COLOUR)
    return ax


def figure_problems(fig: Figure) -> list[str]:
    """What breaks the book's figure rules: wider than the column, text smaller than MIN_TEXT_PT, or bars
    whose value axis does not start at zero or is logarithmic (a bar's length must mean its value)."""
    problems = []
    if fig.get_figwidth() > WIDE_FIGURE_WIDTH_IN + 1e-6:
        problems.append(f"the figure is {fig.get_figwidth():.2f} in wide, wider than the column "
                        f"({WIDE_FIGURE_WIDTH_IN:.2f} in): it is shrunk, and its text with it")
    fig.draw_without_rendering()  # tick labels exist only once drawn
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text().strip() and text.get_fontsize() < MIN_TEXT_PT:
            problems.append(f"text {text.get_text()!r} is {text.get_fontsize():g} pt, under {MIN_TEXT_PT} pt")
    for ax in fig.axes:
        for bars in (c for c in ax.containers if isinstance(c, BarContainer)):
            horizontal = bars.orientation == "horizontal"
            scale = ax.get_xscale() if horizontal else ax.get_yscale()
            low, high = sorted(ax.get_xlim() if horizontal else ax.get_ylim())
            where = f"bars in {ax.get_title() or 'an axes'!r}"
            if scale != "linear":
                problems.append(f"{where} are on a {scale} axis: draw dots with intervals (dot_plot)")
            elif not low <= 0 <= high:
                problems.append(f"{where} do not start at zero (axis from {low:g} to {high:g}): start the axis at "
                                "zero or draw dots with intervals (dot_plot)")
    return problems
