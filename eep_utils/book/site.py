"""Where the book is published: its repository address, typed once, in _config.yml (`repository: url:`).

Jupyter Book's repository, issues and launch buttons read it there, and a chapter reads it with
`repository_url()`. Some files cannot read it and hold a copy: the citation files are read as they stand
(by GitHub's citation widget and by reference managers), and a chapter's Colab cell runs before the
code exists on Colab (it is what clones it). `copies()` finds every copy and what it should say;
`sync_address()` rewrites them, so publishing under another address is one line in _config.yml and

    python -m eep_utils.book.site --sync-address

A test (tests/test_publishing.py) fails while any copy differs.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from eep_utils.paths import ROOT


def repository_url(root: Path = ROOT) -> str:
    """The book's repository on GitHub, e.g. https://github.com/owner/name."""
    return yaml.safe_load((root / "_config.yml").read_text())["repository"]["url"]


def pages_url(repository: str) -> str:
    """Where GitHub Pages serves the repository's book (the workflow deploys it there)."""
    owner, name = repository.removeprefix("https://github.com/").split("/")
    return f"https://{owner.lower()}.github.io/{name}/"


# Each copy: the files, a pattern whose one group is the copied address, and which address it holds.
# Anchored to the line that holds the copy, so that another address in the same file (the 2023 study's,
# under CITATION.cff's indented `references:`) is never touched.
_COPIES = (
    ("CITATION.cff", re.compile(r'^repository-code: "([^"]*)"$', re.MULTILINE), "repository"),
    ("CITATION.cff", re.compile(r'^url: "([^"]*)"$', re.MULTILINE), "pages"),
    ("CITATION.bib", re.compile(r"^\s*url\s*=\s*\{([^}]*)\}", re.MULTILINE), "repository"),
    ("notebooks/[0-9][0-9]_*.md", re.compile(r'"git", "clone", "--depth=1", "([^"]*)"'), "repository"),
)


@dataclass(frozen=True)
class Copy:
    path: Path
    found: str
    expected: str
    span: tuple[int, int]


def copies(root: Path = ROOT) -> list[Copy]:
    """Every copy of the address outside _config.yml, with what it says and what it should say."""
    repository = repository_url(root)
    expected = {"repository": repository, "pages": pages_url(repository)}
    found = []
    for pattern, line, kind in _COPIES:
        for path in sorted(root.glob(pattern)):
            for match in line.finditer(path.read_text()):
                found.append(Copy(path, match.group(1), expected[kind], match.span(1)))
    return found


def sync_address(root: Path = ROOT) -> list[Path]:
    """Rewrite every copy that differs from _config.yml; refresh the changed chapters' .ipynb pairs
    (Colab opens the .ipynb). Returns the files rewritten."""
    stale: dict[Path, list[Copy]] = {}
    for copy in copies(root):
        if copy.found != copy.expected:
            stale.setdefault(copy.path, []).append(copy)
    for path, wrong in stale.items():
        text = path.read_text()
        for copy in sorted(wrong, key=lambda c: c.span, reverse=True):  # from the end: earlier spans stay valid
            text = text[:copy.span[0]] + copy.expected + text[copy.span[1]:]
        path.write_text(text)
        if path.suffix == ".md" and path.with_suffix(".ipynb").exists():
            subprocess.run([sys.executable, "-m", "jupytext", "--sync", str(path)], check=True, capture_output=True)
    return list(stale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The book's repository address (_config.yml) and its copies.")
    parser.add_argument("--sync-address", action="store_true", help="rewrite every copy from _config.yml")
    args = parser.parse_args(argv)
    print(f"repository (_config.yml): {repository_url()}")
    if args.sync_address:
        for path in sync_address():
            print(f"rewrote {path.relative_to(ROOT)}")
        return 0
    drifted = [c for c in copies() if c.found != c.expected]
    for copy in drifted:
        print(f"{copy.path.relative_to(ROOT)} says {copy.found}, not {copy.expected}")
    if drifted:
        print("run: python -m eep_utils.book.site --sync-address")
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main())
