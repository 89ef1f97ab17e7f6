"""Embodiments: what a body senses, projected into the text a chatbot reads, and how text commands act.

CartPole-v1's observation is (cart position, cart velocity, pole angle, pole angular velocity).
A `Projection` turns each quantity into one of a few words by thresholds, exactly as the 2023
study did: "left" if x < -0.1, "right" if x > 0.1, else "center" — a value exactly at a
threshold falls toward the middle word. The projection also numbers the text states, so a
policy over text is a lookup table indexed by state.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pandas as pd

OBSERVATION_NAMES = ("cart position", "cart velocity", "pole angle", "pole angular velocity")
ACTIONS = ("left", "right")  # CartPole's action 0 pushes the cart left, 1 pushes it right
STEPS_PER_DECISION_2023 = 2  # the 2023 study held each chatbot decision for two frames
_DIRECTION = re.compile(r"\b(left|right)")  # at a word's start: "far-left", "rightwards", but not "upright"


def direction_named(text: str) -> str | None:
    """The direction, "left" or "right", that a projection word or a command names first; None if none.

    "right" for right, far-right, rightwards, fast-rightwards and "push the cart right", but not for
    upright; likewise "left"; None for center, stopped, zero, upright."""
    found = _DIRECTION.search(text)
    return found.group(1) if found else None


def opposite(direction: str) -> str:
    return ACTIONS[1 - ACTIONS.index(direction)]


@dataclass(frozen=True)
class Feature:
    """One observed quantity and its words, from most negative to most positive."""

    label: str  # as written in the prompt, e.g. "cart-position"
    index: int  # position in CartPole's observation vector
    words: tuple[str, ...]
    thresholds: tuple[float, ...]  # positive magnitudes, innermost first; len = (len(words) - 1) / 2
    unit: str

    def __post_init__(self):
        if len(self.words) != 2 * len(self.thresholds) + 1:
            raise ValueError(f"{self.label}: {len(self.words)} words need {(len(self.words) - 1) // 2} thresholds")
        if list(self.thresholds) != sorted(self.thresholds) or min(self.thresholds) <= 0:
            raise ValueError(f"{self.label}: thresholds must be positive and increasing")

    def word_indices(self, values: np.ndarray) -> np.ndarray:
        """Word index per value; strict inequalities, so a value on a threshold stays inward."""
        values = np.asarray(values, dtype=np.float64)
        centre = len(self.thresholds)
        bounds = np.asarray(self.thresholds)
        above = (values[..., None] > bounds).sum(axis=-1)
        below = (values[..., None] < -bounds).sum(axis=-1)
        return centre + above - below


@dataclass(frozen=True)
class Projection:
    """A text projection of CartPole observations: features in the order the prompt lists them."""

    name: str
    features: tuple[Feature, ...]

    @property
    def n_states(self) -> int:
        return int(np.prod([len(f.words) for f in self.features]))

    def state_index(self, observations: np.ndarray) -> np.ndarray:
        """The text state of each observation (rows of a (n, 4) array, or one observation) as an integer."""
        observations = np.asarray(observations, dtype=np.float64)
        index = np.zeros(observations.shape[:-1], dtype=np.int64)
        for feature in self.features:
            index = index * len(feature.words) + feature.word_indices(observations[..., feature.index])
        return index

    def words_of_state(self, state: int) -> tuple[str, ...]:
        words = []
        for feature in reversed(self.features):
            state, remainder = divmod(int(state), len(feature.words))
            words.append(feature.words[remainder])
        return tuple(reversed(words))

    def state_of_words(self, words: tuple[str, ...]) -> int:
        index = 0
        for feature, word in zip(self.features, words, strict=True):
            index = index * len(feature.words) + feature.words.index(word)
        return index

    def observation_of_state(self, state: int) -> np.ndarray:
        """An observation this projection describes as `state`: each quantity at the middle of its word's
        band (zero for the middle word; beyond the last threshold t, at 1.5 t)."""
        observation = np.zeros(4)
        for feature, word in zip(self.features, self.words_of_state(state)):
            offset = feature.words.index(word) - len(feature.thresholds)
            if offset:
                band = abs(offset)
                inner = feature.thresholds[band - 1]
                outer = feature.thresholds[band] if band < len(feature.thresholds) else 2 * inner
                observation[feature.index] = np.sign(offset) * (inner + outer) / 2
        return observation

    def describe_state(self, state: int) -> str:
        return "\n".join(f"{f.label}: {w}" for f, w in zip(self.features, self.words_of_state(state)))

    def describe(self, observation: np.ndarray) -> str:
        """The text a chatbot reads for one observation."""
        return self.describe_state(int(self.state_index(observation)))

    def parse_description(self, text: str) -> int:
        """The state number of a description written by `describe` (lines in any order)."""
        found = {}
        for line in text.strip().splitlines():
            label, _, word = line.partition(":")
            found[label.strip()] = word.strip()
        try:
            return self.state_of_words(tuple(found[f.label] for f in self.features))
        except (KeyError, ValueError):
            raise ValueError(f"not a {self.name} state description: {text!r}") from None

    def schema(self) -> str:
        """The '[a|b|c]' lines the 2023 prompt used to explain the description."""
        return "\n".join(f"{f.label}: [{'|'.join(f.words)}]" for f in self.features)


# The 2023 study's chat run, in its prompt's line order (angular velocity before angle).
STUDY_2023 = Projection(
    "2023 study (3 words each)",
    (
        Feature("cart-position", 0, ("left", "center", "right"), (0.1,), "m"),
        Feature("cart-velocity", 1, ("leftwards", "stopped", "rightwards"), (0.1,), "m/s"),
        Feature("pole-angular-velocity", 3, ("leftwards", "zero", "rightwards"), (0.2,), "rad/s"),
        Feature("pole-angle", 2, ("left", "upright", "right"), (0.01,), "rad"),
    ),
)

# A richer projection: five words per quantity, the outer thresholds placed where CartPole's
# dynamics change character (half the track, a third of the failure angle, fast swings).
FIVE_WORDS = Projection(
    "richer (5 words each)",
    (
        Feature("cart-position", 0, ("far-left", "left", "center", "right", "far-right"), (0.1, 1.0), "m"),
        Feature("cart-velocity", 1, ("fast-leftwards", "leftwards", "stopped", "rightwards", "fast-rightwards"), (0.1, 0.5), "m/s"),
        Feature("pole-angular-velocity", 3, ("fast-leftwards", "leftwards", "zero", "rightwards", "fast-rightwards"), (0.2, 0.8), "rad/s"),
        Feature("pole-angle", 2, ("far-left", "left", "upright", "right", "far-right"), (0.01, 0.07), "rad"),
    ),
)

PROJECTIONS = {"study_2023": STUDY_2023, "five_words": FIVE_WORDS}


def render_frame(observation: np.ndarray) -> np.ndarray:
    """CartPole's own RGB rendering of one observation (the picture a camera would give)."""
    # Off-screen: no display, no sound device (pygame otherwise complains on headless machines).
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    env.reset(seed=0)
    env.unwrapped.state = np.asarray(observation, dtype=np.float64)
    frame = env.render()
    env.close()
    return frame


