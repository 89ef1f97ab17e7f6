"""The local chatbot for real: SmolLM2-135M-Instruct on llama.cpp's OpenAI-compatible server on 127.0.0.1.

These tests start the real server (requirements-record.txt, which the test command installs) and ask
it through the same OpenAI SDK path as any endpoint. The model file's checks need no server.
"""
import json
import math
import os
import signal
import threading
import time

import numpy as np
import pytest

from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.teaching import BoundedHistoryProtocol, initial_messages, run_cartpole_teacher
from eep_utils.chat import local
from eep_utils.chat.local import LocalChatbot, LocalModelError, LocalServer, local_model
from eep_utils.chat.parsing import agrees_with, choice_probabilities
from eep_utils.chat.recording import RecordingTeacher
from eep_utils.chat.running import complete, complete_all
from eep_utils.chat.teachers import model_folder
from eep_utils.chat.transcripts import TranscriptStore, request_key, request_of_record
from eep_utils.chat.types import ChatRequest
from eep_utils.personas import Voice

NEWTON = Voice("newton", "you-are", 1)  # the 2023 study's prompt
INSTALL = "python -m pip install -r requirements-record.txt; the test command installs it"
# Elsewhere these tests skip without llama.cpp's server; in CI that would pass with none of them run.
pytestmark = pytest.mark.skipif(not local.server_installed() and not os.environ.get("CI"),
                                reason=f"llama-cpp-python is not installed ({INSTALL})")

YES_NO = 'root ::= "yes" | "no"'


def test_llama_cpp_is_installed():
    assert local.server_installed(), f"CI is set and llama-cpp-python is not installed ({INSTALL})"


# --- the model file ----------------------------------------------------------------------------------

def test_the_packaged_model_is_found_and_its_hash_checked():
    model = local_model()
    assert model.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and model.sha256 == local.PACKAGED_SHA256


def test_a_damaged_packaged_model_names_the_file_and_the_fix(monkeypatch):
    monkeypatch.setattr(local, "PACKAGED_SHA256", "0" * 64)
    with pytest.raises(LocalModelError, match=r"SmolLM2-135M-Instruct.Q4_1.gguf has SHA-256 .*force-reinstall"):
        local_model()
    monkeypatch.setattr(local, "PACKAGED_SIZE", 1234)
    with pytest.raises(LocalModelError, match=r"is \d+ bytes, not 1234 \(truncated or replaced\).*force-reinstall"):
        local_model()


def test_a_model_setting_that_names_no_gguf_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("EEP_LOCAL_MODEL", str(tmp_path / "missing.gguf"))
    with pytest.raises(LocalModelError, match="EEP_LOCAL_MODEL=.*missing.gguf: no such file"):
        local_model()
    (tmp_path / "notes.gguf").write_text("not a model")
    monkeypatch.setenv("EEP_LOCAL_MODEL", str(tmp_path / "notes.gguf"))
    with pytest.raises(LocalModelError, match="not a GGUF model file"):
        local_model()


def test_a_server_that_cannot_start_says_why_with_its_log(tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)  # the magic, then nothing a loader can read
    server = LocalServer(local.LocalModel(broken, "broken", "x"), startup_timeout=60)
    with pytest.raises(LocalModelError, match="exited with code .* while starting; its log ends"):
        server.start()
    assert not server.alive()


# --- asking it -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chatbot():
    bot = LocalChatbot()
    yield bot
    bot.close()


def cartpole_request(observation, constrained=True) -> ChatRequest:
    protocol = BoundedHistoryProtocol(turns=0, constrained=constrained)
    messages = initial_messages(NEWTON) + [{"role": "user", "content": STUDY_2023.describe(observation)}]
    return ChatRequest.from_messages(messages, **protocol.request_settings())


