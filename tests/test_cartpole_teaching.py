"""CartPole teaching: the 2023 prompt and protocol against its recordings, the bounded protocol, the rule
stand-in, and teacher rollouts through the real SDK against the local server."""
import json
import math
import os
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from local_openai_server import LocalOpenAIServer
from eep_utils.cartpole.teaching import (FAILED_MESSAGE_2023, FALLBACK_HISTORY_TEXT, REMINDER, TASK_PROMPT_2023,
                                         BoundedHistoryProtocol, Study2023Protocol, initial_messages,
                                         run_cartpole_teacher, state_labeller, system_prompt)
from eep_utils.cartpole.stand_in import STAND_IN_RULES, RuleStandIn, describe_stand_in_rules
from eep_utils.chat.client import OpenAIChatbot
from eep_utils.cartpole.embodiment import FIVE_WORDS, STUDY_2023
from eep_utils.cartpole.episodes import DECISION_COLUMNS, FRAME_COLUMNS, EpisodeSet
from eep_utils.cartpole.evaluation import play_episode_from
from eep_utils.cartpole.policies import LookupTablePolicy
from eep_utils.chat.running import complete
from eep_utils.chat.types import BudgetExhausted, ChatRequest
from eep_utils.chat.usage import Budget
from eep_utils.chat.recording import RecordingTeacher, ReplayTeacher
from eep_utils.chat.transcripts import TranscriptStore
from eep_utils.personas import Voice

# The 2023 study's frame: each persona in the template "you-are", wording 1 (Newton's is the 2023 sentence).
NEWTON, CONTROL, ARISTOTLE = (Voice(persona, "you-are", 1) for persona in ("newton", "no_persona", "aristotle"))


def recorded_prompts() -> list:
    folder = os.environ.get("EEP_ORIGINAL_STUDY_DIR")
    path = Path(folder or "/nonexistent") / "chatbot" / "2023-03-03" / "prompts.json"
    if not path.exists():
        pytest.skip("the 2023 recordings are not available locally (EEP_ORIGINAL_STUDY_DIR)")
    return json.loads(path.read_text())


def test_newton_prompt_and_examples_are_the_2023_ones():
    assert initial_messages(NEWTON) == recorded_prompts()[0][:15]


def test_personas_differ_only_in_the_persona_sentence():
    task = TASK_PROMPT_2023.format(schema=STUDY_2023.schema())
    newton, control, aristotle = (system_prompt(voice) for voice in (NEWTON, CONTROL, ARISTOTLE))
    assert newton == "You are Sir Isaac Newton. " + task and control == "You are a helpful assistant. " + task
    assert aristotle.startswith("You are Aristotle, who ") and aristotle.endswith(". " + task)
    assert "far-left" in system_prompt(NEWTON, FIVE_WORDS)  # the schema follows the projection


def _exchanges(episode_messages, start):
    """(state, answer) pairs of one recorded episode, from message index `start`."""
    messages = episode_messages[start:]
    return [(messages[i]["content"], messages[i + 1]["content"]) for i in range(0, len(messages), 2)]


def test_study_2023_conversation_reproduces_the_recorded_one():
    prompts = recorded_prompts()
    conversation = Study2023Protocol().conversation(NEWTON)
    # Episodes 13-20 continue one conversation (12 began after a context-overflow restart).
    conversation.history, conversation.episodes_played = list(prompts[12]), 12
    for episode in range(13, 21):
        conversation.end_episode()
        start = len(prompts[episode - 1]) + 1
        assert conversation.history == prompts[episode][:start]
        for state, answer in _exchanges(prompts[episode], start):
            assert conversation.messages_for(state)[-1] == {"role": "user", "content": state}
            conversation.add_exchange(state, answer)
        assert conversation.history == prompts[episode]
    # After more than 30 stored episodes every episode starts again from the initial prompt.
    conversation.history, conversation.episodes_played = list(prompts[30]), 30
    for episode in range(31, 36):
        conversation.end_episode()
        assert conversation.history == prompts[0][:15]
        for state, answer in _exchanges(prompts[episode], 15):
            conversation.add_exchange(state, answer)
        assert conversation.history == prompts[episode]