def state_occupancy(projection: Projection, observations: np.ndarray) -> pd.DataFrame:
    """How often each text state occurs among `observations`, most frequent first."""
    counts = np.bincount(projection.state_index(observations), minlength=projection.n_states)
    table = pd.DataFrame({
        "state": np.arange(projection.n_states),
        "description": [", ".join(projection.words_of_state(s)) for s in range(projection.n_states)],
        "count": counts,
    })
    table["share"] = table["count"] / max(1, counts.sum())
    return table.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)


# The requirements of the 2023 study's README, for an embodiment and for its environment.
REQUIREMENTS = {
    "sense": "a proper sense that can be projected into text",
    "action": "an action space controllable by text",
    "small": "simple enough for a small network",
    "many_tasks": "common-sense tasks in large numbers",
    "describable": "tasks describable to a chatbot",
}

# Candidate embodiments scored against them: 2 = met, 1 = partly, 0 = not; each with the reason.
CANDIDATES = [
    {"environment": "CartPole-v1", "gymnasium_id": "CartPole-v1",
     "sense": (2, "four named quantities, each a few words (left/center/right…)"),
     "action": (2, "two commands: push left, push right"),
     "small": (2, "4 numbers in, 2 actions out"),
     "many_tasks": (1, "endless episodes, but one task"),
     "describable": (2, "a pole to balance is everyday physics")},
    {"environment": "Cute-animal game (chapter 06)", "gymnasium_id": None,
     "sense": (2, "a caption of the creature's looks"),
     "action": (2, "a verdict: cute or not, and a score"),
     "small": (1, "pixels in: a small image model, or features"),
     "many_tasks": (2, "a generator makes any number of creatures"),
     "describable": (2, "taste is what personas differ in")},
    {"environment": "MountainCar-v0", "gymnasium_id": "MountainCar-v0",
     "sense": (2, "position and velocity in words"),
     "action": (2, "push left, no push, push right"),
     "small": (2, "2 numbers in, 3 actions out"),
     "many_tasks": (1, "one task; success needs planning ahead (swing back first)"),
     "describable": (1, "describable, but common sense (drive uphill) fails it")},
    {"environment": "Acrobot-v1", "gymnasium_id": "Acrobot-v1",
     "sense": (1, "two joint angles as sines and cosines: awkward in words"),
     "action": (2, "torque −1, 0, +1"),
     "small": (2, "6 numbers in, 3 actions out"),
     "many_tasks": (1, "one task"),
     "describable": (0, "pumping a double pendulum is not everyday common sense")},
    {"environment": "Pendulum-v1", "gymnasium_id": "Pendulum-v1",
     "sense": (2, "angle and angular velocity in words"),
     "action": (1, "continuous torque: text must be quantised"),
     "small": (2, "3 numbers in, 1 number out"),
     "many_tasks": (1, "one task"),
     "describable": (2, "swing a pendulum up and hold it")},
    {"environment": "FrozenLake-v1", "gymnasium_id": "FrozenLake-v1",
     "sense": (2, "a grid position, or the whole map, as text"),
     "action": (2, "four moves"),
     "small": (2, "a grid cell in, 4 actions out"),
     "many_tasks": (2, "random maps: many tasks"),
     "describable": (2, "walk to the goal, avoid holes")},
]


