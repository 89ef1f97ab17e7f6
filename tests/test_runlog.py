"""What each chatbot did in a build: counts written per chapter and experiment, read back, and summarised."""
import json

import pytest

from local_openai_server import LocalOpenAIServer
from eep_utils.chat import runlog
from eep_utils.chat.client import OpenAIChatbot
from eep_utils.chat.recording import RecordingTeacher, ReplayTeacher
from eep_utils.chat.running import complete, complete_all
from eep_utils.chat.transcripts import TranscriptStore
from eep_utils.chat.types import ChatRequest, TranscriptMiss


def question(i: int) -> ChatRequest:
    return ChatRequest.from_messages([{"role": "user", "content": f"state {i}"}], max_tokens=2)


@pytest.fixture
def fresh_log(monkeypatch, tmp_path):
    monkeypatch.setattr(runlog, "_COUNTERS", {})
    artifacts = tmp_path / "artifacts"
    monkeypatch.setenv(runlog.USAGE_DIR_VARIABLE, str(artifacts / "usage" / "02_teacher_rollouts"))
    return artifacts


def test_each_chatbots_counts_are_written_per_chapter_and_experiment_and_summarised(fresh_log, tmp_path):
    path = tmp_path / "local-model" / "cartpole-newton-bounded.jsonl"
    with LocalOpenAIServer() as server:
        server.queue("429", "malformed")
        live = RecordingTeacher(OpenAIChatbot("local-model", base_url=server.base_url, timeout=5), TranscriptStore(path))
        complete_all(live, [question(i) for i in range(3)], max_in_flight=1)
    replay = ReplayTeacher(TranscriptStore(path), "local-model")
    complete_all(replay, [question(i) for i in range(3)])
    with pytest.raises(TranscriptMiss):
        complete(replay, question(9))

    report = json.loads((fresh_log / "usage" / "02_teacher_rollouts" / "cartpole-newton-bounded.json").read_text())
    counts = report["chatbots"]["local-model"]
    assert report["chapter"] == "02_teacher_rollouts" and report["experiment"] == "cartpole-newton-bounded"
    assert (counts["answers"], counts["replayed"], counts["asked"], counts["misses"]) == (6, 3, 3, 1)
    assert counts["http_requests"] == 5 and counts["retries"] == {"429": 1, "5xx": 0, "timeout/connection": 0,
                                                                  "malformed": 1}
    assert counts["failures"] == 0 and counts["billed_requests"] == 4

    table = runlog.load_usage(fresh_log)
    assert table[["chapter", "experiment", "model", "answers", "retries 429"]].values.tolist() == [
        ["02_teacher_rollouts", "cartpole-newton-bounded", "local-model", 6, 1]]
    assert runlog.summary_lines(fresh_log) == [
        f"[02_teacher_rollouts] local-model: 6 answers (3 replayed, 3 asked in 5 HTTP requests; retries: 429 ×1, "
        f"malformed ×1; failures: 0; budget: 4 billed requests, {counts['budget_tokens']:,} tokens; "
        f"1 not recorded)"]


def test_nothing_is_written_outside_a_build(monkeypatch, tmp_path):
    monkeypatch.setattr(runlog, "_COUNTERS", {})
    monkeypatch.delenv(runlog.USAGE_DIR_VARIABLE, raising=False)
    replay = ReplayTeacher(TranscriptStore(tmp_path / "m" / "x.jsonl"), "m")
    assert runlog.write("x") is None and runlog.experiment_report("x")["chatbots"]["m"]["answers"] == 0
    assert runlog.load_usage(tmp_path).empty and runlog.summary_lines(tmp_path) == []
    assert replay.is_chatbot
