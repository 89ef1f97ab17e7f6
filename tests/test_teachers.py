"""Parsers, run accounting, budget, the teacher settings and the offline persona judge."""
import json
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from eep_utils.chat.parsing import (agrees_with, choice_probabilities, Judgment, parse_choice, parse_judgment,
                                    within_length)
from eep_utils.chat.running import complete
from eep_utils.chat.teachers import available_chatbots, make_teacher, settings_problem
from eep_utils.chat.local import LocalChatbot, PACKAGED_ALIAS
from eep_utils.chat.types import BudgetExhausted, ChatAnswer, ChatRequest, TeacherSettingError, TranscriptMiss
from eep_utils.chat.usage import Budget, price_of, Usage
from eep_utils.personality.judge import PersonaJudgeStandIn
from eep_utils.cartpole.stand_in import RuleStandIn
from eep_utils.chat.recording import RecordingTeacher, ReplayTeacher
from eep_utils.chat.transcripts import exchange_record, TranscriptStore
from local_openai_server import LocalOpenAIServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("text, expected", [
    ("right", "right"), (" Right.", "right"), ("RIGHT", "right"), ("I push the cart right", "right"),
    ("left", "left"), ("\nLeft!", "left"), ("push-cart: left", "left"),
    ("left or right", None), ("", None), (None, None), ("I'm sorry, but I can't help with that.", None),
    ("I cannot push left", None), ("upright", None), ("rightwards", None), ("brightly", None), ("ri", None),
])
def test_parse_choice(text, expected):
    assert parse_choice(text) == expected


@given(st.sampled_from(["left", "right"]), st.sampled_from(["", " ", "\n"]), st.sampled_from(["", ".", "!", " "]),
       st.booleans())
def test_parse_choice_ignores_case_space_and_punctuation(word, before, after, upper):
    assert parse_choice(before + (word.upper() if upper else word.capitalize()) + after) == word


def test_parse_choice_other_choices():
    assert parse_choice("I'd go with B.", choices=("A", "B")) == "B"


@pytest.mark.parametrize("text, cute, score", [
    ('{"cute": true, "score": 7}', True, 7.0),
    ('```json\n{"cute": false, "score": 2}\n```', False, 2.0),
    ("{'cute': True, 'score': 8.5}", True, 8.5),
    ("{'cute': true, 'score': 3}", True, 3.0),
    ("Cute: yes, score 7/10", True, 7.0),
    ("Cute: no. Score: 1", False, 1.0),
    ("I would rate this puppy 9 out of 10.", None, 9.0),
    ('Sure! {"Cute": "yes", "Score": "6"} hope that helps', True, 6.0),
    ('{"cute": true, "score": 42}', True, None),
    ("I'd rather not say.", None, None),
    ("", None, None),
])
def test_parse_judgment(text, cute, score):
    assert parse_judgment(text) == Judgment(cute, score)


def tokens(*positions):
    """An answer's per-token log-probabilities: each position is (token, {alternative: probability})."""
    return [{"token": token, "logprob": math.log(alternatives[token]),
             "top_logprobs": [{"token": alt, "logprob": math.log(p)} for alt, p in alternatives.items()]}
            for token, alternatives in positions]


def test_choice_probabilities_pool_spellings_and_renormalise():
    answer = ChatAnswer("right", "m", logprobs=tokens(("right", {"right": 0.6, " Right": 0.1, "left": 0.2, "maybe": 0.1})))
    p = choice_probabilities(answer, "right")
    assert p["right"] == pytest.approx(0.7 / 0.9) and p["left"] == pytest.approx(0.2 / 0.9) and agrees_with(p, "right")


def test_choice_probabilities_are_read_where_the_choice_is_made():
    # The first token is not a choice; at it "right" is likely. The choice "left" is made at the fourth
    # token, where "left" is the more probable: the soft label must say left, as the answer does.
    answer = ChatAnswer("push-cart: left", "m", logprobs=tokens(
        ("push", {"push": 0.5, "right": 0.4}), ("-cart", {"-cart": 0.9}), (":", {":": 0.9}),
        (" left", {" left": 0.7, " right": 0.2})))
    p = choice_probabilities(answer, "left")
    assert p["left"] == pytest.approx(0.7 / 0.9) and agrees_with(p, "left")
    assert choice_probabilities(answer, "right") is None  # no token spells the choice: no probability
    assert choice_probabilities(ChatAnswer("left", "m"), "left") is None  # no log-probabilities given
    only_chosen = choice_probabilities(ChatAnswer("left", "m", logprobs=tokens(("left", {"left": 0.9, "up": 0.1}))), "left")
    assert only_chosen == {"left": 1.0, "right": 0.0}


