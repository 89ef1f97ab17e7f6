"""The book's figure style (eep_utils.book.style): what use_book_style() sets, that a notebook then shows
SVG figures with their text kept as text at their drawn size, and the helpers' rules."""
import re

import matplotlib
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from eep_utils.book import style  # noqa: E402
from eep_utils.book.style import (COLUMN_PX, CSS_PX_PER_INCH, MATRIX_CMAP, MIN_DISPLAYED_TEXT_PX,  # noqa: E402
                                  MIN_TEXT_PT, POINTS_PER_INCH, annotated_matrix, dot_plot, figure_problems,
                                  figure_size, relative_luminance, text_colour, use_book_style)


@pytest.fixture
def book_style():
    with matplotlib.rc_context():
        use_book_style()
        yield
    plt.close("all")


def shown_px(points: float, figure_width_in: float, column_px: int) -> float:
    """A label's size on the screen: an SVG is drawn in points and shown at its size, shrunk to the column."""
    drawn_px = figure_width_in * CSS_PX_PER_INCH
    return points * CSS_PX_PER_INCH / POINTS_PER_INCH * min(1, column_px / drawn_px)


def test_the_style_sets_svg_with_text_as_text_sized_for_the_column(book_style):
    rc = matplotlib.rcParams
    assert rc["svg.fonttype"] == "none" and rc["savefig.format"] == "svg"
    assert rc["figure.figsize"][0] == style.FIGURE_WIDTH_IN
    assert rc["figure.constrained_layout.use"]
    sizes = [rc[key] for key in ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize",
                                 "ytick.labelsize", "legend.fontsize", "legend.title_fontsize", "figure.titlesize")]
    assert all(isinstance(size, (int, float)) and size >= MIN_TEXT_PT for size in sizes), sizes
    for wide in (False, True):
        width = figure_size(wide=wide)[0]
        assert width * CSS_PX_PER_INCH <= COLUMN_PX[1400] + 0.5, "shown at its drawn size on a desktop"
        assert shown_px(MIN_TEXT_PT, width, COLUMN_PX[1400]) >= MIN_DISPLAYED_TEXT_PX
    # On a phone the default figure's smallest text stays near the body's small print.
    assert shown_px(MIN_TEXT_PT, style.FIGURE_WIDTH_IN, COLUMN_PX[390]) > 7.5
    assert matplotlib.colormaps[rc["image.cmap"]] is MATRIX_CMAP or rc["image.cmap"] == MATRIX_CMAP.name


def test_a_saved_figure_keeps_its_size_and_its_text_and_is_the_same_on_every_save(book_style, tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [2, 3])
    ax.set_xlabel("episode")
    fig.savefig(tmp_path / "a.svg", metadata={"Date": None})
    fig.savefig(tmp_path / "b.svg", metadata={"Date": None})
    svg = (tmp_path / "a.svg").read_text()
    assert svg == (tmp_path / "b.svg").read_text()
    assert re.search(r'<svg[^>]* width="([\d.]+)pt"', svg).group(1) == f"{style.FIGURE_WIDTH_IN * 72:g}"
    assert ">episode</text>" in svg
    sizes = [float(s) for s in re.findall(r"font-size: ([\d.]+)px", svg)]
    assert sizes and min(sizes) >= MIN_TEXT_PT


@pytest.mark.slow
def test_a_notebook_shows_figures_as_svg_at_their_drawn_size():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\n"
        "from eep_utils.book.style import use_book_style\n"
        "use_book_style()\n"
        "fig, ax = plt.subplots()\n"
        "ax.plot([0, 1], [0, 1000000]);\n"
        "ax.set_ylabel('a label far out to the left');"
    )])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    shown = [o for o in outputs if o.output_type == "display_data"]
    assert len(shown) == 1 and set(shown[0].data) == {"image/svg+xml", "text/plain"}, outputs
    svg = shown[0].data["image/svg+xml"]
    assert "<text" in svg and "a label far out to the left" in svg
    # Not cropped to a "tight" box: shown at the width it was drawn at, the scale its text was sized for.
    assert re.search(r'<svg[^>]* width="([\d.]+)pt"', svg).group(1) == f"{style.FIGURE_WIDTH_IN * 72:g}"
    assert "<dc:date>" not in svg, "a rebuild writes the same figure"


