"""Does a persona change how a chatbot drives CartPole by more than rewording it does? Compared like with like.

**Behaviour is read from probes.** Every voice (a persona in a template and a wording,
`eep_utils.personas.Voice`) is asked once about each text state, as a single question with no
history. The unit is the text state, a distinct prompt: a temperature-0 chatbot asked the same prompt
again gives the same answer, so repeated decisions add no evidence, and every voice answers the same
states (the comparisons are paired). `Probes` holds, per voice and state, P(right) (pooled over every
spelling of left and right at the choice position) and the decision.

**Persona against wording, within a template.** With d(a, b) the mean over states of
|P_a(right) − P_b(right)|, the contrast of persona p against persona q in template t is

    d(p·w1, q·w2) − d(p·w1, p·w2)

(persona and wording changed, minus wording changed only): above 0 when a persona's first wording is
closer to its own rewording than to another persona's. It is averaged over the pairs asked about, then
over templates. Because it is a mean of per-state terms, its 95% CI is a bootstrap over text states, and
its test a stratified permutation: which persona each second-wording voice belongs to is shuffled,
independently in every state and template (scipy's `permutation_test` permutes whole samples, not labels
within strata). Under "personas differ no more than their wordings" the second wordings are
exchangeable, so the observed contrast is an ordinary draw among the shuffled ones.

**Power.** `synthetic_teacher` is a positive control, never a chatbot: the control's own answers, turned
to the opposite (P → 1 − P) in a random share of the states (the same states in every template and
wording: the persona deviates, not a wording). Run through the same contrast and test in place of a
persona, it shows how large a deviation the test finds (`behaviour_power`).

**Returns.** Episodes that replay the same prompts are one cluster (`prompt_sequences`), and intervals on
returns resample clusters (`eep_utils.stats.cluster_bootstrap_ci`). `returns_excess` is the returns'
wording control: the persona's return gap to the control beyond the larger of the two rewording gaps.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from eep_utils.cartpole.episodes import EpisodeSet
from eep_utils.stats import Estimate, bootstrap_ci, cluster_bootstrap_ci, minimum_detectable, power_curve, proportion_ci

SIGNIFICANCE = 0.05
POWER = 0.8  # the power at which the smallest detectable deviation is read


@dataclass(frozen=True)
class Probes:
    """Every voice's answer to every probe state, as arrays indexed [template, persona, wording, state].

    p_right   P(right) pooled over every spelling at the choice position; the decision itself (0 or 1)
              where the answer carried no log-probabilities (an offline stand-in); NaN where unreadable
    decision  1.0 right, 0.0 left, NaN where the answer named no direction (a fallback is not a choice)
    mass      the probability every spelling of left and right held at the choice position; NaN where
              the answer carried no log-probabilities"""

    templates: tuple[str, ...]
    personas: tuple[str, ...]
    p_right: np.ndarray
    decision: np.ndarray
    mass: np.ndarray

    def __post_init__(self):
        shape = (len(self.templates), len(self.personas), 2)
        for name in ("p_right", "decision", "mass"):
            if getattr(self, name).shape[:3] != shape:
                raise ValueError(f"probes: {name} has shape {getattr(self, name).shape}; expected {shape} + (states,)")

    def at(self, persona: str) -> int:
        return self.personas.index(persona)

    @property
    def answered(self) -> np.ndarray:
        """The states every voice answered readably: the contrasts compare these (paired)."""
        return np.all(np.isfinite(self.p_right), axis=(0, 1, 2))

    def with_persona(self, persona: str, p_right: np.ndarray, decision: np.ndarray) -> "Probes":
        """These probes with `persona`'s answers (every template and wording) replaced."""
        k = self.at(persona)
        new_p, new_decision = self.p_right.copy(), self.decision.copy()
        new_p[:, k], new_decision[:, k] = p_right, decision
        return replace(self, p_right=new_p, decision=new_decision)