def test_study_2023_reset_rule_and_settings():
    protocol = Study2023Protocol(history_episodes=2)
    conversation = protocol.conversation(NEWTON)
    initial = list(conversation.history)
    for played in range(1, 5):
        conversation.add_exchange("cart-position: center", "left")
        conversation.end_episode()
        if played <= 2:
            assert conversation.history[-1] == {"role": "user", "content": FAILED_MESSAGE_2023}
        else:
            assert conversation.history == initial
    assert protocol.request_settings() == {"temperature": 0.0, "max_tokens": 2, "logprobs": False, "top_logprobs": None}


def test_bounded_history_prompt_does_not_grow():
    conversation = BoundedHistoryProtocol(turns=3).conversation(NEWTON)
    sizes = []
    for step in range(10):
        messages = conversation.messages_for(f"state {step}")
        sizes.append(len(messages))
        conversation.add_exchange(f"state {step}", "left")
    assert sizes == [16, 18, 20, 22] + [22] * 6
    assert [m["content"] for m in messages[15:21:2]] == ["state 6", "state 7", "state 8"]
    assert BoundedHistoryProtocol(turns=0).conversation(NEWTON).messages_for("s")[-2]["content"] == "right"


# --- the rule stand-in ---------------------------------------------------------------------------


def state_text(velocity="stopped", spin="zero", angle="upright", position="center"):
    return f"cart-position: {position}\ncart-velocity: {velocity}\npole-angular-velocity: {spin}\npole-angle: {angle}"


@pytest.mark.parametrize("persona, spin, angle, expected", [
    ("newton", "leftwards", "right", "left"), ("newton", "zero", "right", "right"), ("newton", "zero", "upright", "right"),
    ("no_persona", "leftwards", "right", "right"), ("no_persona", "leftwards", "upright", "left"),
    ("aristotle", "zero", "right", "left"), ("aristotle", "rightwards", "upright", "left"),
    ("aristotle", "leftwards", "upright", "right"), ("aristotle", "zero", "upright", "left"),
])
def test_stand_in_follows_its_rule(persona, spin, angle, expected):
    stand_in = RuleStandIn(persona)
    request = ChatRequest.from_messages(initial_messages(Voice(persona, "you-are", 1)) +
                                        [{"role": "user", "content": state_text(spin=spin, angle=angle)},
                                         {"role": "assistant", "content": "hmm"}, {"role": "user", "content": REMINDER}])
    answer = complete(stand_in, request)
    assert answer.text == expected and answer.top_logprobs is None
    assert not stand_in.is_chatbot and stand_in.label == f"stand-in: rule table '{persona}' (offline; not a chatbot)"


def test_stand_in_table_and_its_description():
    table = RuleStandIn("newton").table()
    assert table.shape == (STUDY_2023.n_states,) and set(table) == {0, 1}
    assert list(describe_stand_in_rules().index) == list(STAND_IN_RULES)
    with pytest.raises(ValueError, match="found no .* state description"):
        complete(RuleStandIn("newton"), ChatRequest.from_messages([{"role": "user", "content": "hello"}]))


def test_stand_in_rollouts_match_the_reference_player():
    episodes = run_cartpole_teacher(RuleStandIn("newton"), NEWTON, BoundedHistoryProtocol(), 6, seed=3)
    assert list(episodes.frames.columns) == FRAME_COLUMNS and list(episodes.decisions.columns) == DECISION_COLUMNS
    assert not episodes.is_chatbot and episodes.teacher == RuleStandIn("newton").label
    policy = LookupTablePolicy(STUDY_2023, RuleStandIn("newton").table())
    reference = []
    for episode in range(6):  # the same starting state, exactly: reset with the episode's seed
        env = gym.make("CartPole-v1")
        env.reset(seed=3 + episode)
        reference.append(play_episode_from(policy, np.array(env.unwrapped.state), 2).returns()[0])
    assert reference == list(episodes.returns())
    decided = episodes.frames[episodes.frames["decided"]]
    assert (decided["t"] % 2 == 0).all() and len(decided) == len(episodes.decisions)
    assert set(episodes.decisions["status"]) == {"ok"} and episodes.decisions["p_right"].isna().all()


class _SpentTeacher:
    """A teacher whose budget is already spent: its first request raises BudgetExhausted."""

    label, model, is_chatbot = "spent test teacher", "spent", True

    def __init__(self):
        self.usage = RuleStandIn("newton").usage

    async def acomplete(self, request):
        raise BudgetExhausted("request budget of 0 reached")


