"""A reader's visit: eep_utils.book.browse opens every page of the quick-mode book, served on 127.0.0.1, on a
wide and on a phone-sized screen. Hand-written pages first show that each of its checks can fail."""
import pytest
from conftest import HTML, ROOT

from eep_utils.book.browse import (CONSULTED_PAGES, VIEWPORTS, check_pages, screenshot_path, summary,
                                   toc_pages, visit)
from eep_utils.book.build import build_dir

SCREENS = {f"{width}x{height}" for width, height in VIEWPORTS}
WIDE = f"{VIEWPORTS[0][0]}x{VIEWPORTS[0][1]}"
# A figure as use_book_style() saves it: text kept as text, 12 units high, shown at its drawn size (12 px).
FIGURE = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60" viewBox="0 0 120 60">'
          '<rect width="120" height="60" fill="#ddd"/><text x="10" y="30" style="font: 12px sans-serif">a label</text></svg>')
# Drawn 1000 units wide with 12-unit text, shown 500 px wide: its text is 6 px on the screen.
SMALL_TEXT = ('<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="500" viewBox="0 0 1000 500">'
              '<g transform="translate(10 10)"><text x="0" y="50" font-size="12">tick 0.5</text>'
              '<text x="0" y="90" font-size="30">a title</text></g></svg>')
# svg.fonttype "path": every glyph is a path, used by reference.
TEXT_AS_PATHS = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="300" '
                 'height="150" viewBox="0 0 300 150"><defs><path id="DejaVuSans-41" d="M 0 0 L 10 30 L 20 0 z"/></defs>'
                 '<g id="text_1"><use xlink:href="#DejaVuSans-41" x="20" y="40"/></g></svg>')
# The book's own table rule (_static/readable.css): a table is its own box and scrolls inside it.
TABLE_BOX = "table { display: block; width: max-content; max-width: 100%; overflow-x: auto; }"
CLEAN = """<!DOCTYPE html><html lang="en"><head><style>pre { white-space: pre-wrap; overflow: auto; }
{table_box}</style>
</head><body><main>
<div style="display: none"><img src="logo.svg" alt="a launch button's logo, hidden in its menu"></div>
<div class="abstract" id="abstract">What the book finds.</div>
<img src="figure.svg" alt="a figure">
<table><tr><th>status</th><td>inconclusive</td><td>21.9 [19.8, 24.0]</td></tr></table>
<table><tr>{wide_row}</tr></table>
<div class="cell_input"><pre>{long_line}</pre></div>
<details><summary>Show code</summary><div class="cell_input"><pre>x = 2</pre></div></details>
<div class="cell_output"><div class="output text_plain"><pre>0.25</pre></div></div>
<a href="#abstract">back to the abstract</a>
</main></body></html>"""
BAD = """<!DOCTYPE html><html lang="en"><head><style>pre { white-space: pre; overflow: auto; width: 200px; }</style>
</head><body><main>
<pre>{long_line}</pre>
<img src="missing.png" alt="never made">
<div class="output stderr"><pre>RuntimeWarning: a warning</pre></div>
<pre>Traceback (most recent call last):</pre>
<div style="width: 2000px">a wide block</div>
<a href="nowhere.html">a page that does not exist</a>
<a href="page.html#nothing">an anchor that does not exist</a>
</main></body></html>"""
# What the reader of issue 21 met: words broken in a table's cells, matplotlib's return values printed,
# figures whose text is too small or cannot be measured, a chapter too long and showing too much code.
UNREADABLE = """<!DOCTYPE html><html lang="en"><head><style>
table { width: 40px; } td, th { overflow-wrap: anywhere; }
</style></head><body><main>
<table><tr><th>status</th><td>inconclusive</td><td>21.9</td></tr></table>
<div class="cell_output"><div class="output text_plain"><pre>Text(0.5, 0.98, 'Who agrees with whom')</pre></div></div>
<div class="cell_output"><div class="output text_plain"><pre>&lt;Figure size 640x480 with 1 Axes&gt;</pre></div></div>
<div class="cell_output"><div class="output stream"><pre>[&lt;matplotlib.lines.Line2D at 0x7f3a2c1d0e50&gt;]</pre></div></div>
<img src="small-text.svg" alt="a figure drawn too large" style="width: 500px">
<img src="text-as-paths.svg" alt="a figure whose text is paths">
<img src="raster.png" alt="a matplotlib figure as PNG">
{code_inputs}
<details><summary>Show code</summary><div class="cell_input"><pre>folded = True</pre></div></details>
<div style="height: 8000px">a long chapter</div>
</main></body></html>""".replace("{code_inputs}", '<div class="cell_input"><pre>x = 1</pre></div>\n' * 6)
LATE = """<!DOCTYPE html><html lang="en"><body><main>
<div style="display: none"><img src="logo.svg" alt="a launch button's logo, hidden in its menu"></div>
<div style="height: 3000px">a long preamble</div><div class="abstract">What the book finds.</div>
{figure}
</main></body></html>"""


