"""`python -m eep_utils.book.browse` after the build-only install says what to install, not a raw ImportError."""
import sys

from eep_utils.book import browse


def test_browse_without_playwright_names_the_requirements_file(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "playwright", None)  # as if not installed: importing it fails
    assert browse.main([]) == 2
    assert "python -m pip install -r requirements-test.txt" in capsys.readouterr().err
