"""CartPole as a body: the text channel and decision-hold wrappers, and the loops that play them."""
import asyncio
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleEnv, CartPoleVectorEnv

import eep_utils
from eep_utils.cartpole.body import (MAX_EPISODE_STEPS, PHYSICS, DecisionHold, RunWideHold, TextChannel,
                                     VectorDecisionHold, held_cartpole, play_decisions, play_episode, play_episode_now,
                                     play_rollouts, play_run, step_from)
from eep_utils.cartpole.embodiment import FIVE_WORDS, STUDY_2023


def test_limits_and_constants_are_gymnasiums():
    reference = CartPoleEnv()
    assert MAX_EPISODE_STEPS == gym.make("CartPole-v1").spec.max_episode_steps == 500
    assert (PHYSICS.gravity, PHYSICS.masscart, PHYSICS.masspole, PHYSICS.length) == (
        reference.gravity, reference.masscart, reference.masspole, reference.length)


def test_decision_hold_plays_each_action_for_its_frames_and_lists_them():
    env = DecisionHold(gym.make("CartPole-v1"), steps=3)
    first, _ = env.reset(seed=5)
    observation, reward, terminated, truncated, info = env.step(1)
    frames = info["frames"]
    assert [f.t for f in frames] == [0, 1, 2] and [f.decided for f in frames] == [True, False, False]
    assert {f.action for f in frames} == {1} and reward == 3.0 and not (terminated or truncated)
    np.testing.assert_array_equal(frames[0].observation, first)
    # The same three frames, stepped one by one in the bare environment.
    bare = gym.make("CartPole-v1")
    bare.reset(seed=5)
    for frame in frames[1:]:
        np.testing.assert_array_equal(bare.step(1)[0], frame.observation)
    np.testing.assert_array_equal(bare.step(1)[0], observation)
    _, _, _, _, info = env.step(0)
    assert [f.t for f in info["frames"]] == [3, 4, 5]
    with pytest.raises(ValueError, match="at least one frame"):
        DecisionHold(gym.make("CartPole-v1"), steps=0)


def test_decision_hold_stops_where_the_episode_ends():
    env = held_cartpole(steps_per_decision=4)
    env.reset(seed=0)
    played = []
    while True:
        _, _, terminated, truncated, info = env.step(1)
        played += info["frames"]
        if terminated or truncated:
            break
    assert played[-1].terminated and not any(f.terminated for f in played[:-1])
    assert [f.t for f in played] == list(range(len(played)))
    assert [f.decided for f in played] == [f.t % 4 == 0 for f in played]


@pytest.mark.parametrize("projection", [STUDY_2023, FIVE_WORDS], ids=["2023", "five words"])
def test_text_channel_shows_the_projection_of_each_observation(projection):
    env = held_cartpole(2, projection)
    text, _ = env.reset(seed=1)
    numbers = env.unwrapped.state.astype(np.float32)
    assert text == projection.describe(numbers) and text in env.observation_space
    text, _, _, _, info = env.step(0)
    assert text == projection.describe(env.unwrapped.state.astype(np.float32)) and text in env.observation_space
    assert all(projection.describe_state(s) in env.observation_space for s in range(projection.n_states))
    assert isinstance(env, TextChannel) and len(info["frames"]) == 2


def test_starting_state_option_starts_from_the_given_state():
    env = held_cartpole()
    state = np.array([0.5, -0.1, 0.02, 0.3])
    observation, _ = env.reset(seed=3, options={"state": state})
    np.testing.assert_array_equal(observation, state.astype(np.float32))
    np.testing.assert_array_equal(env.unwrapped.state, state)
    np.testing.assert_array_equal(step_from(state, 1), env.step(1)[0])


def test_one_loop_for_immediate_and_awaited_choices():
    def choose(observation):
        return int(observation[2] > 0)

    async def ask(observation):  # a chatbot's answer arrives later
        await asyncio.sleep(0)
        return choose(observation)

    now = play_episode_now(held_cartpole(2), choose, seed=7)
    later = asyncio.run(play_episode(held_cartpole(2), ask, seed=7))
    assert len(now) == len(later) > 10
    for a, b in zip(now, later):
        assert (a.t, a.action, a.decided, a.terminated) == (b.t, b.action, b.decided, b.terminated)
        np.testing.assert_array_equal(a.observation, b.observation)
    with pytest.raises(TypeError, match="await play_episode"):
        play_episode_now(held_cartpole(2), ask, seed=7)


