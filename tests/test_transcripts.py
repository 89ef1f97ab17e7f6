"""Transcripts: record then replay, misses and their causes, damaged lines, integrity of sealed recordings
(manifest hash, per-record digest), kill -9 and resume, and the Batch API round trip."""
import collections
import gzip
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from local_openai_server import LocalOpenAIServer

from eep_utils.chat.batch import export_batch, import_batch
from eep_utils.chat.client import OpenAIChatbot
from eep_utils.chat.parsing import parse_choice
from eep_utils.chat.recording import RecordingTeacher, ReplayTeacher
from eep_utils.chat.running import complete, complete_all
from eep_utils.chat.transcripts import (
    TranscriptStore,
    exchange_record,
    request_key,
    reseal,
)
from eep_utils.chat.types import (
    DAMAGED_RECORD,
    NEW_REQUEST,
    OTHER_MODEL,
    ChatAnswer,
    ChatRequest,
    ContextLengthExceeded,
    TranscriptError,
    TranscriptMiss,
)
from eep_utils.record import seal_all

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def question(i: int) -> ChatRequest:
    return ChatRequest.from_messages([{"role": "system", "content": "Answer left or right."},
                                      {"role": "user", "content": f"state {i}"}], max_tokens=2)


@pytest.fixture
def server():
    with LocalOpenAIServer() as running:
        yield running


def recorder(server, path) -> RecordingTeacher:
    return RecordingTeacher(OpenAIChatbot("local-model", base_url=server.base_url, timeout=5), TranscriptStore(path))


def test_request_key_depends_on_model_messages_and_settings():
    base = request_key("m", question(1))
    assert base == request_key("m", question(1))
    assert len({base, request_key("other", question(1)), request_key("m", question(2)),
                request_key("m", ChatRequest(question(1).messages, max_tokens=5)),
                request_key("m", ChatRequest(question(1).messages, max_tokens=2, logprobs=True))}) == 5


def test_record_then_replay_gives_identical_answers_without_calls(server, tmp_path):
    path = tmp_path / "t.jsonl"
    live = recorder(server, path)
    recorded = complete_all(live, [question(i) for i in range(20)])
    assert len(server.received) == 20 and live.label == "local-model at " + live.chatbot.endpoint + " (live, recorded)"
    replay = ReplayTeacher(TranscriptStore(path), "local-model")
    replayed = complete_all(replay, [question(i) for i in reversed(range(20))])[::-1]
    assert [a.text for a in replayed] == [a.text for a in recorded] and all(a.replayed for a in replayed)
    assert [parse_choice(a.text) for a in replayed] == [parse_choice(a.text) for a in recorded]
    assert len(server.received) == 20 and replay.usage.replayed == 20
    # Concurrent answers are written in completion order, so the record is found by its key, not its line.
    lines = [json.loads(text) for text in path.read_text().splitlines()]
    assert len(lines) == 20
    line = next(record for record in lines if record["key"] == request_key("local-model", question(0)))
    assert line["request"]["messages"] == question(0).openai_messages() and line["request"]["max_tokens"] == 2
    assert {"text", "model", "system_fingerprint", "prompt_tokens", "completion_tokens", "latency_s"} <= line["answer"].keys()
    assert line["answer"]["system_fingerprint"] == "fp_local" and line["endpoint"].startswith("127.0.0.1:")


def test_recording_asks_only_what_is_missing(server, tmp_path):
    path = tmp_path / "t.jsonl"
    complete_all(recorder(server, path), [question(i) for i in range(5)])
    complete_all(recorder(server, path), [question(i) for i in range(8)])
    assert len(server.received) == 8 and len(TranscriptStore(path)) == 8


def test_identical_requests_in_flight_are_sent_once(server, tmp_path):
    complete_all(recorder(server, tmp_path / "t.jsonl"), [question(1)] * 6, max_in_flight=6)
    assert len(server.received) == 1


def test_replay_miss_names_the_request_and_how_to_record_it(tmp_path):
    store = TranscriptStore(tmp_path / "t.jsonl")
    store.append(exchange_record("m", question(1), ChatAnswer("left", "m"), "x"))
    with pytest.raises(TranscriptMiss, match=r"'state 2'.*never recorded.*python -m eep_utils.record.*EEP_CHATBOT_MODEL"
                       ) as miss:
        complete(ReplayTeacher(store, "m"), question(2))
    assert miss.value.cause == NEW_REQUEST
    with pytest.raises(TranscriptMiss, match="recorded under another model: m ") as miss:
        complete(ReplayTeacher(store, "another-model"), question(1))
    assert miss.value.cause == OTHER_MODEL


