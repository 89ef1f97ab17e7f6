"""Chapter 01: how much the text channel itself limits CartPole, before any chatbot answers.

The 2023 study showed the chatbot one of three words for each of CartPole's four quantities and took one
decision every two frames. Whatever a chatbot answers, its policy is a lookup table from text state to
push; this experiment finds how good such a table can be (the cross-entropy method over tables), beside
a random walk, the prompt's rule taken literally, a table that imitates a full-state controller, and the
controller itself, all judged on the same episodes.

It writes two artefacts that later chapters read: the book's random walk (`random_walk.parquet`, via
`cartpole.evaluation.save_random_walk`; chapters 03–05 compare against these same episodes) and the best
table over the 2023 words (`BEST_TABLE_FILE`, chapter 03's best text baseline).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from eep_utils.cartpole.body import MAX_EPISODE_STEPS
from eep_utils.cartpole.embodiment import (FIVE_WORDS, REQUIREMENTS, STEPS_PER_DECISION_2023, STUDY_2023,
                                           Projection, candidate_reasons, candidate_table, state_occupancy)
from eep_utils.cartpole.evaluation import (RandomPolicy, RandomWalkBaseline, compared, play_episodes,
                                           save_random_walk)
from eep_utils.cartpole.policies import (LookupTablePolicy, LQRController, cross_entropy_search,
                                         literal_rule_table, lookup_tables_score, majority_table)
from eep_utils.experiments.base import ChapterResult, Claim, TeacherFactory, headline_row
from eep_utils.experiments.params import EmbodimentParams
from eep_utils.stats import Estimate

CHAPTER = "01_embodiment"
BEST_TABLE_FILE = "best_lookup_table_2023.npy"  # chapter 03 reads it
FRAMES_SHOWN = 3  # decisions of one random-walk episode shown beside the text the chatbot reads
TOP = 10  # how many of the most frequent text states the chapter reports the share of
BARS_SHOWN = 15  # text states drawn per driver in the occupancy figure

RANDOM_DRIVER, CONTROLLER_DRIVER = "random walk", "full-state controller"
RANDOM = "random walk"
ALWAYS_LEFT = "always left"
RULE = "prompt's rule, literally (2023 words)"
IMITATION = "controller imitated by a lookup table (2023 words)"
BEST_2023 = "best lookup table found (2023 words)"
BEST_RICH = "best lookup table found (5 words each)"
CONTROLLER = "full-state controller (LQR)"
# The glue name of each policy's return in the prose.
GLUED = {RANDOM: "random", RULE: "literal", BEST_2023: "best2023", BEST_RICH: "bestrich", IMITATION: "imitation",
         CONTROLLER: "controller"}
HEADLINE = (RANDOM, RULE, BEST_2023, CONTROLLER)
SEES = {RANDOM: "nothing", ALWAYS_LEFT: "nothing", RULE: "text", IMITATION: "text", BEST_2023: "text",
        BEST_RICH: "text", CONTROLLER: "the full state"}
NO_TEACHER = "none (hand-made or searched policy)"


def run(params: EmbodimentParams, artifacts_dir: str | Path, teachers: TeacherFactory | None = None) -> ChapterResult:
    """Measure what the text channel allows on CartPole; save the random walk and the best 2023 table.

    `teachers` is accepted for the experiments' common signature: no chatbot answers in this chapter."""
    hold = STEPS_PER_DECISION_2023
    # Separate seed streams: the search never sees the episodes its result is judged on.
    search_seed, eval_seed, random_seed = params.seed, params.seed + 10_000, params.seed + 20_000

    # What the chatbot sees: a few decisions of one random-walk episode, each with its text.
    shown = play_episodes(RandomPolicy(random_seed), 1, eval_seed, hold, record=True)
    decisions = np.linspace(0, len(shown.observations) - 1, FRAMES_SHOWN).astype(int)
    seen = shown.observations[decisions]

    # Which text states occur depends on who drives: a random walk, or the full-state controller.
    controller = LQRController()
    drivers = {RANDOM_DRIVER: RandomPolicy(random_seed), CONTROLLER_DRIVER: controller}
    driven = {who: play_episodes(policy, params.eval_episodes, eval_seed, hold, record=True)
              for who, policy in drivers.items()}
    occupancy = {who: state_occupancy(STUDY_2023, rollouts.observations) for who, rollouts in driven.items()}
    distinct = {who: int((table["count"] > 0).sum()) for who, table in occupancy.items()}
    top_share = {who: float(table["share"].head(TOP).sum()) for who, table in occupancy.items()}

    # The best lookup table over each projection's text states, by the cross-entropy method.
    searches = {projection.name: cross_entropy_search(
                    lookup_tables_score(projection, params.cem_episodes, search_seed, hold),
                    projection.n_states, params.cem_iterations, params.cem_population, params.seed)
                for projection in (STUDY_2023, FIVE_WORDS)}

    # Every policy plays the same evaluation episodes, the random walk among them: the book's one.
    imitation_table, imitation_agreement = majority_table(
        STUDY_2023, driven[CONTROLLER_DRIVER].observations, driven[CONTROLLER_DRIVER].actions)
    text_tables = {ALWAYS_LEFT: np.zeros(STUDY_2023.n_states, int), RULE: literal_rule_table(STUDY_2023),
                   IMITATION: imitation_table, BEST_2023: searches[STUDY_2023.name].table}
    policies = {RANDOM: RandomPolicy(random_seed + 1),
                **{name: LookupTablePolicy(STUDY_2023, table) for name, table in text_tables.items()},
                BEST_RICH: LookupTablePolicy(FIVE_WORDS, searches[FIVE_WORDS.name].table),
                CONTROLLER: controller}
    played = {name: play_episodes(policy, params.eval_episodes, eval_seed + 1, hold)
              for name, policy in policies.items()}
    estimates = {name: rollouts.summary() for name, rollouts in played.items()}

    save_random_walk(artifacts_dir, RandomWalkBaseline(played[RANDOM].returns, random_seed + 1, eval_seed + 1, hold))
    np.save(Path(artifacts_dir) / BEST_TABLE_FILE, searches[STUDY_2023.name].table)

    best, random_walk, literal = estimates[BEST_2023], estimates[RANDOM], estimates[RULE]
    channel_statement, claim = channel_verdict(best, random_walk, literal, hold)
    return ChapterResult(
        chapter=CHAPTER,
        key_result=(f"Through the 2023 text channel ({STUDY_2023.n_states} text states, one decision every {hold} "
                    f"frames) the best lookup table found survives **{best.value:.1f}** frames (95% CI "
                    f"{best.low:.1f}–{best.high:.1f}); a random walk survives {random_walk.value:.1f} and the "
                    f"prompt's rule taken literally {literal.value:.1f}. {channel_statement}."),
        caveat=search_caveat(estimates[BEST_RICH], best, params, hold),
        numbers={"n_candidates": len(candidate_table()), "hold": hold, "cem_episodes": params.cem_episodes,
                 "cem_iterations": params.cem_iterations, "n_states_2023": STUDY_2023.n_states,
                 "n_states_rich": FIVE_WORDS.n_states, "eval_episodes": params.eval_episodes, "top": TOP,
                 "distinct_random": distinct[RANDOM_DRIVER], "distinct_controller": distinct[CONTROLLER_DRIVER],
                 "top_random": 100 * top_share[RANDOM_DRIVER], "top_controller": 100 * top_share[CONTROLLER_DRIVER],
                 "imitation_agreement": 100 * imitation_agreement,
                 **{GLUED[name]: estimates[name] for name in GLUED}},
        sentences={"channel_statement": channel_statement},
        tables={"requirements": pd.DataFrame({"requirement": list(REQUIREMENTS.values())},
                                             index=pd.Index(list(REQUIREMENTS), name="key")),
                "candidates": candidate_table(),
                "2023 words": projection_table(STUDY_2023),
                "five words": projection_table(FIVE_WORDS)},
        # The page draws the scores and the returns; their reasons and every interval are in the appendix.
        details={"Why each candidate body scores as it does": candidate_reasons().reset_index(),
                 "Every policy's return on the same episodes": returns_table(estimates).reset_index()},
        figures={"what the chatbot sees": {"decisions": decisions, "hold": hold, "observations": seen,
                                           "descriptions": [STUDY_2023.describe(o) for o in seen]},
                 "text states met": {"occupancy": {who: table.head(BARS_SHOWN) for who, table in occupancy.items()},
                                     "distinct": distinct, "n_states": STUDY_2023.n_states,
                                     "projection": STUDY_2023.name},
                 "search": {"mean_scores": {name: search.mean_scores for name, search in searches.items()},
                            "cem_episodes": params.cem_episodes},
                 "returns": {"estimates": estimates, "eval_episodes": params.eval_episodes, "hold": hold,
                             "max_return": MAX_EPISODE_STEPS}},
        claims=[claim],
        headline=[headline_row(f"CartPole return: {name}", estimates[name], NO_TEACHER, is_chatbot=False)
                  for name in HEADLINE],
    )