def contrast(one, other) -> float:
    high, low = sorted([relative_luminance(one), relative_luminance(other)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_matrix_numbers_are_readable_on_every_cell_colour():
    assert text_colour("white") == "black" and text_colour("#08306b") == "white"
    for value in np.linspace(0, 1, 101):
        cell = MATRIX_CMAP(value)
        assert contrast(text_colour(cell), cell) >= 4.5, f"WCAG AA contrast fails at {value:.2f}"
    # The darkest cell is a mid blue, not a near-black panel.
    assert relative_luminance(MATRIX_CMAP(1.0)) > 0.05


def test_an_annotated_matrix_writes_each_number_in_its_cell_in_a_contrasting_colour(book_style):
    fig, ax = plt.subplots()
    values = [[0.9, 0.1], [0.5, np.nan]]
    annotated_matrix(ax, values, ["newton", "no persona"], ["judge a", "judge b"], colorbar_label="ROC-AUC")
    written = {t.get_text(): t for t in ax.texts}
    assert set(written) == {"0.90", "0.10", "0.50"}, "a missing value is left blank"
    assert written["0.90"].get_color() == "white" and written["0.10"].get_color() == "black"
    assert all(t.get_fontsize() >= MIN_TEXT_PT for t in ax.texts)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["newton", "no persona"]
    assert not figure_problems(fig)
    with pytest.raises(ValueError, match="2 row labels"):
        annotated_matrix(ax, values, ["newton"], ["judge a", "judge b"])


def test_a_dot_plot_draws_each_estimate_with_its_interval(book_style):
    fig, ax = plt.subplots()
    dot_plot(ax, ["newton", "no persona"], [21.9, 20.0], [19.8, 18.0], [24.0, 22.0],
             unit="mean return (episodes, 95% CI)", reference=18.7, reference_label="random walk")
    (lines,) = ax.collections[:1]
    assert [tuple(segment[:, 0]) for segment in lines.get_segments()] == [(19.8, 24.0), (18.0, 22.0)]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["newton", "no persona"]
    assert ax.get_ylim()[0] > ax.get_ylim()[1], "the first label on top"
    assert ax.get_xlabel() == "mean return (episodes, 95% CI)"
    assert not figure_problems(fig)
    with pytest.raises(ValueError, match="outside its interval"):
        dot_plot(ax, ["newton"], [30.0], [19.8], [24.0], unit="return")
    with pytest.raises(ValueError, match="2 labels"):
        dot_plot(ax, ["newton", "aristotle"], [21.9], [19.8], [24.0], unit="return")


def test_figure_problems_names_what_breaks_the_rules(book_style):
    fig, (cut, logarithmic) = plt.subplots(1, 2)
    cut.bar(["teacher", "student"], [21.9, 23.1])
    cut.set_ylim(12, 26)
    cut.set_title("cut")
    logarithmic.barh(["teacher", "student"], [21.9, 23.1])
    logarithmic.set_xscale("log")
    logarithmic.set_title("log")
    cut.text(0.5, 0.5, "tiny", fontsize=7, transform=cut.transAxes)
    found = figure_problems(fig)
    assert any("'cut'" in p and "do not start at zero" in p for p in found), found
    assert any("'log'" in p and "log axis" in p for p in found), found
    assert any("'tiny' is 7 pt" in p for p in found), found
    assert any("wider than the column" in p for p in figure_problems(plt.figure(figsize=(14, 4))))
    zero, ax = plt.subplots()
    ax.bar(["teacher", "student"], [21.9, 23.1])
    assert not figure_problems(zero)