def test_constrained_cartpole_answers_are_choices_with_consistent_log_probabilities(chatbot):
    observations = np.random.default_rng(0).normal(0, 0.2, size=(6, 4))
    answers = complete_all(chatbot, [cartpole_request(o) for o in observations], max_in_flight=2)
    chosen = [answer.text.strip().lower() for answer in answers]  # the grammar admits any casing and a space
    assert set(chosen) <= {"left", "right"}
    for answer, choice in zip(answers, chosen):
        probabilities = choice_probabilities(answer, choice)
        assert probabilities is not None and agrees_with(probabilities, choice)
        assert math.isclose(sum(probabilities.values()), 1.0)
    assert chatbot.server.alive() and chatbot.server.base_url.startswith("http://127.0.0.1:")
    # The port is the one the server bound and reported, not one chosen before it started.
    assert chatbot.server.port == int(local.LISTENING.search(chatbot.server.log.read_bytes()).group(1))


def test_a_judgment_constrained_to_yes_or_no_carries_its_probability(chatbot):
    request = ChatRequest.from_messages(
        [{"role": "system", "content": "You are a five-year-old child who loves fluffy animals."},
         {"role": "user", "content": "Is this creature cute? Answer yes or no.\nCaption: a tiny round fluffy kitten."}],
        max_tokens=2, logprobs=True, top_logprobs=10, grammar=YES_NO)
    answer = complete(chatbot, request)
    probabilities = choice_probabilities(answer, answer.text, ("yes", "no"))
    assert answer.text in ("yes", "no") and agrees_with(probabilities, answer.text)


def test_a_teacher_rollout_on_the_local_chatbot_records_soft_labels_that_agree_with_actions(chatbot, tmp_path):
    teacher = RecordingTeacher(chatbot, TranscriptStore(tmp_path / "t.jsonl"))
    episodes = run_cartpole_teacher(teacher, NEWTON, BoundedHistoryProtocol(turns=2, constrained=True),
                                    n_episodes=1, seed=2023, max_in_flight=1)
    decisions = episodes.decisions
    assert len(decisions) > 0 and set(decisions.status) == {"ok"} and episodes.is_chatbot
    assert decisions.p_right.notna().all()
    assert ((decisions.p_right >= 0.5) == (decisions.action == 1)).all()
    assert len(TranscriptStore(tmp_path / "t.jsonl")) == len(decisions)


def test_the_same_question_twice_gives_the_same_answer(chatbot):
    request = cartpole_request(np.array([0.0, 0.3, -0.02, -0.4]), constrained=False)
    first, second = complete(chatbot, request), complete(chatbot, request)
    assert first.text == second.text


# --- a server that dies ----------------------------------------------------------------------------

def test_a_server_killed_mid_run_gives_a_clear_error_loses_nothing_and_the_rerun_resumes(tmp_path):
    path = tmp_path / "t.jsonl"
    requests = [cartpole_request(o) for o in np.random.default_rng(1).normal(0, 0.2, size=(40, 4))]
    # A server of its own: the module's shared one, which other tests use, is not the one killed.
    bot = LocalChatbot(max_retries=0, server=LocalServer(local_model()))
    teacher = RecordingTeacher(bot, TranscriptStore(path))

    def kill_after_some_are_recorded():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if path.exists() and path.read_bytes().count(b"\n") >= 5:
                os.kill(bot.server.process.pid, signal.SIGKILL)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_after_some_are_recorded)
    killer.start()
    with pytest.raises(LocalModelError, match=r"stopped with code -9 during the run; exchanges recorded before are kept"):
        complete_all(teacher, requests, max_in_flight=2)
    killer.join()
    kept = TranscriptStore(path)
    distinct = len({request_key(bot.model, request) for request in requests})  # some states read the same
    assert 5 <= len(kept) < distinct and kept.skipped_lines == []
    answers_before = {record["key"]: record["answer"]["text"] for record in kept.records()}

    again = LocalChatbot()
    try:
        resumed = RecordingTeacher(again, TranscriptStore(path))
        complete_all(resumed, requests, max_in_flight=2)
        assert again.usage.requests == distinct - len(kept)  # only the missing ones were asked
    finally:
        again.close()
    final = TranscriptStore(path)
    assert len(final) == distinct
    assert all(final.get(key)["answer"]["text"] == text for key, text in answers_before.items())


