"""The 2023 study's recordings: fetched at a pinned commit (or read from a local copy), checked, replayed.

Where the files come from. `locate()` reads the folder named by the environment variable
EEP_ORIGINAL_STUDY_DIR when it is set (tests and CI), else downloads each file once from the original
public repository at a pinned commit into data/original-study/ (pooch, SHA-256 checked, short timeout).
With neither, it raises `OriginalStudyUnavailable`, whose message a chapter can print as "skipped".

What is in them. The chatbot runs' sequence.json files pair each frame's action with a "state" record,
but the original scripts appended extra state records (after every reset, and in the 2023-02-28 run
twice per frame), so the pairs drift out of step. The actions alone are complete, and CartPole is
deterministic: replaying them from the run's first reset (seed 42; later resets draw from the same
generator) rebuilds every observation, and the replay is checked record by record against the file.
The chatbot's text turns (prompts.json) are then aligned with the frames where it was asked.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import gymnasium as gym
import numpy as np
import pooch
import pandas as pd

from eep_utils.cartpole.embodiment import STEPS_PER_DECISION_2023, STUDY_2023, Feature, Projection
from eep_utils.cartpole.episodes import DECISION_COLUMNS, OBSERVATION_COLUMNS, EpisodeSet
from eep_utils.paths import DATA_DIR
from eep_utils.stats import mean_ci, welch_test

REPOSITORY = "keskival/embodied-emulated-personas"
PINNED_COMMIT = "b131541656d47135192de3ee409464ee9b4e2cbf"
RAW_BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{PINNED_COMMIT}/"
LOCAL_FOLDER_VARIABLE = "EEP_ORIGINAL_STUDY_DIR"
DEFAULT_CACHE = DATA_DIR / "original-study"
FIRST_RESET_SEED = 42  # every 2023 run reset CartPole-v1 with seed 42 once, then unseeded

# The study's README table.
PUBLISHED_MEANS = {"chatbot": 24.378049, "random_walk": 19.05851, "xgboost_student": 21.245431}
# The same numbers, with the score file each was computed from.
PUBLISHED_SCORE_FILES = {"chatbot": "chatbot/2023-03-03/scores.json",
                         "random_walk": "random-walk/2023-02-28c/scores.json",
                         "xgboost_student": "student/2023-03-04/scores.json"}

CHAT_RUN_TEACHER = "gpt-3.5-turbo as Newton (2023 recordings, chat API)"
COMPLETION_RUN_TEACHER = "unnamed OpenAI completion model as Newton ({date} recordings, text-completion API)"
FALLBACK_ANSWER = " right"  # what the 2023 script wrote into the conversation after 5 unusable answers

_CHAT = "chatbot-gym/outputs/2023-03-03 21:17:53.874433/"
_FEB28 = "chatbot-gym/outputs/2023-02-28 13:46:18.495354/"
_FEB25 = "chatbot-gym/outputs/2023-02-25 22:57:15.568798/"
_WALK = "chatbot-gym/random-walk-baseline/outputs/"
_STUDENT = "student-policy/outputs/"
# Local name -> (path in the original repository, or None if only the local copy has it; SHA-256).
FILES = {
    "chatbot/2023-03-03/sequence.json": (_CHAT + "sequence.json", "7131037da59edc6f8eff62614e187797e2594e9c1baace66b5ba585acca1d6da"),
    "chatbot/2023-03-03/prompts.json": (_CHAT + "prompts.json", "c1add26e6dd7204236a195deb03fe77dc2212e722985cb579a3295c6c9b82178"),
    "chatbot/2023-03-03/scores.json": (_CHAT + "scores.json", "f09b207e56fd0d61b091d1ab6c891b6e1dec3d6bce187d9668ed9a3cfb01c851"),
    "chatbot/2023-03-03/observations.npy": ("chatbot-gym/observations.npy", "35317f00e171e7eff73c41fac5793c48f4eb3b17f15a3b202b3fac4daccf3aa6"),
    "chatbot/2023-03-03/actions.npy": ("chatbot-gym/actions.npy", "24fc9899ea27625d9148a8f430c25d3ece16ebd9b23e2f662eed32c1779f0381"),
    "chatbot/2023-02-28/sequence.json": (_FEB28 + "sequence.json", "0b04dd60b093d0202ede6ed22c866f99fad43b09efe0486b1bfcac87ea86203f"),
    "chatbot/2023-02-28/prompts.json": (_FEB28 + "prompts.json", "af1616e0cda4f1d91b279ce9493ccc093c7edd23b6edfec20b6b94bf1f38a7b6"),
    "chatbot/2023-02-28/scores.json": (_FEB28 + "scores.json", "63e63651a36bb461285336f7fb88d4eca4568482c8d1686c55de27230c062145"),
    "chatbot/2023-02-28/fixed_scores.json": (_FEB28 + "fixed_scores.json", "f628495187cd8a522ede0ec12b8d66bcadaac76d64fdbdc658c77a9987990dcd"),
    "chatbot/2023-02-25/sequence.json": (_FEB25 + "sequence.json", "44f60bf154c46390ebb987bdf066b01a7f173b1dde00ba1ec5e3f41f41c5bf93"),
    "chatbot/2023-02-25/prompts.json": (_FEB25 + "prompts.json", "49c481b94e66fe37977561a857b5e757bca2d01980f2721dd694a64f91b3e806"),
    "random-walk/2023-02-28a/scores.json": (_WALK + "2023-02-28 12:05:34.588088/scores.json", "8f4e4cbe83da73018e8a1e216eefaba67275d30c95be9c875e95df2ecff13491"),
    "random-walk/2023-02-28b/scores.json": (_WALK + "2023-02-28 12:09:08.766331/scores.json", "ab1bfd8a1cc0d4822727472ee61629d3134a80ef9e8183db39f9d1a63f4e63b2"),
    "random-walk/2023-02-28c/scores.json": (_WALK + "2023-02-28 12:13:47.146559/scores.json", "1e4ed7834ca678bdfbd6b3e7818a32c744b1b349e56dc86542b3279e8e536966"),
    "student/2023-02-28/scores.json": (_STUDENT + "2023-02-28 23:29:40.389534/scores.json", "d5ce0874a397df285b24f09754666db9a121431c928eca0c461d88ae2ade4c93"),
    "student/2023-03-01/scores.json": (_STUDENT + "2023-03-01 00:54:44.366088/scores.json", "b08c313eb56927a9a6431670cb1b19cf0f17a8a9c39b264093184c0a20844291"),
    "student/2023-03-04/scores.json": (_STUDENT + "2023-03-04 19:54:13.393381/scores.json", "9be7950f54e0bec3855a1ab0953298f03daca373de3602cb0fc7f3d51f5ff1a0"),
    # The published model re-saved as JSON (XGBoost >= 3.1 cannot read the original binary file).
    "student/2023-03-04/xgboost.json": (None, "7807c3d3e91c42832fd023431d572373af9e379636b46d6793983509ca5c676b"),
}

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


class OriginalStudyUnavailable(RuntimeError):
    """The 2023 recordings are neither in a local folder nor downloadable (offline)."""


class OriginalStudyDataError(ValueError):
    """A 2023 file is damaged (wrong checksum, truncated, unparseable) or does not replay."""


# ---------------------------------------------------------------------------------------------
# Where the files are


def locate(cache_dir: Path | None = None, base_url: str = RAW_BASE_URL, timeout: float = 10.0) -> "OriginalStudy":
    """The 2023 recordings: the local folder in $EEP_ORIGINAL_STUDY_DIR if set, else the pinned download."""
    local = os.environ.get(LOCAL_FOLDER_VARIABLE)
    if local:
        folder = Path(local).expanduser()
        if not folder.is_dir():
            raise OriginalStudyUnavailable(
                f"{LOCAL_FOLDER_VARIABLE} names {folder}, which is not a folder; point it at a copy of the "
                "2023 recordings or unset it to download them")
        return OriginalStudy(LocalFolder(folder))
    return OriginalStudy(PinnedDownload(Path(cache_dir or DEFAULT_CACHE), base_url, timeout))


def sha256_of(path: Path) -> str:
    return pooch.file_hash(str(path), alg="sha256")


def _known(name: str) -> tuple[str | None, str]:
    if name not in FILES:
        raise KeyError(f"{name!r} is not one of the 2023 files: {sorted(FILES)}")
    return FILES[name]


@dataclass
class LocalFolder:
    folder: Path

    def path(self, name: str) -> Path:
        _, expected = _known(name)
        path = self.folder / name
        if not path.is_file():
            raise OriginalStudyUnavailable(f"{path} is missing from the local copy of the 2023 recordings "
                                           f"({LOCAL_FOLDER_VARIABLE}={self.folder}); restore it or unset the variable")
        actual = sha256_of(path)
        if actual != expected:
            raise OriginalStudyDataError(
                f"{path} is not the 2023 file (SHA-256 {actual}, expected {expected}); it is damaged or "
                "truncated: replace it with a fresh copy")
        return path


@dataclass
class PinnedDownload:
    cache: Path
    base_url: str
    timeout: float

    def path(self, name: str) -> Path:
        import requests

        original, expected = _known(name)
        if original is None:
            raise OriginalStudyUnavailable(
                f"{name} exists only in the local copy of the 2023 recordings, not in {REPOSITORY}; "
                f"set {LOCAL_FOLDER_VARIABLE} to a folder that has it")
        # Paths with spaces and colons must be percent-encoded in the raw-file URL.
        url = self.base_url + quote(original)
        downloader = pooch.HTTPDownloader(timeout=self.timeout, progressbar=False)
        try:
            return Path(pooch.retrieve(url, known_hash=f"sha256:{expected}", fname=name.replace("/", "__"),
                                       path=self.cache, downloader=downloader))
        except ValueError as error:
            if "hash" not in str(error).lower():
                raise
            raise OriginalStudyDataError(
                f"the download of {name} from {url} does not have the pinned SHA-256 {expected}; the file "
                f"there changed or the transfer was cut. Nothing was kept. Retry, or set {LOCAL_FOLDER_VARIABLE} "
                "to a checked local copy") from None
        except (requests.RequestException, OSError) as error:
            raise OriginalStudyUnavailable(
                f"the 2023 recordings are not available: {name} could not be downloaded from {url} "
                f"({type(error).__name__}) and {LOCAL_FOLDER_VARIABLE} is not set. Work offline by "
                f"setting {LOCAL_FOLDER_VARIABLE} to a local copy") from None


# ---------------------------------------------------------------------------------------------
# Reading the files


@dataclass
class OriginalStudy:
    """Typed access to the 2023 files; every read is checksum-checked and gives a clear error."""

    source: LocalFolder | PinnedDownload

    def path(self, name: str) -> Path:
        return self.source.path(name)

    def json(self, name: str):
        path = self.path(name)
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise OriginalStudyDataError(f"{path} is not valid JSON ({error}); replace it with a fresh copy") from None

    def scores(self, name: str) -> np.ndarray:
        """Episode returns as recorded by a 2023 script (e.g. 'random-walk/2023-02-28c/scores.json')."""
        return np.asarray(self.json(name), dtype=np.float64)

    def published_scores(self) -> dict[str, np.ndarray]:
        return {key: self.scores(name) for key, name in PUBLISHED_SCORE_FILES.items()}

    def original_training_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """observations.npy and actions.npy exactly as the 2023 student was trained on (misaligned; see
        `zipped_pair_alignment`)."""
        arrays = []
        for name in ("chatbot/2023-03-03/observations.npy", "chatbot/2023-03-03/actions.npy"):
            path = self.path(name)
            try:
                arrays.append(np.load(path, allow_pickle=False))
            except (ValueError, OSError, EOFError) as error:
                raise OriginalStudyDataError(f"{path} is not a readable .npy file ({error}); replace it") from None
        return arrays[0], arrays[1]

    def sequence(self, date: str) -> list:
        items = self.json(f"chatbot/{date}/sequence.json")
        if not isinstance(items, list) or not all(isinstance(i, list) and len(i) == 2 for i in items):
            raise OriginalStudyDataError(f"chatbot/{date}/sequence.json is not a list of [state, action] pairs")
        return items

    def replayed_run(self, date: str) -> Replay:
        """A chatbot run rebuilt from its recorded actions, checked against every state record in its file."""
        layouts = {"2023-03-03": "chat", "2023-02-25": "completion_feb25", "2023-02-28": "completion_feb28"}
        if date not in layouts:
            raise KeyError(f"the 2023 chatbot runs are {sorted(layouts)}")
        items = self.sequence(date)
        replay = replay_actions([item[1] for item in items])
        check_replay(items, replay.records(layouts[date]), f"chatbot/{date}/sequence.json")
        return replay

    def chat_run(self) -> EpisodeSet:
        """The run behind the published table, with the chatbot's turns on the frames where it was asked."""
        replay = self.replayed_run("2023-03-03")
        frames = replay.complete_episodes()
        conversations = self.json("chatbot/2023-03-03/prompts.json")
        decisions, found = align_chat_turns(frames, conversations)
        scores = self.scores("chatbot/2023-03-03/scores.json")
        returns = frames.groupby("episode")["reward"].sum().to_numpy()
        if not np.array_equal(returns, scores):
            raise OriginalStudyDataError("the replayed chat run's episode returns differ from its scores.json")
        metadata = {
            "source": f"{REPOSITORY}@{PINNED_COMMIT}:{_CHAT}",
            "model": "gpt-3.5-turbo", "api": "chat", "temperature": 0.0, "max_tokens": 2,
            "projection": STUDY_2023.name, "steps_per_decision": STEPS_PER_DECISION_2023,
            "first_reset_seed": FIRST_RESET_SEED,
            "frames_recorded": len(replay.frames), "unfinished_frames_left_out": len(replay.frames) - len(frames),
            "few_shot_turns": FEW_SHOT_TURNS_2023,
            **found,
            "fallbacks": int((decisions["status"] == "fallback").sum()),
            "note": ("observations rebuilt by replaying the recorded actions from reset(seed=42) and checked "
                     "against every state record in sequence.json; retries before a usable answer were not recorded"),
        }
        return EpisodeSet(CHAT_RUN_TEACHER, True, frames, decisions, metadata)

    def completion_run(self, date: str) -> EpisodeSet:
        """An earlier text-completion run ('2023-02-25' or '2023-02-28'), in the same format."""
        if date not in ("2023-02-25", "2023-02-28"):
            raise KeyError("the text-completion runs are '2023-02-25' and '2023-02-28'")
        replay = self.replayed_run(date)
        frames = replay.complete_episodes()
        decisions = align_completion_turns(frames, self.json(f"chatbot/{date}/prompts.json"))
        metadata = {
            "source": f"{REPOSITORY}@{PINNED_COMMIT}:{_FEB25 if date == '2023-02-25' else _FEB28}",
            "api": "completion", "projection": TEXT_COMPLETION_2023.name,
            "steps_per_decision": STEPS_PER_DECISION_2023, "first_reset_seed": FIRST_RESET_SEED,
            "frames_recorded": len(replay.frames), "unfinished_frames_left_out": len(replay.frames) - len(frames),
            "note": ("the script wrote 'push-cart: right' both for the model's own answer and for its "
                     "fallback, so fallbacks cannot be told apart here"),
        }
        if date == "2023-02-28":
            fixed = self.scores("chatbot/2023-02-28/fixed_scores.json")
            metadata["fixed_scores_cover_episodes"] = len(fixed)
        return EpisodeSet(COMPLETION_RUN_TEACHER.format(date=date), True, frames, decisions, metadata)

    def published_student(self):
        """The 2023 XGBoost student's booster: the saved model if the local copy has it, else retrained
        from observations.npy/actions.npy with the original settings (which gives the same trees)."""
        import xgboost as xgb

        from eep_utils.cartpole.students import OriginalXGBoostStudent

        try:
            path = self.path("student/2023-03-04/xgboost.json")
        except OriginalStudyUnavailable:
            observations, actions = self.original_training_arrays()
            return OriginalXGBoostStudent().fit(observations[:ORIGINAL_TRAINING_ROWS], actions[:ORIGINAL_TRAINING_ROWS])
        booster = xgb.Booster()
        booster.load_model(path)
        return OriginalXGBoostStudent.from_booster(booster)


