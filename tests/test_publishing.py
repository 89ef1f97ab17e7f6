"""The publishing side: the CI workflow runs the README's commands, and the citation files agree."""
import ast
import difflib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
import yaml

from eep_utils.book.build import BOOK_FILES
from eep_utils.book.site import copies, pages_url, sync_address, sync_authors

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def workflow_runs() -> list[str]:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    return [step["run"].strip() for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def test_readme_gives_exactly_two_commands_and_ci_runs_the_test_one():
    build, test = readme_commands()
    assert "eep_utils.build" in build and "pytest" in test
    ci = (ROOT / ".ci" / "run").read_text()
    assert test in ci


def test_workflow_is_valid_yaml_and_runs_the_readme_commands_verbatim():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as True
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    build, test = readme_commands()
    runs = workflow_runs()
    assert build in runs and test in runs
    uses = [step.get("uses", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)


def test_ci_fetches_the_2023_recordings_and_tests_with_them():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    _, test = readme_commands()
    testing = next(i for i, step in enumerate(steps) if step.get("run", "").strip() == test)
    fetching = next(i for i, step in enumerate(steps) if "python -m eep_utils.study2023.fetch" in step.get("run", ""))
    assert fetching < testing
    folder = steps[fetching]["run"].split("eep_utils.study2023.fetch", 1)[1].strip().strip('"')
    assert folder == "$RUNNER_TEMP/original-study"
    assert steps[testing]["env"]["EEP_ORIGINAL_STUDY_DIR"] == "${{ runner.temp }}/original-study"


def run_tests_with(**variables) -> subprocess.CompletedProcess:
    """A small test file run by pytest with this conftest, in a changed environment."""
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "EEP_ORIGINAL_STUDY_DIR")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_config.py"],
                          cwd=ROOT, env={**env, **variables}, capture_output=True, text=True, timeout=300)


def test_in_ci_missing_2023_recordings_fail_the_run_and_say_how_to_provide_them(tmp_path):
    result = run_tests_with(CI="true", EEP_ORIGINAL_STUDY_DIR=str(tmp_path / "nowhere"))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "EEP_ORIGINAL_STUDY_DIR" in output and "python -m eep_utils.study2023.fetch" in output
    # Outside CI the same run passes: the 2023-data tests would skip.
    assert run_tests_with(EEP_ORIGINAL_STUDY_DIR=str(tmp_path / "nowhere")).returncode == 0


@pytest.mark.skipif(not os.environ.get("EEP_ORIGINAL_STUDY_DIR"), reason="no local copy of the 2023 recordings")
def test_in_ci_a_complete_local_copy_lets_the_run_go_ahead():
    assert run_tests_with(CI="true", EEP_ORIGINAL_STUDY_DIR=os.environ["EEP_ORIGINAL_STUDY_DIR"]).returncode == 0


def parse_bib_entry(text: str) -> dict:
    return {k.lower(): v.strip("{}") for k, v in re.findall(r"(\w+)\s*=\s*(\{.*?\}|\S+?),?\n", text)}


def bib_authors(bib: dict) -> list[str]:
    return [name.strip().strip("{}") for name in bib["author"].split(" and ")]


def test_citation_files_agree():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    bib = parse_bib_entry((ROOT / "CITATION.bib").read_text())
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert bib["title"] == cff["title"]
    assert cff["title"].startswith(config["title"] + " "), "the book's title is the citation's, without its subtitle"
    assert bib["version"] == cff["version"]
    assert bib["year"] == str(cff["date-released"])[:4]
    assert bib["url"] == cff["url"], "the book's web address"
    assert bib["repository"] == cff["repository-code"]
    assert bib["license"] == cff["license"]
    assert bib_authors(bib) == [author["name"] for author in cff["authors"]] == config["author"].split(", ")


def test_the_title_says_this_is_a_re_examination_and_is_not_the_2023_studys():
    title = yaml.safe_load((ROOT / "CITATION.cff").read_text())["title"]
    study = re.search(r"@misc\{keskivalkama2023eep,.*?title\s*=\s*\{(.*?)\},\n", (ROOT / "references.bib").read_text(),
                      re.S).group(1).replace("{", "").replace("}", "")
    assert "Re-examination" in title and "2023" in title
    main_title = title.split("?")[0].split(":")[0]
    assert "Embodied Emulated Personas" not in main_title, "a citation must not be mistaken for the 2023 study's"
    assert difflib.SequenceMatcher(None, title.lower(), study.lower()).ratio() < 0.45, (title, study)


