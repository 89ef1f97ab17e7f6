"""README.md's findings: the introduction's answers, written from the full build and kept equal to it."""
import pytest

from eep_utils.book import findings
from eep_utils.book.abstract import compose_abstract, load_results
from eep_utils.book.build import build_dir
from test_introduction import book


def readme_with_block(tmp_path, text="old findings"):
    readme = tmp_path / "README.md"
    readme.write_text(f"# A book\n\nIntro.\n\n{findings.START}\n{text}\n{findings.END}\n\n## Next\n")
    return readme


def test_the_findings_are_the_abstracts_answers_without_its_question(tmp_path):
    results = load_results(book(tmp_path))
    text = findings.findings(results)
    assert compose_abstract(results).endswith(text)
    assert text.startswith("**SmolLM2") and "only 29 of the 4,000 training pairs" in text


def test_write_replaces_only_the_block_and_reports_a_change(tmp_path):
    readme = readme_with_block(tmp_path)
    assert findings.write("new findings", readme) is True
    assert findings.written(readme) == "new findings"
    assert readme.read_text().startswith("# A book\n\nIntro.") and readme.read_text().endswith("## Next\n")
    assert findings.write("new findings", readme) is False


def test_a_readme_without_the_block_says_where_the_markers_go(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# A book\n")
    with pytest.raises(findings.FindingsError, match="no findings block"):
        findings.written(readme)


def test_the_readme_has_its_findings_block():
    assert findings.written().strip()


@pytest.mark.skipif(not (build_dir("full") / "artifacts" / "results").is_dir(), reason="no full build here")
def test_the_readmes_findings_are_the_full_builds():
    try:
        results = findings.full_results()
    except findings.FindingsError as error:
        pytest.skip(str(error))
    assert findings.written() == findings.findings(results), "run `python -m eep_utils.book.findings`"
