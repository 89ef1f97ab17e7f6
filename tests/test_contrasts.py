"""Persona against wording: the behaviour distance and its tests (eep_utils.cartpole.contrasts)."""
import numpy as np
import pytest

from eep_utils.cartpole.contrasts import (behaviour_distance, counts_by_episode, distance_ci, habit_share,
                                          persona_minus_wording, same_behaviour_test)
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.stand_in import RuleStandIn
from eep_utils.cartpole.teaching import BoundedHistoryProtocol, run_cartpole_teacher


def simulated(p_right_by_state, n_episodes, seed, decisions_per_episode=12):
    """(episodes, states, 2) counts of a teacher pushing right with the given probability in each state."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_episodes, len(p_right_by_state), 2))
    for episode in range(n_episodes):
        for state in rng.integers(0, len(p_right_by_state), decisions_per_episode):
            counts[episode, state, int(rng.random() < p_right_by_state[state])] += 1
    return counts


def test_distance_is_zero_for_equal_shares_one_for_opposite_pushes_and_ignores_unshared_states():
    a = np.array([[0, 4], [2, 2], [5, 0]])
    assert behaviour_distance(a, 3 * a) == 0
    assert behaviour_distance(np.array([[0, 3], [0, 0]]), np.array([[3, 0], [1, 1]])) == 1
    assert np.isnan(behaviour_distance(np.array([[1, 0], [0, 0]]), np.array([[0, 0], [0, 1]])))


def test_the_permutation_test_finds_a_real_difference_and_not_an_absent_one():
    leans_right, leans_left = np.full(9, 0.9), np.full(9, 0.1)
    _, p_different = same_behaviour_test(simulated(leans_right, 20, 1), simulated(leans_left, 20, 2), 500, seed=3)
    _, p_same = same_behaviour_test(simulated(leans_right, 20, 4), simulated(leans_right, 20, 5), 500, seed=3)
    assert p_different < 0.01
    assert p_same > 0.05


def test_persona_minus_wording_is_positive_only_when_personas_differ_more_than_their_wordings():
    base = np.linspace(0.1, 0.9, 9)
    a, a2 = simulated(base, 30, 1), simulated(base, 30, 2)
    b, b2 = simulated(1 - base, 30, 3), simulated(1 - base, 30, 4)
    differ = persona_minus_wording(a, b, a2, b2, n_resamples=300, seed=0)
    assert differ.low > 0
    same = persona_minus_wording(a, simulated(base, 30, 5), a2, simulated(base, 30, 6), n_resamples=300, seed=0)
    assert same.low < 0 < same.high or same.high <= 0
    interval = distance_ci(a, b, n_resamples=300)
    assert interval.low <= interval.value <= interval.high


def test_counts_come_from_the_decisions_and_leave_fallbacks_out():
    episodes = run_cartpole_teacher(RuleStandIn("newton"), "newton", BoundedHistoryProtocol(turns=0), 3, seed=7)
    counts = counts_by_episode(episodes)
    assert counts.shape == (3, STUDY_2023.n_states, 2)
    decisions = episodes.decisions
    for episode in range(3):
        mine = decisions[decisions["episode"] == episode]
        assert counts[episode].sum() == len(mine)
        state, action = int(mine["state"].iloc[0]), int(mine["action"].iloc[0])
        assert counts[episode, state, action] >= 1
    episodes.decisions.loc[episodes.decisions.index[0], "status"] = "fallback"
    assert counts_by_episode(episodes).sum() == counts.sum() - 1


@pytest.mark.parametrize("state", range(STUDY_2023.n_states))
def test_every_text_state_has_an_observation_that_is_described_as_it(state):
    assert int(STUDY_2023.state_index(STUDY_2023.observation_of_state(state))) == state


def test_a_persona_whose_rewording_moves_it_as_far_shows_no_persona_effect_even_if_the_other_is_stable():
    base = np.linspace(0.1, 0.9, 9)
    newton, control = simulated(base, 40, 1), simulated(1 - base, 40, 2)
    newton_reworded = simulated(1 - base, 40, 3)  # rewording alone turns Newton into the control
    control_reworded = simulated(1 - base, 40, 4)
    effect = persona_minus_wording(newton, control, newton_reworded, control_reworded, n_resamples=300, seed=0)
    assert effect.high < 0.1 and not effect.low > 0


def test_habit_share_counts_states_where_the_majority_push_is_the_controls():
    persona = np.array([[[0, 3], [2, 0], [1, 1], [0, 0]]])
    control = np.array([[[0, 5], [0, 4], [3, 0], [1, 0]]])
    share = habit_share(persona, control)  # states 0 and 1 decided by both: same in 0, not in 1
    assert (share.value, share.n) == (0.5, 2)
    assert np.isnan(habit_share(persona[:, 3:], control[:, 3:]).value)
