"""A reader's visit: eep_utils.book.browse opens every page of the quick-mode book, served on 127.0.0.1, on a
wide and on a phone-sized screen. Hand-written pages first show that each of its checks can fail."""
import pytest
from conftest import HTML, ROOT

from eep_utils.book.browse import VIEWPORTS, check_pages, screenshot_path, toc_pages
from eep_utils.book.build import build_dir

SCREENS = {f"{width}x{height}" for width, height in VIEWPORTS}
FIGURE = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60"><rect width="120" height="60"/></svg>'
CLEAN = """<!DOCTYPE html><html lang="en"><head><style>pre { white-space: pre-wrap; overflow: auto; }</style>
</head><body><main>
<div class="abstract" id="abstract">What the book finds.</div>
<img src="figure.svg" alt="a figure">
<pre>{long_line}</pre>
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
LATE = """<!DOCTYPE html><html lang="en"><body><main>
<div style="height: 3000px">a long preamble</div><div class="abstract">What the book finds.</div>
</main></body></html>"""


def write_book(folder, pages):
    folder.mkdir()
    (folder / "figure.svg").write_text(FIGURE)
    for name, text in pages.items():
        (folder / f"{name}.html").write_text(text.replace("{long_line}", "x = 1  # " + "word " * 60))
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
def test_the_introduction_must_open_with_its_abstract_and_a_figure(tmp_path):
    book = write_book(tmp_path / "html", {"intro": LATE, "page": LATE})
    problems = check_pages(book, ["intro", "page"], tmp_path / "screenshots")
    opening = [p for p in problems if p.kind == "opening"]
    assert {p.page for p in opening} == {"intro"}, "only the introduction (the book's root) is held to this"
    assert {p.viewport for p in opening} == SCREENS
    assert sum("abstract" in p.detail and "not within the first 2 screens" in p.detail for p in opening) == 2
    assert sum("a figure (img) is missing" in p.detail for p in opening) == 2


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