def test_a_miss_says_which_other_models_folder_holds_the_request(tmp_path):
    root = tmp_path / "transcripts"
    TranscriptStore(root / "gpt-4o-mini" / "t.jsonl").append(
        exchange_record("gpt-4o-mini", question(1), ChatAnswer("left", "gpt-4o-mini"), "x"))
    mine = TranscriptStore(root / "SmolLM2" / "t.jsonl")
    mine.append(exchange_record("SmolLM2", question(2), ChatAnswer("left", "SmolLM2"), "x"))
    teacher = ReplayTeacher(TranscriptStore(root / "SmolLM2" / "t.jsonl"), "SmolLM2", transcripts_dir=root)
    with pytest.raises(TranscriptMiss, match=r"recorded under another model: gpt-4o-mini \(in .*gpt-4o-mini\)") as miss:
        complete(teacher, question(1))
    assert miss.value.cause == OTHER_MODEL and teacher.usage.misses == 1
    with pytest.raises(TranscriptMiss, match="never recorded") as miss:
        complete(teacher, question(3))
    assert miss.value.cause == NEW_REQUEST


def test_a_miss_on_a_damaged_working_record_names_its_line(tmp_path):
    path = tmp_path / "t.jsonl"
    _write_three(path)
    _damage_line(path, 2, lambda record: record["answer"].__setitem__("text", "answer X"))  # digest no longer fits
    with pytest.raises(TranscriptMiss, match=r"recorded, but its record \(.*t.jsonl:2\) is damaged") as miss:
        complete(ReplayTeacher(TranscriptStore(path), "m"), question(1))
    assert miss.value.cause == DAMAGED_RECORD


def test_failed_exchange_is_not_recorded(server, tmp_path):
    path = tmp_path / "t.jsonl"
    server.queue("context")
    with pytest.raises(ContextLengthExceeded):
        complete(recorder(server, path), question(1))
    assert not path.exists() or path.read_text() == ""


def _write_three(path):
    store = TranscriptStore(path)
    for i in range(3):
        store.append(exchange_record("m", question(i), ChatAnswer(f"answer {i}", "m"), "x"))


def test_truncated_last_line_is_skipped_with_a_warning_and_recording_continues(tmp_path, caplog):
    path = tmp_path / "t.jsonl"
    _write_three(path)
    data = path.read_bytes()
    path.write_bytes(data[:-40])  # a kill in the middle of the third line
    with caplog.at_level(logging.WARNING):
        store = TranscriptStore(path)
    assert len(store) == 2 and store.skipped_lines == ["t.jsonl:3"] and "cut short" in caplog.text
    store.append(exchange_record("m", question(7), ChatAnswer("answer 7", "m"), "x"))
    again = TranscriptStore(path)  # the new line starts on a line of its own
    assert len(again) == 3 and again.get(request_key("m", question(7)))["answer"]["text"] == "answer 7"


def test_corrupted_middle_line_is_skipped_and_nothing_else_lost(tmp_path, caplog):
    path = tmp_path / "t.jsonl"
    _write_three(path)
    lines = path.read_text().splitlines()
    lines[1] = lines[1][:30] + "\x00garbage" + lines[1][30:]
    path.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        store = TranscriptStore(path)
    assert len(store) == 2 and store.skipped_lines == ["t.jsonl:2"] and f"{path}:2 is damaged" in caplog.text
    assert [store.get(request_key("m", question(i)))["answer"]["text"] for i in (0, 2)] == ["answer 0", "answer 2"]
    with pytest.raises(TranscriptError, match=":2 is damaged"):
        TranscriptStore(path, strict=True)