def candidate_table() -> pd.DataFrame:
    """Each candidate's score per requirement and in total, with each Gymnasium task's spaces read from Gymnasium."""
    rows = []
    for candidate in CANDIDATES:
        row = {"environment": candidate["environment"]}
        if candidate["gymnasium_id"]:
            env = gym.make(candidate["gymnasium_id"])
            row["senses"] = _space_in_words(env.observation_space)
            row["acts"] = _space_in_words(env.action_space)
            env.close()
        else:
            row["senses"], row["acts"] = "an RGB image", "cute or not"
        row.update({key: candidate[key][0] for key in REQUIREMENTS})
        row["total (of 10)"] = sum(candidate[key][0] for key in REQUIREMENTS)
        rows.append(row)
    return pd.DataFrame(rows).set_index("environment")


def candidate_reasons() -> pd.DataFrame:
    """The reason behind every score of `candidate_table`, one row per candidate and requirement."""
    return pd.DataFrame([{"environment": c["environment"], "requirement": key, "score": c[key][0], "reason": c[key][1]}
                         for c in CANDIDATES for key in REQUIREMENTS]).set_index(["environment", "requirement"])


def _space_in_words(space) -> str:
    if hasattr(space, "n"):
        return f"{space.n} choices"
    return f"{int(np.prod(space.shape))} real number{'s' if np.prod(space.shape) > 1 else ''}"
