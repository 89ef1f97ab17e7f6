"""Embodiments: what a body senses, projected into the text a chatbot reads, and how text commands act.

CartPole-v1's observation is (cart position, cart velocity, pole angle, pole angular velocity).
A `Projection` turns each quantity into one of a few words by thresholds, exactly as the 2023
study did: "left" if x < -0.1, "right" if x > 0.1, else "center" — a value exactly at a
threshold falls toward the middle word. The projection also numbers the text states, so a
policy over text is a lookup table indexed by state.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

OBSERVATION_NAMES = ("cart position", "cart velocity", "pole angle", "pole angular velocity")
ACTIONS = ("left", "right")  # CartPole's action 0 pushes the cart left, 1 pushes it right
STEPS_PER_DECISION_2023 = 2  # the 2023 study held each chatbot decision for two frames


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

    def all_states(self) -> list[tuple[str, ...]]:
        return list(itertools.product(*(f.words for f in self.features)))

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
    import gymnasium as gym

    env = gym.make("CartPole-v1", render_mode="rgb_array")
    env.reset(seed=0)
    env.unwrapped.state = np.asarray(observation, dtype=np.float64)
    frame = env.render()
    env.close()
    return frame
