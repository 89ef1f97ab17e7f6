"""Test-wide settings: offline, with the 2023 recordings read from ../shared when present."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from eep_utils.book.build import environment_settings
from eep_utils.study2023.fetch import LOCAL_FOLDER_VARIABLE, local_copy_problem

ROOT = Path(__file__).resolve().parent.parent

# Tests never reach the internet: no chatbot unless a test starts its own local server (so none of the
# book's settings from the developer's shell), and the 2023 recordings come from a local copy: the one
# beside the repository unless EEP_ORIGINAL_STUDY_DIR names another (CI fetches one).
for name in environment_settings():
    if name != LOCAL_FOLDER_VARIABLE:
        os.environ.pop(name, None)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
_shared = ROOT.parent / "shared" / "original-study"
if LOCAL_FOLDER_VARIABLE not in os.environ and _shared.is_dir():
    os.environ[LOCAL_FOLDER_VARIABLE] = str(_shared)

HTML = ROOT / "_build" / "quick" / "_build" / "html"
# Assembled at run time so that no key-shaped string is ever committed (a secret scanner would flag it).
DUMMY_KEY = "sk-" + "test-DUMMY0123456789abcdefghijklmnopqrstuv"


def pytest_configure(config):
    # Elsewhere the 2023-data tests skip without a local copy; in CI that would pass with none of them run.
    problem = local_copy_problem()
    if os.environ.get("CI") and problem:
        raise pytest.UsageError(f"CI is set, and the tests of the 2023 recordings need them: {problem}")


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [chapter["file"] for chapter in toc["chapters"]]


@pytest.fixture(scope="session")
def quick_book():
    """The book built once per session by the README's build command in quick mode, with a dummy
    API key in the environment that must leak nowhere (and EEP_TEACHER=replay: a key without a model
    otherwise stops the build, which would ignore the endpoint)."""
    env = {**os.environ, "OPENAI_API_KEY": DUMMY_KEY, "EEP_TEACHER": "replay"}
    result = subprocess.run([sys.executable, "-m", "eep_utils.build", "--quick"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, f"quick build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result
