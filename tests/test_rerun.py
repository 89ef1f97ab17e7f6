"""The re-run page's request plan: what a full build would ask a chatbot, from the build's own parameters."""
import re

import numpy as np
import pandas as pd
import pytest

from eep_utils.book.config import load_plan
from eep_utils.book.rerun import (
    DECISION_TOKENS,
    EXAMPLE_PRICES,
    STUDENTS_ASKED_FOR_FIDELITY,
    busy_seconds,
    cartpole_request,
    chapter_of,
    decisions_per_episode,
    planned_tokens,
    recorded_requests,
    request_plan,
    with_costs,
)
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.episodes import DECISION_COLUMNS, DECISION_DTYPES, EpisodeSet
from eep_utils.chat.teachers import TRANSCRIPTS_DIR
from eep_utils.chat.transcripts import TranscriptStore, exchange_record
from eep_utils.chat.types import ChatAnswer, ChatRequest
from eep_utils.chat.usage import approximate_tokens
from eep_utils.study2023.replay import replay_actions

FULL = {plan.name: plan.parameters for plan in load_plan("full")}


def test_the_plan_counts_each_chapters_requests_from_its_parameters():
    personas = FULL["02_teacher_rollouts"]["personas"]
    decisions = {persona: 10.0 + i for i, persona in enumerate(personas)}
    plan = request_plan(FULL, decisions)
    rollouts, students, judging = FULL["02_teacher_rollouts"], FULL["04_students"], FULL["06_personality"]
    for persona in personas:
        row = plan.loc[("02", f"CartPole decisions, {persona}")]
        assert row["requests"] == rollouts["n_episodes"] * decisions[persona]
        assert row["completion tokens per request"] == DECISION_TOKENS
    for persona in students["personas"]:
        assert plan.loc[("04", f"DAgger and fidelity labels, {persona}"), "requests"] == \
            (students["dagger_iterations"] + 1 + STUDENTS_ASKED_FOR_FIDELITY) * STUDY_2023.n_states  # once per state
    assert (plan.loc["05", "requests"] == STUDY_2023.n_states).all()
    goals = FULL["05_ellm_rewards"]
    assert len(plan.loc["05"]) == len(goals["personas"]) * len(goals["templates"]) * len(goals["wordings"])
    # Every judging persona (the neutral control among them) judges every creature in two templates and two
    # wordings, the first pictures in the two search templates, and a few without the grammar.
    for persona in judging["personas"]:
        assert plan.loc[("06", f"cuteness judgments, {persona}"), "requests"] == 4 * judging["n_creatures"]
        assert plan.loc[("06", f"search templates, {persona}"), "requests"] == 4 * judging["n_search"]
        assert plan.loc[("06", f"without the grammar, {persona}"), "requests"] == 2 * judging["n_unconstrained"]
    assert len(plan.loc["06"]) == 3 * len(judging["personas"])
    assert (plan["prompt tokens per request"] > 0).all()


def test_a_cartpole_request_grows_with_its_history():
    tokens = [approximate_tokens(cartpole_request("newton", turns)) for turns in (0, 2, 4)]
    assert tokens[0] < tokens[1] < tokens[2]
    # Each exchange of the history costs the same.
    assert tokens[2] - tokens[1] == pytest.approx(tokens[1] - tokens[0], abs=2)
    assert "Newton" in " ".join(text for _, text in cartpole_request("newton", 0).messages)


def test_decisions_per_episode_are_read_from_the_recorded_rollouts(tmp_path):
    frames = replay_actions(np.repeat(np.random.default_rng(0).integers(0, 2, 200), 2)).complete_episodes()
    decided = frames[frames["decided"]]
    missing = {"int64": 0, "str": "", "float64": np.nan}  # what a random walk has no value for
    decisions = pd.DataFrame({column: decided[column].to_numpy() if column in decided else missing[DECISION_DTYPES[column]]
                              for column in DECISION_COLUMNS}, index=range(len(decided))).assign(status="ok")
    EpisodeSet("random walk (test)", False, frames, decisions, {}).save(tmp_path / "walker")
    per_episode = decisions_per_episode(tmp_path, ["walker"])
    assert per_episode == {"walker": pytest.approx(len(decided) / frames["episode"].nunique())}


