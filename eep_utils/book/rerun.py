"""What re-running the book with another chatbot asks of it, and what that takes in time and money.

- `recorded_requests`: per experiment, the exchanges the book's recordings hold (data/transcripts/
  <model>/*.jsonl.gz), with the tokens and latency the local chatbot reported, and the time its server was busy;
- `with_costs`: those tokens priced at a price per million tokens (the reader's, and `EXAMPLE_PRICES`,
  dated assumptions);
- `request_plan`: the requests a build sends, counted from the build's parameters: each row builds the
  very request its chapter sends (a CartPole decision with a full history, a goal question, a cuteness
  judgment) and counts its prompt tokens with the same estimate the budget uses.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.episodes import EpisodeSet
from eep_utils.cartpole.teaching import BoundedHistoryProtocol
from eep_utils.chat.transcripts import TranscriptStore, experiments_in
from eep_utils.chat.types import ChatRequest
from eep_utils.chat.usage import approximate_tokens
from eep_utils.ellm.goals import goal_requests
from eep_utils.personality.judging import judgment_request
from eep_utils.personas_new import MAIN_TEMPLATES, SEARCH_TEMPLATES, Voice, voices

# Completion tokens per answer: a push word; about eight per suggested goal; a yes or no.
DECISION_TOKENS, TOKENS_PER_GOAL, JUDGMENT_TOKENS = 2, 8, 2
# Chapter 04 asks the teacher for fidelity labels once per student: four students and the tuned XGBoost.
STUDENTS_ASKED_FOR_FIDELITY = 5
# CartPole's teachers as chapters 02 and 04 plan them here: each persona in the 2023 study's frame.
CARTPOLE_TEMPLATE, CARTPOLE_WORDING = "you-are", 1
# One state, from the middle of the state table, stands for every state a chapter asks about.
EXAMPLE_STATE = STUDY_2023.describe_state(STUDY_2023.n_states // 2)
EXAMPLE_CAPTION = "a small round kitten with big eyes and soft orange fur"


def cartpole_request(persona: str, turns: int, state: str = EXAMPLE_STATE) -> ChatRequest:
    """A CartPole decision request from mid-episode, its history of `turns` exchanges full."""
    protocol = BoundedHistoryProtocol(turns=turns, constrained=True)
    conversation = protocol.conversation(Voice(persona, CARTPOLE_TEMPLATE, CARTPOLE_WORDING))
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
    # Each round of labels asks every text state at most once (a state's question is the same however often
    # the student visits it).
    labelling_rounds = students["dagger_iterations"] + 1 + STUDENTS_ASKED_FOR_FIDELITY
    labels_per_round = min(students["dagger_max_labels"], STUDY_2023.n_states)
    for persona in students["personas"]:
        rows.append(_row("04", f"DAgger and fidelity labels, {persona}", labelling_rounds * labels_per_round,
                         cartpole_request(persona, 0), DECISION_TOKENS))
    for voice in voices(goals["personas"], goals["templates"], goals["wordings"]):
        request = goal_requests(voice, goals["k"], goals["worked_examples"])[STUDY_2023.n_states // 2]
        rows.append(_row("05", f"goal suggestions, {voice.label}", STUDY_2023.n_states, request,
                         TOKENS_PER_GOAL * goals["k"]))
    # Every judging persona in the main templates and both wordings on every picture, in the search templates
    # on the first pictures, and without the grammar (first wording) on the first few.
    for persona in judging["personas"]:
        asked = [(voices([persona], MAIN_TEMPLATES), judging["n_creatures"], True, "cuteness judgments"),
                 (voices([persona], SEARCH_TEMPLATES), judging["n_search"], True, "search templates"),
                 (voices([persona], MAIN_TEMPLATES, (1,)), judging["n_unconstrained"], False, "without the grammar")]
        for group, pictures, constrained, purpose in asked:
            requests = [judgment_request(voice, EXAMPLE_CAPTION, constrained) for voice in group]
            longest = max(requests, key=approximate_tokens)  # few-shot turns make some prompts longer
            rows.append(_row("06", f"{purpose}, {persona}", len(group) * pictures, longest, JUDGMENT_TOKENS))
    return pd.DataFrame(rows).set_index(["chapter", "requests for"])


def _row(chapter: str, purpose: str, requests: float, request: ChatRequest, completion_tokens: int) -> dict:
    return {"chapter": chapter, "requests for": purpose, "requests": requests,
            "prompt tokens per request": approximate_tokens(request), "completion tokens per request": completion_tokens}


# Which chapter sends each experiment's requests (an experiment's name is its transcript file's stem).
CHAPTER_OF_EXPERIMENT = (("02_teacher_rollouts", "02"), ("04_students", "04"), ("05_ellm_rewards", "05"),
                         ("06_personality", "06"))

# Example prices, USD per million (prompt, completion) tokens: OpenAI's standard-tier list prices, with
# the month each was set. Assumptions for illustration, not quotes: check the provider's page.
EXAMPLE_PRICES = {
    "gpt-3.5-turbo-0125": ((0.50, 1.50), "2024-01"),
    "gpt-4o-mini": ((0.15, 0.60), "2024-07"),
    "gpt-4o": ((2.50, 10.00), "2024-08"),
    "gpt-4.1-mini": ((0.40, 1.60), "2025-04"),
}


def chapter_of(experiment: str) -> str:
    """The chapter whose requests an experiment's transcript holds ("?" for one the book does not know)."""
    return next((chapter for pattern, chapter in CHAPTER_OF_EXPERIMENT if Path(experiment).match(pattern)),
                "?")


