"""CartPole as a chatbot's body: Gymnasium wrappers for what it senses and how long its commands last,
and the two loops that play it. Every CartPole step the library takes is taken here.

- `DecisionHold`: one step of the wrapped env is one decision, its action held for `steps` frames
  (the 2023 study held each chatbot answer for two); `info["frames"]` lists every frame played.
- `TextChannel`: an observation wrapper that shows each observation as a `Projection`'s text,
  the lines a chatbot reads.
- `StartingState`: a reset option to start an episode from a given state.
- `play_episode`: one episode of a single env, decision by decision; the choice may be awaited
  (a chatbot) or immediate (a policy over numbers, `play_episode_now`). Teacher rollouts, recorded
  episodes and the frame-by-frame reference evaluation use it.
- `VectorDecisionHold` and `play_decisions`: many episodes at once in Gymnasium's vectorised
  CartPole, each decision taken for all running episodes in one batched call. Evaluation,
  lookup-table search and ELLM's trajectories and learner use it.

Physical constants and limits are read from Gymnasium's CartPole, never retyped.
"""
from __future__ import annotations

import inspect
import itertools
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterator, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv, CartPoleVectorEnv
from gymnasium.vector import VectorWrapper

from eep_utils.cartpole.embodiment import Projection

ENV_ID = "CartPole-v1"
MAX_EPISODE_STEPS = gym.spec(ENV_ID).max_episode_steps
PHYSICS = CartPoleEnv()  # read for its constants (gravity, masses, half pole length, limits); never stepped


class Frame(NamedTuple):
    """One frame as played: the observation seen before it, the action applied, whether it was decided
    at this frame (False: an earlier decision held), and what the step returned."""

    t: int
    observation: np.ndarray
    action: int
    decided: bool
    reward: float
    terminated: bool
    truncated: bool


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
            frames.append(Frame(self._t, seen, action, held == 0, reward, terminated, truncated))
            self._observation, self._t, total = observation, self._t + 1, total + reward
            if terminated or truncated:
                break
        return observation, total, terminated, truncated, {**info, "frames": frames}


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


@dataclass
class HeldDecisions:
    """One decision of every episode still running: which envs, what they saw and did, and what followed.

    `observations`, `played` and `ended_by_failure` cover all the envs (see `VectorDecisionHold`);
    `after`, `frames` and `terminated` are the same for the deciding ones only."""

    number: int  # decisions taken before this one in each episode; its frame is number * steps
    envs: np.ndarray  # indices of the deciding episodes
    before: np.ndarray  # (n, 4) observations they decided on
    actions: np.ndarray
    observations: np.ndarray  # (n_envs, 4) when the held frames ended (the final one where an episode ended in them)
    played: np.ndarray  # (n_envs,) frames played in the hold, 0 for episodes that had ended before it
    ended_by_failure: np.ndarray  # (n_envs,) fell or left the track during the hold (not the 500-frame limit)

    @property
    def after(self) -> np.ndarray:
        return self.observations[self.envs]

    @property
    def frames(self) -> np.ndarray:
        return self.played[self.envs]

    @property
    def terminated(self) -> np.ndarray:
        return self.ended_by_failure[self.envs]


def play_decisions(act: Callable[[np.ndarray, np.ndarray], np.ndarray], n_envs: int, seed: int,
                   steps_per_decision: int) -> Iterator[HeldDecisions]:
    """Play `n_envs` CartPole-v1 episodes at once, from Gymnasium's vectorised reset with `seed`, to their ends.

    At each decision, `act(envs, observations)` gives the actions of the episodes still running
    (their indices and observations); each is held for `steps_per_decision` frames. Yields what
    every decision did, lazily: a learner may update what `act` uses between decisions."""
    env = VectorDecisionHold(CartPoleVectorEnv(num_envs=n_envs, max_episode_steps=MAX_EPISODE_STEPS),
                             steps_per_decision)
    observations, _ = env.reset(seed=seed)
    actions = np.zeros(n_envs, dtype=np.int64)
    try:
        for number in itertools.count():
            envs = np.flatnonzero(~env.ended)
            if len(envs) == 0:
                return
            before = observations[envs]
            actions[envs] = np.asarray(act(envs, before)).astype(np.int64).reshape(-1)
            observations, _, terminated, _, info = env.step(actions)
            yield HeldDecisions(number, envs, before, actions[envs], observations, info["frames"], terminated)
    finally:
        env.close()


def starting_states(n_envs: int, seed: int) -> np.ndarray:
    """The (n_envs, 4) states, in float64, that `play_decisions` starts from with this seed."""
    env = CartPoleVectorEnv(num_envs=n_envs, max_episode_steps=MAX_EPISODE_STEPS)
    env.reset(seed=seed)
    states = env.state.T.copy()
    env.close()
    return states
