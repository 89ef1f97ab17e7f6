"""Test-wide settings: offline, with the 2023 recordings read from ../shared when present."""
import os
import sys
from pathlib import Path

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
