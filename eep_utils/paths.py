"""Where the book's files are: the repository root and its data folder (the library is used from the repo)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