ORIGINAL_TRAINING_ROWS = 3000  # train_xgboost.py used observations[:3000], actions[:3000]
FEW_SHOT_TURNS_2023 = 7  # user/assistant example pairs in the chat run's initial prompt


# ---------------------------------------------------------------------------------------------
# Replaying a run


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
    env = gym.make("CartPole-v1")
    observation, _ = env.reset(seed=seed)
    events = [("reset", observation.tolist())]
    rows = []
    episode, t = 0, 0
    for frame, action in enumerate(actions):
        if action not in (0, 1):
            raise OriginalStudyDataError(f"frame {frame}: action {action!r} is neither 0 nor 1")
        events.append(("before", observation.tolist()))
        next_observation, reward, terminated, truncated, _ = env.step(int(action))
        rows.append((episode, t, *observation.tolist(), int(action), frame % steps_per_decision == 0,
                     float(reward), bool(terminated), bool(truncated)))
        events.append(("after", next_observation.tolist(), float(reward), bool(terminated), bool(truncated)))
        observation, t = next_observation, t + 1
        if terminated or truncated:
            observation, _ = env.reset()
            events.append(("reset", observation.tolist()))
            episode, t = episode + 1, 0
    env.close()
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


def published_table_check(study: OriginalStudy) -> pd.DataFrame:
    """Each published mean next to the mean computed from its score file (mean, 95% CI, n)."""
    rows = []
    for key, scores in study.published_scores().items():
        estimate = mean_ci(scores)
        rows.append({"row": key, "published": PUBLISHED_MEANS[key], **estimate.as_dict(),
                     "file": PUBLISHED_SCORE_FILES[key]})
    return pd.DataFrame(rows)