def test_a_soft_label_that_contradicts_the_choice_is_flagged():
    assert not agrees_with({"left": 0.3, "right": 0.7}, "left") and agrees_with({"left": 0.5, "right": 0.5}, "left")


def test_an_answer_past_the_requested_length_is_not_within_it():
    request = ChatRequest.from_messages([{"role": "user", "content": "state"}], max_tokens=2)
    assert within_length(ChatAnswer("right", "m", completion_tokens=1), request)
    assert not within_length(ChatAnswer("x" * 11_000 + " right", "m", completion_tokens=2), request)  # ignored max_tokens
    assert not within_length(ChatAnswer("right", "m", completion_tokens=3000), request)
    assert within_length(ChatAnswer("x" * 500, "m"), ChatRequest.from_messages([{"role": "user", "content": "s"}]))


def test_usage_report_tokens_and_cost():
    usage = Usage()
    for _ in range(4):
        usage.add_answer(ChatAnswer("right", "gpt-4o-mini", prompt_tokens=1000, completion_tokens=1))
    usage.add_decision("ok", 0)
    usage.add_decision("retried", 1)
    usage.add_decision("fallback", 2)
    report = usage.report("gpt-4o-mini-2024-07-18")
    assert report["requests"] == 4 and report["tokens_per_request"] == 1001
    assert report["tokens_per_decision"] == pytest.approx(4004 / 3)
    assert report["estimated_cost_usd"] == pytest.approx((4000 * 0.15 + 4 * 0.60) / 1e6)
    assert (report["parse_failures"], report["retried"], report["fallbacks"]) == (3, 1, 1)
    unknown = usage.report("llama3.2:3b")
    assert unknown["estimated_cost_usd"] is None and "not estimated" in unknown["cost_note"]


def test_price_table_matches_families_and_dated_snapshots():
    assert price_of("gpt-4o-mini") != price_of("gpt-4o") and price_of("gpt-4.1-nano-2025-04-14") == price_of("gpt-4.1-nano")
    assert price_of("gpt-3.5-turbo-0125") == price_of("gpt-3.5-turbo") and price_of("gpt-4o-minimal") is None


def test_budget_stops_before_it_is_exceeded():
    request = ChatRequest.from_messages([{"role": "user", "content": "x" * 400}], max_tokens=2)
    budget = Budget(max_requests=2)
    for _ in range(2):
        budget.settle(budget.reserve(request), ChatAnswer("left", "m", 100, 1), answered=True)
    with pytest.raises(BudgetExhausted, match="request budget"):
        budget.reserve(request)
    tokens_budget = Budget(max_tokens=250)
    tokens_budget.settle(tokens_budget.reserve(request), ChatAnswer("left", "m", 100, 1), answered=True)  # 101 used
    tokens_budget.settle(tokens_budget.reserve(request), None, answered=False)  # never answered: costs nothing
    assert tokens_budget.tokens == 101 and tokens_budget.requests == 1
    with pytest.raises(BudgetExhausted, match="token budget"):
        Budget(max_tokens=50).reserve(request)


def test_an_unusable_answer_is_still_billed():
    request = ChatRequest.from_messages([{"role": "user", "content": "x" * 40}], max_tokens=2)
    budget = Budget(max_requests=1)
    budget.settle(budget.reserve(request), None, answered=True)  # a malformed 200 body
    assert budget.requests == 1
    with pytest.raises(BudgetExhausted):
        budget.reserve(request)


# --- settings ----------------------------------------------------------------------------------------

def _record(tmp_path, model=PACKAGED_ALIAS, experiment="cartpole"):
    store = TranscriptStore(tmp_path / model / f"{experiment}.jsonl")
    request = ChatRequest.from_messages([{"role": "user", "content": "state"}])
    store.append(exchange_record(model, request, ChatAnswer("left", model), "api.openai.com"))
    return request