def contrast_terms(p_right: np.ndarray, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """Per state (the last axis): |P(p·w1) − P(q·w2)| − |P(p·w1) − P(p·w2)| averaged over the ordered
    persona pairs (p, q). `p_right` is [..., persona, wording, state]; the leading axes (templates, say)
    are kept."""
    first, second = p_right[..., 0, :], p_right[..., 1, :]
    a, b = (np.array(side) for side in zip(*pairs))
    persona_and_wording = np.abs(first[..., a, :] - second[..., b, :])
    wording_only = np.abs(first[..., a, :] - second[..., a, :])
    return (persona_and_wording - wording_only).mean(axis=-2)


@dataclass(frozen=True)
class PersonaContrast:
    """Persona against wording, like with like: pooled over templates and per template (95% bootstrap CIs
    over text states), and the stratified permutation test's one-sided p-value."""

    pooled: Estimate
    per_template: dict[str, Estimate]
    p_value: float
    n_permutations: int

    @property
    def verdict(self) -> bool | None:
        """True when the test finds the persona (p below 0.05) and the CI lies above 0; False when the
        CI lies at or below 0 (rewording moved the voices at least as far); None otherwise."""
        low, high = self.pooled.low, self.pooled.high
        if not (np.isfinite(low) and np.isfinite(high)):
            return None
        if self.p_value < SIGNIFICANCE and low > 0:
            return True
        return False if high <= 0 else None


def persona_contrast(probes: Probes, pairs: Sequence[tuple[str, str]], n_resamples: int, n_permutations: int,
                     seed: int, per_template: bool = True) -> PersonaContrast:
    """`contrast_terms` for these persona pairs on the states every voice answered, averaged over templates,
    with its intervals and its permutation test (see the module docstring); per template too, unless not
    asked for."""
    indices = [(probes.at(p), probes.at(q)) for p, q in pairs]
    p_right = probes.p_right[..., probes.answered]
    if p_right.shape[-1] == 0:
        nothing = Estimate(math.nan, math.nan, math.nan, 0)
        return PersonaContrast(nothing, {t: nothing for t in probes.templates}, math.nan, n_permutations)
    terms = contrast_terms(p_right, indices)  # [template, state]

    def over_states(values: np.ndarray) -> Estimate:
        return bootstrap_ci(np.mean, values, n_resamples=n_resamples, seed=seed, vectorized=True)

    return PersonaContrast(over_states(terms.mean(axis=0)),
                           {template: over_states(terms[t]) for t, template in enumerate(probes.templates)}
                           if per_template else {}, permutation_p(p_right, indices, n_permutations, seed),
                           n_permutations)


def permutation_p(p_right: np.ndarray, pairs: Sequence[tuple[int, int]], n_permutations: int, seed: int) -> float:
    """One-sided p-value of the contrast pooled over templates: the share of relabellings (which persona each
    second wording belongs to, drawn uniformly and independently per template and state) whose contrast is
    at least the observed one, the observed labelling counted among them. `p_right` is [template, persona,
    wording, state]."""
    n_templates, n_personas, _, n_states = p_right.shape
    observed = contrast_terms(p_right, pairs).mean()
    # A state's term depends only on the relabelling drawn there: every relabelling's term, computed once.
    relabellings = np.array(list(itertools.permutations(range(n_personas))))
    second = p_right[:, relabellings, 1, :]  # [template, relabelling, persona, state]
    first = np.broadcast_to(p_right[:, None, :, 0, :], second.shape)
    terms = contrast_terms(np.stack([first, second], axis=-2), pairs)  # [template, relabelling, state]
    drawn = np.random.default_rng(seed).integers(0, len(relabellings), (n_permutations, n_templates, n_states))
    shuffled = terms[np.arange(n_templates)[None, :, None], drawn, np.arange(n_states)[None, None, :]]
    as_large = np.sum(shuffled.mean(axis=(1, 2)) >= observed - 1e-12)
    return float((as_large + 1) / (n_permutations + 1))


def synthetic_teacher(probes: Probes, control: str, share: float, rng: np.random.Generator):
    """A synthetic teacher's (p_right, decision) over [template, wording, state] (a positive control, not a
    chatbot): the control's answers, turned to the opposite in a random `share` of the states, the same
    states in every template and wording."""
    n_states = probes.p_right.shape[-1]
    deviating = rng.choice(n_states, size=int(round(share * n_states)), replace=False)
    k = probes.at(control)
    p_right, decision = probes.p_right[:, k].copy(), probes.decision[:, k].copy()
    p_right[..., deviating] = 1 - p_right[..., deviating]
    decision[..., deviating] = 1 - decision[..., deviating]
    return p_right, decision


@dataclass(frozen=True)
class BehaviourPower:
    """How often the persona test finds a synthetic teacher deviating from the control in a share s of
    the states: the power curve (`stats.power_curve` rows, each with the synthetic contrast's mean over its
    replicates), the smallest share found with 80% power (NaN if none tried is) and the same read from the
    power's Wilson bounds (optimistic, pessimistic)."""

    curve: list[dict]
    min_detectable: float
    min_detectable_low: float
    min_detectable_high: float
    replicates: int

    @property
    def effect_at_min(self) -> float:
        """The synthetic teacher's mean contrast at the smallest share detected with 80% power."""
        return next((row["effect"] for row in self.curve if row["strength"] == self.min_detectable), math.nan)

    def share_of(self, effect: float) -> float:
        """Where a measured contrast lies on the synthetic teacher's scale: the share of deviating states
        whose mean synthetic contrast it equals (linear between the shares tried; clipped to their range,
        NaN when the synthetic contrast does not rise with the share)."""
        shares = np.array([row["strength"] for row in self.curve])
        effects = np.array([row["effect"] for row in self.curve])
        if not np.isfinite(effect) or len(effects) < 2 or np.any(np.diff(effects) <= 0):
            return math.nan
        return float(np.interp(effect, effects, shares))


def behaviour_power(probes: Probes, persona: str, control: str, shares: Sequence[float], replicates: int,
                    n_resamples: int, n_permutations: int, seed: int) -> BehaviourPower:
    """The persona test's power against a synthetic teacher in `persona`'s place (see the module
    docstring), `replicates` synthetic teachers per share, each with its own seed; the decision rule is
    `PersonaContrast.verdict`, exactly as for the chatbot."""
    pairs = [(persona, control), (control, persona)]
    effects: dict[float, list[float]] = {}

    def detected(share: float, replicate: int) -> bool:
        rng = np.random.default_rng([seed, replicate, int(round(share * 1_000_000))])
        synthetic = probes.with_persona(persona, *synthetic_teacher(probes, control, share, rng))
        contrast = persona_contrast(synthetic, pairs, n_resamples, n_permutations, int(rng.integers(2**31)),
                                    per_template=False)
        effects.setdefault(share, []).append(contrast.pooled.value)
        return contrast.verdict is True

    curve = [{**row, "effect": float(np.mean(effects[row["strength"]]))}
             for row in power_curve(detected, shares, replicates)]
    return BehaviourPower(curve, minimum_detectable(curve, POWER),
                          minimum_detectable([{**row, "power": row["power_high"]} for row in curve], POWER),
                          minimum_detectable([{**row, "power": row["power_low"]} for row in curve], POWER),
                          replicates)


def habit_share(persona: np.ndarray, control: np.ndarray) -> Estimate:
    """The generic-habit control: the share of text states (answered by both) where the persona's decision
    is the control's, in the same template and wording, with a Wilson 95% CI over states. Near 1: the
    persona mostly does what the chatbot does as a neutral assistant."""
    both = np.isfinite(persona) & np.isfinite(control)
    if not both.any():
        return Estimate(math.nan, math.nan, math.nan, 0)
    return proportion_ci(int(np.sum(persona[both] == control[both])), int(both.sum()))


# --- Returns ---------------------------------------------------------------------------------------------


def prompt_sequences(episodes: EpisodeSet, shared_history: bool = False) -> np.ndarray:
    """One cluster label per episode, in `episodes.returns()` order: episodes that asked the same prompts and
    got the same answers (a temperature-0 teacher from starting states it describes alike) share one. With
    `shared_history` (the 2023 chat run: one conversation through every episode) every prompt carries the
    episodes before it, so each episode is its own cluster."""
    order = sorted(episodes.frames["episode"].unique())
    if shared_history:
        return np.arange(len(order))
    decisions = episodes.decisions.sort_values(["episode", "t"])
    asked = {episode: "\x1e".join(rows["prompt_text"] + "\x1f" + rows["answer"])
             for episode, rows in decisions.groupby("episode")}
    sequences = [asked.get(episode, "") for episode in order]
    labels = {sequence: number for number, sequence in enumerate(dict.fromkeys(sequences))}
    return np.array([labels[sequence] for sequence in sequences])


def return_ci(returns: np.ndarray, clusters: np.ndarray, n_resamples: int, seed: int) -> Estimate:
    """Mean return with a 95% CI that resamples episodes by cluster (its n: the number of clusters)."""
    return cluster_bootstrap_ci(np.mean, returns, clusters=[clusters], n_resamples=n_resamples, seed=seed)


def returns_excess(means: dict[tuple[str, str, int], float], persona: str, control: str,
                   templates: Sequence[str]) -> float:
    """The returns' wording control, pooled over templates: in each template, |mean over wordings of
    R(persona) − the same of R(control)| minus the larger of |R(persona·w1) − R(persona·w2)| and
    |R(control·w1) − R(control·w2)|. `means` maps (template, persona, wording) to a mean return."""
    excess = []
    for t in templates:
        gap = abs((means[t, persona, 1] + means[t, persona, 2]) / 2 - (means[t, control, 1] + means[t, control, 2]) / 2)
        rewording = max(abs(means[t, persona, 1] - means[t, persona, 2]),
                        abs(means[t, control, 1] - means[t, control, 2]))
        excess.append(gap - rewording)
    return float(np.mean(excess))


def returns_contrast(returns: dict[tuple[str, str, int], np.ndarray], clusters: dict[tuple[str, str, int], np.ndarray],
                     persona: str, control: str, templates: Sequence[str], n_resamples: int, seed: int) -> Estimate:
    """`returns_excess` with a 95% CI that resamples each voice's episodes by cluster (n: clusters in all)."""
    keys = [(t, p, w) for t in templates for p in (persona, control) for w in (1, 2)]

    def statistic(*samples):
        return returns_excess({key: sample.mean() for key, sample in zip(keys, samples)}, persona, control, templates)

    return cluster_bootstrap_ci(statistic, *(returns[key] for key in keys), clusters=[clusters[key] for key in keys],
                                n_resamples=n_resamples, seed=seed)
