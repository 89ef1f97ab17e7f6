"""Chapter 06, the game of personality: do pixel students carry their judges' personas?

Personas judge procedural creatures from captions (is it cute?), each persona and the neutral control in two
templates and two wordings; pixel students learn each judge's cuter half from the pictures alone, over several
splits and seeds; every student is measured against every judge of its template on held-out pictures. Every
persona effect is compared like with like, within a template, then pooled (`personality.contrasts`): the
judges' own (does a persona resemble its rewording more than other personas' rewordings?), the students'
persona-extraction index, the wording control and the generic habit. Synthetic judges with a persona taste of
known strength give the pipeline's power, so that a null result becomes a bound; a search over four templates
looks for the strongest persona the chatbot holds.

`run` reads top to bottom as the method; the chatbot's every judgment comes through `teachers`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from eep_utils.chat.types import Teacher, accepts_grammar
from eep_utils.experiments.base import (ChapterResult, Claim, TeacherFactory, Usability, headline_row, teacher_name,
                                       teachers_by_setting, untestable_result)
from eep_utils.experiments.params import PersonalityParams
from eep_utils.personality.agreement import INDEX_MEANING, AgreementMatrix, auc_by_row, offdiagonal_correlation
from eep_utils.personality.contrasts import (JudgeContrast, MatchingTest, judge_contrast, matching_test,
                                             persona_indices, pooled_over_splits, rank_correlations,
                                             student_contrasts)
from eep_utils.personality.creatures import BODY_PLANS, PALETTE, Creatures, generate_creatures
from eep_utils.personality.judge import PersonaJudgeStandIn
from eep_utils.personality.judging import FEW_SHOT_EXAMPLES, GENERIC_DISLIKES, GENERIC_LIKES, judge_captions
from eep_utils.personality.photos import load_image_folder
from eep_utils.personality.students import STUDENT_KINDS, PixelFeatures, cuter_half
from eep_utils.personality.synthetic import synthetic_judges, taste_scores, trait_design
from eep_utils.personality.training import (JUDGE_ITSELF, Split, agreement_on_split, all_at_once, derived_seed,
                                            make_splits, predict)
from eep_utils.personas import (MAIN_TEMPLATES, NEUTRAL, SEARCH_TEMPLATES, TEMPLATES, WORDINGS, Voice,
                                    persona_named, voices)
from eep_utils.stats import Estimate, above_zero, mean_ci, minimum_detectable_ci, power_curve, proportion_ci

EXPERIMENT = "06_personality"
CONTROL = NEUTRAL.key
KINDS = (*STUDENT_KINDS, JUDGE_ITSELF)
MEASURES = ("ROC-AUC", "Spearman")
TRANSFER_STATEMENT = "A chatbot's persona, not its wording or generic habit, carries into a pixel student"
JUDGES_STATEMENT = "The chatbot's judging personas differ by more than rewording the same persona"
BOUND_STATEMENT = ("The chatbot's personas, if any, are weaker than the smallest persona the students detect with "
                   "80% power")
SIGNIFICANCE = 0.05  # the matching test's level, beside the 95% intervals
POWER = 0.8  # the power at which the smallest detectable persona is read
SYNTHETIC = "synthetic judges (a positive control, not a chatbot)"
VERDICT_WORDS = {True: "shown", False: "not shown", None: "inconclusive"}
STAND_IN_DESCRIPTION = (
    "an offline stand-in, not a chatbot. It reads the same prompts a chatbot would, embeds the caption and "
    "each phrase of the persona's likes and dislikes with all-MiniLM-L6-v2, and scores the caption's "
    "similarity to the closest liked phrase minus that to the closest disliked one, squashed onto 0–10; 5 or "
    "more is cute. The neutral control has no likes or dislikes, so for it the stand-in is given generic "
    "anchors instead (see below): that treatment of the control is our choice for the stand-in, not a "
    "measured habit of any chatbot")


def run(params: PersonalityParams, artifacts_dir, teachers: TeacherFactory | None = None) -> ChapterResult:
    teachers = teachers or teachers_by_setting(params.teacher)
    personas = [key for key in params.personas if key != CONTROL]  # the personas with a taste
    numbers, sentences, tables, figures, notes = {}, {}, {}, {}, []
    details = {}  # the appendix's tables for this chapter: what the page's argument does not rest on

    # --- The creatures: pictures for the students, captions for the judges --------------------------
    creatures = creatures_of(params)
    n = len(creatures)
    numbers.update(n_body_plans=len(BODY_PLANS), n_colours=len(PALETTE), image_size=creatures.images.shape[1], n=n)
    figures["pictures"] = {"images": creatures.images[:12], "source": creatures.source}
    tables["captions"] = pd.DataFrame({"caption (what the judge reads)": creatures.captions[:2]},
                                      index=[f"#{i}" for i in range(min(2, n))])

    # --- The judges: every persona and the control, in both main templates and both wordings ---------
    answers = ask(params, teachers, creatures.captions)
    judge, judgments = answers.judge, answers.main
    judge_label = teacher_name(judge.label, judge.is_chatbot)
    constrained = accepts_grammar(judge)
    main_voices = voices(params.personas, MAIN_TEMPLATES)
    details["The judges' personas"], details["The prompt templates"] = judges_table(params.personas), templates_table()
    save_judgments(judgments, judge_label, Path(artifacts_dir) / EXPERIMENT / "judgments.csv")
    usable = np.all([table["cute"].notna() & table["p_cute"].notna() for table in judgments.values()], axis=0)
    rows = np.flatnonzero(usable)
    # A picture is usable when every judge's verdict on it could be read; the examples are unreadable answers.
    unreadable = [answer for table in judgments.values()
                  for answer in table.loc[table["cute"].isna() | table["p_cute"].isna(), "answer"]]
    usability = Usability(f"pictures judged readably by all {len(judgments)} judges", len(rows), n,
                          tuple(dict.fromkeys(unreadable))[:3])
    if judge.is_chatbot and not usability.sufficient:
        return untestable_result(EXPERIMENT, [TRANSFER_STATEMENT, JUDGES_STATEMENT, BOUND_STATEMENT], usability,
                                 judge_label)
    p_cute = {voice: table["p_cute"].to_numpy(float)[rows] for voice, table in judgments.items()}
    numbers.update(judge_label=judge_label, judge_description=describe(judge), grammar_used=constrained,
                   generic_like=GENERIC_LIKES[0], generic_dislike=GENERIC_DISLIKES[0], n_judges=len(judgments),
                   n_personas=len(personas), n_templates=len(MAIN_TEMPLATES), n_usable=len(rows),
                   n_unusable=n - len(rows), control_identity=NEUTRAL.identity(1),
                   control_identity_2=NEUTRAL.identity(2))
    details["Each judge's verdicts, P(cute) and answer mass"] = pd.DataFrame(
        [verdict_row(voice, table) for voice, table in judgments.items()]).set_index("judge")
    masses = {voice: table["mass"].mean() for voice, table in judgments.items()}
    sentences["verdict_statement"] = verdict_statement(judgments)
    sentences["mass_statement"] = mass_statement(masses, judge)
    if "body_plan" in creatures.traits:
        details["Each judge's mean P(cute) by body plan, minus its own mean"] = taste_by_body_plan(
            judgments, creatures.traits["body_plan"]).T.map(lambda value: f"{value:+.2f}").rename_axis("judge")

    # --- The judges themselves: persona against wording, like with like, on every usable picture ----
    judges = judges_contrast(p_cute, personas, MAIN_TEMPLATES, params.n_resamples, params.seed)
    numbers.update(judges_contrast=judges.pooled, judges_p=judges.test.p_value,
                   n_judge_matchings=judges.test.n_matchings,
                   judges_undefined=judges.pooled.undefined,
                   **{f"judges_contrast_{slug(t)}": e for t, e in judges.by_template.items()})
    figures["judges"] = {"matrices": {t: pd.DataFrame(m, index=personas, columns=personas)
                                      for t, m in judges.matrices.items()},
                         "by_template": judges.by_template, "pooled": judges.pooled, "n": len(rows)}

    # --- The strongest persona: the same contrast in every template tried, on the first pictures ----
    n_search = min(params.n_search, n)
    search, strongest = search_templates(judgments, answers.search, personas, n_search, params.n_resamples,
                                         params.seed)
    details["The judges' persona effect in every template tried"] = search_table(search, judge_label)
    numbers.update(n_search=n_search, strongest_template=strongest, strongest_contrast=search[strongest][0].pooled,
                   strongest_p=search[strongest][0].test.p_value, n_search_usable=search[strongest][1],
                   templates_tried=", ".join(search))

    # --- Asked without the grammar: does the judge answer yes or no on its own? ---------------------
    n_free = min(params.n_unconstrained, n)
    details["Asked without the grammar"], numbers["free_usable"] = asked_freely(judgments, answers.free)
    numbers["n_unconstrained"] = n_free

    # --- The students: over several splits, one per first-wording judge, template and kind ---------
    features = PixelFeatures().transform(creatures.images)[rows]
    labels = {voice: cuter_half(values) for voice, values in p_cute.items()}
    splits = make_splits(len(rows), params.n_splits, params.test_fraction, params.seed)
    first_wording = [voice for voice in main_voices if voice.wording == 1]
    on_splits, predictions = [], {}
    for number, split in enumerate(splits):
        predicted = all_at_once({(kind, voice): partial(predict, kind, split, features, labels[voice], p_cute[voice])
                                 for kind in KINDS for voice in first_wording})
        if number == 0:
            predictions = predicted  # for the gallery
        on_splits.append(matrices_on_split(predicted, labels, p_cute, params.personas, split, params.n_resamples))
    n_test = len(splits[0].test)
    numbers.update(n_train=len(splits[0].train), n_test=n_test, n_features=features.shape[1],
                   n_splits=params.n_splits, n_resamples=params.n_resamples, n_shuffles=params.n_shuffles)
    # Shuffled labels: students that keep a judge's base rate but lose any link between a picture and its label.
    # Each its own shuffle (seed): one shuffle shared by every judge would make their controls move together.
    shuffled_students = all_at_once({(kind, at, number, repeat): partial(
        predict, kind, split, features, labels[voice], p_cute[voice], True, 1 + repeat * len(first_wording) + number)
        for kind in STUDENT_KINDS for at, split in enumerate(splits) for number, voice in enumerate(first_wording)
        for repeat in range(params.n_shuffles)})
    shuffled = {kind: mean_ci([auc_by_row(guesses, labels[first_wording[number]][splits[at].test])[0]
                               for (of_kind, at, number, _), guesses in shuffled_students.items() if of_kind == kind])
                for kind in STUDENT_KINDS}

    # --- The persona × persona matrix and the students' contrasts, within template, pooled ---------
    contrasts = {(kind, measure): pooled_contrasts(on_splits, kind, measure, personas, n_test, params.seed)
                 for kind in KINDS for measure in MEASURES}
    main_index, main_test = contrasts["XGBoost", "ROC-AUC"]
    details["The persona-extraction index, every kind of student and measure"] = extraction_table(
        contrasts, judge_label, params.n_splits)
    tables["extraction"] = extraction_summary(contrasts)
    for (kind, measure), (estimates, test) in contrasts.items():
        name = f"{KIND_SLUGS[kind]}_{'auc' if measure == 'ROC-AUC' else 'spearman'}"
        numbers.update({f"index_{name}": estimates["index"], f"index_{name}_p": test.p_value})
    numbers.update(wording_contrast=main_index["wording"], generic_contrast=main_index["generic"],
                   n_matchings=main_test.n_matchings,
                   n_undefined_resamples=max(e.undefined for estimates, _ in contrasts.values()
                                             for e in estimates.values()),
                   shuffled_xgb=shuffled["XGBoost"])
    matrices = {kind: mean_matrix(on_splits, kind, params.personas) for kind in KINDS}
    figures["matrix"] = {"judges": matrices[JUDGE_ITSELF], "students": matrices["XGBoost"],
                         "index": {"the judges themselves": contrasts[JUDGE_ITSELF, "ROC-AUC"][0]["index"],
                                   "XGBoost students": main_index["index"]},
                         "n_test": n_test, "n_splits": params.n_splits}
    details["Logistic-regression students against every judge (ROC-AUC, mean of templates and splits)"] = (
        matrices["logistic regression"].map(lambda value: f"{value:.2f}"))
    similarity = {kind: offdiagonal_correlation(matrices[JUDGE_ITSELF].to_numpy(), matrices[kind].to_numpy())
                  for kind in STUDENT_KINDS}
    details["Do students disagree where their judges do?"] = pd.DataFrame(
        {"correlation of off-diagonal cells with the judges' own matrix":
         {kind: f"{value:.2f}" for kind, value in similarity.items()}}).rename_axis("students")
    numbers.update(similarity_xgb=similarity["XGBoost"], similarity_logistic=similarity["logistic regression"])
    details["The controls, with the resamples left out"] = controls_table(shuffled, main_index, judges.pooled,
                                                                          params.n_shuffles)
    tables["controls"] = details["The controls, with the resamples left out"].drop(
        columns=["student", "resamples left out (undefined)"])  # each control's name says whose it is

    # --- A gallery of held-out pictures: the judge's label and its XGBoost student's ----------------
    shown = splits[0].test[:params.gallery_size]
    details["Held-out pictures of the first split: each you-are judge (J) and its XGBoost student (S)"] = (
        gallery_table(shown, splits[0], labels, predictions, first_wording, creatures, rows))

    # --- Power: synthetic judges with a persona taste of known strength, through the same pipeline --
    carried = persona_carried(main_index, main_test)
    if "body_plan" in creatures.traits:
        power = power_analysis(p_cute, features, creatures.traits.iloc[rows], params, personas)
        details["Power of the students' test, by synthetic strength"] = power_table(power)
        figures["power"] = {**power, "chatbot_effect": judges.pooled}
    else:
        power = no_power(params)
        notes.append("Pictures from a folder have no generator traits, so no synthetic taste and no power analysis.")
    bound = bound_verdict(judges.pooled, power)
    numbers.update(min_detectable=power["min_detectable"], synthetic_effect_at_min=power["effect_at_min"],
                   power_replicates=params.power_replicates, n_strengths=len(params.power_strengths),
                   strengths_tried=", ".join(f"{s:g}" for s in params.power_strengths),
                   power_at_zero=power["curve"][0]["power"] if power["curve"] else math.nan)
    sentences["power_statement"] = power_statement(power, judges.pooled, bound, judge)
    sentences["search_statement"] = search_statement(search, strongest, power, n_search)

    # --- What it shows: the claims, chosen by the numbers ------------------------------------------
    judges_differ = above_zero(judges.pooled)
    if judges_differ and not judges.test.p_value < SIGNIFICANCE:
        judges_differ = None  # the interval clears zero but the matching test does not: not decided
    sentences["transfer_statement"] = transfer_statement(main_index, main_test, carried)
    sentences["judges_statement"] = judges_statement(judges, judges_differ)
    numbers["similarity_statement"] = ("students disagree with one another roughly where their judges do"
                                       if min(similarity.values()) > 0.5 else
                                       "the students' pattern of disagreement does not clearly follow their judges'")
    bound_text = bound_evidence(power, judges.pooled)
    claims = [
        claim(TRANSFER_STATEMENT, carried,
              f"extraction index (AUC difference) {main_index['index']}, matching p = {main_test.p_value:.3f}; "
              f"wording control {main_index['wording']}; generic-habit control {main_index['generic']}; "
              f"within template, pooled over {len(MAIN_TEMPLATES)} templates and {params.n_splits} splits; "
              f"{bound_text}", judge, judge_label),
        claim(JUDGES_STATEMENT, judges_differ,
              f"ρ(persona, its rewording) − ρ(persona, other personas' rewordings), within template, pooled: "
              f"{judges.pooled} over {len(rows)} pictures, matching p = {judges.test.p_value:.3f}", judge, judge_label),
        claim(BOUND_STATEMENT, bound, bound_text, judge, judge_label, needs_traits=power["available"]),
    ]
    headline = [headline_row(f"persona-extraction index, AUC own − AUC others ({kind} students, within template)",
                             contrasts[kind, "ROC-AUC"][0]["index"], judge_label, judge.is_chatbot)
                for kind in STUDENT_KINDS]
    headline += [
        headline_row("wording control: AUC own persona reworded − AUC other personas reworded (XGBoost)",
                     main_index["wording"], judge_label, judge.is_chatbot),
        headline_row("generic-habit control: AUC own persona − AUC neutral control (XGBoost)",
                     main_index["generic"], judge_label, judge.is_chatbot),
        headline_row("judges' persona effect: ρ(persona, its rewording) − ρ(persona, others' rewordings)",
                     judges.pooled, judge_label, judge.is_chatbot),
        headline_row(f"strongest judges' persona effect over the templates tried ({strongest})",
                     search[strongest][0].pooled, judge_label, judge.is_chatbot),
        headline_row(f"minimum detectable persona strength s ({POWER:.0%} power; {SYNTHETIC})",
                     power["min_detectable"], synthetic_label(judge_label), False),
        headline_row(f"judges' persona effect at the minimum detectable strength ({SYNTHETIC})",
                     power["effect_at_min"], synthetic_label(judge_label), False),
    ]
    return ChapterResult(
        chapter=EXPERIMENT,
        key_result=(f"With **{judge_label}** as judge, {sentences['transfer_statement']}. "
                    f"{sentences['judges_statement'][0].upper()}{sentences['judges_statement'][1:]}. "
                    f"{sentences['power_statement']}."),
        caveat=caveat(judge, bound, power, carried),
        numbers=numbers, sentences=sentences, tables=tables, figures=figures, claims=claims, headline=headline,
        details={title: table.reset_index(drop=table.index.names == [None]) for title, table in details.items()},
        # The introduction's headline figure: XGBoost students against the judges (first wording, mean of
        # templates and splits).
        exports={"06_persona_matrix": matrices["XGBoost"]},
        notes=notes,
    )


# --- The steps, named -----------------------------------------------------------------------------

KIND_SLUGS = {"XGBoost": "xgb", "logistic regression": "logistic", JUDGE_ITSELF: "judges"}


def slug(template: str) -> str:
    return template.replace("-", "_")


def judges_table(keys) -> pd.DataFrame:
    """Every judging persona in both wordings: who it is asked to be, what it finds cute and what not."""
    rows = []
    for key in keys:
        persona = persona_named(key)
        for wording in WORDINGS:
            likes, dislikes = persona.taste(wording)
            rows.append({"persona": f"{key} · w{wording}", "who": persona.identity(wording),
                         "finds cute": ", ".join(likes) or "—", "does not find cute": ", ".join(dislikes) or "—"})
    return pd.DataFrame(rows).set_index("persona")


def templates_table() -> pd.DataFrame:
    """The frames every persona is put in: the main design's two and the two tried in the search."""
    rows = [{"template": key, "introduction": TEMPLATES[key].introduction, "instruction": TEMPLATES[key].instruction,
             "why": TEMPLATES[key].purpose} for key in (*MAIN_TEMPLATES, "outright")]
    rows.append({"template": "few-shot", "introduction": TEMPLATES["you-are"].introduction,
                 "instruction": f"{TEMPLATES['you-are'].instruction} Then {FEW_SHOT_EXAMPLES} judged examples of "
                                "each verdict from the persona's own likes and dislikes, as earlier turns",
                 "why": "the taste shown by example"})
    return pd.DataFrame(rows).set_index("template")


