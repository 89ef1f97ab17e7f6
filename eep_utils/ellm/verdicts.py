"""What chapter 05's numbers say, in words chosen by the numbers rather than typed beside them.

- `paired_difference` / `verdict`: one policy's return against another's on the same seeded episodes,
  and whether the difference's 95% CI lies above zero (shown), at or below it (not shown) or spans
  it (inconclusive);
- `direction_sentence`: whether the sentence model tells a push goal's own push from the opposite one,
  measured against the spread of that goal's similarities;
- `same_goals_share`: how often two voices got the same goals, for saying whether personas differ;
- `copied_example_share` / `copied_goal_share`: how often a chatbot only repeated a worked example
  its question showed (whole answers; single goals);
- `state_dependent`: in which text states the goals are about the state: neither a copy of a worked
  example nor the most common answer among the states shown the same worked examples. The chapter's
  claims are testable only when Newton's goals depend on the state in more than `MIN_STATE_DEPENDENCE`
  of the text states: otherwise R_int rewards the same thing whatever the state, and comparing agents
  trained on it compares constants.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from eep_utils.ellm.goals import GoalSuggestions
from eep_utils.stats import Estimate, mean_ci

# Cohen's conventional cut-offs for a standardised difference: below SMALL it is negligible, from
# LARGE on it is large. Used for the push contrast measured in units of the similarity spread.
SMALL_EFFECT, LARGE_EFFECT = 0.2, 0.8
# Issue 19's rule: the goals must depend on the state in more than half of the text states.
MIN_STATE_DEPENDENCE = 0.5


def paired_difference(returns, baseline_returns) -> Estimate:
    """Mean difference of two policies' returns, episode by episode, with its Student-t 95% CI.

    Both must be played from the same seeded initial states (`play_episodes` with one seed), so each
    pair of returns shares its start and the pairing removes that variation."""
    returns, baseline_returns = np.asarray(returns, float), np.asarray(baseline_returns, float)
    if returns.shape != baseline_returns.shape:
        raise ValueError(f"paired returns need equal episode counts, not {returns.shape} and "
                         f"{baseline_returns.shape}")
    return mean_ci(returns - baseline_returns)


def verdict(difference: Estimate) -> tuple[bool, bool]:
    """(shown, decidable) for "the difference is positive", as `report.claim` takes them.

    Shown when the whole CI lies above zero; not shown when it lies at or below zero (two policies that
    played every episode alike differ by exactly zero: nothing to decide); inconclusive otherwise."""
    shown = difference.low > 0
    decidable = shown or difference.high <= 0
    return shown, decidable


def compared(difference: Estimate, explain: bool = True) -> str:
    """How the prose names a paired difference: "above", "below", or not distinguishable (with
    the reason when `explain`)."""
    shown, decidable = verdict(difference)
    if shown:
        return "above"
    if decidable:
        return "level with" if difference.high == 0 == difference.low else "below"
    return "not distinguishable from" + (" (the 95% CI of the difference spans zero)" if explain
                                         else "")


def sign_word(estimate: Estimate) -> str:
    """Whether an estimate's 95% CI puts it above zero, below zero, or neither."""
    if estimate.low > 0:
        return "positive"
    if estimate.high < 0:
        return "negative"
    return "not distinguishable from zero"


def push_effect(contrast: pd.DataFrame, similarity: np.ndarray, goals: list[str]) -> float:
    """The mean push contrast (`rewards.push_direction_contrast`) in units of the spread of those
    goals' similarities to all captions: how much of the variation R_int's threshold acts on is the
    direction of the push. NaN when no goal names a push."""
    if contrast.empty:
        return float("nan")
    columns = [goals.index(goal) for goal in contrast.index]
    spread = float(np.mean(similarity[:, columns].std(axis=0)))
    return float(contrast["difference"].mean()) / spread if spread > 0 else float("nan")


def direction_sentence(effect: float) -> str:
    """What the sentence model makes of "left" and "right", chosen by the standardised contrast."""
    if np.isnan(effect):
        return ("none of the goals names a push, so R_int cannot reward doing a suggested push at all; "
                "what it can reward is what the pole and the cart did")
    if abs(effect) < SMALL_EFFECT:
        return ("the sentence model hears \"push the cart\" and barely registers which way. R_int can "
                "therefore hardly reward doing the suggested push rather than its opposite; what it can "
                "reward is the rest of the caption (what the pole and the cart did)")
    if effect < 0:
        return ("the sentence model puts a push goal nearer the opposite push than its own, so R_int "
                "rewards the push a goal names less than its opposite")
    if effect < LARGE_EFFECT:
        return ("the sentence model registers which way, but weakly: the rest of the caption (what the "
                "pole and the cart did) weighs as much in R_int as the direction of the push")
    return ("the sentence model tells the two pushes apart clearly, so R_int rewards doing the "
            "suggested push rather than its opposite")


def same_goals_share(first: GoalSuggestions, second: GoalSuggestions) -> float:
    """Share of text states in which two voices were given the same set of goals."""
    if len(first.goals) != len(second.goals):
        raise ValueError("suggestions for different sets of states")
    same = [set(a) == set(b) for a, b in zip(first.goals, second.goals)]
    return float(np.mean(same))


def copies(suggestions: GoalSuggestions) -> np.ndarray:
    """Per text state, whether its goals are those of a worked example its question showed, word for word
    (order aside): a small chatbot may copy the format's example instead of answering the state."""
    return np.array([bool(goals) and any(set(goals) == set(example.goals) for example in suggestions.shown(state))
                     for state, goals in enumerate(suggestions.goals)])


def copied_example_share(suggestions: GoalSuggestions) -> float:
    """Share of text states whose answer copies a worked example its question showed."""
    return float(np.mean(copies(suggestions)))


def copied_goal_share(suggestions: GoalSuggestions) -> float:
    """Share of all goals suggested that are word for word a goal of a worked example shown with the same
    question (NaN when no goal was suggested)."""
    taken = [goal in {g for example in suggestions.shown(state) for g in example.goals}
             for state, goals in enumerate(suggestions.goals) for goal in goals]
    return float(np.mean(taken)) if taken else float("nan")


def state_dependent(suggestions: GoalSuggestions) -> np.ndarray:
    """Per text state, whether its goals are about the state: it has goals, they copy no worked example
    shown, and they differ from the most common answer among the states whose questions showed the same
    worked examples (all states, when none were shown). Comparing within the same examples keeps an answer
    that changes only with the examples shown from counting as one that changes with the state."""
    answers = [frozenset(goals) for goals in suggestions.goals]
    groups = [suggestions.shown(state) for state in range(len(answers))]
    most_common = {group: Counter(a for a, g in zip(answers, groups) if g == group).most_common(1)[0][0]
                   for group in dict.fromkeys(groups)}
    copied = copies(suggestions)
    return np.array([bool(answer) and not copy and answer != most_common[group]
                     for answer, group, copy in zip(answers, groups, copied)])


def depends_on_state(suggestions: GoalSuggestions) -> bool:
    """Whether the goals depend on the state in more than `MIN_STATE_DEPENDENCE` of the text states."""
    return float(np.mean(state_dependent(suggestions))) > MIN_STATE_DEPENDENCE
