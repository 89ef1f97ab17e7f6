"""Embodied students: models that sense CartPole's full continuous observation and imitate a teacher.

A student never sees text or the reward: it learns (observation → action) from a teacher's recorded
decisions, optionally with the teacher's probability of "right" as a soft label. All students follow
scikit-learn's conventions (fit / predict / predict_proba / get_params) and are binary classifiers
of CartPole's two actions; `student.predict` is a policy for `eep_utils.cartpole.evaluation.play_episodes`.

- `OriginalXGBoostStudent`: the 2023 study's model, exactly (same trees on the same data).
- `XGBoostStudent`, `LogisticStudent`, `MLPStudent`: better-posed alternatives; `tune_student` picks
  hyperparameters by cross-validation grouped by episode.
- Metrics: closed-loop return, agreement with the teacher on its states (intervals over clusters of
  episodes that replay the same prompts), fidelity on the student's own states, significance against the
  random walk's returns.
- `dagger`: the student plays, the teacher labels what it visited, the data grows, the student retrains.
"""
from __future__ import annotations

import warnings

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, GroupShuffleSplit
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm import tqdm

from eep_utils.cartpole.body import Rollouts
from eep_utils.cartpole.embodiment import STEPS_PER_DECISION_2023
from eep_utils.cartpole.evaluation import play_episodes
from eep_utils.stats import Estimate, cluster_bootstrap_ci, proportion_ci, welch_test

Labeller = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # observations -> (actions, p_right)


def soft_label_rows(X, y, p_right=None, sample_weight=None):
    """Rows for training with soft labels: where the teacher's p(right) is known, the observation
    appears twice, as "right" with weight p and as "left" with weight 1 - p; elsewhere once, with
    its hard label. Weighted log-loss or squared error on these rows equals the soft-label loss."""
    X, y = np.asarray(X), np.asarray(y)
    weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if p_right is None:
        return X, y, weight
    p_right = np.asarray(p_right, dtype=np.float64)
    if p_right.shape != y.shape:
        raise ValueError(f"p_right has shape {p_right.shape}, labels have {y.shape}")
    if np.any((p_right < 0) | (p_right > 1)):
        raise ValueError("p_right must lie in [0, 1] (NaN where the teacher gave none)")
    soft = ~np.isnan(p_right)
    hard = ~soft
    return (np.concatenate([X[hard], X[soft], X[soft]]),
            np.concatenate([y[hard], np.ones(soft.sum(), y.dtype), np.zeros(soft.sum(), y.dtype)]),
            np.concatenate([weight[hard], weight[soft] * p_right[soft], weight[soft] * (1 - p_right[soft])]))


