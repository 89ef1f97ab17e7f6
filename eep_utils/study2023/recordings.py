"""The 2023 recordings read as the book's episodes: typed, checksum-checked access to each file.

What is in them. The chatbot runs' sequence.json files pair each frame's action with a "state" record,
but the original scripts appended extra state records (after every reset, and in the 2023-02-28 run
twice per frame), so the pairs drift out of step. The actions alone are complete, and CartPole is
deterministic: replaying them from the run's first reset rebuilds every observation, and the replay is
checked record by record against the file (`replay`). The chatbot's text turns (prompts.json) are then
aligned with the frames where it was asked.

Where the files come from (a local copy named by EEP_ORIGINAL_STUDY_DIR, or the pinned download) is
`fetch`; the published table and its reproduction are `reproduction`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb

from eep_utils.cartpole.embodiment import STEPS_PER_DECISION_2023, STUDY_2023
from eep_utils.cartpole.episodes import EpisodeSet
from eep_utils.cartpole.students import OriginalXGBoostStudent
from eep_utils.study2023.fetch import (DEFAULT_CACHE, LOCAL_FOLDER_VARIABLE, PINNED_COMMIT, RAW_BASE_URL, REPOSITORY,
                                       RUN_FOLDERS, LocalFolder, OriginalStudyDataError, OriginalStudyUnavailable,
                                       PinnedDownload)
from eep_utils.study2023.replay import (FEW_SHOT_TURNS_2023, FIRST_RESET_SEED, TEXT_COMPLETION_2023, Replay,
                                        align_chat_turns, align_completion_turns, check_replay, replay_actions)

# The study's README table.
PUBLISHED_MEANS = {"chatbot": 24.378049, "random_walk": 19.05851, "xgboost_student": 21.245431}
# The same numbers, with the score file each was computed from.
PUBLISHED_SCORE_FILES = {"chatbot": "chatbot/2023-03-03/scores.json",
                         "random_walk": "random-walk/2023-02-28c/scores.json",
                         "xgboost_student": "student/2023-03-04/scores.json"}

CHAT_RUN_TEACHER = "gpt-3.5-turbo as Newton (2023 recordings, chat API)"
COMPLETION_RUN_TEACHER = "unnamed OpenAI completion model as Newton ({date} recordings, text-completion API)"
ORIGINAL_TRAINING_ROWS = 3000  # train_xgboost.py used observations[:3000], actions[:3000]


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
            "source": f"{REPOSITORY}@{PINNED_COMMIT}:{RUN_FOLDERS['2023-03-03']}",
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
            "source": f"{REPOSITORY}@{PINNED_COMMIT}:{RUN_FOLDERS[date]}",
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
        try:
            path = self.path("student/2023-03-04/xgboost.json")
        except OriginalStudyUnavailable:
            observations, actions = self.original_training_arrays()
            return OriginalXGBoostStudent().fit(observations[:ORIGINAL_TRAINING_ROWS], actions[:ORIGINAL_TRAINING_ROWS])
        booster = xgb.Booster()
        booster.load_model(path)
        return OriginalXGBoostStudent.from_booster(booster)


def locate(cache_dir: Path | None = None, base_url: str = RAW_BASE_URL, timeout: float = 10.0) -> OriginalStudy:
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
