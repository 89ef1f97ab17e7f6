"""Synthetic judges: the positive control that turns a null result into a bound. Never a chatbot's result.

A synthetic judge is a real judge with a persona-specific taste of known strength s mixed in:

    P_syn = (1 − s) · P_real + s · taste

The taste is the real judge's own P(cute) values dealt out again to the pictures in the order of a score of
the generator's true traits (body plan, colour, covering, size, roundness, eye size, teeth, legs), the score a
random linear function of those traits drawn once per persona and replicate. So the taste has the judge's own
scale and spread (s is the taste's share of a judgment, not an artefact of two scales), it is the same for a
persona's two wordings and every template (it is the persona that has it), different personas have different
tastes, and the neutral control has none (its synthetic judge is the real one). At s = 0 the synthetic judges
are the real ones; at s = 1 each judges by its taste alone.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from eep_utils.personas import Voice

CATEGORICAL_TRAITS = ("body_plan", "palette", "covering")
NUMERIC_TRAITS = ("size", "roundness", "eye_size", "teeth", "legs")


def trait_design(traits: pd.DataFrame) -> np.ndarray:
    """The described traits of each creature as standardised columns (categories one-hot)."""
    missing = [name for name in (*CATEGORICAL_TRAITS, *NUMERIC_TRAITS) if name not in traits]
    if missing:
        raise ValueError(f"synthetic tastes need the creature generator's traits; these pictures lack {missing}")
    columns = pd.concat([pd.get_dummies(traits[list(CATEGORICAL_TRAITS)].astype(str)),
                         traits[list(NUMERIC_TRAITS)].astype(float)], axis=1).to_numpy(float)
    spread = columns.std(axis=0)
    kept = spread > 0  # a trait every picture shares cannot order them
    return (columns[:, kept] - columns[:, kept].mean(axis=0)) / spread[kept]


def taste_scores(design: np.ndarray, personas, seed: int) -> dict[str, np.ndarray]:
    """Each persona's taste: a random linear score of the traits (standard normal weights), one per persona."""
    rng = np.random.default_rng(seed)
    return {persona: design @ rng.standard_normal(design.shape[1]) for persona in personas}


def synthetic_judges(p_cute: Mapping[Voice, np.ndarray], tastes: Mapping[str, np.ndarray],
                     strength: float) -> dict[Voice, np.ndarray]:
    """Every judge with its persona's taste mixed in at `strength` (judges whose persona has no taste in
    `tastes`, such as the control, unchanged)."""
    if not 0 <= strength <= 1:
        raise ValueError(f"a synthetic taste's strength is a share in [0, 1], not {strength}")
    judges = {}
    for voice, real in p_cute.items():
        real = np.asarray(real, float)
        if voice.persona not in tastes:
            judges[voice] = real
            continue
        order = np.argsort(np.argsort(tastes[voice.persona], kind="stable"), kind="stable")
        judges[voice] = (1 - strength) * real + strength * np.sort(real)[order]
    return judges
