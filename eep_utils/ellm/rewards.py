"""ELLM on CartPole, the agent's side: transitions, the intrinsic reward, an agent trained on it, analyses.

The agent's intrinsic reward R_int is the cosine similarity between a caption of its transition
(`captions.TransitionCaptioner`) and the closest goal suggested in the state it acted in
(`goals.suggest_goals`), if that similarity exceeds a threshold T, else 0; a goal achieved once in
an episode is not rewarded again (the novelty filter). Here:

- `ELLMReward` computes R_int for many episodes at once; `intrinsic_rewards` applies it to the decisions
  of recorded `body.Rollouts` (`evaluation.play_episodes(..., record=True)`); `train_intrinsic_q_learner`
  trains an agent on R_int alone, never on CartPole's reward;
- analyses: `episode_rank_correlation`, `threshold_sweep`, `reward_by_state`, `push_direction_contrast`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from eep_utils.cartpole.body import Rollouts, play_decisions
from eep_utils.cartpole.embodiment import STUDY_2023, Projection, opposite
from eep_utils.ellm.captions import TransitionCaptioner
from eep_utils.ellm.goals import GoalSuggestions, pushed_direction
from eep_utils.stats import Estimate, bootstrap_ci

# ---------------------------------------------------------------------------------------------
# The intrinsic reward

def similarity_matrix(encoder, captions: list[str], goals: list[str]) -> np.ndarray:
    """Cosine similarity of every caption (rows) with every goal (columns); each text embedded once."""
    vectors = encoder.encode(list(captions) + list(goals))
    return vectors[:len(captions)] @ vectors[len(captions):].T


class ELLMReward:
    """R_int for many parallel episodes: the closest not-yet-achieved suggested goal's similarity
    to the transition's caption if it exceeds `threshold` (strictly, as in ELLM's code), else 0.

    `similarity` is (captions × goals); `state_goals` (text states × k) holds goal ids, -1 for none.
    With `novelty`, the goal that earned a reward counts as achieved for the rest of that episode
    and is no longer among the suggestions (ELLM marks its closest suggestion achieved)."""

    def __init__(self, similarity: np.ndarray, state_goals: np.ndarray, threshold: float, novelty: bool = True):
        self.similarity = np.asarray(similarity, dtype=np.float64)
        self.state_goals = np.asarray(state_goals, dtype=np.int64)
        if self.state_goals.size and self.state_goals.max() >= self.similarity.shape[1]:
            raise ValueError("state_goals names a goal the similarity matrix has no column for")
        self.threshold = threshold
        self.novelty = novelty
        self.achieved = np.zeros((0, self.similarity.shape[1]), dtype=bool)
        self.matched = np.zeros(0, dtype=np.int64)

    def reset(self, n_episodes: int) -> None:
        """New episodes: nothing achieved yet."""
        self.achieved = np.zeros((n_episodes, self.similarity.shape[1]), dtype=bool)

    def __call__(self, states: np.ndarray, caption_ids: np.ndarray, episodes: np.ndarray) -> np.ndarray:
        """Rewards of one decision in each of `episodes` (distinct): taken in text `states`, captioned `caption_ids`."""
        goals = self.state_goals[states]
        offered = goals >= 0
        safe_goals = np.where(offered, goals, 0)
        if self.novelty:
            offered &= ~self.achieved[episodes[:, None], safe_goals]
        scores = np.where(offered, self.similarity[np.asarray(caption_ids)[:, None], safe_goals], -np.inf)
        best = scores.argmax(axis=1)
        best_score = scores[np.arange(len(scores)), best]
        rewarded = best_score > self.threshold
        # Which goal each decision achieved (-1: none), for analyses of what was rewarded.
        self.matched = np.where(rewarded, safe_goals[np.arange(len(scores)), best], -1)
        if self.novelty:
            self.achieved[episodes[rewarded], self.matched[rewarded]] = True
        return np.where(rewarded, best_score, 0.0)


def intrinsic_rewards(reward: ELLMReward, transitions: Rollouts, projection: Projection,
                      captioner: TransitionCaptioner, return_goals: bool = False):
    """R_int of every recorded decision, episodes replayed in step with each other (novelty per episode).

    Goals are those suggested for the state the decision was taken in, as in ELLM. With
    `return_goals`, also the id of the goal each decision achieved (-1 for none)."""
    states = projection.state_index(transitions.observations)
    caption_ids = captioner.caption_ids(transitions.observations, transitions.actions, transitions.next_observations)
    rewards = np.zeros(len(states))
    goals = np.full(len(states), -1, dtype=np.int64)
    reward.reset(transitions.n_episodes)
    order = np.argsort(transitions.decision, kind="stable")
    boundaries = np.flatnonzero(np.diff(transitions.decision[order])) + 1
    for rows in np.split(order, boundaries):
        rewards[rows] = reward(states[rows], caption_ids[rows], transitions.episode[rows])
        goals[rows] = reward.matched
    return (rewards, goals) if return_goals else rewards


def threshold_for_share(share: float, similarity: np.ndarray, state_goals: np.ndarray, transitions: Rollouts,
                        projection: Projection, captioner: TransitionCaptioner) -> float:
    """The threshold T at the (1 - `share`) quantile of the given decisions' closest-goal similarity
    (novelty aside): at most `share` of them pass it (ties with T do not pass).

    A way to set T from the similarities alone, never from CartPole's reward: ELLM's T = 0.99 was
    set for another sentence model and other captions."""
    states = projection.state_index(transitions.observations)
    caption_ids = captioner.caption_ids(transitions.observations, transitions.actions, transitions.next_observations)
    goals = np.asarray(state_goals)[states]
    scores = np.where(goals >= 0, similarity[caption_ids[:, None], np.where(goals >= 0, goals, 0)], -np.inf)
    return float(np.quantile(scores.max(axis=1), 1 - share, method="higher"))


# ---------------------------------------------------------------------------------------------
# An agent trained on R_int alone

@dataclass
class QLearningResult:
    q: np.ndarray  # (text states, 2) action values under R_int
    table: np.ndarray  # the greedy push per text state
    history: pd.DataFrame  # per batch of episodes: exploration, R_int per episode, frames per episode


def train_intrinsic_q_learner(reward: ELLMReward, captioner: TransitionCaptioner, n_episodes: int, seed: int,
                              projection: Projection = STUDY_2023, steps_per_decision: int = 2, n_envs: int = 50,
                              learning_rate: float = 0.1, discount: float = 0.9,
                              epsilon_start: float = 1.0, epsilon_end: float = 0.05) -> QLearningResult:
    """Tabular Q-learning over text states with R_int as the only reward.

    Episodes run `n_envs` at a time; exploration is ε-greedy, ε falling linearly over the batches.
    The learner never sees CartPole's reward. It sees that an episode ended (a fall or leaving the
    track: nothing more can be earned), as any reinforcement learner does; a 500-frame timeout is
    not an end of the world, so it bootstraps there. The novelty filter makes R_int depend on the
    episode so far, which a table over text states cannot see: the table learns its average."""
    rng = np.random.default_rng(seed)
    q = np.zeros((projection.n_states, 2))
    n_batches = -(-n_episodes // n_envs)
    history = []
    for batch in range(n_batches):
        n = min(n_envs, n_episodes - batch * n_envs)
        epsilon = epsilon_start + (epsilon_end - epsilon_start) * batch / max(1, n_batches - 1)
        reward.reset(n)
        earned = np.zeros(n)

        # This batch's epsilon, bound now: the function is called only while this batch plays.
        def act(envs, observations, epsilon=epsilon):
            states = projection.state_index(observations)
            # Random tie-breaking, so an untrained table does not always push left.
            greedy = (q[states] + 1e-9 * rng.random((len(states), 2))).argmax(axis=1)
            explore = rng.random(len(states)) < epsilon
            return np.where(explore, rng.integers(0, 2, len(states)), greedy)

        # Lazily played: each decision's actions come from the table as updated by the decisions before it.
        for decision in play_decisions(act, n, seed + batch, steps_per_decision):
            states = projection.state_index(decision.observations)
            caption_ids = captioner.caption_ids(decision.observations, decision.actions, decision.next_observations)
            rewards = reward(states, caption_ids, decision.episode)

            following = q[projection.state_index(decision.next_observations)].max(axis=1)
            next_values = np.where(decision.terminated, 0.0, following)
            errors = rewards + discount * next_values - q[states, decision.actions]
            np.add.at(q, (states, decision.actions), learning_rate * errors)

            earned[decision.episode] += rewards
        # The last decision's returns are the batch's episodes' returns.
        history.append({"batch": batch, "episodes": (batch + 1) * n_envs if batch < n_batches - 1 else n_episodes,
                        "epsilon": epsilon, "intrinsic_return": earned.mean(), "frames": decision.returns.mean()})
    # Unvisited states keep equal values and get "right", the 2023 scripts' fallback.
    table = np.where(q[:, 0] > q[:, 1], 0, 1).astype(np.int64)
    return QLearningResult(q, table, pd.DataFrame(history))


# ---------------------------------------------------------------------------------------------
# Analyses

def episode_rank_correlation(x, y, episode, n_resamples: int = 1000, seed: int = 0) -> Estimate:
    """Spearman's rank correlation of `x` with `y` over all rows, with a 95% bootstrap CI that
    resamples whole episodes (rows of one episode are not independent). NaN if either is constant."""
    x, y, episode = np.asarray(x, float), np.asarray(y, float), np.asarray(episode)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), len(np.unique(episode)))
    order = np.argsort(episode, kind="stable")
    rows_of = np.split(order, np.flatnonzero(np.diff(episode[order])) + 1)

    def statistic(chosen):
        rows = np.concatenate([rows_of[i] for i in chosen])
        return scipy_stats.spearmanr(x[rows], y[rows]).statistic

    return bootstrap_ci(statistic, np.arange(len(rows_of)), n_resamples=n_resamples, seed=seed)


def threshold_sweep(similarity: np.ndarray, suggestions: GoalSuggestions, trajectories: dict[str, Rollouts],
                    thresholds, ks, projection: Projection, captioner: TransitionCaptioner,
                    novelty: bool = True) -> pd.DataFrame:
    """R_int for every threshold T and number of goals k (the teacher's first k), along each named set
    of trajectories: share of decisions rewarded, R_int per episode, and Spearman's correlation of
    R_int with the frames remaining (NaN where nothing is rewarded)."""
    rows = []
    for k in ks:
        goals = suggestions.goal_ids(k)
        for threshold in thresholds:
            reward = ELLMReward(similarity, goals, threshold, novelty)
            pooled = []
            for agent, transitions in trajectories.items():
                rewards = intrinsic_rewards(reward, transitions, projection, captioner)
                pooled.append((rewards, transitions.remaining))
                rows.append({"k": k, "threshold": threshold, "agent": agent, "share_rewarded": np.mean(rewards > 0),
                             "reward_per_episode": rewards.sum() / transitions.n_episodes,
                             "spearman_remaining": _spearman(rewards, transitions.remaining)})
            rewards, remaining = (np.concatenate(column) for column in zip(*pooled))
            rows.append({"k": k, "threshold": threshold, "agent": "all", "share_rewarded": np.mean(rewards > 0),
                         "reward_per_episode": np.nan, "spearman_remaining": _spearman(rewards, remaining)})
    return pd.DataFrame(rows)


def _spearman(x, y) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(scipy_stats.spearmanr(x, y).statistic)


def reward_by_state(rewards: np.ndarray, achieved_goals: np.ndarray, transitions: Rollouts,
                    suggestions: GoalSuggestions, projection: Projection, min_decisions: int = 1) -> pd.DataFrame:
    """Per text state met at least `min_decisions` times: how often, mean R_int there, and the goal
    most often achieved from it; highest mean R_int first."""
    vocabulary = suggestions.vocabulary
    table = pd.DataFrame({"state": projection.state_index(transitions.observations), "reward": rewards,
                          "goal": [vocabulary[g] if g >= 0 else None for g in achieved_goals]})
    summary = table.groupby("state").agg(decisions=("reward", "size"), mean_reward=("reward", "mean"),
                                         rewarded_share=("reward", lambda r: float(np.mean(r > 0))),
                                         most_achieved_goal=("goal", lambda g: g.mode().iloc[0] if g.notna().any() else "—"))
    summary = summary[summary["decisions"] >= min_decisions]
    summary.insert(0, "description", [", ".join(projection.words_of_state(s)) for s in summary.index])
    return summary.sort_values("mean_reward", ascending=False, kind="stable")


def push_direction_contrast(similarity: np.ndarray, captions: list[str], goals: list[str]) -> pd.DataFrame:
    """For each goal that names a push, its mean similarity to captions of that push and of the opposite
    one: how well the sentence model tells "left" from "right", which R_int depends on."""
    caption_push = np.array([pushed_direction(caption) or "" for caption in captions])
    rows = []
    for column, goal in enumerate(goals):
        side = pushed_direction(goal)
        if side:
            same = similarity[caption_push == side, column].mean()
            other = similarity[caption_push == opposite(side), column].mean()
            rows.append({"goal": goal, "same push": same, "opposite push": other, "difference": same - other})
    return pd.DataFrame(rows, columns=["goal", "same push", "opposite push", "difference"]).set_index("goal")