@pytest.mark.parametrize("protocol", [BoundedHistoryProtocol(), Study2023Protocol()], ids=["bounded", "2023"])
def test_a_run_stopped_before_any_episode_ends_gives_empty_typed_tables(protocol, tmp_path):
    stopped = run_cartpole_teacher(_SpentTeacher(), NEWTON, protocol, 3, seed=0)
    played = run_cartpole_teacher(RuleStandIn("newton"), NEWTON, protocol, 1, seed=0)
    assert "budget" in stopped.metadata["stopped_early"] and stopped.n_episodes == 0
    for empty, full in ((stopped.frames, played.frames), (stopped.decisions, played.decisions)):
        assert len(empty) == 0 and list(empty.columns) == list(full.columns)
        assert empty.dtypes.to_dict() == full.dtypes.to_dict()
    observations, actions, episodes = stopped.training_pairs()
    assert observations.shape == (0, 4) and len(actions) == len(episodes) == 0
    assert len(stopped.soft_labels()) == 0 and len(stopped.returns()) == 0
    reloaded = EpisodeSet.load(stopped.save(tmp_path / "stopped"))
    assert reloaded.frames.dtypes.to_dict() == played.frames.dtypes.to_dict()


def test_protocols_share_starting_states_so_comparisons_are_paired():
    sequential = run_cartpole_teacher(RuleStandIn("no_persona"), CONTROL, Study2023Protocol(), 5, seed=42)
    concurrent = run_cartpole_teacher(RuleStandIn("no_persona"), CONTROL, BoundedHistoryProtocol(), 5, seed=42)
    assert sequential.frames.equals(concurrent.frames)
    assert sequential.metadata["protocol"] != concurrent.metadata["protocol"]


# --- live teachers against the local server -------------------------------------------------------


@pytest.fixture
def server():
    with LocalOpenAIServer() as running:
        yield running


def live(server, **options):
    return OpenAIChatbot("local-model", base_url=server.base_url, timeout=5, **options)


def test_study_2023_rollout_sends_the_2023_conversation(server):
    episodes = run_cartpole_teacher(live(server), NEWTON, Study2023Protocol(), 3, seed=42)
    first = server.received[0]
    assert first["messages"][:15] == initial_messages(NEWTON)
    assert first["messages"][15]["content"] == STUDY_2023.describe(episodes.frames.iloc[0][["x", "x_dot", "theta", "theta_dot"]].to_numpy())
    assert first["temperature"] == 0 and first["max_tokens"] == 2 and "logprobs" not in first
    lengths = [len(body["messages"]) for body in server.received]
    assert lengths == sorted(lengths)  # one conversation, always re-sent whole
    assert {"role": "user", "content": FAILED_MESSAGE_2023} in server.received[-1]["messages"]
    assert len(server.received) == len(episodes.decisions) and episodes.is_chatbot
    assert episodes.teacher.startswith("local-model at 127.0.0.1:") and episodes.metadata["persona"] == "newton"
    assert (episodes.decisions["prompt_tokens"] > 0).all()
    report = episodes.metadata["usage"]
    assert report["decisions"] == len(episodes.decisions) and report["tokens_per_decision"] > 0


def test_unreadable_answers_are_retried_once_then_fall_back_flagged(server):
    server.queue("refusal", "text:left", "empty", "text:left or right")
    episodes = run_cartpole_teacher(live(server), NEWTON, Study2023Protocol(), 1, seed=0)
    first, second = episodes.decisions.iloc[0], episodes.decisions.iloc[1]
    assert (first["status"], first["action"], first["answer"]) == ("retried", 0, "left")
    assert (second["status"], second["action"]) == ("fallback", 1) and math.isnan(second["p_right"])
    reminder = server.received[1]["messages"]
    assert reminder[-1] == {"role": "user", "content": REMINDER} and reminder[-2]["role"] == "assistant"
    # The conversation goes on with the reminder dropped and the fallback written as the study wrote it.
    third_request = server.received[4]["messages"]
    assert third_request[-2]["content"] == FALLBACK_HISTORY_TEXT and third_request[-4]["content"] == "left"
    assert REMINDER not in [m["content"] for m in third_request]
    report = episodes.metadata["usage"]
    assert (report["parse_failures"], report["retried"], report["fallbacks"]) == (3, 1, 1)
    observations, actions, _ = episodes.training_pairs()
    assert len(actions) == len(episodes.decisions) - 1  # the fallback is not the teacher's decision