def channel_verdict(best: Estimate, random_walk: Estimate, literal: Estimate, hold: int) -> tuple[str, Claim]:
    """Whether the text channel holds a chatbot back, and the chapter's claim, from 95% CIs.

    The channel is not the limit if its best table found clearly beats both chance and the prompt's rule;
    the claim (the channel allows better play than a random walk) is shown, not shown or inconclusive as
    the best table's interval lies above, below or across the random walk's."""
    over_random, over_rule = compared(best, random_walk), compared(best, literal)
    statement = ("The text channel is not what holds a chatbot back" if over_random == over_rule == 1 else
                 "The text channel may itself hold a chatbot back: the best lookup table found is not clearly "
                 "above both the random walk and the prompt's rule (95% CIs)")
    claim = Claim.decided(
        f"The 2023 text channel ({STUDY_2023.n_states} states, a decision every {hold} frames) allows better "
        "play than a random walk",
        {1: True, -1: False, 0: None}[over_random],
        f"best lookup table {best}; random walk {random_walk} (95% CIs)", teacher="none (searched policy)")
    return statement, claim


def refines(rich: Projection, coarse: Projection) -> bool:
    """Whether every table over `coarse`'s words can be written over `rich`'s: each quantity's coarse
    thresholds are among its rich ones, so every rich text state lies within one coarse state."""
    rich_features = {f.label: f for f in rich.features}
    return all(f.label in rich_features and set(f.thresholds) <= set(rich_features[f.label].thresholds)
               for f in coarse.features)


