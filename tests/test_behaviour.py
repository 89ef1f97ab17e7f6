"""Whether two teachers' students differ where the teachers do, state by state: kappa, the verdict in words."""
import numpy as np
import pandas as pd
import pytest

from eep_utils.cartpole.behaviour import (
    DisagreementPatterns,
    cohen_kappa,
    disagreement_patterns,
    disagreement_statement,
    follows_teachers,
)
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.policies import LookupTablePolicy, literal_rule_table
from eep_utils.stats import Estimate


def test_kappa_is_one_for_identical_patterns_minus_one_for_opposed_and_undefined_for_a_constant():
    pattern = np.array([1, 0, 1, 0, 0, 1], bool)
    assert cohen_kappa(pattern, pattern) == pytest.approx(1)
    assert cohen_kappa(pattern, ~pattern) == pytest.approx(-1)
    assert np.isnan(cohen_kappa(pattern, np.zeros(6, bool)))


@pytest.fixture(scope="module")
def two_teachers():
    """Two rule tables that differ on every third text state, as decisions per state (a probe's reading)."""
    table_a = literal_rule_table(STUDY_2023)
    table_b = table_a.copy()
    table_b[::3] = 1 - table_b[::3]
    return table_a, table_b


def test_students_that_copy_their_teachers_differ_exactly_where_the_teachers_do(two_teachers):
    table_a, table_b = two_teachers
    result = disagreement_patterns(table_a, table_b, LookupTablePolicy(STUDY_2023, table_a),
                                   LookupTablePolicy(STUDY_2023, table_b), n_resamples=200)
    assert len(result.states) == STUDY_2023.n_states and result.teachers.n == STUDY_2023.n_states
    assert result.students.value == result.teachers.value == pytest.approx(27 / 81)
    assert result.pattern.value == pytest.approx(1) and follows_teachers(result) is True
    assert "differ where the teachers differ" in disagreement_statement(result, "A", "B", "copies")


def test_students_are_asked_at_each_states_representative_observation(two_teachers):
    table_a, _ = two_teachers
    asked = []

    def student(observations):
        asked.append(STUDY_2023.state_index(observations))
        return np.zeros(len(observations), int)

    disagreement_patterns(table_a, table_a, student, student, n_resamples=50)
    assert all(list(states) == list(range(STUDY_2023.n_states)) for states in asked)


def test_states_a_teacher_did_not_answer_are_left_out(two_teachers):
    table_a, table_b = two_teachers
    unanswered = table_a.astype(float)
    unanswered[:10] = np.nan  # a fallback is not the teacher's decision
    result = disagreement_patterns(unanswered, table_b, LookupTablePolicy(STUDY_2023, table_a),
                                   LookupTablePolicy(STUDY_2023, table_b), n_resamples=200)
    assert list(result.states["state"]) == list(range(10, STUDY_2023.n_states))
    with pytest.raises(ValueError, match="one per text state"):
        disagreement_patterns(table_a[:5], table_b, LookupTablePolicy(STUDY_2023, table_a),
                              LookupTablePolicy(STUDY_2023, table_b))


def test_students_that_differ_where_their_teachers_agree_are_called_opposed(two_teachers):
    table_a, table_b = two_teachers
    contrary = np.where(table_a == table_b, 1 - table_a, table_a)  # differs from table_a where the teachers agree
    result = disagreement_patterns(table_a, table_b, LookupTablePolicy(STUDY_2023, table_a),
                                   LookupTablePolicy(STUDY_2023, contrary), n_resamples=200)
    states = result.states
    # Exactly complementary patterns; kappa reaches -1 only when half the states differ, so it is below 0.
    np.testing.assert_array_equal(states.student_a != states.student_b, states.teacher_a == states.teacher_b)
    assert result.pattern.high < 0 and follows_teachers(result) is False
    assert "differ where the teachers agree" in disagreement_statement(result, "A", "B", "students")


def test_identical_students_carry_none_of_a_difference_their_teachers_have(two_teachers):
    table_a, table_b = two_teachers
    same = LookupTablePolicy(STUDY_2023, table_a)
    result = disagreement_patterns(table_a, table_b, same, same, n_resamples=200)
    assert result.students.value == 0 and np.isnan(result.pattern.value) and follows_teachers(result) is False
    assert "differ in none of the states where the teachers differ" in disagreement_statement(result, "A", "B", "s")


def test_students_that_differ_everywhere_leave_the_pattern_undefined(two_teachers):
    table_a, table_b = two_teachers
    result = disagreement_patterns(table_a, table_b, LookupTablePolicy(STUDY_2023, table_a),
                                   LookupTablePolicy(STUDY_2023, 1 - table_a), n_resamples=200)
    assert result.students.value == 1 and np.isnan(result.pattern.value) and follows_teachers(result) is None
    assert "cannot be measured" in disagreement_statement(result, "A", "B", "students")


def patterns(teachers, kappa, low, high, n=20, undefined=0):
    return DisagreementPatterns(pd.DataFrame(), Estimate(teachers, 0.1, 0.6, n), Estimate(0.2, 0.1, 0.4, n),
                                Estimate(kappa, low, high, n, undefined=undefined))


def test_the_statement_follows_the_numbers_and_names_the_unit():
    spanning = disagreement_statement(patterns(0.3, 0.1, -0.2, 0.4), "Newton", "the control", "students")
    assert spanning.startswith("on the 20 text states that Newton and the control each answered")
    assert "30% (95% CI 10–60% over text states)" in spanning
    assert ("0.10 (95% CI -0.20 to 0.40 over text states), an interval that includes 0: this build cannot tell"
            in spanning)
    assert "no difference to inherit" in disagreement_statement(patterns(0, np.nan, np.nan, np.nan), "A", "B", "s")
    above = disagreement_statement(patterns(0.3, 0.6, 0.2, 0.9, undefined=7), "A", "B", "s")
    assert "differ where the teachers differ" in above and "0.60 (95% CI 0.20 to 0.90 over text states" in above
    assert "kappa was undefined in 7 resamples, left out" in above
    assert "cannot compare" in disagreement_statement(patterns(np.nan, np.nan, np.nan, np.nan, n=0), "A", "B", "s")