def describe(judge: Teacher) -> str:
    if judge.is_chatbot:
        return (f"a chatbot ({judge.model}); every exchange is recorded in the transcript 06_personality.jsonl "
                "and is replayed from there on the next build")
    return STAND_IN_DESCRIPTION


def save_judgments(judgments: dict[Voice, pd.DataFrame], judge_label: str, path: Path) -> None:
    """Every answer, verbatim, with its judge and picture, beside the book's artefacts."""
    records = pd.concat([table.assign(persona=voice.persona, template=voice.template, wording=voice.wording,
                                      picture=np.arange(len(table)), teacher=judge_label)
                         for voice, table in judgments.items()], ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    records.to_csv(path, index=False)


def verdict_row(voice: Voice, table: pd.DataFrame) -> dict:
    """A judge's share of yes (in any casing; 95% Wilson CI over pictures), its P(cute), its answer mass and
    how often the verdict agrees with P(cute) ≥ 0.5."""
    said = table["cute"].dropna()
    both = table.dropna(subset=["cute", "p_cute"])
    agrees = (both["p_cute"] >= 0.5) == both["cute"].astype(bool)
    mass = table["mass"].dropna()
    return {"judge": voice.label, "said yes (share, 95% CI)": str(proportion_ci(int(said.sum()), len(said))),
            "pictures": len(said), "mean P(cute)": f"{table['p_cute'].mean():.3f}",
            "sd P(cute)": f"{table['p_cute'].std():.3f}",
            "answer mass, mean (lowest)": f"{mass.mean():.2f} ({mass.min():.2f})" if len(mass) else "—",
            "verdict = [P(cute) ≥ 0.5] (%)": f"{100 * agrees.mean():.0f}"}


def verdict_statement(judgments: dict[Voice, pd.DataFrame]) -> str:
    shares = {voice: table["cute"].mean() for voice, table in judgments.items()}
    mostly_no = sum(share < 0.1 for share in shares.values())
    mostly_yes = sum(share > 0.9 for share in shares.values())
    lead = (f"{mostly_no} of the {len(shares)} judges said yes (in any casing) to fewer than one picture in ten"
            + (f" and {mostly_yes} to more than nine in ten" if mostly_yes else ""))
    if mostly_no or mostly_yes:
        return (f"{lead}, so their verdicts carry little taste; what they carry is in P(cute): which pictures "
                "they find *more* likely cute than others. The students are therefore taught each judge's **cuter "
                "half** (P(cute) above that judge's median), and agreement is measured against it (ROC-AUC) and "
                "against P(cute) itself (Spearman)")
    return (f"{lead}; every judge said yes often enough for its verdicts to carry a taste. For one rule throughout, "
            "students are still taught each judge's **cuter half** (P(cute) above that judge's median), and "
            "agreement is measured against it (ROC-AUC) and against P(cute) itself (Spearman)")


def mass_statement(masses: dict[Voice, float], judge: Teacher) -> str:
    known = {voice: mass for voice, mass in masses.items() if np.isfinite(mass)}
    if not known:
        if not judge.is_chatbot:
            return ("The stand-in gives no token probabilities, so it has no answer mass: its P(cute) is its 0–10 "
                    "score / 10")
        return f"{judge.model} gave no token probabilities, so no answer mass is read"
    low = [voice for voice, mass in known.items() if mass < 0.5]
    lowest = min(known, key=known.get)
    text = (f"The answer mass (the probability {judge.model} puts on any spelling of yes or no where it answers) "
            f"averages {min(known.values()):.2f} to {max(known.values()):.2f} over pictures, judge by judge "
            f"(lowest: {lowest.label})")
    if low:
        return (f"{text}. {len(low)} of the {len(known)} judges hold less than half of it there: under the grammar "
                "they answer, but they were mostly about to say something else, so their P(cute) is a preference "
                "between answers they would seldom give")
    return f"{text}: every judge puts at least half its probability on yes or no, so each is answering the question"


def asked_freely(judgments: dict[Voice, pd.DataFrame],
                 free: dict[Voice, pd.DataFrame]) -> tuple[pd.DataFrame, Estimate]:
    """The first-wording judges' answers about the first captions without the grammar: per judge, the share of
    readable answers, how often they match the constrained verdict and the answer mass; over all, the share
    readable."""
    rows, n_usable, n_asked = [], 0, 0
    for voice, asked in free.items():
        usable = asked["cute"].notna()
        same = asked["cute"][usable] == judgments[voice]["cute"][:len(asked)][usable]
        rows.append({"judge": voice.label,
                     "readable yes or no (share, 95% CI)": str(proportion_ci(int(usable.sum()), len(asked)))
                     if len(asked) else "—",
                     "asked": len(asked),
                     "same verdict as constrained (%)": f"{100 * same.mean():.0f}" if usable.any() else "—",
                     "answer mass, mean": f"{asked['mass'].mean():.2f}" if asked["mass"].notna().any() else "—"})
        n_usable, n_asked = n_usable + int(usable.sum()), n_asked + len(asked)
    overall = proportion_ci(n_usable, n_asked) if n_asked else Estimate(math.nan, math.nan, math.nan, 0)
    return pd.DataFrame(rows).set_index("judge"), overall


@dataclass
class Judgments:
    """Everything chapter 06 asks its judge, answered: one table of verdicts per voice and captions asked."""

    judge: Teacher
    main: dict[Voice, pd.DataFrame]  # every persona and the control in the main templates, on every caption
    search: dict[Voice, pd.DataFrame]  # the same in the search templates, on the first captions
    free: dict[Voice, pd.DataFrame]  # the first-wording judges without the grammar, on the first few captions


def creatures_of(params: PersonalityParams) -> Creatures:
    """The pictures judged: the reader's folder, or the generated creatures."""
    if params.image_folder:
        return load_image_folder(params.image_folder)
    return generate_creatures(params.n_creatures, params.seed)


def ask(params: PersonalityParams, teachers: TeacherFactory, captions: list[str]) -> Judgments:
    """Every request chapter 06 sends, and the answers: every persona and the control in the main templates
    and both wordings about every caption (constrained where the judge honours a grammar), in the search
    templates about the first `n_search`, and the first-wording judges without the grammar about the first
    `n_unconstrained`."""
    judge = teachers(EXPERIMENT, PersonaJudgeStandIn())
    constrained = accepts_grammar(judge)

    def judged(asked_voices: list[Voice], shown: list[str], grammar: bool = constrained) -> dict[Voice, pd.DataFrame]:
        return {voice: judge_captions(judge, voice, shown, params.max_in_flight, grammar) if shown else
                pd.DataFrame({"cute": [], "p_cute": [], "mass": []}) for voice in asked_voices}

    return Judgments(judge, judged(voices(params.personas, MAIN_TEMPLATES), list(captions)),
                     judged(voices(params.personas, SEARCH_TEMPLATES), list(captions[:params.n_search])),
                     judged(voices(params.personas, MAIN_TEMPLATES, (1,)), list(captions[:params.n_unconstrained]),
                            grammar=False))


def taste_by_body_plan(judgments: dict[Voice, pd.DataFrame], body_plans: pd.Series) -> pd.DataFrame:
    """Each judge's mean P(cute) by body plan, minus its overall mean (body plans × judges)."""
    centred = pd.DataFrame({voice.label: table["p_cute"] - table["p_cute"].mean()
                            for voice, table in judgments.items()})
    return centred.assign(body_plan=body_plans.to_numpy()).groupby("body_plan").mean()


def judges_contrast(p_cute: dict[Voice, np.ndarray], personas: list[str], templates, n_resamples: int,
                    seed: int) -> JudgeContrast:
    """ρ(persona, its rewording) − mean ρ(persona, other personas' rewordings), within each template, pooled."""
    def stacked(template, wording):
        return np.stack([p_cute[Voice(persona, template, wording)] for persona in personas])

    return judge_contrast({t: stacked(t, 1) for t in templates}, {t: stacked(t, 2) for t in templates},
                          n_resamples, seed)


def search_templates(judgments, searched, personas, n_search, n_resamples, seed):
    """The judges' persona effect in every template tried, each on the first `n_search` pictures that every
    judge of every template could read: {template: (contrast, pictures used)} and the template with the
    largest effect."""
    everyone = {**{voice: table.iloc[:n_search] for voice, table in judgments.items()}, **searched}
    usable = np.all([table["cute"].notna() & table["p_cute"].notna() for table in everyone.values()], axis=0)
    p_cute = {voice: table["p_cute"].to_numpy(float)[usable] for voice, table in everyone.items()}
    search = {template: (judges_contrast(p_cute, personas, [template], n_resamples, seed), int(usable.sum()))
              for template in (*MAIN_TEMPLATES, *SEARCH_TEMPLATES)}
    values = {template: contrast.pooled.value for template, (contrast, _) in search.items()}
    finite = {template: value for template, value in values.items() if np.isfinite(value)}
    return search, max(finite, key=finite.get) if finite else MAIN_TEMPLATES[0]


def search_table(search, judge_label: str) -> pd.DataFrame:
    return pd.DataFrame([{"template": template,
                          "persona effect, ρ own rewording − ρ others' (95% CI)": str(contrast.pooled),
                          "pictures": used, "p (matching permutation)": f"{contrast.test.p_value:.3f}",
                          "resamples left out (undefined)": contrast.pooled.undefined, "judge": judge_label}
                         for template, (contrast, used) in search.items()]).set_index("template")


def matrices_on_split(predicted, labels, p_cute, keys, split: Split, n_resamples: int, measures=MEASURES) -> dict:
    """Per (kind, template): every student of the template (`predicted`, by kind and voice) against every judge
    of it (the personas named by `keys` in both wordings)."""
    result = {}
    for template in MAIN_TEMPLATES:
        judges = voices(keys, [template])
        for kind in dict.fromkeys(kind for kind, _ in predicted):
            students = {voice.label: values for (of_kind, voice), values in predicted.items()
                        if of_kind == kind and voice.template == template}
            result[kind, template] = agreement_on_split(students, [voice.label for voice in judges],
                                                        {voice.label: labels[voice] for voice in judges},
                                                        {voice.label: p_cute[voice] for voice in judges},
                                                        split, n_resamples, measures)
    return result


def template_labels(personas: list[str], template: str) -> tuple[list[str], list[str], str]:
    """The labels of the personas' first- and second-wording judges in a template, and of its control."""
    return ([Voice(p, template, 1).label for p in personas], [Voice(p, template, 2).label for p in personas],
            Voice(CONTROL, template, 1).label)


def pooled_contrasts(on_splits, kind: str, measure: str, personas: list[str], n_test: int,
                     seed: int) -> tuple[dict[str, Estimate], MatchingTest]:
    """The students' index, wording and generic-habit contrasts of one kind and measure: within each template,
    averaged over templates, pooled over splits; and the matching test on the split-mean matrices."""
    per_split = {name: [] for name in ("index", "wording", "generic")}
    for on_split in on_splits:
        by_template = [student_contrasts(on_split[kind, template][measure], *template_labels(personas, template))
                       for template in MAIN_TEMPLATES]
        for name, values in per_split.items():
            values.append(np.mean([contrasts[name] for contrasts in by_template], axis=0))
    blocks = []
    for template in MAIN_TEMPLATES:
        first, _, _ = template_labels(personas, template)
        blocks.append(np.mean([block(on_split[kind, template][measure], first, first) for on_split in on_splits],
                              axis=0))
    return ({name: pooled_over_splits(values, n_test) for name, values in per_split.items()},
            matching_test(blocks, seed))


def block(matrix: AgreementMatrix, students: list[str], judges: list[str]) -> np.ndarray:
    return matrix.value[np.ix_([matrix.students.index(s) for s in students],
                               [matrix.teachers.index(j) for j in judges])]


def mean_matrix(on_splits, kind: str, keys: list[str]) -> pd.DataFrame:
    """ROC-AUC of first-wording students against first-wording judges, averaged over templates and splits."""
    values = np.mean([block(on_split[kind, template]["ROC-AUC"], *(2 * [[Voice(key, template, 1).label
                                                                          for key in keys]]))
                      for on_split in on_splits for template in MAIN_TEMPLATES], axis=0)
    return pd.DataFrame(values, index=pd.Index(keys, name="student"), columns=pd.Index(keys, name="teacher"))


def extraction_table(contrasts, judge_label: str, n_splits: int) -> pd.DataFrame:
    names = {"ROC-AUC": "extraction index (AUC own − AUC others)",
             "Spearman": "extraction index (ρ own − ρ others)"}
    rows = []
    for (kind, measure), (estimates, test) in contrasts.items():
        students = "the judges themselves (a perfect copy)" if kind == JUDGE_ITSELF else f"{kind} students"
        rows.append({"students": students,
                     "measure": names[measure], "teacher": judge_label, "index (95% CI)": str(estimates["index"]),
                     "held-out pictures × splits": f"{estimates['index'].n} × {n_splits}",
                     "p (matching permutation)": f"{test.p_value:.3f}",
                     "resamples left out (undefined)": estimates["index"].undefined})
    return pd.DataFrame(rows).set_index("students")


def extraction_summary(contrasts) -> pd.DataFrame:
    """The page's index table: per kind of student, the index by AUC and by Spearman ρ with its matching p."""
    rows = {}
    for (kind, measure), (estimates, test) in contrasts.items():
        students = "the judges themselves (a perfect copy)" if kind == JUDGE_ITSELF else f"{kind} students"
        column = "by AUC: own − others (95% CI)" if measure == "ROC-AUC" else "by Spearman ρ: own − others (95% CI)"
        rows.setdefault(students, {})[column] = f"{estimates['index']}, p = {test.p_value:.3f}"
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("students")


def controls_table(shuffled: dict[str, Estimate], main: dict[str, Estimate], judges: Estimate,
                   n_shuffles: int) -> pd.DataFrame:
    rows = [(f"{kind} · every judge, shuffled", f"shuffled labels ({n_shuffles} per judge and split)", estimate)
            for kind, estimate in shuffled.items()]
    rows += [("XGBoost · own persona reworded − other personas reworded (AUC)", "persona students", main["wording"]),
             ("XGBoost · own persona − neutral control (AUC)", "persona students", main["generic"]),
             ("judges · ρ(persona, its rewording) − ρ(persona, others' rewordings)", "(the judges' P(cute))",
              judges)]
    return pd.DataFrame([{"control": name, "student": student, "mean (95% CI)": str(estimate), "n": estimate.n,
                          "resamples left out (undefined)": estimate.undefined}
                         for name, student, estimate in rows]).set_index("control")


def gallery_table(shown, split: Split, labels, predictions, first_wording, creatures: Creatures, rows) -> pd.DataFrame:
    """Per held-out picture of the first split: each you-are judge's label (J, in its cuter half ✓ or not ✗),
    its XGBoost student's (S, probability ≥ 0.5) and the caption the judge read."""
    def mark(value):
        return "✓" if value >= 0.5 else "✗"

    position = {picture: i for i, picture in enumerate(split.test)}
    judges = [voice for voice in first_wording if voice.template == MAIN_TEMPLATES[0]]
    gallery = pd.DataFrame({f"#{rows[picture]}": {
        voice.persona: f"J {mark(labels[voice][picture])} · S {mark(predictions['XGBoost', voice][position[picture]])}"
        for voice in judges} for picture in shown})
    gallery.loc["caption"] = [creatures.captions[rows[picture]] for picture in shown]
    return gallery.T.rename_axis("picture")


def persona_carried(estimates: dict[str, Estimate], test: MatchingTest) -> bool | None:
    """The main claim's decision rule: the index and both controls above zero and the matching test passed."""
    carried = above_zero(estimates["index"], estimates["wording"], estimates["generic"])
    if carried and not test.p_value < SIGNIFICANCE:
        return None  # the intervals clear zero but the matching test does not: not decided
    return carried


def power_analysis(p_cute: dict[Voice, np.ndarray], features: np.ndarray, traits: pd.DataFrame,
                   params: PersonalityParams, personas: list[str]) -> dict:
    """How often the main claim's decision rule finds a synthetic persona of strength s
    (`personality.synthetic`), over `params.power_strengths`, `params.power_replicates` synthetic experiments
    each: its own tastes and its own splits (the same for every strength, so the curve compares like with
    like), XGBoost students of the personas, the same matrices, contrasts and matching test. Also the judges'
    own persona effect of the synthetic judges, to place the chatbot's on the same scale."""
    design = trait_design(traits)
    judge_effects: dict[float, list[float]] = {}
    detections: dict[tuple[float, int], bool] = {}

    def detected(strength: float, replicate: int) -> bool:
        tastes = taste_scores(design, personas, derived_seed(params.seed, 1, replicate))
        synthetic = synthetic_judges(p_cute, tastes, strength)
        judge_effects.setdefault(strength, []).append(judges_effect(synthetic, personas))
        labels = {voice: cuter_half(values) for voice, values in synthetic.items()}
        splits = make_splits(len(features), params.n_splits, params.test_fraction,
                             derived_seed(params.seed, 2, replicate))
        students = [voice for voice in synthetic if voice.wording == 1 and voice.persona != CONTROL]
        predicted = all_at_once({(number, voice): partial(predict, "XGBoost", split, features, labels[voice],
                                                          synthetic[voice])
                                 for number, split in enumerate(splits) for voice in students})
        on_splits = [matrices_on_split({("XGBoost", voice): predicted[number, voice] for voice in students},
                                       labels, synthetic, params.personas, split, params.n_resamples, ["ROC-AUC"])
                     for number, split in enumerate(splits)]
        estimates, test = pooled_contrasts(on_splits, "XGBoost", "ROC-AUC", personas, len(splits[0].test),
                                           params.seed)
        detections[strength, replicate] = persona_carried(estimates, test) is True
        return detections[strength, replicate]

    curve = power_curve(detected, params.power_strengths, params.power_replicates)
    # The minimum detectable strength, its interval resampling the replicates.
    smallest = minimum_detectable_ci(params.power_strengths,
                                     [[detections[float(s), r] for r in range(params.power_replicates)]
                                      for s in params.power_strengths], POWER, params.n_resamples,
                                     seed=derived_seed(params.seed, 3))
    effects = {strength: np.array(values) for strength, values in judge_effects.items()}
    at_min = effects.get(smallest.value, np.array([math.nan]))
    low, high = np.quantile(at_min, [0.025, 0.975])
    return {"available": True, "curve": curve, "min_detectable": smallest, "judge_effects": effects,
            # The synthetic judges' own persona effect there, its interval over the replicates.
            "effect_at_min": Estimate(float(at_min.mean()), float(low), float(high), len(at_min)),
            "replicates": params.power_replicates}


def no_power(params: PersonalityParams) -> dict:
    undefined = Estimate(math.nan, math.nan, math.nan, 0)
    return {"available": False, "curve": [], "min_detectable": undefined, "judge_effects": {},
            "effect_at_min": undefined, "replicates": params.power_replicates}


def judges_effect(p_cute: dict[Voice, np.ndarray], personas: list[str]) -> float:
    """The judges' like-with-like persona index (point value only), within template, pooled."""
    everything = np.arange(len(next(iter(p_cute.values()))))[None]
    return float(np.mean([persona_indices(rank_correlations(
        np.stack([p_cute[Voice(p, t, 1)] for p in personas]), np.stack([p_cute[Voice(p, t, 2)] for p in personas]),
        everything))[0] for t in MAIN_TEMPLATES]))


def power_table(power: dict) -> pd.DataFrame:
    return pd.DataFrame([{"synthetic strength s": f"{row['strength']:g}",
                          "detected (of replicates)": f"{row['detected']} of {row['replicates']}",
                          "power (95% CI)": f"{row['power']:.2f} [{row['power_low']:.2f}, {row['power_high']:.2f}]",
                          "judges' persona effect, mean (range)":
                              f"{power['judge_effects'][row['strength']].mean():.2f} "
                              f"({power['judge_effects'][row['strength']].min():.2f} to "
                              f"{power['judge_effects'][row['strength']].max():.2f})"}
                         for row in power["curve"]]).set_index("synthetic strength s")


def synthetic_label(judge_label: str) -> str:
    return f"{SYNTHETIC}, built on the judgments of {judge_label}"


def bound_verdict(judges: Estimate, power: dict) -> bool | None:
    """Whether the chatbot's judges' persona effect lies below the synthetic judges' at the minimum detectable
    strength (its whole 95% CI), above it (its whole CI at or above), or neither (or no strength was detected)."""
    threshold = power["effect_at_min"].value
    if not (np.isfinite(threshold) and np.isfinite(judges.low) and np.isfinite(judges.high)):
        return None
    if judges.high < threshold:
        return True
    if judges.low >= threshold:
        return False
    return None


def bound_evidence(power: dict, judges: Estimate) -> str:
    if not power["available"]:
        return "no power analysis (pictures without the generator's traits)"
    if not np.isfinite(power["min_detectable"].value):
        return (f"no synthetic persona strength tried reached {POWER:.0%} power "
                f"({SYNTHETIC}, {power['replicates']} replicates per strength)")
    return (f"{SYNTHETIC} are detected with {POWER:.0%} power from s = {strength(power['min_detectable'])}, "
            f"where their judges' persona effect is {power['effect_at_min'].value:.2f}; the chatbot's judges' "
            f"persona effect is {judges}")


def power_statement(power: dict, judges: Estimate, bound: bool | None, judge: Teacher) -> str:
    who = judge.model if judge.is_chatbot else "the stand-in"
    if not power["available"]:
        return "No power analysis was possible: these pictures have no generator traits to build a synthetic taste on"
    if not np.isfinite(power["min_detectable"].value):
        return (f"Power: even the strongest synthetic persona tried (s = {power['curve'][-1]['strength']:g}) was not "
                f"detected with {POWER:.0%} power at these sizes, so a null result here says little about {who}")
    text = (f"Power: the pipeline detects a synthetic persona with {POWER:.0%} power from strength "
            f"s = {strength(power['min_detectable'])}, where the synthetic judges' persona effect is "
            f"{power['effect_at_min'].value:.2f}")
    if bound is True:
        return (f"{text}; {who}'s judges show {judges}, so its personas, if any, are weaker than the smallest persona "
                "this pipeline detects with 80% power")
    if bound is False:
        return f"{text}; {who}'s judges show {judges}, at least as strong as that"
    return f"{text}; {who}'s judges show {judges}, which cannot be placed below or above it"


def search_statement(search, strongest: str, power: dict, n_search: int) -> str:
    contrast, used = search[strongest]
    text = (f"Of the {len(search)} templates tried ({', '.join(search)}), each on the first {n_search} pictures "
            f"({used} read by every judge), the largest judges' persona effect is {contrast.pooled} "
            f"(template {strongest}; matching p = {contrast.test.p_value:.3f})")
    threshold = power["effect_at_min"].value
    if np.isfinite(threshold) and np.isfinite(contrast.pooled.value):
        place = "below" if contrast.pooled.value < threshold else "at or above"
        text += f", {place} the synthetic judges' {threshold:.2f} at the minimum detectable strength"
    return text


def transfer_statement(estimates: dict[str, Estimate], test: MatchingTest, carried: bool | None) -> str:
    index = estimates["index"]
    if not np.isfinite(index.value):
        return ("the extraction index is undefined in this build (some judge gave one label to every held-out "
                "picture), so nothing is shown either way")
    return (f"persona transfer is **{VERDICT_WORDS[carried]}**: the XGBoost students' persona-extraction index "
            f"({INDEX_MEANING}; within template, pooled over templates and splits) is {ci(index)} with matching "
            f"p = {test.p_value:.3f}; like with like, against their own persona reworded they score "
            f"{ci(estimates['wording'])} AUC above the other personas reworded, and against their own persona "
            f"{ci(estimates['generic'])} above the neutral control")


def judges_statement(judges: JudgeContrast, judges_differ: bool | None) -> str:
    conclusion = {True: "do differ by more than their wording", False: "differ no more than their wordings do",
                  None: "cannot be told apart from their wordings in this build"}[judges_differ]
    return (f"the judges themselves: a persona's P(cute) correlates with its own rewording, minus its mean "
            f"correlation with the other personas' rewordings (Spearman, within template, pooled), by "
            f"{ci(judges.pooled)} (matching p = {judges.test.p_value:.3f}), so the chatbot's personas {conclusion}")


def strength(estimate: Estimate) -> str:
    """A minimum detectable strength with its interval; an end beyond the strengths tried says so."""
    high = f"{estimate.high:g}" if np.isfinite(estimate.high) else "beyond the strengths tried"
    return f"{estimate.value:g} (95% CI {estimate.low:g} to {high}, over {estimate.n} replicates per strength)"


def ci(estimate: Estimate, digits: int = 2) -> str:
    return f"{estimate.value:.{digits}f} (95% CI {estimate.low:.{digits}f} to {estimate.high:.{digits}f})"


def caveat(judge: Teacher, bound: bool | None, power: dict, carried: bool | None) -> str:
    if not judge.is_chatbot:
        return ("nothing here shows that a chatbot's persona transfers: this build's judge is a small "
                "sentence-embedding model comparing the caption with the prompt's listed likes and dislikes")
    text = (f"this build's judge is a chatbot ({judge.model}), so the statements above are about its prompted "
            "personas; they hold for this model, these personas and these cartoon creatures only")
    if carried:
        return text
    if bound is True:
        return (f"{text}. {judge.model}'s personas, if any, are weaker than the smallest synthetic persona the "
                f"students detect with {POWER:.0%} power, s = {strength(power['min_detectable'])}; a model that "
                "holds a stronger persona may carry it, and asking one is one setting (`EEP_LOCAL_MODEL` or an "
                "endpoint)")
    if power["available"] and not np.isfinite(power["min_detectable"].value):
        return (f"{text}. Even the strongest synthetic persona tried was not detected with {POWER:.0%} power, so "
                f"this null result says little about {judge.model}: more pictures would be needed")
    return (f"{text}. Whether {judge.model}'s personas are weaker than what the students can detect is not decided "
            "in this build")


def claim(statement: str, verdict: bool | None, evidence: str, judge: Teacher, judge_label: str,
          needs_traits: bool = True) -> Claim:
    """A claim about a chatbot: decided by the numbers when a chatbot judged, not tested with a stand-in."""
    if not judge.is_chatbot:
        return Claim.not_tested(statement, f"this build's judge is an offline stand-in, not a chatbot ({evidence})",
                                judge_label)
    if not needs_traits:
        return Claim.not_tested(statement, evidence, judge_label)
    return Claim.decided(statement, verdict, evidence, judge_label)
