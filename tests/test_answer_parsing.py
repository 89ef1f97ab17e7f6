"""Answers as hosted models give them ("Yes.", "No —", " left", "RIGHT", a JSON verdict), with whatever
log-probabilities an endpoint returns (none, the chosen token alone, top-k in several spellings), read
the same as a small model's grammar-constrained answers; and the scripted server that answers that way."""
import math

import pytest

from local_openai_server import LocalOpenAIServer
from eep_utils.chat.client import OpenAIChatbot
from eep_utils.chat.parsing import choice_probabilities, parse_choice, parse_judgment
from eep_utils.chat.running import complete_all
from eep_utils.chat.types import ChatAnswer, ChatRequest
from eep_utils.ellm.goals import goal_request, parse_goals
from eep_utils.personality.judging import read_verdict


@pytest.mark.parametrize("text, expected", [
    ("Yes.", "yes"), ("yes", "yes"), ("Yes, it is cute", "yes"), ("No —", "no"), ("  no", "no"), ("YES!", "yes"),
    ("No, it is not cute.", "no"), ("Yes it is cute", "yes"), ("**Yes**", "yes"), ("Yes\nIt is fluffy.", "yes"),
    ("I would say yes.", "yes"), ("I have no idea", None), ("Yes and no.", None), ("Maybe.", None), ("", None),
])
def test_a_yes_or_no_is_read_as_hosted_models_give_it(text, expected):
    assert parse_choice(text, ("yes", "no")) == expected


@pytest.mark.parametrize("text, expected", [
    ("Left.", "left"), (" RIGHT", "right"), ("Right, because the pole leans right.", "right"),
    ("Left — the pole falls left.", "left"), ("**Left**", "left"), ('{"action": "left"}', "left"),
    ("Right. Not left.", "right"), ("left or right", None), ("I cannot push left", None),
    ("It depends on the situation.", None),
])
def test_a_cartpole_decision_is_read_as_hosted_models_give_it(text, expected):
    assert parse_choice(text) == expected


@pytest.mark.parametrize("text, cute", [
    ("Yes.", 1.0), ("yes", 1.0), ("Yes, it is cute", 1.0), ("No —", 0.0), ("  No", 0.0), ("NO.", 0.0),
    ('{"cute": true, "score": 8}', 1.0), ('```json\n{"cute": false, "score": 2}\n```', 0.0),
    ("Cute: yes", 1.0), ("I would say no.", 0.0), ("Maybe.", math.nan), ("I have no idea.", math.nan),
])
def test_read_verdict_accepts_every_form(text, cute):
    verdict = read_verdict(ChatAnswer(text, "m"))
    assert (math.isnan(verdict.cute) and math.isnan(cute)) or verdict.cute == cute
    assert math.isnan(verdict.p_cute)  # no log-probabilities given: no soft label
    assert parse_judgment(text).cute == (None if math.isnan(cute) else bool(cute))


def position(token, alternatives):
    return {"token": token, "logprob": math.log(alternatives.get(token, 0.5)),
            "top_logprobs": [{"token": t, "logprob": math.log(p)} for t, p in alternatives.items()]}


def test_soft_labels_pool_every_spelling_at_the_answer_token():
    answer = ChatAnswer("Yes.", "m", logprobs=[position("Yes", {"Yes": 0.5, " yes": 0.1, "No": 0.2, " no": 0.1,
                                                                "Maybe": 0.1}),
                                               position(".", {".": 0.9})])
    verdict = read_verdict(answer)
    assert verdict.cute == 1.0 and verdict.p_cute == pytest.approx(0.6 / 0.9) and verdict.mass == pytest.approx(0.9)
    assert choice_probabilities(answer, "yes", ("yes", "no"))["yes"] == pytest.approx(0.6 / 0.9)


