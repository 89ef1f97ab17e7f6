"""Each chapter's build key comes from what it reads (`CHAPTER_READS`): adding the 2023 recordings re-runs
exactly the chapters that read them and those downstream, a setting re-runs only the chapters that read it,
and a secret's value never enters a key. Notebook execution is stubbed: these test the keys and the skip
decision, not papermill."""
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from eep_utils.book import build
from eep_utils.book.build import (CHAPTER_READS, KEY_METADATA, NOT_SETTINGS, environment_settings, executed_path,
                                  run_notebooks)
from eep_utils.book.config import load_plan
from eep_utils.study2023.fetch import FILES, LOCAL_FOLDER_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "eep_utils").rglob("*.py")) + sorted((ROOT / "notebooks").glob("*.md"))
# Written independently of the build's own scan, so that a blind spot of one is caught by the other.
READS = re.compile(r"""os\.environ\.get\(\s*['"](\w+)['"]|os\.environ\[\s*['"](\w+)['"]\s*\](?!\s*=[^=])"""
                   r"""|os\.getenv\(\s*['"](\w+)['"]|^\s*\w+_VARIABLE\s*=\s*['"](\w+)['"]""", re.MULTILINE)
CHAPTERS = ["01_embodiment", "02_teacher_rollouts", "03_baselines", "04_students", "05_ellm_rewards",
            "06_personality", "07_rerun", "08_appendix", "00_introduction"]
CHAT_SETTINGS = ["EEP_TEACHER", "EEP_CHATBOT_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY", "EEP_LOCAL_MODEL"]


def variables_read() -> set[str]:
    found = set()
    for path in SOURCES:
        for match in READS.finditer(path.read_text()):
            found.add(next(group for group in match.groups() if group))
    return found - NOT_SETTINGS


def test_the_scan_finds_the_settings_known_to_be_read():
    read = variables_read()
    assert {"EEP_CHATBOT_MODEL", "EEP_EMBEDDING_MODEL", "EEP_ORIGINAL_STUDY_DIR", "OPENAI_BASE_URL",
            "OPENAI_API_KEY"} <= read
    assert read <= set(environment_settings())


def test_the_builds_scan_finds_every_way_of_reading_a_variable(tmp_path):
    library, notebooks = tmp_path / "eep_utils", tmp_path / "notebooks"
    library.mkdir(), notebooks.mkdir()
    (library / "a.py").write_text('import os\nx = os.environ.get("ALPHA", "")\ny = os.environ["BETA"]\n'
                                  "z = os.getenv('GAMMA')\nMODEL_VARIABLE = \"EEP_DELTA\"\n")
    (notebooks / "01_x.md").write_text('```{code-cell} ipython3\nimport os\nos.environ.get("EPSILON")\n```\n')
    assert set(environment_settings(tmp_path)) == {"ALPHA", "BETA", "GAMMA", "EEP_DELTA", "EPSILON"}


def test_every_setting_the_code_reads_is_declared_by_the_chapters_that_read_it():
    # A setting added to the library must be given to the chapters it affects, or they would never re-run.
    declared = {name for reads in CHAPTER_READS.values() for name in reads.settings}
    assert set(environment_settings()) - declared == set()
    assert list(CHAPTER_READS) == [plan.name for plan in load_plan("quick")]


# --- the skip decision over the real plan, execution stubbed ------------------------------------------

