"""Chapter 03: the yardsticks every later CartPole number is read against, under one evaluation.

No skill (the book's random walk, a constant push), the 2023 prompt's own rule, the best lookup table
chapter 01's search found, and a controller that sees the full state, each playing the random walk's
episodes from the same starting states with one decision every two frames. Then the 2023 random walk:
whether the 2023 scripts' run-wide decision rhythm explains why it differs from this book's (this needs
the 2023 recordings; without them the claim is not tested).

It reads chapter 01's artefacts (the random walk and the best table); opened alone, it runs chapter 01's
experiment at this mode's sizes to make them, and says so in `result.notes`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from eep_utils.cartpole.body import MAX_EPISODE_STEPS
from eep_utils.cartpole.embodiment import STEPS_PER_DECISION_2023, STUDY_2023
from eep_utils.cartpole.evaluation import (RANDOM_WALK_FILE, RandomPolicy, compared, load_random_walk,
                                           play_episodes)
from eep_utils.cartpole.policies import LookupTablePolicy, LQRController, constant_table, literal_rule_table
from eep_utils.experiments import embodiment
from eep_utils.experiments.base import ChapterResult, Claim, TeacherFactory, headline_row, made_if_missing
from eep_utils.experiments.params import BaselinesParams, params_for
from eep_utils.stats import Estimate, mean_ci, welch_test
from eep_utils.study2023.fetch import OriginalStudyUnavailable
from eep_utils.study2023.recordings import PUBLISHED_MEANS, locate
from eep_utils.study2023.reproduction import play_as_in_2023, rhythm_statement

CHAPTER = "03_baselines"
RANDOM = "random walk"
LEFT, RIGHT = "always left", "always right"
RULE = "prompt's rule, literally"
BEST = "best text lookup table (chapter 01)"
CONTROLLER = "full-state controller (LQR)"
SEES = {RANDOM: "nothing", LEFT: "nothing", RIGHT: "nothing", RULE: "text", BEST: "text", CONTROLLER: "the full state"}
# The glue name of each baseline's return in the prose.
GLUED = {RANDOM: "random", RULE: "literal", BEST: "best", CONTROLLER: "controller", LEFT: "left"}
HEADLINE = (RANDOM, RULE, CONTROLLER)
RULE_CLAIM = "Following the 2023 prompt's rule literally beats a random walk"
RHYTHM_CLAIM = "The 2023 scripts' run-wide decision rhythm explains why their random walk differs from this book's"
UPSTREAM = (RANDOM_WALK_FILE, embodiment.BEST_TABLE_FILE)


def run(params: BaselinesParams, artifacts_dir: str | Path, teachers: TeacherFactory | None = None) -> ChapterResult:
    """Play every baseline on the random walk's episodes; compare the 2023 random walk with this book's.

    `teachers` is accepted for the experiments' common signature: no chatbot answers in this chapter."""
    notes = made_upstream(params, artifacts_dir)
    hold = STEPS_PER_DECISION_2023
    random_walk = load_random_walk(artifacts_dir, steps_per_decision=hold)
    tables = {LEFT: constant_table(STUDY_2023, 0), RIGHT: constant_table(STUDY_2023, 1),
              RULE: literal_rule_table(STUDY_2023), BEST: np.load(Path(artifacts_dir) / embodiment.BEST_TABLE_FILE)}

    # The random walk's starting states for every baseline: a policy chapter 01 also plays gets its number.
    n_episodes, episode_seed = len(random_walk.returns), random_walk.episode_seed
    returns = {RANDOM: random_walk.returns}
    returns |= {name: play_episodes(LookupTablePolicy(STUDY_2023, table), n_episodes, episode_seed, hold).returns
                for name, table in tables.items()}
    returns[CONTROLLER] = play_episodes(LQRController(), n_episodes, episode_seed, hold).returns
    estimates = {name: mean_ci(r) for name, r in returns.items()}

    rule_claim = Claim.decided(
        RULE_CLAIM, {1: True, -1: False, 0: None}[compared(estimates[RULE], estimates[RANDOM])],
        f"rule {estimates[RULE]}; random walk {estimates[RANDOM]} (95% CIs)", teacher="none (rule policy)")
    rhythm_claim, rhythm_finding, rhythm, walks = random_walk_of_2023(params, estimates[RANDOM])

    tables_shown = {"baselines": baselines_table(estimates, returns)}
    if walks is not None:
        tables_shown["2023 random walk"] = walks
    return ChapterResult(
        chapter=CHAPTER,
        key_result=(f"A random walk survives **{estimates[RANDOM].value:.1f}** frames, the prompt's rule taken "
                    f"literally **{estimates[RULE].value:.1f}**, the best text lookup table "
                    f"{estimates[BEST].value:.1f} and the full-state controller {estimates[CONTROLLER].value:.1f}. "
                    f"{rhythm}"),
        caveat=controller_caveat(estimates[CONTROLLER]),
        numbers={"eval_episodes": n_episodes, "hold": hold, "published_walk": PUBLISHED_MEANS["random_walk"],
                 **{GLUED[name]: estimates[name] for name in GLUED}},
        sentences={"rhythm_finding": rhythm_finding},
        tables=tables_shown,
        figures={"baselines": {"estimates": estimates, "sees": {name: SEES[name] for name in estimates},
                               "hold": hold}},
        claims=[rule_claim, rhythm_claim],
        headline=[headline_row(f"CartPole return: baseline {name}", estimates[name], "none (baseline policy)",
                               is_chatbot=False) for name in HEADLINE],
        notes=notes,
    )


