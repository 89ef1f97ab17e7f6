"""CartPole as a chatbot's body: Gymnasium wrappers for what it senses and how long its commands last,
and the loops that play it. Every CartPole step the library takes is taken here.

- `DecisionHold`: one step of the wrapped env is one decision, its action held for `steps` frames
  (the 2023 study held each chatbot answer for two); `info["frames"]` lists every frame played.
- `RunWideHold` and `play_run`: the 2023 scripts' rhythm: one run of episodes, a decision on every
  `steps`-th frame of the run rather than of the episode (the 2023 study's replay and reproduction).
- `TextChannel`: an observation wrapper that shows each observation as a `Projection`'s text,
  the lines a chatbot reads.
- `StartingState`: a reset option to start an episode from a given state.
- `play_episode`: one episode of a single env, decision by decision; the choice may be awaited
  (a chatbot) or immediate (a policy over numbers, `play_episode_now`). Its `Frame`s are the rows of
  an `episodes.EpisodeSet`, the book's saved format. Teacher rollouts and the frame-by-frame
  reference play use it.
- `VectorDecisionHold`, `play_decisions` and `play_rollouts`: many episodes at once in Gymnasium's
  vectorised CartPole, each decision taken for all running episodes in one batched call, recorded as
  `Rollouts`, the book's one batch of played episodes. Evaluation, lookup-table search and ELLM's
  trajectories and learner use them.

Physical constants and limits are read from Gymnasium's CartPole, never retyped.
"""
from __future__ import annotations

import inspect
import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterator, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv, CartPoleVectorEnv
from gymnasium.vector import VectorWrapper

from eep_utils.cartpole.embodiment import Projection
from eep_utils.stats import Estimate, mean_ci

ENV_ID = "CartPole-v1"
MAX_EPISODE_STEPS = gym.spec(ENV_ID).max_episode_steps
PHYSICS = CartPoleEnv()  # read for its constants (gravity, masses, half pole length, limits); never stepped


class Frame(NamedTuple):
    """One frame as played, a row of an `EpisodeSet`'s frames table in the making: the observation seen
    before it, the action applied, whether it was decided at this frame (False: an earlier decision
    held), and what the step returned (`next_observation`: the one it ended on, terminal or not)."""

    t: int
    observation: np.ndarray
    action: int
    decided: bool
    reward: float
    terminated: bool
    truncated: bool
    next_observation: np.ndarray


class DecisionHold(gym.Wrapper):
    """Each step plays its action for `steps` frames, or until the episode ends.

    Returns the last observation, the summed reward and the last frame's flags, with every frame
    in `info["frames"]` (a list of `Frame`, t counted from the episode's start)."""

    def __init__(self, env: gym.Env, steps: int):
        if steps < 1:
            raise ValueError(f"a decision lasts at least one frame, not {steps}")
        super().__init__(env)
        self.steps = steps
        self._observation, self._t = None, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        observation, info = self.env.reset(seed=seed, options=options)
        self._observation, self._t = observation, 0
        return observation, info

    def step(self, action):
        frames, total = [], 0.0
        for held in range(self.steps):
            seen = self._observation
            observation, reward, terminated, truncated, info = self.env.step(action)
            frames.append(Frame(self._t, seen, action, held == 0, reward, terminated, truncated, observation))
            self._observation, self._t, total = observation, self._t + 1, total + reward
            if terminated or truncated:
                break
        return observation, total, terminated, truncated, {**info, "frames": frames}


