"""Hand-made and searched CartPole policies: the yardsticks a chatbot teacher and its student are read against.

- `LookupTablePolicy`: a policy over text states, i.e. all a chatbot could express through a projection.
- `literal_rule_table`: the 2023 prompt's own rule, followed to the letter.
- `cross_entropy_search`: the best lookup table, found by the cross-entropy method.
- `LQRController`: a full-state controller, the ceiling of what the body allows.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_continuous_are

from eep_utils.cartpole.body import PHYSICS, play_rollouts
from eep_utils.cartpole.embodiment import ACTIONS, Projection, direction_named


class LookupTablePolicy:
    """Action = table[text state of the observation]."""

    def __init__(self, projection: Projection, table):
        self.projection = projection
        self.table = np.asarray(table, dtype=np.int64)
        if self.table.shape != (projection.n_states,):
            raise ValueError(f"a table for {projection.name} needs {projection.n_states} entries")

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        return self.table[self.projection.state_index(observations)]


def constant_table(projection: Projection, action: int) -> np.ndarray:
    return np.full(projection.n_states, action, dtype=np.int64)


def literal_rule_table(projection: Projection, default: int = 1) -> np.ndarray:
    """'If the pole is falling right, push the cart right ... and vice versa', read literally.

    "Falling right" is read from the pole-angle word (any word naming right), then, for an upright
    pole, from its angular velocity; a pole that is upright and still gets `default` (the 2023
    scripts' fallback answer was "right")."""
    labels = [f.label for f in projection.features]
    angle, spin = labels.index("pole-angle"), labels.index("pole-angular-velocity")
    table = np.empty(projection.n_states, dtype=np.int64)
    for state in range(projection.n_states):
        words = projection.words_of_state(state)
        leaning = direction_named(words[angle]) or direction_named(words[spin])
        table[state] = default if leaning is None else ACTIONS.index(leaning)
    return table


@dataclass
class SearchResult:
    table: np.ndarray
    probabilities: np.ndarray
    best_scores: list[float]
    mean_scores: list[float]


def cross_entropy_search(
    score: Callable[[np.ndarray], np.ndarray],
    n_states: int,
    iterations: int,
    population: int,
    seed: int,
    elite_fraction: float = 0.2,
    smoothing: float = 0.7,
) -> SearchResult:
    """Maximise `score` over binary tables by the cross-entropy method.

    `score` maps a (population, n_states) array of 0/1 tables to one score per table. Each
    iteration samples tables from independent Bernoulli(p) per state, keeps the elite and moves
    p toward the elite's mean; the answer is the most probable table."""
    rng = np.random.default_rng(seed)
    p = np.full(n_states, 0.5)
    n_elite = max(1, round(elite_fraction * population))
    best_scores, mean_scores = [], []
    for _ in range(iterations):
        tables = (rng.random((population, n_states)) < p).astype(np.int64)
        scores = np.asarray(score(tables), dtype=np.float64)
        elite = tables[np.argsort(scores)[-n_elite:]]
        p = smoothing * elite.mean(axis=0) + (1 - smoothing) * p
        best_scores.append(float(scores.max()))
        mean_scores.append(float(scores.mean()))
    return SearchResult((p > 0.5).astype(np.int64), p, best_scores, mean_scores)


def lookup_tables_score(projection: Projection, episodes_per_table: int, seed: int, steps_per_decision: int):
    """A `score` for `cross_entropy_search`: mean CartPole return of each table, all tables played at once.

    Every call uses fresh episodes (the seed advances), so the search cannot overfit a fixed set."""
    calls = [0]

    def score(tables: np.ndarray) -> np.ndarray:
        n_tables = len(tables)
        owner = np.repeat(np.arange(n_tables), episodes_per_table)

        def act(episodes, observations):
            return tables[owner[episodes], projection.state_index(observations)]

        played = play_rollouts(act, len(owner), seed + calls[0], steps_per_decision, record=False)
        calls[0] += 1
        return played.returns.reshape(n_tables, episodes_per_table).mean(axis=1)

    return score


class LQRController:
    """Bang-bang control on the sign of an LQR feedback law for CartPole's linearised dynamics.

    Sees the full continuous observation; the gain comes from Gymnasium's own physical constants."""

    def __init__(self, state_weights=(1.0, 1.0, 10.0, 1.0), effort_weight: float = 1.0):
        gravity, cart_mass, pole_mass, half_length = PHYSICS.gravity, PHYSICS.masscart, PHYSICS.masspole, PHYSICS.length
        total = cart_mass + pole_mass
        # Linearised about the upright pole: d/dt (x, x_dot, theta, theta_dot) = A s + B force
        denominator = half_length * (4.0 / 3.0 - pole_mass / total)
        theta_from_theta = gravity / denominator
        theta_from_force = -1.0 / (total * denominator)
        a = np.zeros((4, 4))
        a[0, 1] = a[2, 3] = 1.0
        a[3, 2] = theta_from_theta
        a[1, 2] = -pole_mass * half_length * theta_from_theta / total
        b = np.zeros((4, 1))
        b[3, 0] = theta_from_force
        b[1, 0] = 1.0 / total - pole_mass * half_length * theta_from_force / total
        q, r = np.diag(state_weights), np.array([[effort_weight]])
        riccati = solve_continuous_are(a, b, q, r)
        self.gain = (np.linalg.inv(r) @ b.T @ riccati).reshape(-1)

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        force = -np.asarray(observations, dtype=np.float64) @ self.gain
        return (force > 0).astype(np.int64)


def majority_table(projection: Projection, observations: np.ndarray, actions: np.ndarray, default: int = 1):
    """Per text state, the action most often taken there: the closest a lookup table can imitate a policy.

    Returns the table and the share of `actions` it reproduces (states never seen get `default`)."""
    states = projection.state_index(observations)
    rights = np.bincount(states, weights=actions, minlength=projection.n_states)
    visits = np.bincount(states, minlength=projection.n_states)
    table = np.where(visits > 0, (2 * rights > visits).astype(np.int64), default)
    agreement = float(np.mean(table[states] == actions))
    return table, agreement
