"""Replaying a 2023 chatbot run from its recorded actions, and aligning the chatbot's turns with its frames.

Every 2023 run reset CartPole-v1 with seed 42 once, then unseeded (later resets draw from the same
generator), and asked the chatbot on every second frame of the whole run. Replaying the actions
rebuilds every observation; `check_replay` holds the replay against each state record of the file.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from eep_utils.cartpole.body import play_run
from eep_utils.cartpole.embodiment import STEPS_PER_DECISION_2023, STUDY_2023, Feature, Projection
from eep_utils.cartpole.episodes import DECISION_COLUMNS, OBSERVATION_COLUMNS
from eep_utils.study2023.fetch import OriginalStudyDataError

FIRST_RESET_SEED = 42
FALLBACK_ANSWER = " right"  # what the 2023 script wrote into the conversation after 5 unusable answers
FEW_SHOT_TURNS_2023 = 7  # user/assistant example pairs in the chat run's initial prompt

# The earlier text-completion runs described position and angle in five words. Thresholds as in the
# original script of that time (checked against the replayed observations in the tests).
TEXT_COMPLETION_2023 = Projection(
    "2023 text-completion runs (5 words for position and angle)",
    (
        Feature("cart-position", 0, ("left-limit", "left", "center", "right", "right-limit"), (0.1, 2.3), "m"),
        Feature("cart-velocity", 1, ("leftwards", "stopped", "rightwards"), (0.2,), "m/s"),
        Feature("pole-angular-velocity", 3, ("leftwards", "zero", "rightwards"), (0.2,), "rad/s"),
        Feature("pole-angle", 2, ("far-left", "left", "upright", "right", "far-right"), (0.02, 0.15), "rad"),
    ),
)


@dataclass
class Replay:
    """A run rebuilt from its actions: one row per frame plus the run's reset/step events."""

    frames: pd.DataFrame  # FRAME_COLUMNS, all frames including an unfinished last episode
    events: list  # ("reset", obs) | ("before", obs) | ("after", obs, reward, terminated, truncated), in order

    def complete_episodes(self) -> pd.DataFrame:
        ended = self.frames.groupby("episode")[["terminated", "truncated"]].any().any(axis=1)
        return self.frames[self.frames["episode"].isin(ended[ended].index)].reset_index(drop=True)

    def records(self, layout: str) -> list:
        """The state records the 2023 script of this layout appended, in order (what sequence.json zipped)."""
        records = []
        for kind, obs, *rest in self.events:
            if layout == "chat" and kind == "reset":
                records.append({"obs": obs, "reward": 0, "terminated": False})
            elif layout in ("chat", "completion_feb28") and kind == "after":
                records.append({"obs": obs, "reward": rest[0], "terminated": rest[1]})
            elif layout == "completion_feb28" and kind == "reset":
                records.append({"obs": obs, "reward": 0, "terminated": False})
            elif layout in ("completion_feb25", "completion_feb28") and kind == "before":
                records.append(obs)
        return records


def replay_actions(actions, seed: int = FIRST_RESET_SEED, steps_per_decision: int = STEPS_PER_DECISION_2023) -> Replay:
    """Play `actions` frame by frame in CartPole-v1 from reset(seed), resetting unseeded after each episode.

    The 2023 scripts asked the chatbot on every `steps_per_decision`-th frame of the whole run (not of
    the episode), so after an odd-length episode the next episode's first frame holds the old action."""
    invalid = next(((frame, action) for frame, action in enumerate(actions) if action not in (0, 1)), None)
    if invalid is not None:
        raise OriginalStudyDataError(f"frame {invalid[0]}: action {invalid[1]!r} is neither 0 nor 1")
    recorded = iter(actions)
    # One frame per step: the recorded actions are replayed as played; the rhythm marks the decided frames.
    run = play_run(lambda observation: int(next(recorded)), len(actions), seed, steps_per_decision=1)
    _, observation = next(run)
    events = [("reset", observation.tolist())]
    rows = []
    episode = 0
    for frame, ((played,), observation) in enumerate(run):
        events.append(("before", played.observation.tolist()))
        rows.append((episode, played.t, *played.observation.tolist(), played.action, frame % steps_per_decision == 0,
                     float(played.reward), bool(played.terminated), bool(played.truncated)))
        events.append(("after", played.next_observation.tolist(), float(played.reward), bool(played.terminated),
                       bool(played.truncated)))
        if played.terminated or played.truncated:
            events.append(("reset", observation.tolist()))
            episode += 1
    frames = pd.DataFrame(rows, columns=["episode", "t", *OBSERVATION_COLUMNS, "action", "decided", "reward",
                                         "terminated", "truncated"])
    return Replay(frames, events)


def check_replay(items: list, expected_records: list, name: str) -> None:
    """Every state record in the file must equal the replay's, bit for bit."""
    for index, (item, expected) in enumerate(zip(items, expected_records)):
        if item[0] != expected:
            raise OriginalStudyDataError(
                f"{name}: record {index} is {item[0]!r} but replaying the actions gives {expected!r}; "
                "the file is damaged or this Gymnasium's CartPole differs from 2023's")
    if len(expected_records) < len(items):
        raise OriginalStudyDataError(f"{name}: more state records than the replay produces")


# ---------------------------------------------------------------------------------------------
# The chatbot's turns


def _decision_table(frames: pd.DataFrame, prompt_texts, answers, projection: Projection, statuses) -> pd.DataFrame:
    decided = frames[frames["decided"]]
    table = pd.DataFrame({
        "episode": decided["episode"].to_numpy(), "t": decided["t"].to_numpy(),
        "state": [projection.parse_description(text) for text in prompt_texts],
        "prompt_text": list(prompt_texts), "answer": list(answers), "status": list(statuses),
        "action": decided["action"].to_numpy(), "p_right": np.nan,
        "prompt_tokens": np.nan, "completion_tokens": np.nan, "latency_s": np.nan,
    })
    return table[DECISION_COLUMNS]