# --- the committed recordings, re-asked ------------------------------------------------------------

def test_a_sample_of_the_committed_recordings_is_answered_the_same_when_asked_again(chatbot, tmp_path):
    """Re-asks 24 recorded exchanges of the local model: answers it was sure of come back the same, and
    an answer that changed was a near-tie.

    At temperature 0 llama.cpp is deterministic for one prompt on one build, but its arithmetic depends
    on the CPU's instruction set (AVX2 or AVX-512 kernels for the quantised weights) and on which
    prefix is cached, so log-probabilities move in the last digits, or by a few tenths of a nat deep in
    the tail, where a grammar's yes and no often both sit near -5.5. Two nearly equal words can then
    swap. A different model, template or setting moves log-probabilities by whole nats and changes
    answers the model was sure of, which fails here. The counts are printed and kept in the test's
    temporary folder."""
    folder = model_folder(chatbot.model)
    sealed = sorted(folder.glob("*.jsonl.gz"))
    records = [record for path in sealed for record in TranscriptStore(path.with_suffix("").with_suffix(".jsonl")).records()
               if record["request"]["model"] == chatbot.model]
    assert records, (f"no committed recordings of {chatbot.model} in {folder}: the local model's name changed "
                     f"(EEP_LOCAL_MODEL?) or its recordings are missing; record them: python -m eep_utils.record")
    sample = [records[i] for i in np.random.default_rng(0).choice(len(records), size=min(24, len(records)), replace=False)]
    matches, largest_logprob_change, swaps = 0, 0.0, []
    for record in sample:
        _, request = request_of_record(record)
        answer = complete(chatbot, request)
        matches += answer.text == record["answer"]["text"]
        for now, then in zip(answer.logprobs or [], record["answer"].get("logprobs") or []):
            if now["token"] != then["token"]:
                # The first token that differs: how much likelier was the recorded word then than the
                # new word is now? Near zero for two words the model holds about equally likely.
                swaps.append({"then": then["token"], "now": now["token"],
                              "logprob_gap": abs(then["logprob"] - now["logprob"])})
                break
            largest_logprob_change = max(largest_logprob_change, abs(now["logprob"] - then["logprob"]))
    report = {"asked": len(sample), "same_text": matches, "largest_logprob_change": largest_logprob_change,
              "swapped_words": swaps}
    (tmp_path / "recording-check.json").write_text(json.dumps(report, indent=2))
    print(f"{tmp_path / 'recording-check.json'}: re-asked {len(sample)} recorded exchanges: {matches} answered the same; largest log-probability "
          f"change {largest_logprob_change:.4f}; swapped words {swaps}")
    assert largest_logprob_change < 1.0, report
    assert all(swap["logprob_gap"] < 0.5 for swap in swaps), report
    assert matches >= 2 / 3 * len(sample), report


def test_a_request_arriving_while_the_server_loads_waits_for_it(tmp_path):
    # A server of its own (other settings), caught between starting its process and opening its port:
    # a request then must wait for the port, not connect early and fail (it did, under load).
    bot = LocalChatbot(settings=local.ServerSettings(seed=7), max_retries=0)
    server = bot._server()
    starting = threading.Thread(target=server.start)
    starting.start()
    deadline = time.monotonic() + 60
    while server.process is None and time.monotonic() < deadline:
        time.sleep(0.001)
    try:
        assert not server.ready()
        answer = complete(bot, cartpole_request(np.zeros(4)))
    finally:
        starting.join()
        bot.close()
    assert answer.text in ("left", "right")