@pytest.fixture
def no_endpoint(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EEP_CHATBOT_MODEL", "EEP_TEACHER", "EEP_LOCAL_MODEL"):
        monkeypatch.delenv(name, raising=False)


def test_invalid_setting_lists_the_valid_ones(tmp_path):
    with pytest.raises(TeacherSettingError, match="auto, local, live, replay, stand-in"):
        make_teacher("chatgpt", stand_in=RuleStandIn("newton"), experiment="cartpole", transcripts_dir=tmp_path)


def test_auto_replays_the_local_chatbots_recordings_and_never_becomes_the_stand_in(tmp_path, monkeypatch, no_endpoint):
    monkeypatch.setattr("eep_utils.chat.teachers.server_installed", lambda: False)  # the default build's install
    request = _record(tmp_path)
    teacher = make_teacher("auto", stand_in=RuleStandIn("newton"), experiment="cartpole", transcripts_dir=tmp_path)
    assert isinstance(teacher, ReplayTeacher) and teacher.is_chatbot
    assert teacher.label == f"{PACKAGED_ALIAS} (llama.cpp, local)" and complete(teacher, request).text == "left"
    changed = ChatRequest.from_messages([{"role": "user", "content": "a changed prompt"}])
    with pytest.raises(TranscriptMiss, match="python -m eep_utils.record"):
        complete(teacher, changed)
    empty = make_teacher("auto", stand_in=RuleStandIn("newton"), experiment="other", transcripts_dir=tmp_path)
    assert empty.is_chatbot  # no recording at all is a stop at the first question, not a stand-in


def test_auto_with_llama_cpp_installed_records_a_miss_with_the_local_chatbot(tmp_path, monkeypatch, no_endpoint):
    monkeypatch.setattr("eep_utils.chat.teachers.server_installed", lambda: True)
    teacher = make_teacher("auto", stand_in=RuleStandIn("newton"), experiment="cartpole", transcripts_dir=tmp_path)
    assert isinstance(teacher, RecordingTeacher) and isinstance(teacher.chatbot, LocalChatbot)
    assert teacher.model == PACKAGED_ALIAS and teacher.chatbot.server is None  # nothing started until a miss


def test_a_reader_can_name_another_gguf_and_it_becomes_the_model_name(tmp_path, monkeypatch, no_endpoint):
    monkeypatch.setenv("EEP_LOCAL_MODEL", str(tmp_path / "Qwen2.5-1.5B-Instruct-Q4_K_M.gguf"))
    teacher = make_teacher("local", stand_in=RuleStandIn("newton"), experiment="cartpole", transcripts_dir=tmp_path)
    assert teacher.model == "Qwen2.5-1.5B-Instruct-Q4_K_M" and "local" in teacher.label


def test_eep_teacher_replaces_auto_but_not_an_explicit_setting(tmp_path, monkeypatch, no_endpoint):
    stand_in = RuleStandIn("newton")
    monkeypatch.setenv("EEP_TEACHER", "stand-in")
    assert make_teacher("auto", stand_in=stand_in, experiment="cartpole", transcripts_dir=tmp_path) is stand_in
    monkeypatch.setenv("EEP_TEACHER", "local")
    assert make_teacher("stand-in", stand_in=stand_in, experiment="cartpole", transcripts_dir=tmp_path) is stand_in


def test_auto_goes_live_and_records_when_an_endpoint_is_set(tmp_path, monkeypatch, no_endpoint):
    monkeypatch.setenv("EEP_CHATBOT_MODEL", "llama3.2")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    teacher = make_teacher("auto", stand_in=RuleStandIn("newton"), experiment="cartpole", transcripts_dir=tmp_path)
    assert isinstance(teacher, RecordingTeacher) and not isinstance(teacher.chatbot, LocalChatbot)
    assert teacher.label == "llama3.2 at 127.0.0.1:9 (live, recorded)" and teacher.model == "llama3.2"


def test_live_and_replay_need_what_they_need(tmp_path, no_endpoint):
    with pytest.raises(TeacherSettingError, match="EEP_CHATBOT_MODEL"):
        make_teacher("live", stand_in=RuleStandIn("newton"), experiment="cartpole", transcripts_dir=tmp_path)
    with pytest.raises(TeacherSettingError, match="OPENAI_API_KEY"):
        make_teacher("live", stand_in=RuleStandIn("newton"), experiment="cartpole", model="m", transcripts_dir=tmp_path)
    with pytest.raises(TranscriptMiss, match="python -m eep_utils.record"):
        complete(make_teacher("replay", stand_in=RuleStandIn("newton"), experiment="cartpole", model="m",
                              transcripts_dir=tmp_path), ChatRequest.from_messages([{"role": "user", "content": "s"}]))
    with pytest.raises(TeacherSettingError, match="is_chatbot False"):
        make_teacher("stand-in", stand_in=object(), experiment="cartpole", transcripts_dir=tmp_path)


# --- recordings per chatbot: the model ladder ---------------------------------------------------------

def test_a_live_run_records_into_its_models_folder_and_never_touches_the_shipped_ones(tmp_path, monkeypatch,
                                                                                         no_endpoint):
    request = _record(tmp_path)
    shipped = {path.name: path.read_bytes() for path in (tmp_path / PACKAGED_ALIAS).iterdir()}
    with LocalOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("EEP_CHATBOT_MODEL", "llama3.2:3b")
        teacher = make_teacher("auto", stand_in=RuleStandIn("newton"), experiment="cartpole", transcripts_dir=tmp_path)
        complete(teacher, request)  # the very question SmolLM2 answered: asked again, of this model
    assert len(server.received) == 1
    assert TranscriptStore(tmp_path / "llama3.2_3b" / "cartpole.jsonl").models() == ["llama3.2:3b"]
    assert {path.name: path.read_bytes() for path in (tmp_path / PACKAGED_ALIAS).iterdir()} == shipped


def test_a_readers_working_recordings_are_ignored_by_git():
    ignored = subprocess.run(["git", "check-ignore", "-q", "data/transcripts/llama3.2_3b/cartpole-newton-bounded.jsonl"],
                             cwd=ROOT)
    assert ignored.returncode == 0


def test_available_chatbots_are_every_recorded_one_then_the_endpoint(tmp_path, monkeypatch, no_endpoint):
    monkeypatch.setattr("eep_utils.chat.teachers.server_installed", lambda: False)
    request = _record(tmp_path)
    _record(tmp_path, "gpt-3.5-turbo-0125")
    assert [(bot.model, bot.source) for bot in available_chatbots(tmp_path)] == [
        (PACKAGED_ALIAS, "recorded"), ("gpt-3.5-turbo-0125", "recorded")]
    monkeypatch.setenv("EEP_CHATBOT_MODEL", "llama3.2")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    chatbots = available_chatbots(tmp_path)
    assert [(bot.model, bot.source) for bot in chatbots] == [
        (PACKAGED_ALIAS, "recorded"), ("gpt-3.5-turbo-0125", "recorded"), ("llama3.2", "endpoint")]
    teachers = [bot.teacher("cartpole", RuleStandIn("newton")) for bot in chatbots]
    assert [teacher.model for teacher in teachers] == [PACKAGED_ALIAS, "gpt-3.5-turbo-0125", "llama3.2"]
    assert all(teacher.is_chatbot for teacher in teachers) and teachers[0].label.endswith("(llama.cpp, local)")
    assert [complete(teacher, request).text for teacher in teachers[:2]] == ["left", "left"]
    assert isinstance(teachers[2], RecordingTeacher)
    assert teachers[2].store.path == tmp_path / "llama3.2" / "cartpole.jsonl"
    monkeypatch.setenv("EEP_CHATBOT_MODEL", "gpt-3.5-turbo-0125")  # recorded and configured: listed once, live
    assert [(bot.model, bot.source) for bot in available_chatbots(tmp_path)] == [
        (PACKAGED_ALIAS, "recorded"), ("gpt-3.5-turbo-0125", "endpoint")]
    with pytest.raises(TeacherSettingError, match="is_chatbot False"):
        chatbots[0].teacher("cartpole", object())


def test_the_shipped_recordings_are_a_rung_of_the_ladder():
    assert [bot.model for bot in available_chatbots()][:1] == [PACKAGED_ALIAS]


@pytest.mark.parametrize("settings, problem", [
    ({"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}, "OPENAI_BASE_URL is set but EEP_CHATBOT_MODEL is not.*export "
                                                       "EEP_CHATBOT_MODEL="),
    ({"OPENAI_API_KEY": "sk-anything"}, "OPENAI_API_KEY is set but EEP_CHATBOT_MODEL is not"),
    ({"EEP_CHATBOT_MODEL": "gpt-4o-mini"}, "EEP_CHATBOT_MODEL=gpt-4o-mini is set but no endpoint is: set OPENAI_BASE_URL"),
    ({"EEP_TEACHER": "chatgpt"}, "EEP_TEACHER=chatgpt is not one of auto, local, live, replay, stand-in"),
    ({"EEP_TEACHER": "live"}, "EEP_TEACHER=live asks your endpoint, and none is set"),
    ({"EEP_LOCAL_MODEL": "/nowhere/model.gguf"}, "EEP_LOCAL_MODEL=/nowhere/model.gguf is not a file"),
])
def test_inconsistent_chatbot_settings_name_what_is_missing(settings, problem, monkeypatch, no_endpoint):
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    assert re.search(problem, settings_problem())


def test_consistent_chatbot_settings_have_no_problem(monkeypatch, no_endpoint):
    assert settings_problem() is None
    monkeypatch.setenv("OPENAI_API_KEY", "sk-anything")
    monkeypatch.setenv("EEP_TEACHER", "replay")  # the endpoint deliberately unused
    assert settings_problem() is None
    monkeypatch.setenv("EEP_TEACHER", "auto")
    monkeypatch.setenv("EEP_CHATBOT_MODEL", "gpt-4o-mini")
    assert settings_problem() is None


# --- the offline persona judge --------------------------------------------------------------------

def judgment_request(likes: str, dislikes: str, caption: str) -> ChatRequest:
    system = f"You are a cat lover.\nYou find cute: {likes}\nYou do not find cute: {dislikes}\nAnswer in JSON."
    return ChatRequest.from_messages([{"role": "system", "content": system},
                                      {"role": "user", "content": f"Is this cute?\nCaption: {caption}"}])


def test_persona_judge_reads_the_contract_and_answers_like_a_chatbot():
    judge = PersonaJudgeStandIn()
    liked = complete(judge, judgment_request("kittens, fluffy cats", "spiders, snakes", "a small kitten asleep"))
    disliked = complete(judge, judgment_request("kittens, fluffy cats", "spiders, snakes", "a hairy spider on a web"))
    first, second = parse_judgment(liked.text), parse_judgment(disliked.text)
    assert json.loads(liked.text).keys() == {"cute", "score"}
    assert first.cute is True and second.cute is False and first.score > 5 > second.score
    again = complete(judge, judgment_request("kittens, fluffy cats", "spiders, snakes", "a small kitten asleep"))
    assert again.text == liked.text and liked.top_logprobs is None and not judge.is_chatbot


def test_persona_judge_says_what_it_needs():
    with pytest.raises(ValueError, match="You find cute:"):
        complete(PersonaJudgeStandIn(encoder=object()),
                 ChatRequest.from_messages([{"role": "user", "content": "Caption: a cat"}]))


@given(st.floats(-0.5, 0.5), st.floats(-0.5, 0.5))
def test_persona_judge_score_rises_with_the_margin_and_is_cute_above_zero(first, second):
    class Fixed:  # unit vectors: the caption, a liked phrase at cosine 0.5 + margin, a disliked one at 0.5
        def __init__(self, margin):
            like = np.array([0.5 + margin, np.sqrt(1 - (0.5 + margin) ** 2), 0])
            self.vectors = np.stack([np.eye(3)[0], like, np.array([0.5, 0, np.sqrt(0.75)])])

        def encode(self, texts):
            return self.vectors

    low, high = sorted((first, second))
    scores = [PersonaJudgeStandIn(encoder=Fixed(m)).judge(["a"], ["b"], "c") for m in (low, high)]
    assert 0 <= scores[0].score <= scores[1].score <= 10
    assert all(judgment.cute == (judgment.score >= 5) for judgment in scores)
    assert PersonaJudgeStandIn(encoder=Fixed(0.0)).judge(["a"], ["b"], "c").score == 5.0


def test_run_sync_works_inside_a_running_event_loop_as_in_jupyter():
    import asyncio

    from eep_utils.chat.running import run_sync

    async def answer():
        return 42

    async def notebook_cell():
        return run_sync(answer())  # a kernel's loop is running here; asyncio.run would refuse

    assert run_sync(answer()) == 42
    assert asyncio.run(notebook_cell()) == 42
