"""Where the book is published and who wrote it: its repository address, typed once, in _config.yml
(`repository: url:`), and its authors, the repository's contributors as its git history names them.

Jupyter Book's repository, issues and launch buttons read the address there, and a chapter reads it with
`eep_utils.paths.repository_url()`. Some files cannot read it and hold a copy: the citation files are read as they stand
(by GitHub's citation widget and by reference managers; both give the repository and the book's GitHub
Pages address), and a chapter's Colab cell runs before the code exists on Colab (it is what clones it).
`copies()` finds every copy and what it should say; `sync_address()` rewrites them, so publishing under
another address is one line in _config.yml and

    python -m eep_utils.book.site --sync-address

The authors are copied the same way into the citation files and _config.yml's `author` from the git history
(`git log`, with a .mailmap applied: it maps a commit identity to the name to cite):

    python -m eep_utils.book.site --sync-authors

A test (tests/test_publishing.py) fails while any copy differs.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


from eep_utils.paths import ROOT, repository_url


def pages_url(repository: str) -> str:
    """Where GitHub Pages serves the repository's book (the workflow deploys it there)."""
    owner, name = repository.removeprefix("https://github.com/").split("/")
    return f"https://{owner.lower()}.github.io/{name}/"


def contributors(root: Path = ROOT) -> list[str]:
    """The repository's contributors as its git history names them (.mailmap applied), first commit first."""
    shallow = _git(root, "rev-parse", "--is-shallow-repository").strip() == "true"
    if shallow:
        raise RuntimeError(f"{root}: the git history is shallow, so its contributors are not all in it: run "
                           "`git fetch --unshallow` first")
    return list(dict.fromkeys(name for name in _git(root, "log", "--reverse", "--format=%aN").splitlines() if name))


def _git(root: Path, *arguments: str) -> str:
    return subprocess.run(["git", *arguments], cwd=root, capture_output=True, text=True, check=True).stdout


# Each copy: the files, a pattern whose one group is the copy, and what it should say, made from the
# address (`repository_url()`) or the authors (`contributors()`). Anchored to the line that holds the copy,
# so that another address in the same file (the 2023 study's, under CITATION.cff's indented `references:`)
# is never touched.
_ADDRESS_COPIES = (
    ("CITATION.cff", re.compile(r'^repository-code: "([^"]*)"$', re.MULTILINE), lambda address: address),
    ("CITATION.cff", re.compile(r'^url: "([^"]*)"$', re.MULTILINE), pages_url),
    ("CITATION.bib", re.compile(r"^\s*url\s*=\s*\{([^}]*)\}", re.MULTILINE), pages_url),
    ("CITATION.bib", re.compile(r"^\s*repository\s*=\s*\{([^}]*)\}", re.MULTILINE), lambda address: address),
    ("notebooks/[0-9][0-9]_*.md", re.compile(r'"git", "clone", "--depth=1", "([^"]*)"'), lambda address: address),
)
# CFF lists each author as an entity with the name the history gives (no guessing which word is a family
# name); BibTeX braces each name for the same reason.
_AUTHOR_COPIES = (
    ("CITATION.cff", re.compile(r"^authors:\n((?:  [- ] .*\n)+)", re.MULTILINE),
     lambda names: "".join(f"  - name: {json.dumps(name)}\n" for name in names)),
    ("CITATION.bib", re.compile(r"^\s*author\s*=\s*\{(.*)\},[ \t]*$", re.MULTILINE),
     lambda names: " and ".join(f"{{{name}}}" for name in names)),
    ("_config.yml", re.compile(r"^author: (.*)$", re.MULTILINE), lambda names: json.dumps(", ".join(names))),
)


@dataclass(frozen=True)
class Copy:
    path: Path
    found: str
    expected: str
    span: tuple[int, int]


def copies(root: Path = ROOT) -> list[Copy]:
    """Every copy of the address outside _config.yml, with what it says and what it should say."""
    return _copies(root, _ADDRESS_COPIES, repository_url(root))


def author_copies(root: Path = ROOT) -> list[Copy]:
    """Every copy of the authors (the citation files, _config.yml), with what it says and what it should say."""
    return _copies(root, _AUTHOR_COPIES, contributors(root))


def _copies(root: Path, kinds, source) -> list[Copy]:
    found = []
    for pattern, line, expected in kinds:
        for path in sorted(root.glob(pattern)):
            for match in line.finditer(path.read_text()):
                found.append(Copy(path, match.group(1), expected(source), match.span(1)))
    return found


def sync_address(root: Path = ROOT) -> list[Path]:
    """Rewrite every copy that differs from _config.yml; refresh the changed chapters' .ipynb pairs
    (Colab opens the .ipynb). Returns the files rewritten."""
    return _rewrite(copies(root))


def sync_authors(root: Path = ROOT) -> list[Path]:
    """Rewrite the authors wherever they differ from the git history's contributors. Returns the files rewritten."""
    return _rewrite(author_copies(root))


def _rewrite(found: list[Copy]) -> list[Path]:
    stale: dict[Path, list[Copy]] = {}
    for copy in found:
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
    parser = argparse.ArgumentParser(description="The book's repository address (_config.yml), its authors (the git "
                                                 "history's contributors) and their copies.")
    parser.add_argument("--sync-address", action="store_true", help="rewrite every copy of the address from _config.yml")
    parser.add_argument("--sync-authors", action="store_true", help="rewrite every copy of the authors from git")
    args = parser.parse_args(argv)
    print(f"repository (_config.yml): {repository_url()}")
    print(f"authors (git history): {', '.join(contributors())}")
    if args.sync_address or args.sync_authors:
        rewritten = (sync_address() if args.sync_address else []) + (sync_authors() if args.sync_authors else [])
        for path in dict.fromkeys(rewritten):
            print(f"rewrote {path.relative_to(ROOT)}")
        return 0
    drifted = [c for c in copies() + author_copies() if c.found != c.expected]
    for copy in drifted:
        print(f"{copy.path.relative_to(ROOT)} says {copy.found.strip()}, not {copy.expected.strip()}")
    if drifted:
        print("run: python -m eep_utils.book.site --sync-address --sync-authors")
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main())