def align_chat_turns(frames: pd.DataFrame, conversations: list) -> tuple[pd.DataFrame, dict]:
    """Match each episode's chat turns with its decided frames.

    prompts.json holds, per episode, the whole conversation sent so far, so an episode's own turns
    end its conversation. They are read backwards: an answer per decided frame, each after the user
    message describing the replayed observation. Two things interrupt this. A fallback " right" can
    stand right after the initial prompt's few-shot turns, without its question: the conversation was
    restarted at that point (the 2023 script restarted it when the API kept failing, most likely on
    a too-long context), and the episode's earlier turns were not kept in prompts.json. Those turns
    get the description that was sent (the same function of the observation) and an empty answer.
    Returns the decisions and counts of what was found."""
    n_episodes = frames["episode"].nunique()
    if len(conversations) < n_episodes:
        raise OriginalStudyDataError(f"prompts.json has {len(conversations)} conversations for {n_episodes} episodes")
    initial_length = 1 + 2 * FEW_SHOT_TURNS_2023
    per_episode = []
    found = {"turns_not_in_prompts_json": 0, "restarts_within_an_episode": [], "episodes_starting_from_the_initial_prompt": []}
    for episode, episode_frames in frames.groupby("episode"):
        messages = conversations[episode]
        position = len(messages)
        rows = []
        for _, frame in episode_frames[episode_frames["decided"]].iloc[::-1].iterrows():
            sent = STUDY_2023.describe(frame[OBSERVATION_COLUMNS].to_numpy(np.float64))
            where = f"episode {episode}, frame {frame['t']}"
            if position <= initial_length:
                found["turns_not_in_prompts_json"] += 1
                rows.append((sent, "", "ok"))
                continue
            answer = messages[position - 1]
            if answer["role"] != "assistant" or _action_of_answer(answer["content"]) != frame["action"]:
                raise OriginalStudyDataError(f"{where}: message {position - 1} ({answer['content']!r}) does not "
                                             "give the recorded action; prompts.json is out of step")
            position -= 1
            question = messages[position - 1]
            if question["role"] == "user" and question["content"] == sent:
                position -= 1
            elif answer["content"] == FALLBACK_ANSWER and position == initial_length:
                found["restarts_within_an_episode"].append(int(episode))
            else:
                raise OriginalStudyDataError(f"{where}: message {position - 1} does not describe the replayed "
                                             "state; prompts.json is out of step")
            status = "fallback" if answer["content"] == FALLBACK_ANSWER else "ok"
            rows.append((sent, answer["content"], status))
        if position == initial_length:
            found["episodes_starting_from_the_initial_prompt"].append(int(episode))
        per_episode.extend(reversed(rows))
    texts, answers, statuses = zip(*per_episode)
    return _decision_table(frames, texts, answers, STUDY_2023, statuses), found


def _action_of_answer(text: str) -> int | None:
    word = text.strip().removeprefix("push-cart:").strip()
    return {"left": 0, "right": 1}.get(word)


def align_completion_turns(frames: pd.DataFrame, prompts: list[str]) -> pd.DataFrame:
    """The text-completion runs: each episode's prompt ends with its decisions, five lines each
    (four state lines, then 'push-cart: left|right')."""
    texts, answers = [], []
    for episode, episode_frames in frames.groupby("episode"):
        decided = episode_frames[episode_frames["decided"]]
        lines = prompts[episode].rstrip("\n").split("\n")
        own = lines[len(lines) - 5 * len(decided):]
        for index, (_, frame) in enumerate(decided.iterrows()):
            block = own[5 * index: 5 * index + 5]
            answer = block[4]
            if _action_of_answer(answer) != frame["action"] or not answer.startswith("push-cart:"):
                raise OriginalStudyDataError(f"episode {episode}, frame {frame['t']}: {answer!r} does not give "
                                             "the recorded action; prompts.json is out of step")
            texts.append("\n".join(block[:4]))
            answers.append(answer)
    return _decision_table(frames, texts, answers, TEXT_COMPLETION_2023, ["ok"] * len(texts))


# ---------------------------------------------------------------------------------------------
# How far apart the original training pairs are


def zipped_pair_alignment(replay: Replay, n_rows: int) -> pd.DataFrame:
    """What the original observations.npy / actions.npy rows really pair, from the chat run's replay.

    Row i holds state record i and the action of frame i. The records list gains one extra record
    at every reset, so after the k-th episode the record in row i is the observation from before
    frame i - k (or an episode's terminal observation, from which no action was taken).
    Columns: row, observation_frame (-1 for a terminal observation), lag (row - observation_frame),
    same_episode (the observation and the action belong to the same episode)."""
    observation_frame = []
    frames_seen = 0
    for kind, _, *rest in replay.events:
        if kind == "before":
            frames_seen += 1
        elif kind == "reset":
            observation_frame.append(frames_seen)
        else:
            terminal = rest[1] or rest[2]
            observation_frame.append(-1 if terminal else frames_seen)
    observation_frame = np.asarray(observation_frame[:n_rows])
    episode = replay.frames["episode"].to_numpy()
    rows = np.arange(len(observation_frame))
    known = observation_frame >= 0
    same = np.zeros(len(rows), dtype=bool)
    same[known] = episode[observation_frame[known]] == episode[rows[known]]
    return pd.DataFrame({"row": rows, "observation_frame": observation_frame,
                         "lag": np.where(known, rows - observation_frame, -1), "same_episode": same})

