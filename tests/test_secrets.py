"""The API key reaches the endpoint and nothing else: not transcripts, episode files, logs or error messages."""
import logging

import pytest

from local_openai_server import LocalOpenAIServer
from eep_utils.cartpole.teaching import BoundedHistoryProtocol, run_cartpole_teacher
from eep_utils.cartpole.stand_in import RuleStandIn
from eep_utils.chat.client import find_secret, OpenAIChatbot, scrub
from eep_utils.chat.running import complete
from eep_utils.chat.teachers import make_teacher
from eep_utils.chat.types import ChatbotError, ChatRequest
from eep_utils.chat.batch import export_batch
from eep_utils.personas import Voice

# Assembled at run time so that no key-shaped string is ever committed (a secret scanner would flag it).
DUMMY_KEY = "sk-" + "test-DUMMY-0123456789abcdefABCDEF"


def test_find_secret_scans_files_and_folders(tmp_path):
    (tmp_path / "book" / "_static").mkdir(parents=True)
    (tmp_path / "book" / "page.html").write_text("<p>nothing here</p>")
    (tmp_path / "book" / "_static" / "blob.bin").write_bytes(b"\x00\x01" + DUMMY_KEY.encode() + b"\xff")
    (tmp_path / "notebook.ipynb").write_text('{"outputs": ["sk-test-DUMMY"]}')
    assert find_secret([tmp_path / "book", tmp_path / "notebook.ipynb"], DUMMY_KEY) == [
        tmp_path / "book" / "_static" / "blob.bin"]
    with pytest.raises(ValueError, match="at least 8"):
        find_secret([tmp_path], "sk-")


def test_key_is_used_but_never_written(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", DUMMY_KEY)
    monkeypatch.setenv("EEP_CHATBOT_MODEL", "local-model")
    log_file = tmp_path / "run.log"
    handler = logging.FileHandler(log_file)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # the SDK's and httpx's debug logs included
    try:
        with LocalOpenAIServer() as server:
            monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
            teacher = make_teacher("auto", stand_in=RuleStandIn("newton"), experiment="cartpole",
                                   transcripts_dir=tmp_path / "transcripts")
            episodes = run_cartpole_teacher(teacher, Voice("newton", "you-are", 1), BoundedHistoryProtocol(turns=2), 3,
                                            seed=0)
            episodes.save(tmp_path / "episodes")
            server.queue("500", "500", "500", "500", "500", "500")
            with pytest.raises(ChatbotError) as failure:
                complete(OpenAIChatbot("local-model", max_retries=1), ChatRequest.from_messages(
                    [{"role": "user", "content": "state"}]))
        (tmp_path / "error.txt").write_text(str(failure.value) + repr(failure.value) + teacher.label
                                            + str(episodes.metadata))
        export_batch([ChatRequest.from_messages([{"role": "user", "content": "x"}])], "local-model",
                     tmp_path / "batch.jsonl")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    assert server.headers[0]["authorization"] == f"Bearer {DUMMY_KEY}"  # the key did reach the endpoint
    assert (tmp_path / "transcripts" / "local-model" / "cartpole.jsonl").stat().st_size > 0
    assert log_file.stat().st_size > 0
    assert find_secret([tmp_path], DUMMY_KEY) == []


def test_error_messages_are_scrubbed(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", DUMMY_KEY)
    assert scrub(f"Incorrect API key provided: {DUMMY_KEY}.") == "Incorrect API key provided: [OPENAI_API_KEY]."