def made_upstream(params: BaselinesParams, artifacts_dir: str | Path) -> list[str]:
    """Chapter 01's artefacts, made by its experiment at this mode's sizes if any is missing."""
    return made_if_missing([Path(artifacts_dir) / name for name in UPSTREAM], embodiment.CHAPTER,
                           lambda: embodiment.run(params_for(embodiment.CHAPTER, params.quick), artifacts_dir),
                           params.quick)


def random_walk_of_2023(params: BaselinesParams, ours: Estimate):
    """The rhythm claim, the sentence stating what was measured and concluded, the conclusion alone (for the
    key result) and the table of the three random walks (None when the 2023 recordings are not available)."""
    try:
        recorded = mean_ci(locate().published_scores()["random_walk"])
    except OriginalStudyUnavailable as error:
        why = f"the 2023 recordings are not available to this build: {error}"
        return (Claim.not_tested(RHYTHM_CLAIM, why, teacher="none (random walk)"), f"Not tested: {why}",
                "Whether the 2023 scripts' decision rhythm explains their random walk was not tested "
                "(no 2023 recordings in this build).", None)
    replayed_returns = play_as_in_2023(RandomPolicy(params.seed + 1), params.replay_frames, seed=params.seed)
    if len(replayed_returns) < 2:
        why = (f"{params.replay_frames} frames replayed the 2023 way finished {len(replayed_returns)} episode(s); "
               "raise replay_frames in notebooks/parameters.yaml")
        return (Claim.not_tested(RHYTHM_CLAIM, why, teacher="none (random walk)"), f"Not tested: {why}.",
                "Whether the 2023 scripts' decision rhythm explains their random walk was not tested "
                "(too few frames replayed).", None)
    replayed = mean_ci(replayed_returns)
    measured, rhythm, explains = rhythm_statement(recorded, replayed, ours)
    walks = {"2023 recording (published)": recorded, "replayed here as in 2023 (run-wide rhythm)": replayed,
             "this book's protocol (per-episode rhythm)": ours}
    table = pd.DataFrame([{"random walk": name, "mean return [95% CI]": str(e), "episodes": e.n}
                          for name, e in walks.items()]).set_index("random walk")
    return (Claim.decided(RHYTHM_CLAIM, explains, measured, teacher="none (random walk)"), f"{measured} {rhythm}",
            rhythm, table)


def baselines_table(estimates: dict[str, Estimate], returns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Each baseline's mean return with its 95% CI and Welch's p-value against the random walk."""
    return pd.DataFrame([
        {"baseline": name, "sees": SEES[name], "mean return [95% CI]": str(e), "episodes": e.n,
         "p vs random walk": "—" if name == RANDOM else f"{welch_test(returns[name], returns[RANDOM]):.2g}"}
        for name, e in estimates.items()]).set_index("baseline")


def controller_caveat(controller: Estimate) -> str:
    """The caveat: the best table is a lower bound, Welch's test ignores the pairing, and whether the
    controller reaches CartPole-v1's ceiling in this build."""
    if controller.low == controller.high == MAX_EPISODE_STEPS:
        ceiling = f"others exist, but this one survives every episode to CartPole-v1's ceiling of {MAX_EPISODE_STEPS}"
    else:
        ceiling = (f"others may do better: this one survives {controller.value:.1f} frames on average, below "
                   f"CartPole-v1's ceiling of {MAX_EPISODE_STEPS}")
    return ("The best lookup table is the one chapter 01's search found: a lower bound on what text allows. "
            "Every baseline starts from the random walk's states; Welch's test ignores that pairing, which only "
            "makes it more cautious when returns from one start are alike. The controller is one choice of "
            f"full-state policy (LQR on the linearised dynamics); {ceiling} frames.")