def test_context_overflow_restarts_the_conversation(server):
    server.queue("text:left", "context")
    episodes = run_cartpole_teacher(live(server), NEWTON, Study2023Protocol(), 1, seed=0)
    assert episodes.metadata["context_restarts"] == 1
    assert len(server.received[2]["messages"]) == 16  # the initial prompt and the current state only
    assert episodes.decisions.iloc[1]["status"] == "ok"


def test_soft_labels_from_log_probabilities(server):
    episodes = run_cartpole_teacher(live(server), NEWTON, BoundedHistoryProtocol(turns=2), 4, seed=1, max_in_flight=4)
    decisions = episodes.decisions
    expected = np.where(decisions["action"] == 1, 0.8, 0.2)
    assert np.allclose(decisions["p_right"], expected)
    assert np.allclose(episodes.soft_labels(), expected)
    assert max(len(body["messages"]) for body in server.received) == 15 + 2 * 2 + 1


def test_record_then_replay_gives_identical_episodes(server, tmp_path):
    store_path = tmp_path / "cartpole.jsonl"
    recorded = run_cartpole_teacher(RecordingTeacher(live(server), TranscriptStore(store_path)), NEWTON,
                                    BoundedHistoryProtocol(turns=2), 4, seed=5, max_in_flight=4)
    asked = len(server.received)
    replayed = run_cartpole_teacher(ReplayTeacher(TranscriptStore(store_path), "local-model"), NEWTON,
                                    BoundedHistoryProtocol(turns=2), 4, seed=5, max_in_flight=4)
    assert len(server.received) == asked
    assert replayed.frames.equals(recorded.frames)
    columns = ["episode", "t", "state", "answer", "status", "action", "p_right", "prompt_tokens"]
    assert replayed.decisions[columns].equals(recorded.decisions[columns])
    assert "replayed from" in replayed.teacher and replayed.is_chatbot


def test_budget_stops_cleanly_and_the_next_run_resumes(server, tmp_path):
    store_path = tmp_path / "cartpole.jsonl"
    limited = RecordingTeacher(live(server, budget=Budget(max_requests=15)), TranscriptStore(store_path))
    partial = run_cartpole_teacher(limited, NEWTON, BoundedHistoryProtocol(turns=1), 6, seed=9, max_in_flight=2)
    assert "request budget" in partial.metadata["stopped_early"] and len(server.received) == 15
    assert partial.n_episodes < 6
    ends = partial.frames.groupby("episode").last()
    assert (ends["terminated"] | ends["truncated"]).all()  # only whole episodes are kept
    folder = partial.save(tmp_path / "partial")
    assert EpisodeSet.load(folder).metadata["stopped_early"] == partial.metadata["stopped_early"]

    full = run_cartpole_teacher(RecordingTeacher(live(server), TranscriptStore(store_path)), NEWTON,
                                BoundedHistoryProtocol(turns=1), 6, seed=9, max_in_flight=2)
    assert full.metadata["stopped_early"] is None and full.n_episodes == 6
    assert len(server.received) == len(TranscriptStore(store_path))  # nothing asked twice


def test_the_state_labeller_asks_every_text_state_once_then_reads_its_answers(server):
    server.queue("text:right", "text:left", "empty", "empty")
    label = state_labeller(live(server), CONTROL, BoundedHistoryProtocol(turns=0), max_in_flight=1)
    asked = STUDY_2023.n_states + 1  # every state once; the empty answer asked again with the reminder
    assert len(server.received) == asked
    first = STUDY_2023.observation_of_state(0)
    observations = np.stack([first, STUDY_2023.observation_of_state(1), STUDY_2023.observation_of_state(2),
                             first + [0.0, 0.0, 0.001, 0.0]])
    actions, p_right, statuses = label(observations)
    assert list(actions) == [1, 0, 1, 1] and statuses == ["ok", "ok", "fallback", "ok"]
    assert np.allclose(p_right[[0, 1, 3]], [0.8, 0.2, 0.8]) and math.isnan(p_right[2])
    # Labelling asks nothing more: every state was asked once, as a single question.
    assert len(server.received) == asked
    assert all(len(body["messages"]) in (16, 18) for body in server.received)
    assert server.received[0]["messages"][0]["content"] == system_prompt(CONTROL)
    assert server.received[0]["top_logprobs"] == 20
