"""The whole book in quick mode, built as the README's build command builds it, then read as a reader would."""
import re

import pytest

from conftest import DUMMY_KEY, HTML, ROOT, toc_pages
from eep_utils.book.config import load_plan
from eep_utils.chat.client import find_secret


@pytest.mark.slow
def test_every_page_of_the_toc_is_built(quick_book):
    for page in toc_pages():
        assert (HTML / f"{page}.html").exists(), f"{page} missing from the built book"


@pytest.mark.slow
def test_the_build_reports_each_notebook_and_how_long_it_took(quick_book):
    for plan in load_plan("quick"):
        name = re.escape(plan.name)
        ran = (re.search(rf"^\[{name}\] running \(quick mode\) \.\.\.$", quick_book.stdout, re.M)
               and re.search(rf"^\[{name}\] done in \d+\.\d s$", quick_book.stdout, re.M))
        skipped = re.search(rf"^\[{name}\] unchanged, skipped$", quick_book.stdout, re.M)
        assert ran or skipped, f"the build did not say what became of {plan.name}:\n{quick_book.stdout}"
    assert re.search(r"^\[html\] built in \d+\.\d s", quick_book.stdout, re.M)
    assert re.search(r"^book built in \d+\.\d s \(quick mode\)$", quick_book.stdout, re.M)


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
def test_every_glued_number_is_rendered(quick_book):
    # That no number is typed instead of glued is checked on the sources (test_notebooks.py).
    for page in toc_pages():
        text = (HTML / f"{page}.html").read_text()
        assert "{glue" not in text and "glue:text" not in text, f"{page} shows a glue role instead of its value"


@pytest.mark.slow
def test_the_introduction_opens_with_its_abstract_and_keeps_its_claims_table_short(quick_book):
    from bs4 import BeautifulSoup

    introduction = toc_pages()[0]
    article = BeautifulSoup((HTML / f"{introduction}.html").read_text(), "html.parser").article
    abstract = article.select_one(".admonition.abstract")
    assert abstract is not None, "the introduction has no block of class `abstract`"
    figures = article.find_all("img")
    assert figures, "the introduction shows no figure"
    elements = article.find_all(True)
    assert elements.index(abstract) < elements.index(figures[0]), "the abstract comes after a figure"
    assert "Can a persona" in abstract.get_text() and "{glue" not in abstract.get_text()
    claims = article.select("table.claims tbody tr")
    assert 1 <= len(claims) <= 8, f"the introduction's claims table has {len(claims)} rows"


@pytest.mark.slow
def test_the_build_prints_no_warnings_or_errors(quick_book):
    # A line of noise at every notebook (ipykernel's TCP warning did this, and its "ERROR | KeyboardInterrupt
    # caught in kernel" at shutdown) hides the one that matters.
    noise = [line for line in (quick_book.stdout + quick_book.stderr).splitlines()
             if re.search(r"warn|error", line, re.I)]
    assert noise == [], "\n".join(noise)
