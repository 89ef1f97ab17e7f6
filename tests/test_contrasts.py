"""Persona against wording, like with like (eep_utils.cartpole.contrasts): the contrast over text states, its
stratified permutation test, the synthetic teacher and the power curve, and returns clustered by prompts."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from eep_utils.cartpole.contrasts import (Probes, behaviour_power, contrast_terms, habit_share, permutation_p,
                                          persona_contrast, prompt_sequences, return_ci, returns_contrast,
                                          synthetic_teacher)
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.stand_in import RuleStandIn
from eep_utils.cartpole.teaching import BoundedHistoryProtocol, run_cartpole_teacher
from eep_utils.personas import Voice
from eep_utils.stats import bootstrap_ci

PERSONAS = ("newton", "no_persona", "aristotle")
NEWTON_PAIRS = [("newton", "no_persona"), ("no_persona", "newton")]


def probes(p_right: np.ndarray) -> Probes:
    """Probes from P(right) [template, persona, wording, state]; decisions by the larger side, mass 1."""
    return Probes(tuple(f"t{t}" for t in range(p_right.shape[0])), PERSONAS[:p_right.shape[1]], p_right,
                  (p_right > 0.5).astype(float), np.ones_like(p_right))


def exchangeable(seed: int, n_states: int = 81, noise: float = 0.2) -> np.ndarray:
    """Every voice the same behaviour plus its own noise: personas differ exactly as much as wordings do."""
    rng = np.random.default_rng(seed)
    base = rng.random(n_states)
    return np.clip(base + rng.normal(0, noise, (2, 3, 2, n_states)), 0, 1)


def test_the_contrast_is_zero_when_personas_differ_only_as_their_wordings_do():
    rng = np.random.default_rng(0)
    first, second = rng.random(81), rng.random(81)  # wording 1 answers one way, wording 2 another, for everyone
    p_right = np.broadcast_to(np.stack([first, second]), (2, 3, 2, 81)).copy()
    contrast = persona_contrast(probes(p_right), NEWTON_PAIRS, 200, 200, seed=1)
    assert contrast.pooled.value == 0 and contrast.pooled.high <= 0
    assert contrast.verdict is False and contrast.p_value > 0.5


def test_the_contrast_finds_personas_that_differ_beyond_their_wordings():
    rng = np.random.default_rng(0)
    behaviour = rng.random((3, 81))  # one behaviour per persona, the same in both wordings and templates
    p_right = np.clip(behaviour[None, :, None, :] + rng.normal(0, 0.05, (2, 3, 2, 81)), 0, 1)
    contrast = persona_contrast(probes(p_right), NEWTON_PAIRS, 300, 300, seed=1)
    assert contrast.pooled.low > 0 and contrast.p_value < 0.01 and contrast.verdict is True
    assert set(contrast.per_template) == {"t0", "t1"}
    # A mean over states: its bootstrap interval contains the point (unlike a biased distance's).
    assert contrast.pooled.low <= contrast.pooled.value <= contrast.pooled.high


def test_contrast_terms_compare_like_with_like_within_a_template():
    p_right = np.zeros((1, 2, 2, 1))
    p_right[0, 0, :, 0] = [1.0, 0.8]  # newton: its rewording moves it by 0.2
    p_right[0, 1, :, 0] = [0.0, 0.1]  # the control
    # (|1 − 0.1| − |1 − 0.8| + |0 − 0.8| − |0 − 0.1|) / 2
    assert contrast_terms(p_right, [(0, 1), (1, 0)])[0, 0] == pytest.approx((0.9 - 0.2 + 0.8 - 0.1) / 2)


def test_the_permutation_p_value_is_about_uniform_when_the_voices_are_exchangeable():
    p_values = np.array([permutation_p(exchangeable(seed), [(0, 1), (1, 0)], 199, seed) for seed in range(300)])
    assert 0.02 <= np.mean(p_values <= 0.05) <= 0.09
    assert 0.4 <= np.mean(p_values <= 0.5) <= 0.6
    assert scipy_stats.kstest(p_values, "uniform").pvalue > 0.01


def test_the_synthetic_teacher_is_the_control_turned_in_a_share_of_states_everywhere_alike():
    p_right = exchangeable(3)
    found = probes(p_right)
    unchanged, _ = synthetic_teacher(found, "no_persona", 0.0, np.random.default_rng(0))
    assert np.array_equal(unchanged, p_right[:, 1])
    turned, decision = synthetic_teacher(found, "no_persona", 0.2, np.random.default_rng(0))
    moved = np.isclose(turned, 1 - p_right[:, 1]) & ~np.isclose(turned, p_right[:, 1])
    states = moved.any(axis=(0, 1))
    assert states.sum() == round(0.2 * 81)
    assert np.all(np.isclose(turned[..., states], 1 - p_right[:, 1][..., states]))  # every template and wording
    assert np.array_equal(decision[..., states], 1 - found.decision[:, 1][..., states])


def test_the_power_curve_rises_with_the_share_of_deviating_states():
    found = probes(exchangeable(5, noise=0.05))
    power = behaviour_power(found, "newton", "no_persona", [0.0, 0.05, 0.2, 0.5], replicates=20, n_resamples=200,
                            n_permutations=200, seed=0)
    powers = [row["power"] for row in power.curve]
    effects = [row["effect"] for row in power.curve]
    assert powers[0] <= 0.1 and powers[-1] == 1 and powers == sorted(powers)
    assert effects == sorted(effects)
    assert power.min_detectable in (0.05, 0.2, 0.5) and power.min_detectable_low <= power.min_detectable
    assert power.share_of(effects[2]) == pytest.approx(0.2)


def test_habit_share_counts_states_where_the_decision_is_the_controls():
    share = habit_share(np.array([1, 0, 1, np.nan]), np.array([1, 1, 1, 0]))
    assert (share.value, share.n) == (2 / 3, 3)
    assert np.isnan(habit_share(np.array([np.nan]), np.array([1.0])).value)


def test_episodes_that_replay_the_same_prompts_are_one_cluster():
    episodes = run_cartpole_teacher(RuleStandIn("newton"), Voice("newton", "you-are", 1),
                                    BoundedHistoryProtocol(turns=0), 3, seed=7)
    decisions = episodes.decisions
    replayed = decisions[decisions["episode"] == 0].assign(episode=1)  # episode 1 asks episode 0's prompts
    other = decisions[decisions["episode"] == 2].assign(answer="Left")  # episode 2 answered otherwise
    episodes.decisions = pd.concat([decisions[decisions["episode"] == 0], replayed, other])
    labels = prompt_sequences(episodes)
    assert len(labels) == episodes.n_episodes == len(episodes.returns())
    assert labels[0] == labels[1] != labels[2]
    assert list(prompt_sequences(episodes, shared_history=True)) == [0, 1, 2]


def test_a_return_interval_from_ten_episodes_repeated_five_times_is_as_wide_as_from_the_ten():
    returns = np.random.default_rng(0).integers(8, 60, 10).astype(float)
    clusters = np.arange(10)
    once = return_ci(returns, clusters, 1000, seed=3)
    repeated = return_ci(np.tile(returns, 5), np.tile(clusters, 5), 1000, seed=3)
    assert (repeated.low, repeated.high, repeated.n) == pytest.approx((once.low, once.high, 10))
    naive = bootstrap_ci(np.mean, np.tile(returns, 5), n_resamples=1000, seed=3)  # repeats as independent episodes
    assert naive.high - naive.low < 0.6 * (once.high - once.low)


def test_the_returns_wording_control_is_clustered_and_subtracts_the_larger_rewording_gap():
    keys = [(t, p, w) for t in ("you-are", "imagine") for p in ("newton", "no_persona") for w in (1, 2)]
    means = {("newton", 1): 40.0, ("newton", 2): 30.0, ("no_persona", 1): 10.0, ("no_persona", 2): 12.0}
    rng = np.random.default_rng(1)
    returns = {key: means[key[1:]] + rng.normal(0, 3, 10) for key in keys}
    clusters = {key: np.arange(10) for key in keys}
    effect = returns_contrast(returns, clusters, "newton", "no_persona", ("you-are", "imagine"), 500, seed=0)
    mean = {key: sample.mean() for key, sample in returns.items()}
    def over_wordings(t, persona):
        return (mean[t, persona, 1] + mean[t, persona, 2]) / 2

    def rewording(t, persona):
        return abs(mean[t, persona, 1] - mean[t, persona, 2])

    by_hand = [abs(over_wordings(t, "newton") - over_wordings(t, "no_persona"))
               - max(rewording(t, "newton"), rewording(t, "no_persona")) for t in ("you-are", "imagine")]
    assert effect.value == pytest.approx(np.mean(by_hand))
    assert effect.n == 80 and effect.low > 0  # 24 frames apart, 10 of rewording
    repeated = returns_contrast({k: np.tile(v, 5) for k, v in returns.items()},
                                {k: np.tile(v, 5) for k, v in clusters.items()},
                                "newton", "no_persona", ("you-are", "imagine"), 500, seed=0)
    assert (repeated.low, repeated.high) == pytest.approx((effect.low, effect.high))


@pytest.mark.parametrize("state", range(STUDY_2023.n_states))
def test_every_text_state_has_an_observation_that_is_described_as_it(state):
    assert int(STUDY_2023.state_index(STUDY_2023.observation_of_state(state))) == state