class RunWideHold(DecisionHold):
    """The 2023 scripts' rhythm: one run of episodes, its first reset seeded and each later one unseeded,
    with a decision on every `steps`-th frame of the run rather than of the episode.

    Each step plays its action for `steps` frames of the run. An episode that ends within them is reset
    at once and the new one plays the rest of the hold, so that after an episode of odd length (with
    `steps=2`) the next one starts on the old action, as the 2023 episodes did. The run itself never
    ends: a step returns the observation the next decision sees (a new episode's first where one has
    just ended), the summed reward, False, False, and every frame in `info["frames"]` (a list of
    `Frame`, t counted from each episode's start; a frame's `terminated` or `truncated` ends its episode)."""

    def step(self, action):
        frames = []
        for held in range(self.steps):
            seen = self._observation
            observation, reward, terminated, truncated, _ = self.env.step(action)
            frames.append(Frame(self._t, seen, action, held == 0, reward, terminated, truncated, observation))
            self._t += 1
            if terminated or truncated:
                # Unseeded: the 2023 scripts' later episodes drew their starts from the first reset's generator.
                observation, _ = self.env.reset()
                self._t = 0
            self._observation = observation
        return self._observation, sum(frame.reward for frame in frames), False, False, {"frames": frames}


class TextChannel(gym.ObservationWrapper):
    """What a chatbot reads: each observation as the projection's description ("cart-position: center\\n…")."""

    def __init__(self, env: gym.Env, projection: Projection):
        super().__init__(env)
        self.projection = projection
        lines = [(f.label, f.words) for f in projection.features]
        characters = set(":\n ").union(*(label for label, _ in lines), *(w for _, words in lines for w in words))
        longest = sum(len(label) + 2 + max(map(len, words)) for label, words in lines) + len(lines) - 1
        self.observation_space = gym.spaces.Text(max_length=longest, charset="".join(sorted(characters)))

    def observation(self, observation: np.ndarray) -> str:
        return self.projection.describe(observation)


class StartingState(gym.Wrapper):
    """Adds a reset option: `options={"state": s}` starts the episode from the state s (x, x_dot,
    theta, theta_dot) instead of CartPole's random draw; other options pass through."""

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        options = dict(options or {})
        state = options.pop("state", None)
        observation, info = self.env.reset(seed=seed, options=options or None)
        if state is not None:
            self.env.unwrapped.state = np.asarray(state, dtype=np.float64)
            observation = np.array(self.env.unwrapped.state, dtype=np.float32)
        return observation, info


def held_cartpole(steps_per_decision: int = 1, projection: Projection | None = None) -> gym.Env:
    """CartPole-v1 with each decision held for `steps_per_decision` frames and, given a projection,
    observed as its text."""
    env = DecisionHold(StartingState(gym.make(ENV_ID)), steps_per_decision)
    return env if projection is None else TextChannel(env, projection)


Choice = Callable[[Any], "int | Awaitable[int]"]


async def play_episode(env: gym.Env, choose: Choice, *, seed: int | None = None,
                       options: dict | None = None) -> list[Frame]:
    """Play one episode of a `DecisionHold`-wrapped env to its end; returns every frame.

    `choose` maps what the env shows (numbers, or text through a `TextChannel`) to an action; it
    may return an awaitable, as a chatbot does, which is awaited."""
    observation, _ = env.reset(seed=seed, options=options)
    frames: list[Frame] = []
    while True:
        action = choose(observation)
        if inspect.isawaitable(action):
            action = await action
        observation, _, terminated, truncated, info = env.step(action)
        frames += info["frames"]
        if terminated or truncated:
            return frames


def play_episode_now(env: gym.Env, choose: Callable[[Any], int], *, seed: int | None = None,
                     options: dict | None = None) -> list[Frame]:
    """`play_episode` for a `choose` that answers at once (a policy): run to the end, no event loop needed."""
    episode = play_episode(env, choose, seed=seed, options=options)
    try:
        # A coroutine that never waits finishes on its first resumption, returning through StopIteration.
        episode.send(None)
    except StopIteration as finished:
        return finished.value
    episode.close()
    raise TypeError("`choose` returned something to wait for: use `await play_episode(...)`")


