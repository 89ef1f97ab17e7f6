"""Where the book's files are: the repository root and its data folder.

The root is the checkout the library is imported from (an editable install, or the working
directory's own copy); when the package was installed elsewhere (a plain `pip install` in Colab),
it is the first folder, from the working directory upwards, that holds notebooks/parameters.yaml.
"""
from pathlib import Path

import yaml

MARKER = Path("notebooks") / "parameters.yaml"


def _book_root() -> Path:
    beside_the_code = Path(__file__).resolve().parent.parent
    if (beside_the_code / MARKER).exists():
        return beside_the_code
    return next((folder for folder in (Path.cwd(), *Path.cwd().parents) if (folder / MARKER).exists()),
                beside_the_code)


ROOT = _book_root()
DATA_DIR = ROOT / "data"


def repository_url(root: Path = ROOT) -> str:
    """The book's repository on GitHub, e.g. https://github.com/owner/name: typed once, in _config.yml."""
    return yaml.safe_load((root / "_config.yml").read_text())["repository"]["url"]