def _damage_line(path, number, change):
    lines = path.read_text().splitlines()
    record = json.loads(lines[number - 1])
    change(record)
    lines[number - 1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


def _flip_a_key_digit(record):
    record["key"] = record["key"][:5] + ("0" if record["key"][5] != "0" else "1") + record["key"][6:]


def test_a_record_whose_key_is_not_its_request_is_skipped_with_its_file_and_line(tmp_path, caplog):
    path = tmp_path / "t.jsonl"
    _write_three(path)
    _damage_line(path, 2, _flip_a_key_digit)  # still valid JSON; filed under the wrong key before this check
    with caplog.at_level(logging.WARNING):
        store = TranscriptStore(path)
    assert len(store) == 2 and store.skipped_lines == ["t.jsonl:2"]
    assert f"{path}:2 is damaged: its key" in caplog.text and "edited or damaged" in caplog.text
    assert request_key("m", question(1)) not in store  # asked again when recording, not replayed wrongly
    with pytest.raises(TranscriptError, match=r":2 is damaged: its key"):
        TranscriptStore(path, strict=True)


def test_a_renamed_field_names_the_field_the_file_and_the_line(tmp_path, caplog):
    path = tmp_path / "t.jsonl"
    _write_three(path)
    _damage_line(path, 3, lambda record: record["request"].__setitem__("modle", record["request"].pop("model")))
    with caplog.at_level(logging.WARNING):
        store = TranscriptStore(path)
    assert len(store) == 2 and f"{path}:3 is damaged" in caplog.text and "'model'" in caplog.text


def test_sealing_compresses_reproducibly_writes_a_manifest_and_keeps_every_exchange(tmp_path):
    path = tmp_path / "t.jsonl"
    _write_three(path)
    (tmp_path / "again").mkdir()
    lines = path.read_text().splitlines()
    (tmp_path / "again" / "t.jsonl").write_text("\n".join(reversed(lines)) + "\n")  # the same exchanges, other order
    sealed = TranscriptStore(path).seal({"m": {"model_sha256": "abc", "server": "test"}})
    assert sealed.name == "t.jsonl.gz" and not path.exists()
    manifest = json.loads((tmp_path / "t.manifest.json").read_text())
    assert manifest["exchanges"] == 3 and manifest["exchanges_by_model"] == {"m": 3}
    assert manifest["models"] == {"m": {"model_sha256": "abc", "server": "test"}}
    assert manifest["sha256"] == hashlib.sha256(sealed.read_bytes()).hexdigest()
    first_bytes = sealed.read_bytes()
    replayed = TranscriptStore(path)
    assert [replayed.get(request_key("m", question(i)))["answer"]["text"] for i in range(3)] == [f"answer {i}" for i in range(3)]
    replayed.append(exchange_record("m", question(7), ChatAnswer("answer 7", "m"), "x"))  # a later miss, recorded
    both = TranscriptStore(path)
    assert len(both) == 4 and path.exists() and both.where(request_key("m", question(0))).startswith("t.jsonl.gz:")
    both.seal()
    assert len(TranscriptStore(path)) == 4 and json.loads((tmp_path / "t.manifest.json").read_text())["models"]["m"]
    assert TranscriptStore(tmp_path / "again" / "t.jsonl").seal().read_bytes() == first_bytes  # same exchanges, same bytes


def test_a_damaged_sealed_file_names_itself_and_the_fix(tmp_path):
    path = tmp_path / "t.jsonl"
    _write_three(path)
    sealed = TranscriptStore(path).seal()
    sealed.write_bytes(sealed.read_bytes()[:30])
    with pytest.raises(TranscriptError, match=r"t.jsonl.gz is damaged.*git checkout"):
        TranscriptStore(path)


RECORDING_SCRIPT = textwrap.dedent("""
    from eep_utils.chat.client import OpenAIChatbot
    from eep_utils.chat.running import complete_all
    from eep_utils.chat.types import ChatRequest
    from eep_utils.chat.recording import RecordingTeacher
    from eep_utils.chat.transcripts import TranscriptStore
    requests = [ChatRequest.from_messages([{{"role": "system", "content": "Answer left or right."}},
                                           {{"role": "user", "content": f"state {{i}}"}}], max_tokens=2)
                for i in range({n})]
    teacher = RecordingTeacher(OpenAIChatbot("local-model", base_url={base_url!r}, timeout=5),
                               TranscriptStore({path!r}))
    complete_all(teacher, requests, max_in_flight=4)
""")


def test_kill_9_during_recording_then_resume_loses_nothing(tmp_path):
    path, n = tmp_path / "t.jsonl", 400
    with LocalOpenAIServer(latency_s=0.01) as server:
        script = RECORDING_SCRIPT.format(root=ROOT, n=n, base_url=server.base_url, path=str(path))
        process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT,  # `-c` imports this checkout from cwd
                                   env={**os.environ, "OPENAI_API_KEY": "sk-test"})
        deadline = time.monotonic() + 60
        while (not path.exists() or path.read_bytes().count(b"\n") < 30) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        lines_at_kill = path.read_bytes().count(b"\n")
        assert 30 <= lines_at_kill < n, "the kill came too late to test anything"
        kept = TranscriptStore(path)
        recorded_before = {record["key"]: record["answer"]["text"] for record in kept.records()}
        assert len(recorded_before) >= lines_at_kill - 1  # at most the exchange being written is lost
        asked_before = len(server.received)

        resumed = RecordingTeacher(OpenAIChatbot("local-model", base_url=server.base_url, timeout=5),
                                   TranscriptStore(path))
        answers = complete_all(resumed, [question(i) for i in range(n)], max_in_flight=4)
    # Counted by content, not by arrival position: a request the killed run had in flight may reach the
    # server after the kill, and it is for an exchange that was not recorded.
    asked = collections.Counter(request_key(body["model"], ChatRequest.from_messages(body["messages"], max_tokens=2))
                                for body in server.received if "messages" in body)  # not one cut off by the kill
    assert all(asked[key] == 1 for key in recorded_before)  # nothing recorded is asked again
    assert set(asked) == {request_key("local-model", question(i)) for i in range(n)}
    assert len(server.received) > asked_before
    final = TranscriptStore(path)
    assert len(final) == n and final.skipped_lines == kept.skipped_lines
    assert all(final.get(key)["answer"]["text"] == text for key, text in recorded_before.items())
    assert len(answers) == n


