"""The whole book in quick mode, built as the README's build command builds it, then read as a reader would."""
import pytest

from conftest import DUMMY_KEY, HTML, ROOT, toc_pages
from eep_utils.chat.client import find_secret


@pytest.mark.slow
def test_every_page_of_the_toc_is_built(quick_book):
    for page in toc_pages():
        assert (HTML / f"{page}.html").exists(), f"{page} missing from the built book"
    assert "running" in quick_book.stdout and " s" in quick_book.stdout  # which notebook ran, how long


@pytest.mark.slow
def test_built_pages_show_no_python_errors(quick_book):
    for page in toc_pages():
        text = (HTML / f"{page}.html").read_text()
        assert "Traceback (most recent call last)" not in text, page
        assert 'output traceback' not in text, page


@pytest.mark.slow
def test_the_api_key_reaches_no_output(quick_book):
    built = ROOT / "_build" / "quick"
    assert len(list(built.rglob("*.html"))) > 5 and len(list(built.rglob("*.ipynb"))) > 5
    assert find_secret([built, ROOT / "data"], DUMMY_KEY) == []
    assert DUMMY_KEY not in quick_book.stdout + quick_book.stderr


@pytest.mark.slow
def test_chapter_01_numbers_are_glued_not_typed(quick_book):
    text = (HTML / "notebooks" / "01_embodiment.html").read_text()
    # The glued result sentence rendered with numbers, and no unresolved glue role left behind.
    assert "survives" in text and "{glue" not in text