def write_book(folder, pages):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir()
    for name, text in {"figure.svg": FIGURE, "logo.svg": FIGURE, "small-text.svg": SMALL_TEXT,
                       "text-as-paths.svg": TEXT_AS_PATHS}.items():
        (folder / name).write_text(text)
    fig, ax = plt.subplots(figsize=(3, 1.5), dpi=100)
    ax.set_title("a raster figure")
    fig.savefig(folder / "raster.png")
    plt.close(fig)
    for name, text in pages.items():
        text = text.replace("{long_line}", "x = 1  # " + "word " * 60).replace("{table_box}", TABLE_BOX)
        (folder / f"{name}.html").write_text(text.replace("{wide_row}", "<td>wordy</td>" * 80))
    return folder


@pytest.mark.browser
def test_a_clean_page_passes_and_each_check_reports_its_problem_naming_page_and_screen(tmp_path):
    book = write_book(tmp_path / "html", {"intro": CLEAN, "page": BAD})
    problems = check_pages(book, ["intro", "page"], tmp_path / "screenshots")
    assert not [p for p in problems if p.page == "intro"], problems
    for page in ("intro", "page"):
        for width, _ in VIEWPORTS:
            assert screenshot_path(tmp_path / "screenshots", page, width).read_bytes().startswith(b"\x89PNG")
    found = {(p.viewport, p.kind) for p in problems}
    for screen in SCREENS:
        for kind in ("sideways", "too wide", "image", "http", "error output"):
            assert (screen, kind) in found, f"{kind} not reported at {screen}: {problems}"
    details = [str(p) for p in problems]
    assert any("missing.png" in d and "HTTP 404" in d for d in details)
    assert any("content" in d and "<pre>" in d for d in details), "the too-wide <pre> is not named"
    assert any("a Python traceback is shown" in d for d in details)
    assert any("error output shown: RuntimeWarning: a warning" in d for d in details)
    assert any("broken link" in d and "nowhere.html" in d for d in details)
    assert any("missing anchor" in d and "#nothing" in d for d in details)


