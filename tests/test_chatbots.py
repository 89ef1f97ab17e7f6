"""The live client: the real openai SDK over real HTTP, against a scripted server on 127.0.0.1."""
import asyncio

import pytest

from local_openai_server import REFUSAL_TEXT, LocalOpenAIServer
from eep_utils.chat.client import endpoint_name, OpenAIChatbot
from eep_utils.chat.parsing import parse_choice
from eep_utils.chat.running import acomplete_all, complete, complete_all
from eep_utils.chat.types import (BudgetExhausted, ChatbotError, ChatRequest, ContextLengthExceeded, MalformedCompletion,
                                  TeacherSettingError)
from eep_utils.chat.usage import Budget

REQUEST = ChatRequest.from_messages([{"role": "system", "content": "Answer only left or right."},
                                     {"role": "user", "content": "pole-angle: right"}], max_tokens=2)


@pytest.fixture
def server():
    with LocalOpenAIServer(timeout_delay_s=1.5) as running:
        yield running


def chatbot(server, **options) -> OpenAIChatbot:
    options = {"max_retries": 3, "timeout": 0.5, **options}
    return OpenAIChatbot("local-model", base_url=server.base_url, **options)


def test_scripted_answer_with_usage_fingerprint_and_settings(server):
    server.queue("text: Right.")
    answer = complete(chatbot(server), REQUEST)
    assert answer.text == " Right." and parse_choice(answer.text) == "right"
    assert answer.model == "local-model" and answer.system_fingerprint == "fp_local"
    assert answer.prompt_tokens > 0 and answer.completion_tokens == 1 and answer.latency_s > 0
    sent = server.received[0]
    assert sent["messages"] == REQUEST.openai_messages() and sent["temperature"] == 0 and sent["max_tokens"] == 2
    assert "logprobs" not in sent


def test_log_probabilities_of_every_answer_token_are_kept(server):
    request = ChatRequest(REQUEST.messages, max_tokens=2, logprobs=True, top_logprobs=2)
    server.queue("text:left")
    answer = complete(chatbot(server), request)
    assert answer.top_logprobs == pytest.approx({"left": -0.2231435513, "right": -1.6094379124})
    assert [position["token"] for position in answer.logprobs] == ["left"]
    assert "bytes" not in answer.logprobs[0] and "bytes" not in answer.logprobs[0]["top_logprobs"][0]
    assert server.received[0]["logprobs"] is True and server.received[0]["top_logprobs"] == 2


def test_a_grammar_is_sent_with_the_request(server):
    request = ChatRequest(REQUEST.messages, max_tokens=2, grammar='root ::= "left" | "right"')
    complete(chatbot(server), request)
    assert server.received[0]["grammar"] == 'root ::= "left" | "right"'


def test_budget_counts_billed_attempts_and_every_http_request(server):
    # A 429 (retried by the SDK, not billed), then a malformed 200 (billed, retried by the client), then
    # answers. With a budget of 5 billed requests, four exchanges fit (2 + 1 + 1 + 1) and the fifth stops.
    server.queue("429", "malformed")
    budget = Budget(max_requests=5)
    bot = OpenAIChatbot("local-model", base_url=server.base_url, timeout=5, budget=budget)
    for _ in range(4):
        complete(bot, REQUEST)
    with pytest.raises(BudgetExhausted, match="5 billed requests"):
        complete(bot, REQUEST)
    assert budget.requests == 5 and budget.http_requests == len(server.received) == 6
    assert budget.report() == {"billed_requests": 5, "http_requests": 6, "budget_tokens": budget.tokens}


@pytest.mark.parametrize("fault", ["429", "500", "timeout", "drop", "malformed", "no_choices"])
def test_transient_failures_are_retried(server, fault):
    server.queue(fault, "text:left")
    assert complete(chatbot(server), REQUEST).text == "left"
    assert len(server.received) == 2


def test_retries_are_counted_by_cause_and_failures_by_why_they_were_given_up(server):
    bot = chatbot(server)
    server.queue("429", "500", "text:left")  # retried by the SDK
    server.queue("timeout", "drop", "text:left")  # retried by the SDK
    server.queue("malformed", "text:left")  # retried by the client
    assert [complete(bot, REQUEST).text for _ in range(3)] == ["left"] * 3
    server.queue(*["500"] * 4)  # given up after 3 retries
    with pytest.raises(ChatbotError):
        complete(bot, REQUEST)
    assert bot.faults.report() == {
        "http_requests": 12, "retries": {"429": 1, "5xx": 4, "timeout/connection": 2, "malformed": 1},
        "failures": 1, "failures_by_cause": {"5xx": 1}}
    assert bot.faults.sent == len(server.received) == bot.budget.http_requests


