"""Vectorised closed-loop evaluation against the frame-by-frame reference."""
import numpy as np
import pytest

from eep_utils.cartpole.body import Rollouts
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.episodes import OBSERVATION_COLUMNS
from eep_utils.cartpole.evaluation import (
    RandomPolicy,
    RandomWalkBaseline,
    compared,
    load_random_walk,
    play_episode_from,
    play_episodes,
    save_random_walk,
)
from eep_utils.cartpole.policies import (
    LookupTablePolicy,
    LQRController,
    literal_rule_table,
)
from eep_utils.stats import Estimate


def always_right(observations):
    return np.ones(len(observations), dtype=np.int64)


def test_known_policies_on_fixed_seeds():
    lqr = play_episodes(LQRController(), 50, seed=0, steps_per_decision=2)
    assert (lqr.returns == 500).all()
    pushing_right = play_episodes(always_right, 200, seed=0, steps_per_decision=2)
    assert 8 <= pushing_right.returns.min() and pushing_right.returns.max() <= 11
    first = play_episodes(RandomPolicy(4), 300, seed=4, steps_per_decision=2)
    second = play_episodes(RandomPolicy(4), 300, seed=4, steps_per_decision=2)
    np.testing.assert_array_equal(first.returns, second.returns)


def test_vectorised_play_equals_frame_by_frame_play_from_the_same_states():
    rule = LookupTablePolicy(STUDY_2023, literal_rule_table(STUDY_2023))
    for policy in (rule, always_right):
        for steps in (1, 2):
            rollouts = play_episodes(policy, 60, seed=9, steps_per_decision=steps, batch_size=25, record=True)
            for episode, state in enumerate(rollouts.initial_states):
                single = play_episode_from(policy, state, steps)
                assert single.returns()[0] == rollouts.returns[episode]
                # Every decision the same: the frame it was taken at, what it saw, what it did.
                decided = single.frames[single.frames["decided"]]
                rows = rollouts.episode == episode
                np.testing.assert_array_equal(decided["t"], rollouts.t[rows])
                np.testing.assert_array_equal(decided[OBSERVATION_COLUMNS], rollouts.observations[rows])
                np.testing.assert_array_equal(decided["action"], rollouts.actions[rows])
            assert rollouts.returns.min() < 500  # the policy fails, so ends are compared too


def test_recorded_decisions_follow_the_hold():
    rollouts = play_episodes(always_right, 10, seed=1, steps_per_decision=2, record=True)
    decisions_per_episode = np.bincount(rollouts.episode, minlength=10)
    np.testing.assert_array_equal(decisions_per_episode, (rollouts.returns + 1) // 2)
    np.testing.assert_array_equal(rollouts.t, 2 * rollouts.decision)


def test_recorded_decisions_chain_and_end_on_the_final_observation():
    rollouts = play_episodes(RandomPolicy(3), 30, seed=11, steps_per_decision=2, record=True)
    assert np.array_equal(rollouts.returns, play_episodes(RandomPolicy(3), 30, seed=11, steps_per_decision=2).returns)
    last = np.array([np.flatnonzero(rollouts.episode == e).max() for e in range(30)])
    final = rollouts.next_observations[last]
    assert np.all((np.abs(final[:, 2]) > 12 * 2 * np.pi / 360) | (np.abs(final[:, 0]) > 2.4))
    assert rollouts.terminated[last].all() and rollouts.terminated.sum() == 30
    first = np.array([np.flatnonzero(rollouts.episode == e).min() for e in range(30)])
    assert np.array_equal(rollouts.remaining[first], rollouts.returns)
    assert np.all(rollouts.remaining >= 1)
    # Consecutive decisions of an episode chain: one's end is the next one's start.
    rows = np.flatnonzero(rollouts.episode == rollouts.episode[first[0]])
    np.testing.assert_array_equal(rollouts.next_observations[rows[:-1]], rollouts.observations[rows[1:]])


def test_batches_and_concatenated_rollouts_keep_episodes_apart():
    first = play_episodes(RandomPolicy(1), 3, seed=1, steps_per_decision=2, record=True)
    second = play_episodes(RandomPolicy(2), 4, seed=2, steps_per_decision=2, record=True)
    both = Rollouts.concatenate([first, second])
    assert both.n_episodes == 7 and len(both.actions) == len(first.actions) + len(second.actions)
    np.testing.assert_array_equal(both.remaining, np.concatenate([first.remaining, second.remaining]))
    np.testing.assert_array_equal(both.initial_states, np.concatenate([first.initial_states, second.initial_states]))
    assert set(both.episode[len(first.actions):]) == {3, 4, 5, 6}
    # In batches, batch b plays from seed + b: the same episodes as played batch by batch.
    batched = play_episodes(RandomPolicy(1), 7, seed=1, steps_per_decision=2, batch_size=3)
    np.testing.assert_array_equal(batched.returns[:3], first.returns)
    assert len(batched.actions) == 0  # only the returns, unless recorded


def test_the_shared_random_walk_is_read_back_as_saved(tmp_path):
    played = play_episodes(RandomPolicy(5), 40, seed=6, steps_per_decision=2)
    save_random_walk(tmp_path, RandomWalkBaseline(played.returns, 5, 6, 2))
    loaded = load_random_walk(tmp_path, steps_per_decision=2)
    np.testing.assert_array_equal(loaded.returns, played.returns)
    assert (loaded.policy_seed, loaded.episode_seed, loaded.steps_per_decision) == (5, 6, 2)
    assert loaded.summary() == played.summary()


def test_a_random_walk_played_with_another_hold_or_missing_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="chapter 01"):
        load_random_walk(tmp_path, steps_per_decision=2)
    save_random_walk(tmp_path, RandomWalkBaseline(np.array([10, 12]), 0, 0, 1))
    with pytest.raises(ValueError, match="every 1 frames, not 2"):
        load_random_walk(tmp_path, steps_per_decision=2)


def test_estimates_compare_only_when_their_intervals_do_not_overlap():
    low, middle, high = Estimate(1, 0, 2, 10), Estimate(2.5, 1.5, 3.5, 10), Estimate(5, 4, 6, 10)
    assert compared(high, low) == 1 and compared(low, high) == -1
    assert compared(middle, low) == 0 and compared(high, middle) == 1