@pytest.mark.browser
def test_what_made_the_book_hard_to_read_is_reported_each_on_its_screen(tmp_path):
    book = write_book(tmp_path / "html", {"intro": CLEAN, "chapter": UNREADABLE, "appendix": UNREADABLE})
    result = visit(book, ["intro", "chapter", "appendix"], tmp_path / "screenshots", chapters=["intro", "chapter"])
    assert not [p for p in result.problems if p.page == "intro"], result.problems
    chapter = [p for p in result.problems if p.page == "chapter"]
    for screen in SCREENS:
        broken = {p.detail.split('"')[1] for p in chapter if p.kind == "broken word" and p.viewport == screen}
        assert {"status", "inconclusive", "21.9"} <= broken, f"at {screen}: {chapter}"
        printed = [p.detail for p in chapter if p.kind == "object repr" and p.viewport == screen]
        assert len(printed) == 3 and any("Text(0.5, 0.98, 'Who agrees" in d for d in printed), printed
        assert any("<Figure size 640x480 with 1 Axes>" in d for d in printed)
        assert any("<matplotlib.lines.Line2D at 0x7f3a2c1d0e50>" in d for d in printed)
    figures = [p.detail for p in chapter if p.kind == "figure text"]
    assert {p.viewport for p in chapter if p.kind == "figure text"} == {WIDE}, "held to its floor on the wide screen"
    assert len(figures) == 3, figures
    assert any("small-text.svg" in d and "1 of 2 labels are under 9 px" in d and "6.0 px" in d and '"tick 0.5"' in d
               for d in figures), figures
    assert any("text-as-paths.svg" in d and "drawn as paths" in d for d in figures), figures
    assert any("raster.png" in d and "raster image (PNG)" in d for d in figures), figures
    assert [p.detail for p in chapter if p.kind == "code inputs"] == [
        "6 code inputs are shown, more than 5 (remove the others or fold them with hide-input)"]
    assert [p.viewport for p in chapter if p.kind in ("length", "code inputs")] == [WIDE, WIDE]
    assert any(p.kind == "length" and "more than 8" in p.detail for p in chapter)
    assert result.measures["chapter", WIDE].code_inputs == 6
    assert result.measures["chapter", WIDE].screens > 8
    assert result.measures["intro", WIDE].smallest_figure_text == pytest.approx(12, abs=0.1)
    assert not [p for p in result.problems if p.page == "appendix" and p.kind in ("length", "code inputs")], \
        "a page a reader consults is not held to a chapter's length"
    assert "chapter: " in summary(result, ["intro", "chapter", "appendix"])


@pytest.mark.browser
def test_the_introduction_must_open_with_its_abstract_and_a_visible_figure(tmp_path):
    late_figure = LATE.replace("{figure}", '<img src="figure.svg" alt="a figure, too late">')
    book = write_book(tmp_path / "html", {"intro": LATE.replace("{figure}", ""), "page": LATE,
                                          "late": late_figure})
    problems = check_pages(book, ["intro", "page"], tmp_path / "screenshots")
    opening = [p for p in problems if p.kind == "opening"]
    assert {p.page for p in opening} == {"intro"}, "only the introduction (the book's root) is held to this"
    assert {p.viewport for p in opening} == SCREENS
    assert sum("abstract" in p.detail and "not within the first 2 screens" in p.detail for p in opening) == 2
    # The hidden logo above the abstract is not a figure a reader sees.
    assert sum("a visible figure is missing" in p.detail for p in opening) == 2
    late = [p for p in check_pages(book, ["late"], tmp_path / "screenshots") if p.kind == "opening"]
    assert sum("a visible figure starts at" in p.detail and "not within" in p.detail for p in late) == 2


def test_the_pages_a_reader_consults_are_in_the_book():
    assert set(CONSULTED_PAGES) <= set(toc_pages(ROOT))


@pytest.fixture(scope="module")
def book_problems(quick_book):
    return check_pages(HTML, toc_pages(ROOT), build_dir("quick") / "screenshots")


@pytest.mark.slow
@pytest.mark.browser
def test_every_page_reads_well_on_both_screens(book_problems):
    problems = [p for p in book_problems if p.kind != "opening"]
    assert not problems, "\n".join(map(str, problems))
    for page in toc_pages(ROOT):
        for width, _ in VIEWPORTS:
            assert screenshot_path(build_dir("quick") / "screenshots", page, width).is_file()


@pytest.mark.slow
@pytest.mark.browser
def test_the_introduction_opens_with_its_abstract_and_a_figure(book_problems):
    problems = [p for p in book_problems if p.kind == "opening"]
    assert not problems, "\n".join(map(str, problems))
