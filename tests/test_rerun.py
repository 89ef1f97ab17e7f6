"""The re-run page's request plan: what a full build would ask a chatbot, from the build's own parameters."""
import numpy as np
import pandas as pd
import pytest

from eep_utils.book.config import load_plan
from eep_utils.book.rerun import (DECISION_TOKENS, STUDENTS_ASKED_FOR_FIDELITY, cartpole_request, decisions_per_episode,
                                  request_plan)
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.episodes import DECISION_COLUMNS, DECISION_DTYPES, EpisodeSet
from eep_utils.chat.usage import approximate_tokens
from eep_utils.personality.personas import PERSONAS as CUTENESS_PERSONAS
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
            (students["dagger_iterations"] + 1 + STUDENTS_ASKED_FOR_FIDELITY) * students["dagger_max_labels"]
    assert (plan.loc["05", "requests"] == STUDY_2023.n_states).all()
    assert len(plan.loc["05"]) == len(FULL["05_ellm_rewards"]["personas"])
    # Every persona and the no-persona control judges every creature.
    assert (plan.loc["06", "requests"] == judging["n_creatures"]).all() and len(plan.loc["06"]) == len(CUTENESS_PERSONAS) + 1
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