class _BinaryStudent(ClassifierMixin, BaseEstimator):
    """Shared fit/predict plumbing: input checks, 0/1 encoding, soft labels."""

    def fit(self, X, y, p_right=None, sample_weight=None):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError("the labels hold only one class (one action); a student needs both to learn from")
        target = type_of_target(y, input_name="y", raise_unknown=True)
        if target != "binary":
            raise ValueError(f"Only binary classification is supported (CartPole has two actions); the target is {target}")
        if sample_weight is not None and not np.any(np.asarray(sample_weight) > 0):
            raise ValueError("sample weights are all zero: nothing to learn from")
        encoded = (y == self.classes_[1]).astype(np.int64)
        rows, labels, weights = soft_label_rows(X, encoded, p_right, sample_weight)
        self._fit_encoded(rows, labels, weights)
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        right = np.clip(self._probability_right(X), 0.0, 1.0)
        return np.column_stack([1 - right, right])

    def predict(self, X):
        right = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[right.astype(np.int64)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


class OriginalXGBoostStudent(_BinaryStudent):
    """The 2023 student: `xgb.train({}, DMatrix(X, label=y), 10)`, act right if the prediction >= 0.5.

    That is squared-error regression on 0/1 labels with XGBoost's defaults of the time (XGBoost 1.7:
    base_score 0.5, exact tree method for small data), stated explicitly because XGBoost >= 2 changed
    both; with them the published model is reproduced tree for tree."""

    def __init__(self, num_boost_round: int = 10):
        self.num_boost_round = num_boost_round

    def _fit_encoded(self, X, y, weight):
        import xgboost as xgb  # about 2 s to import: loaded only when an XGBoost student is used

        params = {"base_score": 0.5, "tree_method": "exact", "nthread": 1}
        self.booster_ = xgb.train(params, xgb.DMatrix(X, label=y, weight=weight), self.num_boost_round)

    def _probability_right(self, X):
        import xgboost as xgb  # see _fit_encoded

        # The raw regression output, clipped to [0, 1] by predict_proba; >= 0.5 means right as in 2023.
        # One thread: a DMatrix of a few rows built with every thread costs ~25x more on a busy machine.
        return self.booster_.predict(xgb.DMatrix(X, nthread=1))

    @classmethod
    def from_booster(cls, booster) -> OriginalXGBoostStudent:
        """Wrap a trained booster (the published model) as a fitted student."""
        student = cls(num_boost_round=booster.num_boosted_rounds())
        # One thread: on single rows XGBoost's thread start-up costs ~60x the prediction itself.
        booster.set_param({"nthread": 1})
        student.booster_ = booster
        student.classes_ = np.array([0, 1])
        student.n_features_in_ = booster.num_features()
        return student


class XGBoostStudent(_BinaryStudent):
    """Gradient-boosted trees with a logistic loss (a classifier, unlike the 2023 regression)."""

    def __init__(self, n_estimators: int = 200, max_depth: int = 3, learning_rate: float = 0.1,
                 min_child_weight: float = 1.0, subsample: float = 1.0, random_state: int = 0):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.random_state = random_state

    def _fit_encoded(self, X, y, weight):
        from xgboost import XGBClassifier  # about 2 s to import: only when used

        self.model_ = XGBClassifier(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                    learning_rate=self.learning_rate, min_child_weight=self.min_child_weight,
                                    subsample=self.subsample, random_state=self.random_state, n_jobs=1)
        self.model_.fit(X, y, sample_weight=weight)

    def _probability_right(self, X):
        return self.model_.predict_proba(X)[:, 1]


class LogisticStudent(_BinaryStudent):
    """A linear policy on the standardised observation (an LQR-style law is linear, so this can be good)."""

    def __init__(self, C: float = 1.0):
        self.C = C

    def _fit_encoded(self, X, y, weight):
        self.model_ = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=1000))
        self.model_.fit(X, y, standardscaler__sample_weight=weight, logisticregression__sample_weight=weight)

    def _probability_right(self, X):
        return self.model_.predict_proba(X)[:, 1]


class MLPStudent(_BinaryStudent):
    """A small neural network on the standardised observation."""

    def __init__(self, hidden_layer_sizes=(32, 32), alpha: float = 1e-4, max_iter: int = 500, random_state: int = 0):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.max_iter = max_iter
        self.random_state = random_state

    def _fit_encoded(self, X, y, weight):
        network = MLPClassifier(hidden_layer_sizes=self.hidden_layer_sizes, alpha=self.alpha, max_iter=self.max_iter,
                                early_stopping=False, random_state=self.random_state)
        self.model_ = make_pipeline(StandardScaler(), network)
        with warnings.catch_warnings(record=True) as caught:
            # `max_iter` bounds the training time by design; whether the network stopped there is kept in
            # `converged_` for whoever reports it, not printed into the book as a warning.
            warnings.simplefilter("always", ConvergenceWarning)
            self.model_.fit(X, y, standardscaler__sample_weight=weight, mlpclassifier__sample_weight=weight)
        self.n_iter_ = network.n_iter_
        self.converged_ = not any(issubclass(w.category, ConvergenceWarning) for w in caught)

    def _probability_right(self, X):
        return self.model_.predict_proba(X)[:, 1]


STUDENTS = {
    "original_xgboost": OriginalXGBoostStudent,
    "xgboost": XGBoostStudent,
    "logistic": LogisticStudent,
    "mlp": MLPStudent,
}
TUNING_GRIDS = {
    "xgboost": {"n_estimators": [50, 200], "max_depth": [2, 4], "learning_rate": [0.05, 0.2]},
    "logistic": {"C": [0.01, 0.1, 1.0, 10.0]},
    "mlp": {"hidden_layer_sizes": [(16,), (32, 32)], "alpha": [1e-4, 1e-2]},
}


def imitate(student, X, y, **fit_options):
    """`student` fitted to a teacher's (observation, action) pairs; a teacher that always took one action is
    imitated by that constant (`DummyClassifier`), since no classifier learns a boundary from one class.
    Callers can tell by `isinstance(result, DummyClassifier)` and must say so."""
    actions = np.asarray(y)
    if np.unique(actions).size == 1:
        return DummyClassifier(strategy="constant", constant=actions[0]).fit(X, actions)
    return student.fit(X, actions, **fit_options)