def test_vector_hold_ends_episodes_instead_of_resetting_them():
    env = VectorDecisionHold(CartPoleVectorEnv(num_envs=3, max_episode_steps=MAX_EPISODE_STEPS), steps=5)
    env.reset(seed=0)
    frames = np.zeros(3, dtype=np.int64)
    for _ in range(40):
        was_ended = env.ended.copy()
        observations, rewards, terminated, truncated, info = env.step(np.array([1, 1, 1]))
        frames += info["frames"]
        np.testing.assert_array_equal(rewards, info["frames"])
        ending = env.ended & ~was_ended
        # An episode that ends in the step shows the observation it ended on: past the failure angle.
        assert np.all(np.abs(observations[ending, 2]) > PHYSICS.theta_threshold_radians)
        np.testing.assert_array_equal(observations[ending], env.final_observations[ending])
        assert np.array_equal(terminated, ending) and not truncated.any()
        if env.ended.all():
            break
    assert env.ended.all()
    _, rewards, terminated, _, info = env.step(np.array([0, 0, 0]))
    assert not rewards.any() and not terminated.any() and not info["frames"].any()
    # Pushing right from the same start, the bare vectorised env ends each episode after as many frames.
    bare = CartPoleVectorEnv(num_envs=3, max_episode_steps=MAX_EPISODE_STEPS)
    bare.reset(seed=0)
    alive, lived = np.ones(3, dtype=bool), np.zeros(3, dtype=np.int64)
    while alive.any():
        _, _, done, cut, _ = bare.step(np.array([1, 1, 1]))
        lived += alive
        alive &= ~(done | cut)
    np.testing.assert_array_equal(frames, lived)


def test_vectorised_decisions_match_single_episodes_from_the_same_states():
    def policy(observations):
        return (observations[:, 2] + 0.3 * observations[:, 3] > 0).astype(np.int64)

    decisions = list(play_decisions(lambda episodes, observations: policy(observations), 12, seed=4,
                                    steps_per_decision=3))
    assert [set(d.decision) for d in decisions] == [{number} for number in range(len(decisions))]
    played = play_rollouts(lambda episodes, observations: policy(observations), 12, seed=4, steps_per_decision=3)
    np.testing.assert_array_equal(played.returns, decisions[-1].returns)
    assert len(played.actions) == sum(len(d.actions) for d in decisions)
    for state, frames in zip(played.initial_states, played.returns):
        single = play_episode_now(held_cartpole(3), lambda o: int(policy(o[None])[0]), options={"state": state})
        assert len(single) == frames


def test_run_wide_hold_carries_a_decision_into_the_next_episode():
    env = RunWideHold(gym.make("CartPole-v1"), steps=2)
    first, _ = env.reset(seed=3)
    frames = []
    while sum(f.terminated or f.truncated for f in frames) < 3:
        observation, reward, terminated, truncated, info = env.step(1 if len(frames) % 4 else 0)
        assert reward == len(info["frames"]) == 2 and not (terminated or truncated)
        frames += info["frames"]
    # The same frames in the bare environment: one run, reset unseeded after each episode.
    bare = gym.make("CartPole-v1")
    seen, _ = bare.reset(seed=3)
    np.testing.assert_array_equal(seen, first)
    for frame in frames:
        np.testing.assert_array_equal(frame.observation, seen)
        seen, reward, terminated, truncated, _ = bare.step(frame.action)
        np.testing.assert_array_equal(frame.next_observation, seen)
        assert (frame.reward, frame.terminated, frame.truncated) == (reward, terminated, truncated)
        if terminated or truncated:
            seen, _ = bare.reset()
    np.testing.assert_array_equal(observation, seen)
    # Decisions fall on every second frame of the run, so an odd episode hands its last action on.
    ends = [i for i, f in enumerate(frames) if f.terminated or f.truncated]
    assert [f.decided for f in frames] == [i % 2 == 0 for i in range(len(frames))]
    assert all(frames[i + 1].t == 0 for i in ends if i + 1 < len(frames))
    handed_on = [i for i in ends if i % 2 == 0]  # episodes that ended on a decision's first frame
    assert handed_on
    for i in handed_on:
        assert not frames[i + 1].decided and frames[i + 1].action == frames[i].action


def test_play_run_yields_the_reset_then_each_decision():
    run = list(play_run(lambda observation: int(observation[3] > 0), 50, seed=42, steps_per_decision=2))
    assert run[0][0] == [] and len(run) == 51 and all(len(frames) == 2 for frames, _ in run[1:])
    frames = [f for played, _ in run[1:] for f in played]
    np.testing.assert_array_equal(frames[0].observation, run[0][1])
    assert all(f.action == int(f.observation[3] > 0) for f in frames if f.decided)


def test_only_the_body_steps_cartpole():
    """Every CartPole step the library takes is taken in cartpole/body.py."""
    package = Path(eep_utils.__file__).parent
    stepping = sorted(str(path.relative_to(package)) for path in package.rglob("*.py")
                      if re.search(r"\.step\(", path.read_text()))
    assert stepping == ["cartpole/body.py"]
