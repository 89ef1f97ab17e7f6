"""A reader's own endpoint builds the whole quick and full book beside SmolLM2: one that answers as hosted models do
(capitalised, punctuated, no grammar, its own log-probability tokens), and one whose answers are all unusable.

Each build runs in a copy of the repository's tracked files (so the endpoint's recordings land in the copy's
`data/transcripts/<model>/`), against a local server on 127.0.0.1."""
import os
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import nbformat
import pytest

from conftest import DUMMY_KEY, ROOT
from local_openai_server import LocalOpenAIServer

CHATBOT_CHAPTERS = ("02_teacher_rollouts", "04_students", "05_ellm_rewards", "06_personality")
SMOLLM2 = "SmolLM2-135M-Instruct"


def copy_of_the_repository(destination):
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split("\0")
    for name in filter(None, tracked):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target)
    return destination


def built_against(style: str, model: str, folder, mode: str):
    """The quick or full book built in a copy of the repository against a local server answering in `style`."""
    checkout = copy_of_the_repository(folder)
    with LocalOpenAIServer(style=style) as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": DUMMY_KEY,
               "EEP_CHATBOT_MODEL": model, "PYTHONPATH": str(checkout)}
        build = subprocess.run([sys.executable, "-m", "eep_utils.build", *(["--quick"] if mode == "quick" else [])],
                               cwd=checkout, env=env, capture_output=True, text=True, timeout=3600)
    assert build.returncode == 0, f"the {mode} build against a {style} server failed:\n" \
                                  f"{build.stdout[-4000:]}\n{build.stderr[-4000:]}"
    return Built(checkout, build, mode)


class Built(typing.NamedTuple):
    checkout: Path
    build: subprocess.CompletedProcess
    mode: str


def page_text(built: Built, chapter: str) -> str:
    """What a chapter's executed notebook shows: its prose and its outputs."""
    notebook = nbformat.read(built.checkout / "_build" / built.mode / "book" / "notebooks" / f"{chapter}.ipynb", 4)
    parts = []
    for cell in notebook.cells:
        parts.append(cell.source)
        for output in cell.get("outputs", []):
            for value in output.get("data", {}).values():
                parts.append(value if isinstance(value, str) else str(value))
            parts.append(output.get("text", ""))
    return "\n".join(parts)


# Both books: the full one asks the endpoint about 8,800 requests (about 6 minutes on 2 cores).
@pytest.fixture(scope="module", params=["quick", "full"])
def hosted(request, tmp_path_factory):
    return built_against("hosted", "hosted-model", tmp_path_factory.mktemp("hosted"), request.param)


@pytest.fixture(scope="module", params=["quick", "full"])
def unusable(request, tmp_path_factory):
    return built_against("unusable", "useless-model", tmp_path_factory.mktemp("unusable"), request.param)


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHATBOT_CHAPTERS)
def test_a_hosted_style_endpoint_stands_beside_smollm2_in_every_chatbot_chapter(hosted, chapter):
    checkout = hosted.checkout
    text = page_text(hosted, chapter)
    assert "hosted-model" in text and SMOLLM2 in text, f"{chapter} does not show both chatbots"
    # The reader's recordings are the reader's own: beside the shipped ones, never in their place.
    assert list((checkout / "data" / "transcripts" / "hosted-model").glob("*.jsonl"))
    shipped = sorted(p.name for p in (ROOT / "data" / "transcripts").rglob("*") if p.is_file())
    assert sorted(p.name for p in (checkout / "data" / "transcripts").rglob("*")
                  if p.is_file() and "hosted-model" not in p.parts) == shipped


@pytest.mark.slow
def test_a_hosted_style_endpoints_answers_are_read(hosted):
    assert "not testable with this chatbot" not in page_text(hosted, "06_personality")


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHATBOT_CHAPTERS)
def test_an_endpoint_whose_answers_are_unusable_is_reported_not_tested(unusable, chapter):
    text = page_text(unusable, chapter)
    assert "useless-model" in text and SMOLLM2 in text
    assert "not testable with this chatbot" in text, f"{chapter} does not say its claims cannot be tested"
    assert "usable" in text
    assert (unusable.checkout / "_build" / unusable.mode / "_build" / "html" / "index.html").exists()