def _record(store: TranscriptStore, question: str, end: str, latency: float, tokens=(100, 3)):
    answer = ChatAnswer("right", "tiny-model", prompt_tokens=tokens[0], completion_tokens=tokens[1],
                        latency_s=latency)
    record = exchange_record("tiny-model", ChatRequest((("user", question),)), answer, "test")
    store.append({**record, "time": end})


def test_recorded_requests_count_sealed_and_working_transcripts(tmp_path):
    sealed = TranscriptStore(tmp_path / "cartpole-newton-bounded.jsonl")
    # Two requests in flight together (one second of overlap), then one alone.
    _record(sealed, "a", "2026-01-01T00:00:02+00:00", 2.0)
    _record(sealed, "b", "2026-01-01T00:00:03+00:00", 2.0)
    _record(sealed, "c", "2026-01-01T00:01:00+00:00", 0.5, tokens=(40, 1))
    sealed.seal()
    working = TranscriptStore(tmp_path / "05_ellm_rewards.jsonl")  # a live run still recording
    _record(working, "d", "2026-01-01T00:00:05+00:00", 1.0, tokens=(7, 20))
    table = recorded_requests(tmp_path).set_index("experiment")
    newton = table.loc["cartpole-newton-bounded"]
    assert newton["chapter"] == "02" and newton["model"] == "tiny-model"
    assert newton["requests"] == 3
    assert (newton["prompt tokens"], newton["completion tokens"]) == (240, 7)
    assert newton["latency, summed (s)"] == pytest.approx(4.5)
    assert newton["server busy (s)"] == pytest.approx(3.5)
    goals = table.loc["05_ellm_rewards"]
    assert (goals["chapter"], goals["requests"], goals["completion tokens"]) == ("05", 1, 20)


def test_busy_time_is_the_union_of_the_request_intervals():
    assert busy_seconds([]) == 0
    assert busy_seconds([(0, 2), (1, 3), (5, 6)]) == pytest.approx(4)
    assert busy_seconds([(0, 10), (2, 3), (4, 5)]) == pytest.approx(10)  # nested in one long request


def test_every_recorded_experiment_belongs_to_a_chapter():
    manifests = sorted(TRANSCRIPTS_DIR.glob("*/*.manifest.json"))
    assert manifests
    for manifest in manifests:
        assert chapter_of(manifest.name.removesuffix(".manifest.json")) != "?", manifest.name
    assert chapter_of("something-new") == "?"


def test_costs_price_prompt_and_completion_tokens_separately_and_total_them():
    table = pd.DataFrame({"requests": [2, 3], "prompt tokens": [1_000_000, 0],
                          "completion tokens": [0, 2_000_000], "prompt tokens per request": [5, 6]},
                         index=pd.Index(["a", "b"], name="experiment"))
    costs = with_costs(table, {"mine": (1.0, 4.0)})
    assert costs.loc["a", "mine (USD)"] == pytest.approx(1.0)
    assert costs.loc["b", "mine (USD)"] == pytest.approx(8.0)
    assert costs.loc["total", "mine (USD)"] == pytest.approx(9.0)
    assert costs.loc["total", "requests"] == 5
    assert np.isnan(costs.loc["total", "prompt tokens per request"])  # a rate has no total


def test_example_prices_are_dated_and_completion_costs_more():
    for model, ((prompt, completion), since) in EXAMPLE_PRICES.items():
        assert re.fullmatch(r"20\d\d-\d\d", since), model
        assert 0 < prompt < completion, model


def test_planned_tokens_multiply_requests_by_tokens_per_request():
    plan = request_plan(FULL, {p: 10.0 for p in FULL["02_teacher_rollouts"]["personas"]})
    planned = planned_tokens(plan)
    assert (planned["prompt tokens"] == plan["requests"] * plan["prompt tokens per request"]).all()
    assert (planned["completion tokens"] > 0).all()
