import numpy as np
import pytest

from eep_utils.cartpole.embodiment import (FIVE_WORDS, REQUIREMENTS, STUDY_2023, Feature, candidate_reasons,
                                           candidate_table, direction_named, opposite, state_occupancy)


def observation(x=0.0, x_dot=0.0, theta=0.0, theta_dot=0.0):
    return np.array([x, x_dot, theta, theta_dot])


@pytest.mark.parametrize("index, threshold, label", [(0, 0.1, "cart-position"), (1, 0.1, "cart-velocity"),
                                                     (2, 0.01, "pole-angle"), (3, 0.2, "pole-angular-velocity")])
def test_2023_words_at_and_beyond_each_threshold(index, threshold, label):
    feature = next(f for f in STUDY_2023.features if f.label == label)
    low, middle, high = feature.words
    values = np.array([-threshold - 1e-6, -threshold, 0.0, threshold, threshold + 1e-6])
    # The 2023 code: "left" if x < -t, "right" if x > t, else the middle word; a value on a threshold is middle.
    assert [feature.words[i] for i in feature.word_indices(values)] == [low, middle, middle, middle, high]
    assert feature.index == index


def test_five_word_projection_outer_thresholds_are_strict_too():
    angle = next(f for f in FIVE_WORDS.features if f.label == "pole-angle")
    values = np.array([-0.07 - 1e-9, -0.07, -0.01, 0.0, 0.01, 0.0100001, 0.07, 0.0700001])
    assert [angle.words[i] for i in angle.word_indices(values)] == [
        "far-left", "left", "upright", "upright", "upright", "right", "right", "far-right"]


def test_description_matches_the_2023_prompt_format():
    text = STUDY_2023.describe(observation(x=0.0, x_dot=-0.006, theta=0.0358, theta_dot=0.0197))
    assert text == ("cart-position: center\ncart-velocity: stopped\n"
                    "pole-angular-velocity: zero\npole-angle: right")


def test_state_numbers_round_trip_through_words_and_text():
    for projection in (STUDY_2023, FIVE_WORDS):
        for state in range(projection.n_states):
            assert projection.state_of_words(projection.words_of_state(state)) == state
            assert projection.parse_description(projection.describe_state(state)) == state
    assert (STUDY_2023.n_states, FIVE_WORDS.n_states) == (81, 625)


def test_state_index_is_vectorised_and_agrees_with_single_observations():
    rng = np.random.default_rng(0)
    batch = rng.normal(scale=[0.5, 0.5, 0.05, 0.5], size=(200, 4))
    batched = STUDY_2023.state_index(batch)
    assert batched.shape == (200,)
    assert all(STUDY_2023.state_index(row) == state for row, state in zip(batch, batched))


def test_parse_description_rejects_text_that_is_not_a_state():
    with pytest.raises(ValueError, match="not a"):
        STUDY_2023.parse_description("cart-position: nowhere")


def test_feature_needs_matching_words_and_thresholds():
    with pytest.raises(ValueError):
        Feature("x", 0, ("a", "b"), (0.1,), "m")
    with pytest.raises(ValueError):
        Feature("x", 0, ("a", "b", "c", "d", "e"), (0.2, 0.1), "m")


def test_state_occupancy_counts_every_observation_once():
    observations = np.array([observation(theta=0.05), observation(theta=0.05), observation(theta=-0.05)])
    table = state_occupancy(STUDY_2023, observations)
    assert table["count"].sum() == 3
    assert table.iloc[0]["count"] == 2 and table.iloc[0]["description"].endswith("right")


def test_candidate_table_reads_spaces_from_gymnasium():
    table = candidate_table()
    assert table.loc["CartPole-v1", "senses"] == "4 real numbers"
    assert table.loc["MountainCar-v0", "acts"] == "3 choices"
    # What chapter 01 says of the table: CartPole meets every requirement but offers a single task, and
    # FrozenLake would score highest on paper.
    cartpole = table.loc["CartPole-v1", list(REQUIREMENTS)]
    assert cartpole.to_dict() == {**dict.fromkeys(REQUIREMENTS, 2), "many_tasks": 1}
    totals = table["total (of 10)"].sort_values(ascending=False)
    assert totals.index[0] == "FrozenLake-v1" and totals.iloc[0] == 10 > totals.iloc[1]
    assert set(table[list(REQUIREMENTS)].to_numpy().ravel()) <= {0, 1, 2}
    reasons = candidate_reasons()
    assert len(reasons) == len(table) * len(REQUIREMENTS)
    assert reasons.loc[("CartPole-v1", "action"), "score"] == table.loc["CartPole-v1", "action"]


def test_direction_named_reads_every_projection_word_and_commands():
    words = {word for projection in (STUDY_2023, FIVE_WORDS) for f in projection.features for word in f.words}
    named = {word: direction_named(word) for word in words}
    assert {w for w, d in named.items() if d == "right"} == {"right", "far-right", "rightwards", "fast-rightwards"}
    assert {w for w, d in named.items() if d == "left"} == {"left", "far-left", "leftwards", "fast-leftwards"}
    assert {w for w, d in named.items() if d is None} == {"center", "stopped", "zero", "upright"}
    assert direction_named("left-limit") == "left"  # the 2023 text-completion run's words
    assert direction_named("push the cart right") == "right" and direction_named("keep it upright") is None
    assert (opposite("left"), opposite("right")) == ("right", "left")