def play_as_in_2023(policy, n_frames: int = 100_000, seed: int = FIRST_RESET_SEED, progress: bool = False) -> np.ndarray:
    """Episode returns of `policy` played the way the 2023 student script did: one CartPole-v1 run of
    `n_frames` frames from reset(seed), unseeded resets, a decision on every 2nd frame of the run
    (so after an odd-length episode the next one starts on the old action). Unfinished last episode
    dropped. For the published model this reproduces its scores.json exactly."""
    from tqdm import tqdm

    env = gym.make("CartPole-v1")
    observation, _ = env.reset(seed=seed)
    scores, score, action = [], 0.0, 0
    for frame in tqdm(range(n_frames), desc="2023 protocol", disable=not progress, mininterval=2):
        if frame % STEPS_PER_DECISION_2023 == 0:
            action = int(np.asarray(policy(observation[None, :])).reshape(-1)[0])
        observation, reward, terminated, truncated, _ = env.step(action)
        score += reward
        if terminated or truncated:
            scores.append(score)
            score = 0.0
            observation, _ = env.reset()
    env.close()
    return np.asarray(scores)


def reproduction_table(study: OriginalStudy, n_episodes: int, seed: int, replay_frames: int = 100_000,
                       progress: bool = False) -> pd.DataFrame:
    """The published table (Newton chatbot, random walk, XGBoost student) from its score files, next to
    the same agents and corrected students played here with one decision held for two frames
    (`n_episodes` fresh episodes each, vectorised), and the published model replayed frame by frame
    exactly as in 2023 for `replay_frames` frames (0 to skip). One row per agent: mean return, 95% CI,
    n, the published number where there is one, and Welch's p-value against the random walk of the
    same origin (recorded or played here)."""
    from tqdm import tqdm

    from eep_utils.cartpole.evaluation import RandomPolicy
    from eep_utils.cartpole.students import OriginalXGBoostStudent, closed_loop_return

    recorded = study.published_scores()
    observations, actions = study.original_training_arrays()
    chat = study.chat_run()
    first_frames = chat.frames.iloc[:ORIGINAL_TRAINING_ROWS]
    aligned = first_frames[OBSERVATION_COLUMNS].to_numpy(), first_frames["action"].to_numpy()
    checked_observations, checked_actions, _ = chat.training_pairs(dynamics_checked=True)
    students = {
        "XGBoost student, published model": (study.published_student(), "as published"),
        "XGBoost student retrained as in 2023": (
            OriginalXGBoostStudent().fit(observations[:ORIGINAL_TRAINING_ROWS], actions[:ORIGINAL_TRAINING_ROWS]),
            "observations.npy/actions.npy rows 0-2999 (zipped, misaligned pairs)"),
        "XGBoost student, aligned pairs": (
            OriginalXGBoostStudent().fit(*aligned), "the same 3000 frames, each observation with its own action"),
        "XGBoost student, checked decisions": (
            OriginalXGBoostStudent().fit(checked_observations, checked_actions),
            "all 164 episodes' decided frames, no fallbacks, dynamics-checked"),
    }
    random_played = closed_loop_return(RandomPolicy(seed), n_episodes, seed)
    published_model = students["XGBoost student, published model"][0]
    rows = [
        _table_row("Newton chatbot", CHAT_RUN_TEACHER, "2023 score file", recorded["chatbot"],
                   PUBLISHED_MEANS["chatbot"], recorded["random_walk"], PUBLISHED_SCORE_FILES["chatbot"]),
        _table_row("Random walk", "uniform random pushes", "2023 score file", recorded["random_walk"],
                   PUBLISHED_MEANS["random_walk"], None, PUBLISHED_SCORE_FILES["random_walk"]),
        _table_row("XGBoost student", "student of " + CHAT_RUN_TEACHER, "2023 score file",
                   recorded["xgboost_student"], PUBLISHED_MEANS["xgboost_student"], recorded["random_walk"],
                   PUBLISHED_SCORE_FILES["xgboost_student"]),
        _table_row("Random walk", "uniform random pushes", "played here", random_played.returns, np.nan, None,
                   f"RandomPolicy(seed={seed})"),
    ]
    for offset, (name, (student, data)) in enumerate(tqdm(students.items(), desc="students", disable=not progress)):
        played = closed_loop_return(student.predict, n_episodes, seed + 1 + offset)
        rows.append(_table_row(name, "student of " + CHAT_RUN_TEACHER, "played here", played.returns,
                               PUBLISHED_MEANS["xgboost_student"] if name.endswith("published model") else np.nan,
                               random_played.returns, data))
    if replay_frames:
        random_2023 = play_as_in_2023(RandomPolicy(seed), replay_frames)
        rows.append(_table_row("Random walk", "uniform random pushes", "replayed as in 2023", random_2023, np.nan, None,
                               f"RandomPolicy(seed={seed}), {replay_frames} frames, run-wide decision phase"))
        # One row per call: the booster directly, without scikit-learn's input checks (~10x faster).
        booster = published_model.booster_
        replayed = play_as_in_2023(lambda rows: booster.inplace_predict(rows) >= 0.5, replay_frames, progress=progress)
        rows.append(_table_row("XGBoost student, published model", "student of " + CHAT_RUN_TEACHER,
                               "replayed as in 2023", replayed, PUBLISHED_MEANS["xgboost_student"],
                               recorded["random_walk"], f"{replay_frames} frames from reset(seed=42), run-wide decision phase"))
    return pd.DataFrame(rows)


def _table_row(agent, teacher, origin, returns, published, random_returns, details) -> dict:
    estimate = mean_ci(returns)
    return {"agent": agent, "teacher": teacher, "origin": origin, **estimate.as_dict(),
            "published": published,
            "p_vs_random": welch_test(returns, random_returns) if random_returns is not None else np.nan,
            "details": details}