def git_history_authors(root: Path) -> list[str]:
    log = subprocess.run(["git", "log", "--reverse", "--format=%aN"], cwd=root, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    return list(dict.fromkeys(name for name in log if name))


def history_is_whole() -> bool:
    found = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT, capture_output=True, text=True)
    return found.returncode == 0 and found.stdout.strip() == "false"


@pytest.mark.skipif(not history_is_whole(), reason="not a git checkout with its whole history (a shallow clone)")
def test_the_authors_are_the_repositorys_contributors():
    bib = parse_bib_entry((ROOT / "CITATION.bib").read_text())
    assert bib_authors(bib) == git_history_authors(ROOT), "run `python -m eep_utils.book.site --sync-authors`"


def test_the_author_sync_writes_the_contributors_of_the_git_history(tmp_path):
    for name in ("_config.yml", "CITATION.cff", "CITATION.bib"):
        shutil.copy2(ROOT / name, tmp_path / name)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    for author in ("Ada Lovelace", "Alan Turing", "Ada Lovelace"):
        (tmp_path / "notes.txt").write_text(author)
        subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
        subprocess.run(["git", "-c", f"user.name={author}", "-c", "user.email=a@example.org", "-c", "commit.gpgsign=false",
                        "commit", "-qm", f"a change by {author}"], cwd=tmp_path, check=True)
    assert {p.name for p in sync_authors(tmp_path)} == {"_config.yml", "CITATION.cff", "CITATION.bib"}
    cff = yaml.safe_load((tmp_path / "CITATION.cff").read_text())
    assert [a["name"] for a in cff["authors"]] == ["Ada Lovelace", "Alan Turing"]
    assert bib_authors(parse_bib_entry((tmp_path / "CITATION.bib").read_text())) == ["Ada Lovelace", "Alan Turing"]
    assert yaml.safe_load((tmp_path / "_config.yml").read_text())["author"] == "Ada Lovelace, Alan Turing"
    assert cff["references"] == yaml.safe_load((ROOT / "CITATION.cff").read_text())["references"]
    assert sync_authors(tmp_path) == []
    # A .mailmap gives a commit identity the name to cite.
    (tmp_path / ".mailmap").write_text("Augusta Ada King <a@example.org> Ada Lovelace <a@example.org>\n")
    sync_authors(tmp_path)
    assert yaml.safe_load((tmp_path / "_config.yml").read_text())["author"].startswith("Augusta Ada King")


def test_the_how_to_cite_page_shows_the_citation_files_themselves():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert "citing" in [chapter["file"] for chapter in toc["chapters"]]
    page = (ROOT / "citing.md").read_text()
    for name in ("CITATION.bib", "CITATION.cff"):
        assert f"```{{literalinclude}} {name}" in page, f"citing.md must include {name} itself, not a retyped copy"
        assert name in BOOK_FILES, f"the build must copy {name} beside citing.md"
    assert "citing.md" in BOOK_FILES


@pytest.mark.slow
def test_the_built_how_to_cite_page_gives_the_books_address_and_title(quick_book):
    from bs4 import BeautifulSoup

    text = BeautifulSoup((ROOT / "_build/quick/_build/html/citing.html").read_text(), "html.parser").article.get_text()
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert text.count(cff["url"]) == 2 and text.count(cff["title"]) == 2, "both citation files, as they are"


def test_the_2023_study_is_cited_at_its_pinned_commit_everywhere():
    commit = "b131541656d47135192de3ee409464ee9b4e2cbf"
    assert commit in (ROOT / "references.bib").read_text()
    assert any(ref.get("commit") == commit for ref in yaml.safe_load((ROOT / "CITATION.cff").read_text())["references"])


# The book's address is typed once, in _config.yml; these tests read the copies their own way (YAML,
# BibTeX, the Colab cell's code) rather than with eep_utils.book.site's patterns, so that a copy those
# patterns miss is still checked.
SYNC = "python -m eep_utils.book.site --sync-address"
COPY_HOLDERS = ("_config.yml", "CITATION.cff", "CITATION.bib")
COLAB_CHAPTERS = [f"notebooks/{name}.{suffix}" for name in ("00_introduction", "01_embodiment", "02_teacher_rollouts",
                  "03_baselines", "04_students", "05_ellm_rewards", "06_personality", "07_rerun", "08_appendix")
                  for suffix in ("md", "ipynb")]


def configured_address(root: Path = ROOT) -> str:
    return yaml.safe_load((root / "_config.yml").read_text())["repository"]["url"]