def search_caveat(best_rich: Estimate, best_2023: Estimate, params: EmbodimentParams, hold: int) -> str:
    """The caveat: how far the search falls short, as this build shows it, then the choices behind the numbers."""
    sizes = (f"{params.cem_iterations} iterations of {params.cem_population} tables, each scored on "
             f"{params.cem_episodes} episodes" + (": the quick build's sizes" if params.quick else ""))
    if refines(FIVE_WORDS, STUDY_2023) and compared(best_rich, best_2023) == -1:
        search = (f"The search is a lower bound on the best text policy, and this build shows it falling short: "
                  f"every table over the 2023 words can be written over the richer words (each 2023 threshold "
                  f"is one of theirs), yet the best {FIVE_WORDS.n_states}-state table found survives "
                  f"{best_rich.value:.1f} frames against the {STUDY_2023.n_states}-state one's "
                  f"{best_2023.value:.1f} ({sizes}).")
    else:
        search = (f"The search is a lower bound on the best text policy: the cross-entropy method can miss better "
                  f"tables, the more so the more text states it searches ({sizes}).")
    return (f"{search} The frames and the rule's reading (\"falling right\" read from the pole's angle, then its "
            "angular velocity; an upright, still pole gets \"right\", the 2023 scripts' fallback) are our choices. "
            f"Holding every decision for {hold} frames is the 2023 protocol; all policies here are judged under it.")


def projection_table(projection: Projection) -> pd.DataFrame:
    """The words of each quantity and the thresholds between them."""
    return pd.DataFrame([{"quantity": f.label, "words": " / ".join(f.words),
                          "thresholds": ", ".join(f"±{t:g} {f.unit}" for t in f.thresholds)}
                         for f in projection.features]).set_index("quantity")


def returns_table(estimates: dict[str, Estimate]) -> pd.DataFrame:
    """Each policy's mean return with its 95% CI, what it sees and over how many episodes."""
    return pd.DataFrame([{"policy": name, "sees": SEES[name],
                          "mean return [95% CI]": str(estimate), "episodes": estimate.n}
                         for name, estimate in estimates.items()]).set_index("policy")