def split_by_episode(groups, validation_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation row indices with whole episodes on one side: frames of one episode are
    strongly correlated, so a frame-level split would leak the validation episodes into training."""
    groups = np.asarray(groups)
    splitter = GroupShuffleSplit(n_splits=1, test_size=validation_fraction, random_state=seed)
    return next(splitter.split(np.zeros(len(groups)), groups=groups))


def tune_student(student, param_grid: dict, X, y, groups, n_splits: int = 5):
    """The student refitted on all data with the hyperparameters that predict held-out episodes best
    (accuracy, GroupKFold by episode). Returns the fitted GridSearchCV: `.best_estimator_`, `.cv_results_`."""
    search = GridSearchCV(clone(student), param_grid, cv=GroupKFold(n_splits=n_splits), scoring="accuracy", n_jobs=1)
    return search.fit(X, y, groups=groups)


# ---------------------------------------------------------------------------------------------
# Metrics


def closed_loop_return(policy, n_episodes: int, seed: int,
                       steps_per_decision: int = STEPS_PER_DECISION_2023, record: bool = False) -> Rollouts:
    """The student in control: CartPole returns over many episodes, each decision held as in 2023."""
    return play_episodes(policy, n_episodes, seed, steps_per_decision=steps_per_decision, record=record)


def agreement(policy, observations, teacher_actions) -> Estimate:
    """Share of observations where the policy does what the teacher did (Wilson 95% CI)."""
    chosen = np.asarray(policy(np.asarray(observations))).reshape(-1)
    matches = int(np.sum(chosen == np.asarray(teacher_actions).reshape(-1)))
    return proportion_ci(matches, len(chosen))


def clustered_agreement(policy, observations, teacher_actions, clusters, n_resamples: int = 2000,
                        seed: int = 0) -> Estimate:
    """Share of observations where the policy does what the teacher did, with a 95% CI that resamples
    clusters of rows, not rows: a temperature-0 teacher's episodes that replay the same prompts repeat its
    decisions (`eep_utils.cartpole.contrasts.prompt_sequences`), so a cluster is one piece of evidence."""
    return cluster_bootstrap_ci(np.mean, _matches(policy, observations, teacher_actions), clusters=[clusters],
                                n_resamples=n_resamples, seed=seed)


def agreement_beyond_constant(policy, observations, teacher_actions, clusters, n_resamples: int = 2000,
                              seed: int = 0) -> Estimate:
    """Agreement minus `constant_agreement` on the same rows, with a 95% CI that resamples clusters of rows
    (as `clustered_agreement`), the same draw for both: above 0 when the policy has learned when the teacher
    pushes which way, not only which way it pushes more often."""
    rows = np.column_stack([_matches(policy, observations, teacher_actions), np.asarray(teacher_actions).reshape(-1)])

    def excess(rows: np.ndarray) -> float:
        return float(rows[:, 0].mean() - constant_agreement(rows[:, 1]))

    return cluster_bootstrap_ci(excess, rows, clusters=[clusters], n_resamples=n_resamples, seed=seed)


def _matches(policy, observations, teacher_actions) -> np.ndarray:
    chosen = np.asarray(policy(np.asarray(observations))).reshape(-1)
    return (chosen == np.asarray(teacher_actions).reshape(-1)).astype(np.float64)


def constant_agreement(teacher_actions) -> float:
    """The agreement a student reaches by always taking the teacher's more common action: the level an
    imitating student must beat before it can be said to have learned when the teacher pushes which way."""
    right = float(np.mean(np.asarray(teacher_actions) == 1))
    return max(right, 1 - right)


def fidelity(policy, label_fn: Labeller, n_episodes: int, seed: int, max_labels: int | None = None,
             steps_per_decision: int = STEPS_PER_DECISION_2023) -> Estimate:
    """Agreement on the states the student itself reaches (where imitation errors compound), labelled
    by the teacher through `label_fn`; at most `max_labels` states, drawn at random, are labelled."""
    visited = play_episodes(policy, n_episodes, seed, steps_per_decision=steps_per_decision, record=True)
    observations = _at_most(visited.observations, max_labels, seed)
    teacher_actions, _ = label_fn(observations)
    return agreement(policy, observations, teacher_actions)


def _at_most(observations: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    if limit is None or len(observations) <= limit:
        return observations
    rows = np.random.default_rng(seed).choice(len(observations), size=limit, replace=False)
    return observations[np.sort(rows)]


# ---------------------------------------------------------------------------------------------
# DAgger (Ross, Gordon & Bagnell 2011)


@dataclass
class DaggerResult:
    student: object  # the last student, trained on all aggregated data
    history: pd.DataFrame  # one row per iteration (0 = behaviour cloning on the teacher's own states)
    observations: np.ndarray  # the aggregated training data
    actions: np.ndarray
    p_right: np.ndarray


def dagger(make_student: Callable[[], object], label_fn: Labeller, observations, actions, p_right=None, *,
           iterations: int = 5, rollout_episodes: int = 50, max_new_labels: int = 2000,
           eval_episodes: int = 1000, seed: int = 0, progress: bool = True) -> DaggerResult:
    """Dataset aggregation: train, let the student play, have the teacher label the visited states, repeat.

    Starts from the teacher's own demonstrations (observations, actions, p_right). Each iteration
    records the student's closed-loop return (mean, 95% CI over `eval_episodes` fresh episodes), its
    agreement with the teacher on the teacher's demonstration states, and its fidelity: agreement on
    the states it visited itself. `label_fn` is the teacher (e.g. a chatbot asked through a text
    projection); it is called at most `max_new_labels` times per iteration."""
    demo_observations = np.asarray(observations, dtype=np.float64)
    demo_actions = np.asarray(actions, dtype=np.int64)
    X, y = demo_observations, demo_actions
    p = np.full(len(y), np.nan) if p_right is None else np.asarray(p_right, dtype=np.float64)
    history = []
    for iteration in tqdm(range(iterations + 1), desc="DAgger", disable=not progress):
        student = make_student().fit(X, y, p_right=p)

        # Evaluation and data collection use different episodes (separate seed ranges).
        evaluation = closed_loop_return(student.predict, eval_episodes, seed=seed + 1_000_000 + 1000 * iteration)
        visited = closed_loop_return(student.predict, rollout_episodes, seed=seed + 1000 * iteration, record=True)
        new_observations = _at_most(visited.observations, max_new_labels, seed + iteration)
        new_actions, new_p = label_fn(new_observations)
        new_actions = np.asarray(new_actions, dtype=np.int64).reshape(-1)
        new_p = np.full(len(new_actions), np.nan) if new_p is None else np.asarray(new_p, dtype=np.float64)

        on_own_states = agreement(student.predict, new_observations, new_actions)
        on_teacher_states = agreement(student.predict, demo_observations, demo_actions)
        history.append({"iteration": iteration, "n_pairs": len(y), **evaluation.summary().as_dict("return_"),
                        **on_own_states.as_dict("fidelity_"), **on_teacher_states.as_dict("agreement_")})

        if iteration < iterations:
            X = np.concatenate([X, new_observations])
            y = np.concatenate([y, new_actions])
            p = np.concatenate([p, new_p])
    return DaggerResult(student, pd.DataFrame(history), X, y, p)


# ---------------------------------------------------------------------------------------------
# One student, assessed


def assess_student(student, validation: tuple, teacher_returns, random_returns, *, eval_episodes: int, seed: int,
                   label_fn: Labeller | None = None, max_labels: int = 2000,
                   n_resamples: int = 2000) -> tuple[dict, Rollouts]:
    """Everything the chapter reports for one fitted student: agreement with the teacher on held-out
    episodes (`validation`: their observations, actions and each row's cluster; 95% CI over clusters),
    closed-loop return (95% CI over its episodes), the share of the teacher's mean return it keeps, its
    fidelity on its own states when the teacher can be asked (`label_fn`), and Welch's test against the
    random walk (both sides' episodes independent; the teacher's repeat prompts, so no test against them).
    Returns the row and the student's rollouts."""
    validation_observations, validation_actions, validation_clusters = validation
    played = closed_loop_return(student.predict, eval_episodes, seed)
    returns = played.summary()
    held_out = clustered_agreement(student.predict, validation_observations, validation_actions, validation_clusters,
                                   n_resamples, seed)
    row = {"return": returns.value, "return, 95% CI over episodes": f"[{returns.low:.1f}, {returns.high:.1f}]",
           "share of teacher's return (%)": 100 * returns.value / float(np.mean(teacher_returns)),
           "agreement on held-out teacher states (%)": 100 * held_out.value,
           "agreement, 95% CI over held-out prompt sequences (%)": f"[{100 * held_out.low:.1f}, "
                                                                   f"{100 * held_out.high:.1f}]",
           "fidelity on own states (%)": np.nan,
           "p vs random walk": welch_test(played.returns, random_returns)}
    if label_fn is not None:
        row["fidelity on own states (%)"] = 100 * fidelity(student.predict, label_fn, min(eval_episodes, 200),
                                                            seed + 1, max_labels=max_labels).value
    return row, played