def cloned_addresses(notebook: Path) -> list[str]:
    """The addresses a chapter's code cells pass to `git clone`."""
    found = []
    for cell in jupytext.read(notebook).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.List):
                words = [e.value for e in node.elts if isinstance(e, ast.Constant)]
                if words[:2] == ["git", "clone"]:
                    found += [w for w in words if w.startswith("https://")]
    return found


def addresses(root: Path = ROOT) -> dict[str, str]:
    """Each copy of the book's address outside _config.yml, by where it is."""
    cff = yaml.safe_load((root / "CITATION.cff").read_text())
    bib = parse_bib_entry((root / "CITATION.bib").read_text())
    found = {"CITATION.cff repository-code": cff["repository-code"], "CITATION.cff url": cff["url"],
             "CITATION.bib url": bib["url"], "CITATION.bib repository": bib["repository"]}
    for chapter in COLAB_CHAPTERS:
        if (root / chapter).exists():
            cloned = cloned_addresses(root / chapter)
            assert len(cloned) == 1, f"{chapter}: expected one Colab cell cloning the book, found {cloned}"
            found[f"{chapter} Colab cell"] = cloned[0]
    return found


def drifted(root: Path = ROOT) -> list[str]:
    repository = configured_address(root)
    owner, name = repository.removeprefix("https://github.com/").split("/")
    pages = f"https://{owner.lower()}.github.io/{name}/"
    expected = {"CITATION.cff url": pages, "CITATION.bib url": pages}
    return [f"{where} says {found}, not {expected.get(where, repository)}"
            for where, found in addresses(root).items() if found != expected.get(where, repository)]


def test_every_copy_of_the_books_address_is_the_one_in_config_yml():
    assert not drifted(), f"copies of _config.yml's repository url differ; run `{SYNC}`: {drifted()}"


def test_every_chapter_with_a_colab_cell_is_checked():
    with_colab = {str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.*")
                  if p.suffix in (".md", ".ipynb") and "google.colab" in p.read_text()}
    assert with_colab == set(COLAB_CHAPTERS)


def test_the_books_address_is_typed_nowhere_else():
    repository = configured_address()
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    holders = set(COPY_HOLDERS) | set(COLAB_CHAPTERS)
    typed = [path for path in tracked if path not in holders and (ROOT / path).is_file()
             and any(a.encode() in (ROOT / path).read_bytes() for a in (repository, pages_url(repository)))]
    assert not typed, f"read the address with eep_utils.paths.repository_url() instead of typing it: {typed}"


def test_the_sync_finds_the_copies_this_test_reads():
    texts = [chapter for chapter in COLAB_CHAPTERS if chapter.endswith(".md")]  # the .ipynb pairs follow them
    found = sorted(str(c.path.relative_to(ROOT)) for c in copies())
    assert found == sorted(["CITATION.cff", "CITATION.cff", "CITATION.bib", "CITATION.bib", *texts])


def test_changing_the_address_is_one_line_and_the_sync(tmp_path):
    chapters = ["notebooks/00_introduction", "notebooks/02_teacher_rollouts", "notebooks/07_rerun"]
    (tmp_path / "notebooks").mkdir()
    for name in [*COPY_HOLDERS, "jupytext.toml", *(f"{c}.{s}" for c in chapters for s in ("md", "ipynb"))]:
        shutil.copy2(ROOT / name, tmp_path / name)
    config = (tmp_path / "_config.yml").read_text()
    new = "https://github.com/Another-Owner/another-book"
    assert config.count(configured_address()) == 1
    (tmp_path / "_config.yml").write_text(config.replace(configured_address(), new))
    assert drifted(tmp_path)

    rewritten = sync_address(tmp_path)
    assert {p.name for p in rewritten} == {"CITATION.cff", "CITATION.bib",
                                           "00_introduction.md", "02_teacher_rollouts.md", "07_rerun.md"}
    assert not drifted(tmp_path)
    assert addresses(tmp_path)["CITATION.cff url"] == "https://another-owner.github.io/another-book/"
    assert addresses(tmp_path)["CITATION.bib url"] == "https://another-owner.github.io/another-book/"
    study = yaml.safe_load((ROOT / "CITATION.cff").read_text())["references"]  # with the 2023 study's own address
    assert yaml.safe_load((tmp_path / "CITATION.cff").read_text())["references"] == study
    for chapter in chapters:
        text, paired = jupytext.read(tmp_path / f"{chapter}.md"), jupytext.read(tmp_path / f"{chapter}.ipynb")
        assert [c.source for c in text.cells] == [c.source for c in paired.cells]
    assert (tmp_path / "jupytext.toml").read_bytes() == (ROOT / "jupytext.toml").read_bytes()  # holds no address
    assert sync_address(tmp_path) == []