def busy_seconds(intervals) -> float:
    """The length of the union of (start, end) intervals: the time a server that answers several
    requests at once was answering any."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def recorded_requests(transcripts_dir: Path) -> pd.DataFrame:
    """Per recorded experiment: its chapter, model, exchanges, prompt and completion tokens as the
    chatbot reported them, the sum of the latencies (one request at a time) and the time the server was
    busy while recording (requests in flight together counted once)."""
    rows = []
    # Sealed recordings, and working ones a run with your endpoint is still appending to, in each
    # chatbot's folder (data/transcripts/<model>/) or in the folder itself.
    root = Path(transcripts_dir)
    folders = [root, *sorted(path for path in root.iterdir() if path.is_dir())] if root.is_dir() else []
    for folder, experiment in ((folder, experiment) for folder in folders for experiment in experiments_in(folder)):
        records = TranscriptStore(folder / f"{experiment}.jsonl").records()
        answers = [record["answer"] for record in records]
        # A record's time is when its answer was written; the request went out `latency_s` earlier.
        ends = [datetime.fromisoformat(record["time"]).timestamp() for record in records]
        rows.append({
            "chapter": chapter_of(experiment), "experiment": experiment,
            "model": ", ".join(sorted({record["request"]["model"] for record in records})),
            "requests": len(records),
            "prompt tokens": sum(answer["prompt_tokens"] or 0 for answer in answers),
            "completion tokens": sum(answer["completion_tokens"] or 0 for answer in answers),
            "latency, summed (s)": sum(answer["latency_s"] for answer in answers),
            "server busy (s)": busy_seconds([(end - answer["latency_s"], end)
                                             for end, answer in zip(ends, answers)]),
        })
    columns = ["chapter", "experiment", "model", "requests", "prompt tokens", "completion tokens",
               "latency, summed (s)", "server busy (s)"]
    return pd.DataFrame(rows, columns=columns).sort_values(["chapter", "experiment"], ignore_index=True)


def cost_usd(prompt_tokens: float, completion_tokens: float, price: tuple[float, float]) -> float:
    """The cost of the tokens at `price`, USD per million (prompt, completion) tokens."""
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6


def planned_tokens(plan: pd.DataFrame) -> pd.DataFrame:
    """`request_plan`'s rows with their prompt and completion tokens in all."""
    return plan.assign(**{"prompt tokens": plan["requests"] * plan["prompt tokens per request"],
                          "completion tokens": plan["requests"]
                          * plan["completion tokens per request"]})


def with_costs(table: pd.DataFrame, prices: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """`table` (numeric columns, "prompt tokens" and "completion tokens" among them) with a total
    row and one cost column per named price, USD per million (prompt, completion) tokens."""
    table = table.select_dtypes("number").copy()
    levels = table.index.nlevels
    # Rates ("… per request") do not add up: their total is left empty.
    total = table.sum().where(~table.columns.str.endswith("per request"))
    table.loc[("all",) * (levels - 1) + ("total",) if levels > 1 else "total", :] = total
    for name, price in prices.items():
        table[f"{name} (USD)"] = cost_usd(table["prompt tokens"], table["completion tokens"], price)
    return table