def play_run(choose: Callable[[np.ndarray], int], n_decisions: int, seed: int,
             steps_per_decision: int) -> Iterator[tuple[list[Frame], np.ndarray]]:
    """Play `n_decisions` decisions of one CartPole-v1 run the 2023 way (`RunWideHold`) from reset(seed),
    `choose` mapping each observation to an action.

    Yields the reset's observation first, with no frames, then for each decision the frames it played
    and the observation the next decision sees, lazily."""
    env = RunWideHold(gym.make(ENV_ID), steps_per_decision)
    try:
        observation, _ = env.reset(seed=seed)
        yield [], observation
        for _ in range(n_decisions):
            observation, _, _, _, info = env.step(choose(observation))
            yield info["frames"], observation
    finally:
        env.close()


def step_from(observation, action: int) -> np.ndarray:
    """The observation one CartPole frame after `observation` under `action` (float32, as observed)."""
    env = StartingState(CartPoleEnv())
    env.reset(seed=0, options={"state": np.asarray(observation, dtype=np.float64)})
    following, *_ = env.step(int(action))
    env.close()
    return following


# --- Many episodes at once --------------------------------------------------------------------------


class VectorDecisionHold(VectorWrapper):
    """The vectorised `DecisionHold`: each step plays the actions for `steps` frames.

    Each sub-environment plays one episode: one that ends stays ended (no more reward or frames)
    until `reset`, and `ended` marks it, so Gymnasium's autoreset never shows through. A step's
    observation of a sub-environment that ended during it is the one it ended on (also kept in
    `final_observations`); rows of those that had ended before the step mean nothing, as stepping
    an ended episode means nothing in Gymnasium. `info["frames"]` counts the frames each
    sub-environment played in the step."""

    def __init__(self, env, steps: int):
        if steps < 1:
            raise ValueError(f"a decision lasts at least one frame, not {steps}")
        super().__init__(env)
        self.steps = steps
        self.ended = np.zeros(self.num_envs, dtype=bool)
        self.final_observations = None

    def reset(self, *, seed=None, options=None):
        observations, info = self.env.reset(seed=seed, options=options)
        self.ended = np.zeros(self.num_envs, dtype=bool)
        self.final_observations = np.zeros_like(observations)
        return observations, info

    def step(self, actions):
        # Evaluation plays thousands of episodes per call: each frame costs only whole-array arithmetic,
        # and single sub-environments are touched only where some of them end.
        rewards = np.zeros(self.num_envs)
        frames = self.steps * ~self.ended
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        ended_here = []
        for frame in range(self.steps):
            playing = ~self.ended
            observations, reward, frame_terminated, frame_truncated, _ = self.env.step(actions)
            rewards += reward * playing
            ending = playing & (frame_terminated | frame_truncated)
            if ending.any():
                # Gymnasium resets an ended sub-environment on its next step; keep what it ended on.
                done = np.flatnonzero(ending)
                self.final_observations[done] = observations[done]
                frames[done] = frame + 1
                terminated[done], truncated[done] = frame_terminated[done], frame_truncated[done]
                self.ended[done] = True
                ended_here.append(done)
                if self.ended.all():
                    break
        observations = np.array(observations, order="K")
        if ended_here:
            done = np.concatenate(ended_here)
            observations[done] = self.final_observations[done]
        return observations, rewards, terminated, truncated, {"frames": frames}


# The rows of a `Rollouts`: one per decision, in play order (every running episode's first decision,
# then every running episode's second, ...).
DECISION_FIELDS = ("observations", "actions", "next_observations", "terminated", "episode", "decision", "t")


