"""Test-wide settings: offline, with the 2023 recordings read from ../shared when present."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Tests never reach the internet: no chatbot unless a test starts its own local server,
# and the 2023 recordings come from the local copy beside the repository (as in CI).
for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EEP_CHATBOT_MODEL"):
    os.environ.pop(name, None)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
_shared = ROOT.parent / "shared" / "original-study"
if "EEP_ORIGINAL_STUDY_DIR" not in os.environ and _shared.is_dir():
    os.environ["EEP_ORIGINAL_STUDY_DIR"] = str(_shared)

HTML = ROOT / "_build" / "quick" / "_build" / "html"
# Assembled at run time so that no key-shaped string is ever committed (a secret scanner would flag it).
DUMMY_KEY = "sk-" + "test-DUMMY0123456789abcdefghijklmnopqrstuv"


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [chapter["file"] for chapter in toc["chapters"]]


@pytest.fixture(scope="session")
def quick_book():
    """The book built once per session by the README's build command in quick mode, with a dummy
    API key in the environment that must leak nowhere."""
    env = {**os.environ, "OPENAI_API_KEY": DUMMY_KEY}
    result = subprocess.run([sys.executable, "-m", "eep_utils.build", "--quick"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, f"quick build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result