def test_batch_export_and_import_round_trip(tmp_path):
    store = TranscriptStore(tmp_path / "t.jsonl")
    store.append(exchange_record("m", question(0), ChatAnswer("left", "m"), "x"))
    requests = [question(i) for i in range(4)] + [question(3)]
    exported = export_batch(requests, "m", tmp_path / "batch_in.jsonl", store=store)
    lines = [json.loads(line) for line in (tmp_path / "batch_in.jsonl").read_text().splitlines()]
    assert exported == 3 and {line["url"] for line in lines} == {"/v1/chat/completions"}
    assert lines[0]["method"] == "POST" and lines[0]["body"]["model"] == "m"
    assert lines[0]["custom_id"] == request_key("m", question(1)) and lines[0]["body"]["max_tokens"] == 2

    server = LocalOpenAIServer()  # only to build realistic completion bodies; not started
    outputs = []
    for line, answer in zip(lines, ["right", "left", None]):
        if answer is None:
            outputs.append({"id": "batch_req_3", "custom_id": line["custom_id"], "response": None,
                            "error": {"code": "server_error", "message": "failed"}})
        else:
            outputs.append({"id": "batch_req", "custom_id": line["custom_id"], "error": None,
                            "response": {"status_code": 200, "request_id": "r",
                                         "body": server.completion(line["body"], answer)}})
    outputs.append({"custom_id": "not-in-input", "response": {"status_code": 200, "body": {}}, "error": None})
    (tmp_path / "batch_out.jsonl").write_text("\n".join(json.dumps(o) for o in reversed(outputs)) + "\n")
    server._server.server_close()

    counts = import_batch(tmp_path / "batch_in.jsonl", tmp_path / "batch_out.jsonl", store)
    assert counts == {"imported": 2, "already_recorded": 0, "failed": 1, "unmatched": 1}
    replay = ReplayTeacher(TranscriptStore(tmp_path / "t.jsonl"), "m")
    assert [complete(replay, question(i)).text for i in range(3)] == ["left", "right", "left"]
    assert export_batch(requests, "m", tmp_path / "again.jsonl", store=store) == 1  # only the failed one is left


# --- integrity of sealed recordings ------------------------------------------------------------------

def _sealed_three(tmp_path):
    path = tmp_path / "t.jsonl"
    _write_three(path)
    TranscriptStore(path).seal()
    return path, tmp_path / "t.jsonl.gz", tmp_path / "t.manifest.json"


def test_every_record_carries_a_digest_of_its_request_and_answer(tmp_path):
    path, sealed, _ = _sealed_three(tmp_path)
    records = [json.loads(line) for line in gzip.decompress(sealed.read_bytes()).decode().splitlines()]
    assert all(len(record["digest"]) == 64 and record["format"] == 3 for record in records)
    assert len(TranscriptStore(path, strict=True)) == 3


def test_a_zeroed_manifest_hash_stops_the_replay_naming_the_file_and_the_fix(tmp_path):
    path, sealed, manifest_file = _sealed_three(tmp_path)
    manifest = json.loads(manifest_file.read_text())
    manifest_file.write_text(json.dumps({**manifest, "sha256": "0" * 64}))
    with pytest.raises(TranscriptError, match=r"t.jsonl.gz does not match its manifest.*records 0000000000000000"
                       r".*git checkout -- \S*t.jsonl.gz \S*t.manifest.json.*or record it again"):
        TranscriptStore(path)
    manifest_file.unlink()
    with pytest.raises(TranscriptError, match=r"t.jsonl.gz has no manifest.*git checkout --"):
        TranscriptStore(path)


def _rewrite_sealed(sealed, change):
    lines = gzip.decompress(sealed.read_bytes()).decode().splitlines()
    lines = change(lines)
    sealed.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))


