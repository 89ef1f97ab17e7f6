"""Vectorised closed-loop evaluation against the frame-by-frame reference."""
import numpy as np
import pytest

from eep_utils.cartpole.embodiment import STUDY_2023
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
            rollouts = play_episodes(policy, 60, seed=9, steps_per_decision=steps, batch_size=25)
            reference = [play_episode_from(policy, state, steps) for state in rollouts.initial_states]
            np.testing.assert_array_equal(rollouts.returns, reference)
            assert rollouts.returns.min() < 500  # the policy fails, so ends are compared too


def test_recorded_decisions_follow_the_hold():
    rollouts = play_episodes(always_right, 10, seed=1, steps_per_decision=2, record=True)
    decisions_per_episode = np.bincount(rollouts.episode, minlength=10)
    np.testing.assert_array_equal(decisions_per_episode, (rollouts.returns + 1) // 2)


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
