"""The build key re-runs a notebook when any setting it reads from the environment changes, and never holds a
secret's value."""
import re
from pathlib import Path

import pytest

from eep_utils.book.build import code_and_data_fingerprint, environment_settings

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "eep_utils").rglob("*.py")) + sorted((ROOT / "notebooks").glob("*.md"))
# Written independently of the build's own scan, so that a blind spot of one is caught by the other.
READS = re.compile(r"""os\.environ\.get\(\s*['"](\w+)['"]|os\.environ\[\s*['"](\w+)['"]\s*\](?!\s*=[^=])"""
                   r"""|os\.getenv\(\s*['"](\w+)['"]|^\s*\w+_VARIABLE\s*=\s*['"](\w+)['"]""", re.MULTILINE)
# Read only to put back what the code itself set: not settings.
NOT_SETTINGS = {"PYTHONPATH", "MINARI_DATASETS_PATH"}


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


@pytest.mark.parametrize("name", sorted(variables_read()))
def test_changing_any_setting_changes_the_build_key(name, monkeypatch):
    monkeypatch.delenv(name, raising=False)
    unset = code_and_data_fingerprint()
    monkeypatch.setenv(name, "one value")
    once = code_and_data_fingerprint()
    monkeypatch.setenv(name, "another value")
    twice = code_and_data_fingerprint()
    assert unset != once, f"setting {name} does not re-run the notebooks"
    if re.search("KEY|TOKEN|SECRET|PASSWORD", name):
        assert once == twice, f"the value of the secret {name} enters the build key"
    else:
        assert once != twice, f"changing {name} does not re-run the notebooks"


def test_changing_the_books_address_changes_the_build_key(monkeypatch):
    before = code_and_data_fingerprint()
    monkeypatch.setattr("eep_utils.book.build.repository_url", lambda: "https://github.com/another/book")
    assert code_and_data_fingerprint() != before, "chapter 02's Minari datasets would keep the old address"
