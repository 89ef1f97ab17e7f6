"""Does a persona change behaviour more than rewording it does? Teachers compared text state by text state.

Two teachers are compared only where both were asked: in each text state, the share of pushes to the
right. Their *behaviour distance* is the mean absolute difference of those shares over the shared
states, each state weighted by how many decisions both teachers made there (0: the same behaviour
wherever both went; 1: opposite pushes everywhere). Fallback decisions (no readable answer) are not
the teacher's choice and are left out.

Two distances from finite samples are never 0, even for one teacher against itself, so a distance
alone says little. Two tests say more:
- `same_behaviour_test`: a permutation test of "in every state, both teachers push right with the
  same probability": the teacher labels are shuffled among the decisions of each state (a stratified
  permutation, which scipy.stats.permutation_test does not offer), keeping each state's visits.
- `persona_minus_wording`: the persona effect (distance between two personas) minus the larger of the
  two wording effects (distance between two wordings of the same persona), with a bootstrap CI over
  episodes. A persona effect no larger than rewording either persona is not a persona effect.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats as scipy_stats

from eep_utils.cartpole.embodiment import STUDY_2023, Projection
from eep_utils.cartpole.episodes import EpisodeSet
from eep_utils.stats import Estimate, proportion_ci


def counts_by_episode(episodes: EpisodeSet, projection: Projection = STUDY_2023) -> np.ndarray:
    """Decisions per episode, text state and action: an (episodes, states, 2) array, fallbacks left out."""
    decisions = episodes.decisions[episodes.decisions["status"] != "fallback"]
    numbers = {episode: row for row, episode in enumerate(sorted(episodes.frames["episode"].unique()))}
    counts = np.zeros((len(numbers), projection.n_states, 2))
    np.add.at(counts, (decisions["episode"].map(numbers).to_numpy(), decisions["state"].to_numpy(),
                       decisions["action"].to_numpy()), 1)
    return counts


def behaviour_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Weighted mean |P_a(right) − P_b(right)| over the states both visited; `a`, `b` are (states, 2)
    counts. NaN when they share no state."""
    visits_a, visits_b = a.sum(axis=1), b.sum(axis=1)
    shared = (visits_a > 0) & (visits_b > 0)
    if not shared.any():
        return float("nan")
    gap = np.abs(a[shared, 1] / visits_a[shared] - b[shared, 1] / visits_b[shared])
    weight = visits_a[shared] + visits_b[shared]
    return float(np.sum(weight * gap) / np.sum(weight))


def same_behaviour_test(a: np.ndarray, b: np.ndarray, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """(distance, p): the behaviour distance of two teachers' (episodes, states, 2) counts, and the share
    of within-state relabellings whose distance is at least as large (counting the observed one)."""
    states, actions, teacher = [], [], []
    for label, counts in enumerate((a.sum(axis=0), b.sum(axis=0))):
        for action in (0, 1):
            n = counts[:, action].astype(int)
            states.append(np.repeat(np.arange(len(n)), n))
            actions.append(np.full(n.sum(), action))
            teacher.append(np.full(n.sum(), label))
    states, actions, teacher = (np.concatenate(x) for x in (states, actions, teacher))
    order = np.argsort(states, kind="stable")
    states, actions, teacher = states[order], actions[order], teacher[order]
    n_states = a.shape[1]

    def distance(labels: np.ndarray) -> float:
        counts = np.zeros((2, n_states, 2))
        np.add.at(counts, (labels, states, actions), 1)
        return behaviour_distance(counts[0], counts[1])

    observed = distance(teacher)
    rng = np.random.default_rng(seed)
    # States are sorted, so sorting by (state, random key) permutes labels within each state only.
    as_large = sum(distance(teacher[np.lexsort((rng.random(len(teacher)), states))]) >= observed - 1e-12
                   for _ in range(n_resamples))
    return observed, (as_large + 1) / (n_resamples + 1)


def _bootstrap(per_teacher: Sequence[np.ndarray], statistic, n_resamples: int, seed: int) -> Estimate:
    """Percentile bootstrap of `statistic(*summed counts)`, resampling each teacher's episodes on its own."""
    def resampled(*indices):
        return statistic(*(counts[np.asarray(index, dtype=int)].sum(axis=0)
                           for counts, index in zip(per_teacher, indices)))

    indices = [np.arange(len(counts)) for counts in per_teacher]
    result = scipy_stats.bootstrap(indices, resampled, paired=False, vectorized=False, n_resamples=n_resamples,
                                   method="percentile", rng=np.random.default_rng(seed))
    value = statistic(*(counts.sum(axis=0) for counts in per_teacher))
    low, high = result.confidence_interval
    return Estimate(float(value), float(low), float(high), int(sum(len(c) for c in per_teacher)))


def distance_ci(a: np.ndarray, b: np.ndarray, n_resamples: int = 1000, seed: int = 0) -> Estimate:
    """The behaviour distance of two teachers with a bootstrap 95% CI over their episodes."""
    return _bootstrap([a, b], behaviour_distance, n_resamples, seed)


def persona_minus_wording(persona_a: np.ndarray, persona_b: np.ndarray, rewording_a: np.ndarray,
                          rewording_b: np.ndarray, n_resamples: int = 1000, seed: int = 0) -> Estimate:
    """Distance(persona a, persona b) minus the larger of distance(a, a reworded) and distance(b, b reworded),
    with a bootstrap 95% CI over the four teachers' episodes. Above 0: the personas differ by more than
    either one's rewording moves it (the larger, not the mean: a persona whose rewording alone moves it
    as far as the other persona does has not shown that its persona, rather than its words, did it)."""
    def excess(a, b, a2, b2):
        return behaviour_distance(a, b) - max(behaviour_distance(a, a2), behaviour_distance(b, b2))

    return _bootstrap([persona_a, persona_b, rewording_a, rewording_b], excess, n_resamples, seed)


def habit_share(persona: np.ndarray, control: np.ndarray) -> Estimate:
    """The generic-habit control: the share of text states (visited by both, each with a majority action)
    where the persona's majority push is the no-persona control's, with a Wilson 95% CI. Near 1: the
    persona mostly does what the chatbot does with no persona at all."""
    a, b = persona.sum(axis=0), control.sum(axis=0)
    decided = (a[:, 0] != a[:, 1]) & (b[:, 0] != b[:, 1])  # no tie, and visited by both
    same = np.argmax(a[decided], axis=1) == np.argmax(b[decided], axis=1)
    return proportion_ci(int(same.sum()), int(decided.sum())) if decided.any() else Estimate(
        float("nan"), float("nan"), float("nan"), 0)