def test_one_letter_changed_in_a_recorded_answer_stops_with_file_line_and_restore_command(tmp_path):
    path, sealed, manifest_file = _sealed_three(tmp_path)
    _rewrite_sealed(sealed, lambda lines: [line.replace('"text":"answer 1"', '"text":"answer l"') for line in lines])
    number = next(i for i, line in enumerate(gzip.decompress(sealed.read_bytes()).decode().splitlines(), 1)
                  if "answer l" in line)
    expected = rf"t.jsonl.gz:{number} \(line {number} of the decompressed recording\) is damaged: its request or " \
               r"answer was changed after it was recorded.*git checkout -- \S*t.jsonl.gz"
    with pytest.raises(TranscriptError, match=expected):
        TranscriptStore(path)
    # Even with the manifest's hash made to fit, the record's own digest names the line.
    manifest = json.loads(manifest_file.read_text())
    manifest_file.write_text(json.dumps({**manifest, "sha256": hashlib.sha256(sealed.read_bytes()).hexdigest()}))
    with pytest.raises(TranscriptError, match=expected):
        TranscriptStore(path)


def test_a_sealed_file_changed_without_a_damaged_line_is_caught_by_its_manifest(tmp_path):
    path, sealed, _ = _sealed_three(tmp_path)
    _rewrite_sealed(sealed, lambda lines: lines[:2])  # a record removed: every remaining line is sound
    with pytest.raises(TranscriptError, match="does not match its manifest"):
        TranscriptStore(path)


def test_a_recording_sealed_before_digests_is_refused_until_resealed_and_keeps_its_answers(tmp_path):
    path, sealed, manifest_file = _sealed_three(tmp_path)
    def legacy(lines):
        return [json.dumps({key: value for key, value in {**json.loads(line), "format": 2}.items() if key != "digest"},
                           separators=(",", ":"), ensure_ascii=False) for line in lines]
    _rewrite_sealed(sealed, legacy)
    manifest = json.loads(manifest_file.read_text())
    manifest_file.write_text(json.dumps({**manifest, "sha256": hashlib.sha256(sealed.read_bytes()).hexdigest()}))
    before = {json.loads(line)["key"]: json.loads(line) for line in gzip.decompress(sealed.read_bytes()).decode().splitlines()}
    with pytest.raises(TranscriptError, match=r"has no digest \(written in format 2.*python -m eep_utils.record --reseal"):
        TranscriptStore(path)
    assert reseal(path) == (3, 3)
    store = TranscriptStore(path, strict=True)
    assert {key: (record["request"], record["answer"], record["time"]) for key, record in before.items()} == \
        {record["key"]: (record["request"], record["answer"], record["time"]) for record in store.records()}


def test_the_committed_recordings_match_their_manifests_and_every_record_its_digest():
    folders = sorted(path for path in (Path(ROOT) / "data" / "transcripts").iterdir() if path.is_dir())
    assert [folder.name for folder in folders] == ["SmolLM2-135M-Instruct-Q4_1"]
    sealed = sorted(folders[0].glob("*.jsonl.gz"))
    # Every chatbot chapter's recording, each sealed, and nothing else.
    assert {path.name.removesuffix(".jsonl.gz") for path in sealed} == {
        "02_teacher_rollouts", "04_students", "05_ellm_rewards", "06_personality"}
    for path in sealed:
        store = TranscriptStore(path.with_suffix("").with_suffix(".jsonl"), strict=True)
        manifest = json.loads(path.with_suffix("").with_suffix(".manifest.json").read_text())
        assert len(store) == manifest["exchanges"] and store.models() == ["SmolLM2-135M-Instruct-Q4_1"]


def test_sealing_a_models_folder_seals_each_working_file_with_its_provenance(tmp_path):
    folder = tmp_path / "SmolLM2"
    _write_three(folder / "cartpole-newton-bounded.jsonl")
    _write_three(folder / "ellm-goals.jsonl")
    assert seal_all({"m": {"server": "llama.cpp (test)"}}, folder) == [("cartpole-newton-bounded", 3), ("ellm-goals", 3)]
    assert sorted(path.name for path in folder.iterdir()) == [
        "cartpole-newton-bounded.jsonl.gz", "cartpole-newton-bounded.manifest.json", "ellm-goals.jsonl.gz",
        "ellm-goals.manifest.json"]
    assert json.loads((folder / "ellm-goals.manifest.json").read_text())["models"] == {"m": {"server": "llama.cpp (test)"}}
    assert len(TranscriptStore(folder / "ellm-goals.jsonl", strict=True)) == 3
