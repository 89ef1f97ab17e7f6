"""What the book found, for the README: the introduction's answers, written from the full book's results.

    python -m eep_utils.build && python -m eep_utils.book.findings           # rewrite README.md's findings
    python -m eep_utils.book.findings --check                                # exit 1 if they differ

The README holds the text between two markers; it is the introduction's abstract without its question (every
chatbot's answer, stated with its numbers and chosen by its claims' statuses, and the 2023 re-examination), so
the README says no more than the book computed. `tests/test_findings.py` fails while the README differs from
the full build it finds.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from eep_utils.book.abstract import BookResults, MissingResults, answer_for, chatbots, load_results, study_2023_sentence
from eep_utils.book.build import build_dir
from eep_utils.paths import ROOT

README = ROOT / "README.md"
START = "<!-- findings: written by `python -m eep_utils.book.findings` from the full book; do not edit -->"
END = "<!-- /findings -->"
_BLOCK = re.compile(re.escape(START) + r"\n(.*?)\n" + re.escape(END), re.S)


class FindingsError(RuntimeError):
    pass


def findings(results: BookResults) -> str:
    """Every chatbot's answer and the 2023 re-examination, as the introduction states them."""
    return "\n\n".join([*(answer_for(results, name) for name in chatbots(results)), study_2023_sentence(results)])


def written(readme: Path = README) -> str:
    """The findings the README holds now."""
    found = _BLOCK.search(readme.read_text())
    if found is None:
        raise FindingsError(f"{readme} has no findings block: put the lines {START!r} and {END!r} where they go, "
                            "then run `python -m eep_utils.book.findings`")
    return found.group(1)


def write(text: str, readme: Path = README) -> bool:
    """Put `text` between the README's markers; whether it changed."""
    old = readme.read_text()
    written(readme)
    new = _BLOCK.sub(lambda _: f"{START}\n{text}\n{END}", old)
    readme.write_text(new)
    return new != old


def full_results() -> BookResults:
    artifacts = build_dir("full") / "artifacts"
    if not (artifacts / "results").is_dir():
        raise FindingsError(f"no full build in {artifacts}: run `python -m eep_utils.build` first")
    try:
        return load_results(artifacts)
    except MissingResults as error:
        raise FindingsError(f"the full build is incomplete: {error}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if README.md differs")
    args = parser.parse_args(argv)
    try:
        text = findings(full_results())
        if args.check:
            same = written() == text
            print("README.md's findings are the full build's" if same else
                  "README.md's findings differ from the full build's: run `python -m eep_utils.book.findings`")
            return 0 if same else 1
        print("README.md's findings rewritten" if write(text) else "README.md's findings were already the full build's")
        return 0
    except FindingsError as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