def test_persistent_failure_gives_a_clear_error_after_retries(server):
    server.queue(*["500"] * 4)
    with pytest.raises(ChatbotError, match="InternalServerError after retries.*recorded before this one are kept"):
        complete(chatbot(server), REQUEST)
    assert len(server.received) == 4  # the first try and 3 retries


def test_persistent_malformed_bodies_give_up(server):
    server.queue(*["malformed"] * 3)
    with pytest.raises(MalformedCompletion):
        complete(chatbot(server, malformed_retries=2), REQUEST)
    assert len(server.received) == 3


@pytest.mark.parametrize("fault, text, refusal", [("empty", "", None), ("refusal", REFUSAL_TEXT, None),
                                                  ("refusal_field", "", "I can't assist with that.")])
def test_empty_answers_and_refusals_come_back_as_they_are(server, fault, text, refusal):
    server.queue(fault)
    answer = complete(chatbot(server), REQUEST)
    assert (answer.text, answer.refusal) == (text, refusal) and parse_choice(answer.text) is None


def test_context_overflow_is_its_own_error(server):
    server.queue("context")
    with pytest.raises(ContextLengthExceeded):
        complete(chatbot(server), REQUEST)
    assert len(server.received) == 1  # a 400 is not retried


def test_sync_client_answers_the_same(server):
    bot = chatbot(server)
    assert bot.complete(REQUEST).text == complete(bot, REQUEST).text


def test_requests_run_concurrently_up_to_the_bound():
    requests = [ChatRequest.from_messages([{"role": "user", "content": f"state {i}"}]) for i in range(16)]
    with LocalOpenAIServer(latency_s=0.3) as slow:
        answers = complete_all(chatbot(slow, timeout=5), requests, max_in_flight=16)
        assert len(answers) == 16 and slow.most_in_flight >= 8  # all 16 were sent without waiting for answers
    with LocalOpenAIServer(latency_s=0.1) as slow:
        complete_all(chatbot(slow, timeout=5, max_in_flight=2), requests, max_in_flight=16)
        assert slow.most_in_flight == 2  # the client's own bound holds whatever the caller asks


def test_pace_claims_evenly_spaced_slots():
    from eep_utils.chat.client import Pace

    pace = Pace(per_minute=120)
    delays = [pace.delay() for _ in range(4)]
    assert delays[0] == pytest.approx(0, abs=0.01) and delays[3] == pytest.approx(1.5, abs=0.01)
    assert Pace(None).delay() == 0 and Pace(None).delay() == 0


def test_budget_stops_before_it_is_exceeded(server):
    bot = chatbot(server, budget=Budget(max_requests=3))
    for _ in range(3):
        complete(bot, REQUEST)
    with pytest.raises(BudgetExhausted):
        complete(bot, REQUEST)
    assert len(server.received) == 3 and bot.usage.requests == 3


def test_failed_requests_do_not_use_the_budget(server):
    bot = chatbot(server, budget=Budget(max_requests=1))
    server.queue("context")
    with pytest.raises(ContextLengthExceeded):
        complete(bot, REQUEST)
    assert complete(bot, REQUEST).text in ("left", "right")


def test_usage_counts_tokens_and_latency(server):
    bot = chatbot(server)
    complete_all(bot, [REQUEST] * 3)
    report = bot.usage.report(bot.model)
    assert report["requests"] == 3 and report["prompt_tokens"] == 3 * server.completion(
        {"messages": REQUEST.openai_messages()}, "x")["usage"]["prompt_tokens"]
    assert report["estimated_cost_usd"] is None and report["mean_latency_s"] > 0


def test_one_client_serves_several_event_loops(server):
    bot = chatbot(server)
    assert complete(bot, REQUEST).text == complete(bot, REQUEST).text

    async def in_one_loop():
        return await acomplete_all(bot, [REQUEST] * 2)

    assert len(asyncio.run(in_one_loop())) == 2


def test_endpoint_is_named_by_host_only(monkeypatch):
    assert endpoint_name("http://user:secret@127.0.0.1:11434/v1") == "127.0.0.1:11434"
    assert endpoint_name(None) == "api.openai.com"
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(TeacherSettingError, match="OPENAI_API_KEY"):
        OpenAIChatbot("gpt-4o-mini")