def test_a_json_verdicts_soft_label_is_read_at_its_true_or_false():
    answer = ChatAnswer('{"cute": false, "score": 3}', "m", logprobs=[
        position('{"', {'{"': 0.99}), position("cute", {"cute": 0.99}), position('":', {'":': 0.99}),
        position(" false", {" false": 0.7, " true": 0.3}), position(",", {",": 0.9})])
    verdict = read_verdict(answer)
    assert verdict.cute == 0.0 and verdict.p_cute == pytest.approx(0.3)
    assert choice_probabilities(answer, "no", ("yes", "no"), synonyms={"yes": ["true"], "no": ["false"]})["yes"] \
        == pytest.approx(0.3)


def test_the_chosen_token_without_alternatives_gives_no_soft_label():
    # Some endpoints return log-probabilities but not the top alternatives: a probability of 1 for the
    # chosen word would be a hard label dressed as a soft one.
    alone = [{"token": " Left", "logprob": math.log(0.7), "top_logprobs": []}]
    assert choice_probabilities(ChatAnswer(" Left", "m", logprobs=alone), "left") is None
    verdict = read_verdict(ChatAnswer("No", "m", logprobs=[{"token": "No", "logprob": -0.1, "top_logprobs": []}]))
    assert verdict.cute == 0.0 and math.isnan(verdict.p_cute) and math.isnan(verdict.mass)


# --- the scripted server answering like a hosted model, or uselessly ------------------------------------

def ask(style, requests):
    with LocalOpenAIServer(style=style) as server:
        return complete_all(OpenAIChatbot("hosted-model", base_url=server.base_url, timeout=5), requests)


DECISIONS = [ChatRequest.from_messages([{"role": "user", "content": f"pole-angle: {i}"}], max_tokens=2, logprobs=True,
                                       top_logprobs=5, grammar='root ::= "left" | "right"') for i in range(8)]
JUDGMENTS = [ChatRequest.from_messages([{"role": "user", "content": f"Is this creature cute? Caption: {i}"}],
                                       max_tokens=2, logprobs=True, top_logprobs=20) for i in range(8)]


def test_a_hosted_style_server_answers_capitalised_and_punctuated_with_its_own_tokens():
    decisions = ask("hosted", DECISIONS)
    assert {answer.text for answer in decisions} <= {"Left.", "Right."} and len({a.text for a in decisions}) == 2
    for answer in decisions:
        choice = parse_choice(answer.text)
        probabilities = choice_probabilities(answer, choice)
        assert probabilities[choice] > 0.5 and [p["token"] for p in answer.logprobs] == [choice.capitalize(), "."]
        assert {alt["token"] for alt in answer.logprobs[0]["top_logprobs"]} >= {" left", " right"}
    verdicts = [read_verdict(answer) for answer in ask("hosted", JUDGMENTS)]
    assert {v.cute for v in verdicts} == {0.0, 1.0} and all(abs(v.p_cute - v.cute) < 0.5 for v in verdicts)
    goals = ask("hosted", [goal_request("newton", "cart-position: center", 2)])[0]
    assert len(parse_goals(goals.text, 2)) == 2


def test_a_json_style_server_is_cut_by_max_tokens_as_a_hosted_model_would_be():
    answers = ask("hosted-json", JUDGMENTS)
    assert all(answer.finish_reason == "length" and answer.text == '{"cute' for answer in answers)
    assert all(not read_verdict(answer).readable for answer in answers)
    longer = [ChatRequest(request.messages, max_tokens=20, logprobs=True, top_logprobs=5) for request in JUDGMENTS]
    assert {read_verdict(answer).cute for answer in ask("hosted-json", longer)} == {0.0, 1.0}


def test_an_unusable_style_server_answers_nothing_a_chapter_can_use():
    assert all(parse_choice(answer.text) is None for answer in ask("unusable", DECISIONS))
    assert all(not read_verdict(answer).readable for answer in ask("unusable", JUDGMENTS))
    goals = ask("unusable", [goal_request("newton", "cart-position: center", 2)])[0]
    assert parse_goals(goals.text, 2) == []
