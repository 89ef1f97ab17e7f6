"""Every chapter runs on its own, as a reader who opens one notebook in Jupyter, Colab or Binder would: the
committed `.ipynb`, executed top to bottom with its own defaults, in a fresh copy of the repository where no
other chapter has run. A chapter whose earlier chapter's result is missing runs that experiment itself and
says so in one line."""
import os
import shutil
import subprocess
import sys
import time

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT

# The chapters that read an earlier chapter's results: alone, they make them and say so.
READS_EARLIER = ("03_baselines", "04_students", "08_appendix", "00_introduction")
CHAPTERS = sorted(path.stem for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def fresh_copy(tmp_path_factory):
    """The repository's tracked files, as a fresh clone has them (no _build, no artefacts)."""
    destination = tmp_path_factory.mktemp("clone")
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(destination / "book")], check=True)
    # Uncommitted work is tested too: the working tree's tracked files over the clone's.
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (destination / "book" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / "book" / name)
    return destination / "book"


def outputs_of(notebook) -> str:
    return "\n".join(str(output.get("text", "")) + str(output.get("data", {}).get("text/markdown", ""))
                     for cell in notebook.cells for output in cell.get("outputs", []))


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_chapter_opened_alone_runs_and_says_what_it_ran_itself(fresh_copy, chapter):
    interactive = fresh_copy / "_build" / "interactive"
    shutil.rmtree(interactive, ignore_errors=True)  # nothing from a chapter opened before this one
    notebook = nbformat.read(fresh_copy / "notebooks" / f"{chapter}.ipynb", as_version=4)
    env_before = dict(os.environ)
    os.environ["PYTHONPATH"] = str(fresh_copy)  # the kernel imports the copy's eep_utils, as a checkout would
    started = time.perf_counter()
    try:
        NotebookClient(notebook, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(fresh_copy / "notebooks")}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    elapsed = time.perf_counter() - started
    shown = outputs_of(notebook)
    assert "Traceback" not in shown
    if chapter in READS_EARLIER:
        assert "ran here" in shown or "made here" in shown, \
            f"{chapter} alone did not say which earlier chapter it ran ({elapsed:.0f} s)"