@pytest.fixture
def book(tmp_path, monkeypatch):
    """The real plan, run with a stub that only records the key; the recordings and the 2023 folder are
    copies the test may change."""
    for name in environment_settings():
        monkeypatch.delenv(name, raising=False)
    transcripts = tmp_path / "transcripts"
    shutil.copytree(ROOT / "data" / "transcripts", transcripts)
    monkeypatch.setattr(build, "TRANSCRIPTS_DIR", transcripts)
    study = tmp_path / "original-study"
    study.mkdir()
    monkeypatch.setenv(LOCAL_FOLDER_VARIABLE, str(study))

    def stub(plan, out_dir, key):
        executed = executed_path(plan, out_dir)
        executed.parent.mkdir(parents=True, exist_ok=True)
        notebook = nbformat.v4.new_notebook()
        notebook.metadata[KEY_METADATA] = key
        nbformat.write(notebook, executed)
        return executed

    monkeypatch.setattr(build, "execute", stub)
    out = tmp_path / "out"

    def rebuild() -> set[str]:
        fates = run_notebooks(load_plan("quick"), "quick", out)
        return {name for name, fate in fates.items() if fate == "executed"}

    assert rebuild() == set(CHAPTERS) and rebuild() == set()
    return rebuild, transcripts, study


def test_adding_the_2023_recordings_reruns_exactly_the_chapters_that_read_them_and_those_downstream(book):
    rebuild, _, study = book
    for name in FILES:
        (study / name).parent.mkdir(parents=True, exist_ok=True)
        (study / name).write_text(f"a stand-in for {name}")
    assert rebuild() == {"02_teacher_rollouts", "03_baselines", "04_students", "07_rerun", "08_appendix",
                         "00_introduction"}
    assert rebuild() == set()
    (study / "student/2023-03-04/scores.json").write_text("changed")  # a file's content, not only its presence
    assert rebuild() == {"02_teacher_rollouts", "03_baselines", "04_students", "07_rerun", "08_appendix",
                         "00_introduction"}


def test_a_setting_no_chapter_reads_reruns_nothing(book, monkeypatch):
    rebuild, _, _ = book
    monkeypatch.setenv("EEP_SOMETHING_UNRELATED", "1")
    monkeypatch.setenv("HOME_PAGE_COLOUR", "blue")
    assert rebuild() == set()


@pytest.mark.parametrize("name", CHAT_SETTINGS)
def test_a_chatbot_setting_reruns_the_chatbot_chapters_and_what_reads_them_but_never_chapter_01(book, monkeypatch,
                                                                                                 name):
    rebuild, _, _ = book
    monkeypatch.setenv(name, "one value")
    assert rebuild() == {"02_teacher_rollouts", "04_students", "05_ellm_rewards", "06_personality", "07_rerun",
                         "08_appendix", "00_introduction"}
    monkeypatch.setenv(name, "another value")
    rerun = rebuild()
    if re.search("KEY|TOKEN|SECRET|PASSWORD", name):
        assert rerun == set(), f"the value of the secret {name} enters the build key"
    else:
        assert "06_personality" in rerun and "01_embodiment" not in rerun


def test_each_chapter_reruns_when_the_recordings_it_replays_change(book):
    rebuild, transcripts, _ = book
    reader = transcripts / "llama3.2_3b"
    reader.mkdir()
    (reader / "06_personality.jsonl").write_text(json.dumps({"key": "a reader's recording"}) + "\n")
    assert rebuild() == {"06_personality", "07_rerun", "08_appendix", "00_introduction"}
    (reader / "05_ellm_rewards.jsonl").write_text(json.dumps({"key": "another"}) + "\n")
    assert rebuild() == {"05_ellm_rewards", "07_rerun", "08_appendix", "00_introduction"}
    (reader / "cartpole-newton-labels.jsonl").write_text(json.dumps({"key": "and one more"}) + "\n")
    assert rebuild() == {"04_students", "07_rerun", "08_appendix", "00_introduction"}
    (reader / "02_teacher_rollouts.jsonl").write_text(json.dumps({"key": "and the rollouts"}) + "\n")
    assert rebuild() == {"02_teacher_rollouts", "04_students", "07_rerun", "08_appendix", "00_introduction"}


def test_changing_the_books_address_reruns_chapter_02_and_what_reads_it(book, monkeypatch):
    rebuild, _, _ = book
    monkeypatch.setattr(build, "repository_url", lambda: "https://github.com/another/book")
    assert rebuild() == {"02_teacher_rollouts", "04_students", "07_rerun", "08_appendix", "00_introduction"}
