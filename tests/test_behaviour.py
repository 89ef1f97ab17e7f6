"""Whether two teachers' students differ where the teachers do: majorities, kappa, the verdict in words."""
import numpy as np
import pandas as pd
import pytest

from eep_utils.cartpole.behaviour import (
    DisagreementPatterns,
    cohen_kappa,
    disagreement_patterns,
    disagreement_statement,
    follows_teachers,
    majority_actions,
)
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.episodes import EpisodeSet, empty_decisions
from eep_utils.cartpole.evaluation import play_episode_from, play_episodes
from eep_utils.cartpole.policies import LookupTablePolicy, literal_rule_table
from eep_utils.stats import Estimate


def table_episodes(table, n_episodes=30, seed=0) -> EpisodeSet:
    """A lookup-table teacher's episodes, every frame recorded (its action is a function of the text state)."""
    policy = LookupTablePolicy(STUDY_2023, table)
    frames = []
    for episode, state in enumerate(play_episodes(policy, n_episodes, seed).initial_states):
        played = play_episode_from(policy, state, 2, "table").frames
        frames.append(played.assign(episode=episode))
    return EpisodeSet("table teacher (test)", False, pd.concat(frames, ignore_index=True), empty_decisions())


def test_majority_actions_per_text_state_leave_ties_and_unvisited_states_out():
    calm, tilted = np.zeros(4), np.array([3.0, 3.0, 0.3, 3.0])
    observations = np.array([calm, calm, calm, tilted, tilted])
    majority = majority_actions(observations, [1, 1, 0, 0, 1])
    calm_state, tilted_state = STUDY_2023.state_index(np.array([calm, tilted]))
    assert majority[calm_state] == 1
    assert np.isnan(majority[tilted_state])  # one left, one right: no majority
    assert np.isnan(np.delete(majority, [calm_state, tilted_state])).all()


def test_kappa_is_one_for_identical_patterns_minus_one_for_opposed_and_undefined_for_a_constant():
    pattern = np.array([1, 0, 1, 0, 0, 1], bool)
    assert cohen_kappa(pattern, pattern) == pytest.approx(1)
    assert cohen_kappa(pattern, ~pattern) == pytest.approx(-1)
    assert np.isnan(cohen_kappa(pattern, np.zeros(6, bool)))


@pytest.fixture(scope="module")
def two_teachers():
    """Two rule tables that differ on every other text state the first one visits."""
    table_a = literal_rule_table(STUDY_2023)
    visited = np.unique(STUDY_2023.state_index(table_episodes(table_a).training_pairs()[0]))
    table_b = table_a.copy()
    table_b[visited[::2]] = 1 - table_b[visited[::2]]
    return table_a, table_b, table_episodes(table_a), table_episodes(table_b)


def test_students_that_copy_their_teachers_differ_exactly_where_the_teachers_do(two_teachers):
    table_a, table_b, teacher_a, teacher_b = two_teachers
    result = disagreement_patterns(teacher_a, teacher_b, LookupTablePolicy(STUDY_2023, table_a),
                                   LookupTablePolicy(STUDY_2023, table_b), n_resamples=200)
    assert len(result.states) >= 4 and 0 < result.teachers.value < 1
    assert result.students.value == result.teachers.value
    assert result.pattern.value == pytest.approx(1) and follows_teachers(result) is True
    assert "differ where the teachers differ" in disagreement_statement(result, "A", "B", "copies")


def test_students_that_differ_where_their_teachers_agree_are_called_opposed(two_teachers):
    table_a, table_b, teacher_a, teacher_b = two_teachers
    contrary = np.where(table_a == table_b, 1 - table_a, table_a)  # differs from table_a where the teachers agree
    result = disagreement_patterns(teacher_a, teacher_b, LookupTablePolicy(STUDY_2023, table_a),
                                   LookupTablePolicy(STUDY_2023, contrary), n_resamples=200)
    states = result.states
    # Exactly complementary patterns; kappa reaches -1 only when half the states differ, so it is below 0.
    np.testing.assert_array_equal(states.student_a != states.student_b, states.teacher_a == states.teacher_b)
    assert result.pattern.high < 0 and follows_teachers(result) is False
    assert "differ where the teachers agree" in disagreement_statement(result, "A", "B", "students")


def test_identical_students_leave_the_pattern_undefined(two_teachers):
    table_a, _, teacher_a, teacher_b = two_teachers
    same = LookupTablePolicy(STUDY_2023, table_a)
    result = disagreement_patterns(teacher_a, teacher_b, same, same, n_resamples=200)
    assert result.students.value == 0 and np.isnan(result.pattern.value) and follows_teachers(result) is None
    assert "cannot be measured" in disagreement_statement(result, "A", "B", "students")


def patterns(teachers, kappa, low, high, n=20):
    return DisagreementPatterns(pd.DataFrame(), Estimate(teachers, 0.1, 0.6, n), Estimate(0.2, 0.1, 0.4, n),
                                Estimate(kappa, low, high, n))


def test_the_statement_follows_the_numbers():
    spanning = disagreement_statement(patterns(0.3, 0.1, -0.2, 0.4), "Newton", "the control", "students")
    assert spanning.startswith("on the 20 text states") and "30% (95% CI 10–60%)" in spanning
    assert "0.10 (95% CI -0.20 to 0.40, which includes 0): this build cannot tell" in spanning
    assert "no difference to inherit" in disagreement_statement(patterns(0, np.nan, np.nan, np.nan), "A", "B", "s")
    above = disagreement_statement(patterns(0.3, 0.6, 0.2, 0.9), "A", "B", "s")
    assert "differ where the teachers differ" in above and "0.60 (95% CI 0.20 to 0.90)" in above
    assert "cannot compare" in disagreement_statement(patterns(np.nan, np.nan, np.nan, np.nan, n=0), "A", "B", "s")
