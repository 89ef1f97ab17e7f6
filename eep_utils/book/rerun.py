"""What a build with a chatbot asks of it: every chapter's requests, counted from the build's parameters.

Each row builds the very request its chapter sends (a CartPole decision with a full history, a goal
question, a cuteness judgment) and counts its prompt tokens with the same estimate the budget uses.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.episodes import EpisodeSet
from eep_utils.cartpole.teaching import BoundedHistoryProtocol
from eep_utils.chat.types import ChatRequest
from eep_utils.chat.usage import approximate_tokens
from eep_utils.ellm.goals import goal_request
from eep_utils.personality.personas import NO_PERSONA
from eep_utils.personality.personas import PERSONAS as CUTENESS_PERSONAS
from eep_utils.personality.personas import judgment_request
from eep_utils.personas import PERSONAS as CARTPOLE_PERSONAS

# Completion tokens per answer: a push word; about eight per suggested goal; a JSON verdict and score.
DECISION_TOKENS, TOKENS_PER_GOAL, JUDGMENT_TOKENS = 2, 8, 12
# Chapter 04 asks the teacher for fidelity labels once per student: four students and the tuned XGBoost.
STUDENTS_ASKED_FOR_FIDELITY = 5
# One state, from the middle of the state table, stands for every state a chapter asks about.
EXAMPLE_STATE = STUDY_2023.describe_state(STUDY_2023.n_states // 2)
EXAMPLE_CAPTION = "a small round kitten with big eyes and soft orange fur"


def cartpole_request(persona: str, turns: int, state: str = EXAMPLE_STATE) -> ChatRequest:
    """A CartPole decision request from mid-episode, its history of `turns` exchanges full."""
    protocol = BoundedHistoryProtocol(turns=turns)
    conversation = protocol.conversation(CARTPOLE_PERSONAS[persona])
    for _ in range(turns):
        conversation.add_exchange(state, "right")
    return ChatRequest.from_messages(conversation.messages_for(state), **protocol.request_settings())


def decisions_per_episode(rollouts_dir: Path, personas) -> dict[str, float]:
    """How many decisions an episode of each persona's recorded rollouts took (a worse balancer takes fewer)."""
    per_episode = {}
    for persona in personas:
        played = EpisodeSet.load(Path(rollouts_dir) / persona)
        per_episode[persona] = len(played.decisions) / played.n_episodes
    return per_episode


def request_plan(parameters: dict[str, dict], decisions: dict[str, float]) -> pd.DataFrame:
    """Requests per chapter and purpose, with prompt and completion tokens per request, for a build with
    `parameters` (notebook name → its parameters) whose CartPole teachers take `decisions` per episode."""
    rollouts, students, goals, judging = (parameters["02_teacher_rollouts"], parameters["04_students"],
                                          parameters["05_ellm_rewards"], parameters["06_personality"])
    rows = []
    for persona in rollouts["personas"]:
        rows.append(_row("02", f"CartPole decisions, {persona}", rollouts["n_episodes"] * decisions[persona],
                         cartpole_request(persona, rollouts["history_turns"]), DECISION_TOKENS))
    labelling_rounds = students["dagger_iterations"] + 1 + STUDENTS_ASKED_FOR_FIDELITY
    for persona in students["personas"]:
        rows.append(_row("04", f"DAgger and fidelity labels, {persona}", labelling_rounds * students["dagger_max_labels"],
                         cartpole_request(persona, 0), DECISION_TOKENS))
    for persona in goals["personas"]:
        rows.append(_row("05", f"goal suggestions, {persona}", STUDY_2023.n_states,
                         goal_request(persona, EXAMPLE_STATE, goals["k"]), TOKENS_PER_GOAL * goals["k"]))
    for persona in (*CUTENESS_PERSONAS, NO_PERSONA):
        rows.append(_row("06", f"cuteness judgments, {persona.key}", judging["n_creatures"],
                         judgment_request(persona, EXAMPLE_CAPTION), JUDGMENT_TOKENS))
    return pd.DataFrame(rows).set_index(["chapter", "requests for"])


def _row(chapter: str, purpose: str, requests: float, request: ChatRequest, completion_tokens: int) -> dict:
    return {"chapter": chapter, "requests for": purpose, "requests": requests,
            "prompt tokens per request": approximate_tokens(request), "completion tokens per request": completion_tokens}