@dataclass
class Rollouts:
    """Episodes played at once in the vectorised CartPole: one row per decision, and per episode its
    return and starting state. The book's one batch of played episodes (its saved format is
    `episodes.EpisodeSet`, one row per frame).

    Rows are left empty where only returns were asked for (`record=False`). `play_decisions` yields
    each decision as a `Rollouts` of its rows alone, with the returns so far."""

    observations: np.ndarray  # (decisions, 4) what each decision saw
    actions: np.ndarray  # (decisions,) 0 push left, 1 push right
    next_observations: np.ndarray  # (decisions, 4) when its held frames ended (the final one where the episode ended)
    terminated: np.ndarray  # (decisions,) the pole fell or the cart left the track during the hold (not the time limit)
    episode: np.ndarray  # (decisions,) which episode
    decision: np.ndarray  # (decisions,) decisions taken before it in its episode
    t: np.ndarray  # (decisions,) the frame it was taken at, counted from its episode's start
    returns: np.ndarray  # (episodes,) frames survived (CartPole's return)
    initial_states: np.ndarray  # (episodes, 4) float64 states the episodes started from

    @property
    def n_episodes(self) -> int:
        return len(self.returns)

    @property
    def remaining(self) -> np.ndarray:
        """Frames until the episode ends, from each decision's frame."""
        return self.returns[self.episode] - self.t

    def summary(self) -> Estimate:
        return mean_ci(self.returns)

    @classmethod
    def concatenate(cls, parts: list[Rollouts]) -> Rollouts:
        """Several sets as one, episodes renumbered after each other."""
        offsets = np.cumsum([0] + [part.n_episodes for part in parts[:-1]])
        joined = {name: np.concatenate([getattr(part, name) for part in parts])
                  for name in (*DECISION_FIELDS, "returns", "initial_states")}
        joined["episode"] = np.concatenate([part.episode + offset for part, offset in zip(parts, offsets)])
        return cls(**joined)


def play_decisions(act: Callable[[np.ndarray, np.ndarray], np.ndarray], n_envs: int, seed: int,
                   steps_per_decision: int) -> Iterator[Rollouts]:
    """Play `n_envs` CartPole-v1 episodes at once, from Gymnasium's vectorised reset with `seed`, to their ends.

    At each decision, `act(episodes, observations)` gives the actions of the episodes still running
    (their indices and observations); each is held for `steps_per_decision` frames. Yields every
    decision as the `Rollouts` of its rows, lazily: a learner may update what `act` uses between
    decisions. The last one's returns are the episodes' returns."""
    env = VectorDecisionHold(CartPoleVectorEnv(num_envs=n_envs, max_episode_steps=MAX_EPISODE_STEPS),
                             steps_per_decision)
    observations, _ = env.reset(seed=seed)
    initial_states = env.unwrapped.state.T.copy()
    returns = np.zeros(n_envs, dtype=np.int64)
    actions = np.zeros(n_envs, dtype=np.int64)
    try:
        for number in itertools.count():
            episodes = np.flatnonzero(~env.ended)
            if len(episodes) == 0:
                return
            before = observations[episodes]
            actions[episodes] = np.asarray(act(episodes, before)).astype(np.int64).reshape(-1)
            observations, _, terminated, _, info = env.step(actions)
            returns += info["frames"]
            yield Rollouts(before, actions[episodes], observations[episodes], terminated[episodes], episodes,
                           np.full(len(episodes), number), np.full(len(episodes), number * steps_per_decision),
                           returns.copy(), initial_states)
    finally:
        env.close()


def play_rollouts(act: Callable[[np.ndarray, np.ndarray], np.ndarray], n_envs: int, seed: int,
                  steps_per_decision: int, record: bool = True) -> Rollouts:
    """`play_decisions` played to the end, as one `Rollouts`: every decision's row when `record`,
    otherwise only the returns and starting states (evaluation plays too many episodes to keep every row)."""
    if record:
        decisions = list(play_decisions(act, n_envs, seed, steps_per_decision))
        rows = {name: np.concatenate([getattr(decision, name) for decision in decisions]) for name in DECISION_FIELDS}
    else:
        decisions = deque(play_decisions(act, n_envs, seed, steps_per_decision), maxlen=1)
        rows = {name: getattr(decisions[-1], name)[:0] for name in DECISION_FIELDS}
    return Rollouts(**rows, returns=decisions[-1].returns, initial_states=decisions[-1].initial_states)
