import numpy as np

from eep_utils.cartpole.embodiment import STUDY_2023, Feature, Projection
from eep_utils.cartpole.evaluation import RandomPolicy, play_episodes
from eep_utils.cartpole.policies import (
    LookupTablePolicy,
    LQRController,
    constant_table,
    cross_entropy_search,
    literal_rule_table,
    lookup_tables_score,
    majority_table,
)

ANGLE_ONLY = Projection("pole angle only", (Feature("pole-angle", 2, ("left", "upright", "right"), (0.01,), "rad"),))


def test_cross_entropy_search_recovers_a_known_table():
    target = np.random.default_rng(1).integers(0, 2, 30)
    result = cross_entropy_search(lambda tables: -np.abs(tables - target).sum(axis=1),
                                  n_states=30, iterations=40, population=60, seed=0)
    assert np.array_equal(result.table, target)
    assert result.best_scores[-1] == 0


def test_search_over_cartpole_tables_finds_push_toward_the_lean():
    # With the pole angle as the only sense, the best table pushes the cart under a leaning pole.
    score = lookup_tables_score(ANGLE_ONLY, episodes_per_table=10, seed=0, steps_per_decision=2)
    result = cross_entropy_search(score, ANGLE_ONLY.n_states, iterations=8, population=30, seed=0)
    left, _, right = result.table
    assert (left, right) == (0, 1)


def test_literal_rule_reads_angle_then_angular_velocity():
    table = literal_rule_table(STUDY_2023)
    def action(**words):
        state = STUDY_2023.state_of_words(tuple(words[f.label.replace("-", "_")] for f in STUDY_2023.features))
        return table[state]
    common = {"cart_position": "center", "cart_velocity": "stopped"}
    assert action(**common, pole_angular_velocity="leftwards", pole_angle="right") == 1
    assert action(**common, pole_angular_velocity="rightwards", pole_angle="left") == 0
    assert action(**common, pole_angular_velocity="leftwards", pole_angle="upright") == 0
    assert action(**common, pole_angular_velocity="zero", pole_angle="upright") == 1  # the 2023 default


def test_lookup_policy_checks_table_size_and_maps_states():
    policy = LookupTablePolicy(STUDY_2023, constant_table(STUDY_2023, 0))
    assert set(policy(np.zeros((5, 4)))) == {0}
    try:
        LookupTablePolicy(STUDY_2023, np.zeros(3))
    except ValueError as error:
        assert "81" in str(error)
    else:
        raise AssertionError("a wrong-sized table was accepted")


def test_lqr_controller_balances_and_random_does_not():
    returns = play_episodes(LQRController(), 50, seed=3, steps_per_decision=2).returns
    assert returns.min() == 500
    # The 2023 random walk (a random push held for two frames) lasted about 19 frames on average.
    random = play_episodes(RandomPolicy(3), 500, seed=3, steps_per_decision=2).returns
    assert 15 < random.mean() < 30 and random.max() < 200


def test_majority_table_reproduces_a_table_policy_exactly():
    table = literal_rule_table(STUDY_2023)
    observations = np.random.default_rng(0).normal(scale=[0.3, 0.3, 0.03, 0.4], size=(3000, 4))
    actions = LookupTablePolicy(STUDY_2023, table)(observations)
    learned, agreement = majority_table(STUDY_2023, observations, actions)
    seen = np.unique(STUDY_2023.state_index(observations))
    assert agreement == 1.0 and np.array_equal(learned[seen], table[seen])


def test_the_literal_rule_is_the_no_persona_stand_in_rule():
    from eep_utils.cartpole.stand_in import RuleStandIn

    assert np.array_equal(literal_rule_table(STUDY_2023), RuleStandIn("no_persona").table())
