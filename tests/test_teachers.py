"""Parsers, run accounting, budget, the teacher settings and the offline persona judge."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from eep_utils.chat.parsing import choice_probabilities, Judgment, parse_choice, parse_judgment
from eep_utils.chat.running import complete
from eep_utils.chat.teachers import make_teacher
from eep_utils.chat.types import BudgetExhausted, ChatAnswer, ChatRequest, TeacherSettingError
from eep_utils.chat.usage import Budget, price_of, Usage
from eep_utils.personality.judge import PersonaJudgeStandIn
from eep_utils.cartpole.teaching import RuleStandIn
from eep_utils.chat.transcripts import exchange_record, RecordingTeacher, ReplayTeacher, TranscriptStore


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


def test_choice_probabilities_pool_spellings_and_renormalise():
    top = {"right": math.log(0.6), " Right": math.log(0.1), "left": math.log(0.2), "maybe": math.log(0.1)}
    p = choice_probabilities(top)
    assert p["right"] == pytest.approx(0.7 / 0.9) and p["left"] == pytest.approx(0.2 / 0.9)
    assert choice_probabilities({"maybe": 0.0}) is None and choice_probabilities(None) is None


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
        budget.settle(budget.reserve(request), ChatAnswer("left", "m", 100, 1))
    with pytest.raises(BudgetExhausted, match="request budget"):
        budget.reserve(request)
    tokens = Budget(max_tokens=250)
    tokens.settle(tokens.reserve(request), ChatAnswer("left", "m", 100, 1))  # 101 used; next may need 102
    tokens.settle(tokens.reserve(request), None)  # a failed request costs nothing
    assert tokens.tokens == 101 and tokens.requests == 1
    with pytest.raises(BudgetExhausted, match="token budget"):
        Budget(max_tokens=50).reserve(request)


# --- settings ----------------------------------------------------------------------------------------

def _record(tmp_path, model="gpt-4o-mini"):
    store = TranscriptStore(tmp_path / "cartpole.jsonl")
    request = ChatRequest.from_messages([{"role": "user", "content": "state"}])
    store.append(exchange_record(model, request, ChatAnswer("left", model), "api.openai.com"))
    return request


def test_invalid_setting_lists_the_valid_ones(tmp_path):
    with pytest.raises(TeacherSettingError, match="auto, live, replay, stand-in"):
        make_teacher("chatgpt", stand_in=RuleStandIn("newton"), experiment="cartpole", transcripts_dir=tmp_path)


def test_auto_without_endpoint_or_transcript_is_the_stand_in(tmp_path):
    stand_in = RuleStandIn("newton")
    teacher = make_teacher("auto", stand_in=stand_in, experiment="cartpole", transcripts_dir=tmp_path)
    assert teacher is stand_in and not teacher.is_chatbot and "not a chatbot" in teacher.label


def test_auto_replays_a_recorded_model(tmp_path, monkeypatch):
    request = _record(tmp_path)
    teacher = make_teacher("auto", stand_in=RuleStandIn("newton"), experiment="cartpole", transcripts_dir=tmp_path)
    assert isinstance(teacher, ReplayTeacher) and teacher.is_chatbot
    assert teacher.label.startswith("gpt-4o-mini (replayed from") and complete(teacher, request).text == "left"
    monkeypatch.setenv("EEP_CHATBOT_MODEL", "gpt-4o")  # a model with no recording: the stand-in
    assert not make_teacher("auto", stand_in=RuleStandIn("newton"), experiment="cartpole",
                            transcripts_dir=tmp_path).is_chatbot


def test_auto_goes_live_and_records_when_an_endpoint_is_set(tmp_path, monkeypatch):
    monkeypatch.setenv("EEP_CHATBOT_MODEL", "llama3.2")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    teacher = make_teacher("auto", stand_in=RuleStandIn("newton"), experiment="cartpole", transcripts_dir=tmp_path)
    assert isinstance(teacher, RecordingTeacher)
    assert teacher.label == "llama3.2 at 127.0.0.1:9 (live, recorded)" and teacher.model == "llama3.2"


def test_live_and_replay_need_what_they_need(tmp_path, monkeypatch):
    with pytest.raises(TeacherSettingError, match="EEP_CHATBOT_MODEL"):
        make_teacher("live", stand_in=RuleStandIn("newton"), experiment="cartpole", transcripts_dir=tmp_path)
    with pytest.raises(TeacherSettingError, match="OPENAI_API_KEY"):
        make_teacher("live", stand_in=RuleStandIn("newton"), experiment="cartpole", model="m", transcripts_dir=tmp_path)
    with pytest.raises(TeacherSettingError, match="record it first"):
        make_teacher("replay", stand_in=RuleStandIn("newton"), experiment="cartpole", model="m", transcripts_dir=tmp_path)
    with pytest.raises(TeacherSettingError, match="is_chatbot False"):
        make_teacher("stand-in", stand_in=object(), experiment="cartpole", transcripts_dir=tmp_path)


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


def test_persona_judge_squashes_the_margin():
    class Fixed:  # unit vectors with chosen similarities to the caption
        def encode(self, texts):
            caption, like, dislike = np.eye(3)[0], np.array([0.9, np.sqrt(1 - 0.81), 0]), np.array([0.5, 0, np.sqrt(0.75)])
            return np.stack([caption, like, dislike])

    judgment = PersonaJudgeStandIn(encoder=Fixed(), sharpness=10).judge(["a"], ["b"], "c")
    assert judgment.score == pytest.approx(round(10 / (1 + math.exp(-4.0)), 1)) and judgment.cute


def test_run_sync_works_inside_a_running_event_loop_as_in_jupyter():
    import asyncio

    from eep_utils.chat.running import run_sync

    async def answer():
        return 42

    async def notebook_cell():
        return run_sync(answer())  # a kernel's loop is running here; asyncio.run would refuse

    assert run_sync(answer()) == 42
    assert asyncio.run(notebook_cell()) == 42
