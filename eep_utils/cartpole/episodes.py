"""The one episode format: what a teacher (chatbot, stand-in, or the 2023 recordings) did on CartPole.

An `EpisodeSet` holds two tables and names the teacher that produced it:

frames     one row per frame: episode, t, x, x_dot, theta, theta_dot (the observation the agent saw
           before acting), action (0 left, 1 right), decided (True where the teacher was asked at this
           frame; False where an earlier decision was held), reward, terminated, truncated.
decisions  one row per question to the teacher: episode, t, state (text state index), prompt_text
           (the state description sent), answer (raw text), status ("ok", "retried", "fallback"),
           action, p_right (the teacher's probability of "right" where log-probabilities were given,
           else NaN), prompt_tokens, completion_tokens, latency_s.

Each column has one dtype (`FRAME_DTYPES`, `DECISION_DTYPES`), whatever made the tables, and an
empty table (a run stopped before any episode ended) has them too. Counts a source did not record
(the 2023 runs' tokens) are NaN. Saved as a folder: frames.parquet, decisions.parquet (Parquet keeps
every dtype) and metadata.json (teacher label, whether it is a chatbot, the protocol, seeds). A
student trains on the observation-action pairs of `decided` frames.
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd

from eep_utils.cartpole.body import ENV_ID, step_from

OBSERVATION_COLUMNS = ["x", "x_dot", "theta", "theta_dot"]
FRAME_COLUMNS = ["episode", "t", *OBSERVATION_COLUMNS, "action", "decided", "reward", "terminated", "truncated"]
DECISION_COLUMNS = ["episode", "t", "state", "prompt_text", "answer", "status", "action", "p_right",
                    "prompt_tokens", "completion_tokens", "latency_s"]
FRAME_DTYPES = {"episode": "int64", "t": "int64", **dict.fromkeys(OBSERVATION_COLUMNS, "float64"), "action": "int64",
                "decided": "bool", "reward": "float64", "terminated": "bool", "truncated": "bool"}
DECISION_DTYPES = {"episode": "int64", "t": "int64", "state": "int64", "prompt_text": "str", "answer": "str",
                   "status": "str", "action": "int64", "p_right": "float64", "prompt_tokens": "float64",
                   "completion_tokens": "float64", "latency_s": "float64"}
DECISION_STATUSES = ("ok", "retried", "fallback")


class EpisodeFormatError(ValueError):
    """An episode folder or table is incomplete or damaged; the message names the file and the fix."""


@dataclass
class EpisodeSet:
    teacher: str
    is_chatbot: bool
    frames: pd.DataFrame
    decisions: pd.DataFrame
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.frames = self._typed("frames", self.frames, FRAME_DTYPES)
        self.decisions = self._typed("decisions", self.decisions, DECISION_DTYPES)
        unknown = set(self.decisions["status"]) - set(DECISION_STATUSES)
        if unknown:
            raise EpisodeFormatError(f"{self.teacher}: unknown decision statuses {sorted(unknown)}")

    def _typed(self, name: str, table: pd.DataFrame, dtypes: dict) -> pd.DataFrame:
        missing = [c for c in dtypes if c not in table.columns]
        if missing:
            raise EpisodeFormatError(f"{self.teacher}: the {name} table lacks columns {missing}")
        try:
            return table.astype(dtypes)
        except (ValueError, TypeError) as error:
            raise EpisodeFormatError(f"{self.teacher}: the {name} table does not fit the episode format: {error}") from None

    @property
    def n_episodes(self) -> int:
        return int(self.frames["episode"].nunique())

    def returns(self) -> np.ndarray:
        """Frames survived per episode (CartPole's return), in episode order."""
        return self.frames.groupby("episode")["reward"].sum().to_numpy()

    def dynamics_consistency(self) -> pd.Series:
        """Per frame: did the cart's velocity change in the direction of the recorded push by the next
        frame? True / False, or NA on an episode's last frame (its next observation is not stored)."""
        frames = self.frames.sort_values(["episode", "t"])
        following = frames.groupby("episode")[OBSERVATION_COLUMNS].shift(-1)
        known = following["x_dot"].notna().to_numpy()
        consistent = pd.Series(pd.NA, index=frames.index, dtype="boolean")
        consistent[known] = push_consistency(frames.loc[known, OBSERVATION_COLUMNS].to_numpy(),
                                             frames.loc[known, "action"].to_numpy(),
                                             following.loc[known].to_numpy())
        return consistent.reindex(self.frames.index)

    def training_pairs(self, include_fallbacks: bool = False, dynamics_checked: bool = False):
        """(observations, actions, episode ids) at the frames where the teacher decided.

        Fallback decisions are the pipeline's, not the teacher's: left out unless asked for.
        With `dynamics_checked`, only pairs that `dynamics_consistency` confirms are kept."""
        decided = self.frames[self.frames["decided"]]
        if dynamics_checked:
            decided = decided[self.dynamics_consistency()[decided.index].fillna(False).to_numpy(bool)]
        if not include_fallbacks and len(self.decisions):
            keep = self.decisions.set_index(["episode", "t"])["status"] != "fallback"
            index = pd.MultiIndex.from_frame(decided[["episode", "t"]])
            decided = decided[keep.reindex(index, fill_value=True).to_numpy()]
        return (decided[OBSERVATION_COLUMNS].to_numpy(np.float32), decided["action"].to_numpy(np.int64),
                decided["episode"].to_numpy(np.int64))

    def soft_labels(self) -> np.ndarray:
        """p(right) per decided frame, in `training_pairs(include_fallbacks=True)` order (NaN where unknown)."""
        decided = self.frames[self.frames["decided"]][["episode", "t"]]
        merged = decided.merge(self.decisions[["episode", "t", "p_right"]], on=["episode", "t"], how="left")
        return merged["p_right"].to_numpy(np.float64)

    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.frames.to_parquet(folder / "frames.parquet", index=False)
        self.decisions.to_parquet(folder / "decisions.parquet", index=False)
        metadata = {**self.metadata, "teacher": self.teacher, "is_chatbot": self.is_chatbot}
        (folder / "metadata.json").write_text(json.dumps(metadata, indent=2, default=str))
        return folder

    @classmethod
    def load(cls, folder: Path) -> "EpisodeSet":
        folder = Path(folder)
        try:
            metadata = json.loads((folder / "metadata.json").read_text())
            frames = pd.read_parquet(folder / "frames.parquet")
            decisions = pd.read_parquet(folder / "decisions.parquet")
        except FileNotFoundError as error:
            raise EpisodeFormatError(f"{folder} is not a complete episode folder ({error.filename} is missing); "
                                     "re-run the chapter that writes it") from None
        except (ValueError, EOFError, OSError, json.JSONDecodeError) as error:
            raise EpisodeFormatError(f"{folder} is damaged ({type(error).__name__}: {error}); "
                                     "delete the folder and re-run the chapter that writes it") from None
        teacher, is_chatbot = metadata.pop("teacher"), metadata.pop("is_chatbot")
        return cls(teacher, bool(is_chatbot), frames, decisions, metadata)


def minari_dataset_id(teacher: str, version: int = 0) -> str:
    """e.g. "eep/cartpole-gpt-3-5-turbo-as-newton-2023-recordings-chat-api-v0"."""
    slug = "-".join("".join(c if c.isalnum() else " " for c in teacher.lower()).split())
    return f"eep/cartpole-{slug}-v{version}"


def dataset_name(episodes: EpisodeSet) -> str:
    """Who played: the teacher, the persona it played where its label does not say (one chatbot plays
    several personas, and each persona's episodes are a dataset of their own), and the persona's wording
    where it is not the first (a stand-in's label names its persona, but not the wording it was asked in)."""
    persona = str(episodes.metadata.get("persona") or "")
    wording = episodes.metadata.get("persona_wording")
    worded = f" wording {wording}" if wording not in (None, 1) else ""
    if persona and persona.replace("_", " ").lower() not in episodes.teacher.replace("_", " ").lower():
        return f"{episodes.teacher} as {persona}{worded}"
    return episodes.teacher + worded


def to_minari(episodes: EpisodeSet, folder: Path, code_permalink: str, dataset_id: str | None = None):
    """Write an EpisodeSet as a Minari dataset under `folder` (never the default ~/.minari) and return it.

    Every frame is a Minari step (a held decision repeats its action). Minari wants each episode's
    observation after its last action; the frames table does not store it, so it is recomputed by one
    CartPole step from the last stored observation (float32, as observed) — within float32 rounding
    of the true terminal observation. The teacher's name and the metadata go into the description.

    `code_permalink` is where the code that made the episodes is published. The caller gives it (the
    chapter reads the book's address with eep_utils.paths.repository_url) rather than this module
    reading _config.yml: the address is the book's publishing setting, the episode format sits below the
    book, and the same export serves episodes made outside it.
    """
    # Minari and h5py are needed by this export alone; the rest of the book runs without loading them.
    import minari
    from minari.data_collector import EpisodeBuffer

    dataset_id = dataset_id or minari_dataset_id(dataset_name(episodes))
    buffers = []
    for episode, frames in episodes.frames.sort_values(["episode", "t"]).groupby("episode"):
        observations = frames[OBSERVATION_COLUMNS].to_numpy(np.float32)
        actions = frames["action"].to_numpy(np.int64)
        final = step_from(observations[-1], actions[-1])
        buffers.append(EpisodeBuffer(
            id=int(episode), observations=np.vstack([observations, final[None, :].astype(np.float32)]),
            actions=actions, rewards=frames["reward"].astype(float).tolist(),
            terminations=frames["terminated"].astype(bool).tolist(), truncations=frames["truncated"].astype(bool).tolist()))
    description = (f"CartPole-v1 episodes of teacher: {episodes.teacher} "
                   f"({'a chatbot' if episodes.is_chatbot else 'not a chatbot'}). "
                   f"Metadata: {json.dumps(episodes.metadata, default=str)}")
    previous = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(Path(folder).resolve())
    try:
        with warnings.catch_warnings():
            # Minari asks for a contact e-mail; the book's repository is the contact.
            warnings.filterwarnings("ignore", message="`author_email` is set to None")
            return minari.create_dataset_from_buffers(
                dataset_id, buffers, env=gym.make(ENV_ID), eval_env=gym.make(ENV_ID),
                algorithm_name=episodes.teacher, author="Embodied Emulated Personas", code_permalink=code_permalink,
                description=description)
    finally:
        if previous is None:
            os.environ.pop("MINARI_DATASETS_PATH")
        else:
            os.environ["MINARI_DATASETS_PATH"] = previous


def push_consistency(observations, actions, next_observations) -> np.ndarray:
    """Whether each (observation, action) pair agrees with CartPole's dynamics: a push changes the
    cart's velocity in its direction (action 1 pushes right, so x_dot must grow; 0 pushes left).

    `next_observations` is what followed each observation. For pairs that really belong together the
    check always passes on CartPole-v1 (the ±10 N push dominates the pole's reaction at angles within
    the 12° limit); a pair that fails was not recorded as played."""
    change = np.asarray(next_observations, dtype=np.float64)[:, 1] - np.asarray(observations, dtype=np.float64)[:, 1]
    return np.where(np.asarray(actions) == 1, change > 0, change < 0)


def frame_rows(episode: int, frames) -> list[tuple]:
    """Rows of the frames table from `body.Frame`s played in one episode."""
    return [(episode, f.t, *map(float, f.observation), int(f.action), bool(f.decided), float(f.reward),
             bool(f.terminated), bool(f.truncated)) for f in frames]


def empty_decisions() -> pd.DataFrame:
    """A decisions table with no rows (for teachers that are not asked, such as a policy over numbers)."""
    return pd.DataFrame(columns=DECISION_COLUMNS).astype(DECISION_DTYPES)
