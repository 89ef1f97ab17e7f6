"""Chapter 06, the game of personality: do pixel students carry their judges' personas?

Personas judge procedural creatures from captions (is it cute?); one pixel student per persona learns
each judge's cuter half from the pictures alone; every student is measured against every judge on
held-out pictures (the persona × persona matrix). The persona-extraction index (diagonal mean AUC minus
off-diagonal mean AUC) is tested by permuting which student meets which judge, and three controls say
what agreement would be without a persona: students of shuffled labels, the same persona in a second
wording, and a judge with no persona (the chatbot's generic habit).

`run` reads top to bottom as the method; the chatbot's every judgment comes through `teachers`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from eep_utils.book.abstract import INDEX_MEANING
from eep_utils.book.report import teacher_name
from eep_utils.chat.types import Teacher, accepts_grammar
from eep_utils.experiments.base import ChapterResult, Claim, TeacherFactory, headline_row, teachers_by_setting
from eep_utils.experiments.params import PersonalityParams
from eep_utils.personality.agreement import (AgreementMatrix, agreement_matrices, auc_by_row, cell_contrast,
                                             extraction_test, offdiagonal_correlation)
from eep_utils.personality.creatures import BODY_PLANS, PALETTE, Creatures, generate_creatures
from eep_utils.personality.judge import PersonaJudgeStandIn
from eep_utils.personality.personas import (GENERIC_DISLIKES, GENERIC_LIKES, NO_PERSONA, PERSONAS, cuter_half,
                                            judge_captions, reworded)
from eep_utils.personality.photos import load_image_folder
from eep_utils.personality.students import (STUDENT_KINDS, PixelFeatures, cute_probability, fit_student,
                                            held_out_split)
from eep_utils.stats import Estimate, above_zero, mean_ci, proportion_ci

EXPERIMENT = "06_personality"
JUDGES = (*PERSONAS, NO_PERSONA)
REWORDED = {judge.key: reworded(judge) for judge in JUDGES}
FIRST_WORDING = [judge.key for judge in JUDGES]
PERSONA_KEYS = [persona.key for persona in PERSONAS]
CONTROL = NO_PERSONA.key
MEASURES = ("ROC-AUC", "Spearman")
INDEX_NAMES = {"ROC-AUC": "extraction index (AUC own − AUC others)",
               "Spearman": "extraction index (ρ own − ρ others)"}
# The cells each control compares, (student, teacher) pairs of the persona × persona matrix.
OWN = [(key, key) for key in PERSONA_KEYS]
OTHERS = [(key, other) for key in PERSONA_KEYS for other in PERSONA_KEYS if other != key]
REWORDED_OWN = [(key, REWORDED[key].key) for key in PERSONA_KEYS]
GENERIC = [(key, CONTROL) for key in PERSONA_KEYS]
VERDICT_WORDS = {True: "shown", False: "not shown", None: "inconclusive"}
STAND_IN_DESCRIPTION = (
    "an offline stand-in, not a chatbot. It reads the same prompts a chatbot would, embeds the caption and "
    "each phrase of the persona's likes and dislikes with all-MiniLM-L6-v2, and scores the caption's "
    "similarity to the closest liked phrase minus that to the closest disliked one, squashed onto 0–10; 5 or "
    "more is cute. The no-persona control has no likes or dislikes, so for it the stand-in is given generic "
    "anchors instead (see below): that treatment of the control is our choice for the stand-in, not a "
    "measured habit of any chatbot")


def run(params: PersonalityParams, artifacts_dir, teachers: TeacherFactory | None = None) -> ChapterResult:
    teachers = teachers or teachers_by_setting(params.teacher)
    # Separate seed streams: the pictures, the train/test split, the students and the bootstrap.
    creature_seed, split_seed, student_seed, bootstrap_seed = (params.seed + offset for offset in range(4))
    numbers, sentences, tables, figures = {}, {}, {}, {}

    # --- The creatures: pictures for the students, captions for the judges --------------------------
    creatures = (load_image_folder(params.image_folder) if params.image_folder
                 else generate_creatures(params.n_creatures, creature_seed))
    n = len(creatures)
    numbers.update(n_body_plans=len(BODY_PLANS), n_colours=len(PALETTE), image_size=creatures.images.shape[1], n=n)
    figures["pictures"] = {"images": creatures.images[:12], "source": creatures.source}
    tables["captions"] = pd.DataFrame({"caption (what the judge reads)": creatures.captions[:6]},
                                      index=[f"#{i}" for i in range(min(6, n))])
    tables["judges"] = judges_table()

    # --- The judges: every persona, in both wordings, and the no-persona control --------------------
    judge = teachers(EXPERIMENT, PersonaJudgeStandIn())
    judge_label = teacher_name(judge.label, judge.is_chatbot)
    numbers.update(judge_label=judge_label, judge_description=describe(judge),
                   generic_like=GENERIC_LIKES[0], generic_dislike=GENERIC_DISLIKES[0])
    constrained = accepts_grammar(judge)
    judgments = {persona.key: judge_captions(judge, persona, creatures.captions, params.max_in_flight, constrained)
                 for persona in [*JUDGES, *REWORDED.values()]}
    save_judgments(judgments, judge_label, Path(artifacts_dir) / EXPERIMENT / "judgments.csv")
    parsed = np.all([table["cute"].notna() & table["p_cute"].notna() for table in judgments.values()], axis=0)
    numbers.update(n_parsed=int(parsed.sum()), n_unparsed=int((~parsed).sum()), n_judges=len(judgments),
                   n_from_score=int(sum(table["cute_from_score"].sum() for table in judgments.values())))
    tables["verdicts"] = pd.DataFrame([verdict_row(key, table) for key, table in judgments.items()]).set_index("judge")
    mostly_no = [key for key, table in judgments.items() if table["cute"].mean() < 0.1]
    sentences["verdict_statement"] = verdict_statement(len(mostly_no), len(judgments))

    # The same question without the grammar: how many answers still give a readable yes or no.
    tables["free"], numbers["free_usable"] = asked_freely(judge, judgments, creatures.captions[:params.n_unconstrained],
                                                          params.max_in_flight)
    numbers.update(n_unconstrained=min(params.n_unconstrained, n), grammar_used=constrained)
    if "body_plan" in creatures.traits:
        figures["taste"] = {"taste": taste_by_body_plan(judgments, creatures.traits["body_plan"]),
                            "judge": judge_label}

    # --- The students: one per judge and model, on pixels only; shuffled-label controls ------------
    train_rows, test_rows = held_out_split(np.flatnonzero(parsed), params.test_fraction, split_seed)
    features = PixelFeatures().transform(creatures.images)
    labels = {key: cuter_half(table["p_cute"].where(parsed)) for key, table in judgments.items()}
    scores = {key: table["p_cute"].to_numpy() for key, table in judgments.items()}
    probabilities, shuffled_probabilities = {}, {}
    for kind in STUDENT_KINDS:
        for number, key in enumerate(FIRST_WORDING):
            student = fit_student(kind, features[train_rows], labels[key][train_rows], student_seed)
            probabilities[kind, key] = cute_probability(student, features[test_rows])
            for repeat in range(params.n_shuffles):
                shuffled = fit_student(kind, features[train_rows], labels[key][train_rows],
                                       student_seed + 1 + repeat * len(JUDGES) + number, shuffle_labels=True)
                shuffled_probabilities[kind, key, repeat] = cute_probability(shuffled, features[test_rows])
    numbers.update(n_train=len(train_rows), n_test=len(test_rows), n_features=features.shape[1],
                   n_shuffles=params.n_shuffles, n_resamples=params.n_resamples)

    # --- The persona × persona matrix: every student (and every judge) against every judge ---------
    held_labels = {key: v[test_rows] for key, v in labels.items()}
    held_scores = {key: s[test_rows] for key, s in scores.items()}
    matrices = {kind: agreement_matrices({key: probabilities[kind, key] for key in FIRST_WORDING},
                                         held_labels, held_scores, params.n_resamples, bootstrap_seed)
                for kind in STUDENT_KINDS}
    judges_matrix = agreement_matrices({key: held_scores[key] for key in FIRST_WORDING}, held_labels,
                                       held_scores, params.n_resamples, bootstrap_seed)
    figures["matrix"] = {"panels": {"row: teacher i's P(cute) vs teacher j":
                                    first_wording_frame(judges_matrix["ROC-AUC"]),
                                    **{f"row: {kind} student of persona i vs teacher j":
                                       first_wording_frame(matrices[kind]["ROC-AUC"]) for kind in STUDENT_KINDS}},
                         "n_test": len(test_rows), "judge": judge_label}

    # --- The persona-extraction index, tested by permuting which student meets which judge ----------
    tests = {(kind, measure): extraction_test(matrices[kind][measure], PERSONA_KEYS)
             for kind in STUDENT_KINDS for measure in MEASURES}
    judges_tests = {measure: extraction_test(judges_matrix[measure], PERSONA_KEYS) for measure in MEASURES}
    tables["extraction"] = pd.DataFrame(
        [index_row(f"{kind} students", measure, test, judge_label) for (kind, measure), test in tests.items()]
        + [index_row("the judges themselves (a perfect copy)", measure, test, judge_label)
           for measure, test in judges_tests.items()]).set_index("students")
    numbers.update(n_personas=len(PERSONA_KEYS), n_matchings=tests["XGBoost", "ROC-AUC"].n_permutations)
    for (kind, measure), test in tests.items():
        name = f"index_{'xgb' if kind == 'XGBoost' else 'logistic'}_{'auc' if measure == 'ROC-AUC' else 'spearman'}"
        numbers.update({name: test.index, f"{name}_p": test.p_value})
    numbers["index_teachers_auc"] = judges_tests["ROC-AUC"].index
    # Every interval above is over the resamples on which its statistic is defined; say how many were not.
    every_matrix = [*judges_matrix.values(), *(matrices[kind][m] for kind in STUDENT_KINDS for m in MEASURES)]
    numbers["n_undefined_resamples"] = max(matrix.undefined for matrix in every_matrix)
    # Do students disagree with one another where their judges do?
    similarity = {kind: offdiagonal_correlation(first_wording_frame(judges_matrix["ROC-AUC"]).to_numpy(),
                                                first_wording_frame(matrices[kind]["ROC-AUC"]).to_numpy())
                  for kind in STUDENT_KINDS}
    tables["similarity"] = pd.DataFrame(
        {"correlation of off-diagonal cells with the judges' own matrix":
         {kind: f"{value:.2f}" for kind, value in similarity.items()}}).rename_axis("students")
    numbers.update(similarity_xgb=similarity["XGBoost"], similarity_logistic=similarity["logistic regression"])

    # --- Controls: shuffled labels, the persona reworded, the no-persona judge ----------------------
    # One shuffled student's AUC varies a lot with its shuffle, so the control pools every shuffle of every judge.
    shuffled_auc = {kind: mean_ci([auc_by_row(shuffled_probabilities[kind, key, repeat], held_labels[key])[0]
                                   for key in FIRST_WORDING for repeat in range(params.n_shuffles)])
                    for kind in STUDENT_KINDS}
    auc = matrices["XGBoost"]["ROC-AUC"]
    contrasts = {"wording": cell_contrast(auc, REWORDED_OWN, OTHERS),
                 "generic habit": cell_contrast(auc, OWN, GENERIC),
                 "judges: persona beyond wording": cell_contrast(judges_matrix["Spearman"], REWORDED_OWN, OTHERS)}
    tables["controls"] = controls_table(shuffled_auc, contrasts, params.n_shuffles)
    numbers.update(shuffled_xgb=shuffled_auc["XGBoost"], wording_contrast=contrasts["wording"],
                   generic_contrast=contrasts["generic habit"],
                   judges_contrast=contrasts["judges: persona beyond wording"])
    figures["controls"] = {"groups": {"own teacher": cells(auc, OWN), "own persona reworded": cells(auc, REWORDED_OWN),
                                      "no-persona judge": cells(auc, GENERIC)},
                           "others mean": [np.mean([auc.cell(key, other).value for other in PERSONA_KEYS
                                                    if other != key]) for key in PERSONA_KEYS],
                           "personas": PERSONA_KEYS, "n_test": len(test_rows), "judge": judge_label}

    # --- A gallery of held-out pictures: the judge's label and its XGBoost student's ----------------
    shown = test_rows[:params.gallery_size]
    figures["gallery"] = {"images": creatures.images[shown], "pictures": list(shown), "judge": judge_label}
    tables["gallery"] = gallery_table(shown, test_rows, labels, probabilities, creatures)

    # --- What it shows: the claims, chosen by the numbers ------------------------------------------
    main = tests["XGBoost", "ROC-AUC"]
    carried = above_zero(main.index, contrasts["wording"], contrasts["generic habit"])
    if carried and not main.p_value < 0.05:
        carried = None  # the intervals clear zero but the matching test does not: not decided
    judges_differ = above_zero(contrasts["judges: persona beyond wording"])
    sentences["transfer_statement"] = transfer_statement(main, contrasts, carried)
    sentences["judges_statement"] = judges_statement(contrasts["judges: persona beyond wording"], judges_differ)
    numbers["similarity_statement"] = ("students disagree with one another roughly where their teachers do"
                                       if min(similarity.values()) > 0.5 else
                                       "the students' pattern of disagreement does not clearly follow their teachers'")
    claims = [
        claim("A chatbot's persona, not its wording or generic habit, carries into a pixel student", carried,
              f"extraction index (AUC difference) {main.index}, matching p = {main.p_value:.3f}; "
              f"wording control {contrasts['wording']}; generic-habit control {contrasts['generic habit']}",
              judge, judge_label),
        claim("The chatbot's judging personas differ by more than rewording the same persona", judges_differ,
              f"Spearman ρ(persona, its rewording) − ρ(persona, others) = "
              f"{contrasts['judges: persona beyond wording']}", judge, judge_label),
    ]
    headline = [headline_row(f"persona-extraction index, AUC own − AUC others ({kind} students)",
                             tests[kind, "ROC-AUC"].index, judge_label, judge.is_chatbot) for kind in STUDENT_KINDS]
    headline += [
        headline_row("wording control: AUC own persona reworded − AUC other personas (XGBoost)",
                     contrasts["wording"], judge_label, judge.is_chatbot),
        headline_row("generic-habit control: AUC own persona − AUC no-persona judge (XGBoost)",
                     contrasts["generic habit"], judge_label, judge.is_chatbot),
    ]
    return ChapterResult(
        chapter=EXPERIMENT,
        key_result=(f"With **{judge_label}** as judge, {sentences['transfer_statement']}. Of the {len(judgments)} "
                    f"judges, {len(mostly_no)} said yes to fewer than one picture in ten; "
                    f"{sentences['judges_statement']}."),
        caveat=(f"this build's judge is a chatbot ({judge.model}), so the statements above are about its prompted "
                "personas; they hold for this model, these five personas and these cartoon creatures only"
                if judge.is_chatbot else
                "nothing here shows that a chatbot's persona transfers: this build's judge is a small "
                "sentence-embedding model comparing the caption with the prompt's listed likes and dislikes"),
        numbers=numbers, sentences=sentences, tables=tables, figures=figures, claims=claims, headline=headline,
        # The introduction's headline figure: XGBoost students against the judges (first wording).
        exports={"06_persona_matrix": first_wording_frame(auc)},
    )


# --- The steps, named -----------------------------------------------------------------------------


def judges_table() -> pd.DataFrame:
    """Every judge in both wordings: who it is asked to be, what it finds cute and what not."""
    return pd.DataFrame([{"persona": p.key, "who": p.identity or "(no system message)",
                          "finds cute": ", ".join(p.likes) or "—",
                          "does not find cute": ", ".join(p.dislikes) or "—"}
                         for judge in JUDGES for p in (judge, REWORDED[judge.key])]).set_index("persona")


def describe(judge: Teacher) -> str:
    if judge.is_chatbot:
        return (f"a chatbot ({judge.model}); every exchange is recorded in data/transcripts/06_personality.jsonl "
                "and is replayed from there on the next build")
    return STAND_IN_DESCRIPTION


def save_judgments(judgments: dict[str, pd.DataFrame], judge_label: str, path: Path) -> None:
    """Every answer, verbatim, with its judge and picture, beside the book's artefacts."""
    records = pd.concat([table.assign(persona=key, picture=np.arange(len(table)), teacher=judge_label)
                         for key, table in judgments.items()], ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    records.to_csv(path, index=False)


def verdict_row(key: str, table: pd.DataFrame) -> dict:
    """A judge's share of "yes" (95% Wilson CI over pictures), its P(cute) and how often the two agree."""
    said = table["cute"].dropna()
    both = table.dropna(subset=["cute", "p_cute"])
    agrees = (both["p_cute"] >= 0.5) == both["cute"].astype(bool)
    return {"judge": key, "said yes (share, 95% CI)": str(proportion_ci(int(said.sum()), len(said))),
            "pictures": len(said), "mean P(cute)": f"{table['p_cute'].mean():.3f}",
            "sd P(cute)": f"{table['p_cute'].std():.3f}",
            "verdict = [P(cute) ≥ 0.5] (%)": f"{100 * agrees.mean():.0f}"}


def verdict_statement(n_mostly_no: int, n_judges: int) -> str:
    if n_mostly_no:
        return (f"{n_mostly_no} of the {n_judges} judges said yes to fewer than one picture in ten, so their "
                "verdicts carry almost no taste; what they carry is in P(cute): which pictures they find *more* "
                "likely cute than others. The students below are therefore taught each judge's **cuter half** "
                "(P(cute) above that judge's median), and agreement is measured against it (ROC-AUC) and against "
                "P(cute) itself (Spearman)")
    return ("Every judge said yes often enough for its verdicts to carry a taste; for one rule throughout, students "
            "are still taught each judge's **cuter half** (P(cute) above that judge's median), and agreement is "
            "measured against it (ROC-AUC) and against P(cute) itself (Spearman)")


def asked_freely(judge: Teacher, judgments: dict[str, pd.DataFrame], captions: list[str],
                 max_in_flight: int) -> tuple[pd.DataFrame, Estimate]:
    """The first-wording judges asked about `captions` without the grammar: per judge, the share of readable
    answers and how often they match the constrained verdict; over all judges, the share readable."""
    rows, n_usable, n_asked = [], 0, 0
    for persona in JUDGES:
        asked = judge_captions(judge, persona, captions, max_in_flight, constrained=False)
        usable = asked["cute"].notna()
        same = asked["cute"][usable] == judgments[persona.key]["cute"][:len(captions)][usable]
        rows.append({"judge": persona.key,
                     "readable yes or no (share, 95% CI)": str(proportion_ci(int(usable.sum()), len(asked))),
                     "asked": len(asked),
                     "same verdict as constrained (%)": f"{100 * same.mean():.0f}" if usable.any() else "—"})
        n_usable, n_asked = n_usable + int(usable.sum()), n_asked + len(asked)
    return pd.DataFrame(rows).set_index("judge"), proportion_ci(n_usable, n_asked)


def taste_by_body_plan(judgments: dict[str, pd.DataFrame], body_plans: pd.Series) -> pd.DataFrame:
    """Each judge's mean P(cute) by body plan, minus its overall mean (body plans × judges)."""
    centred = pd.DataFrame({key: table["p_cute"] - table["p_cute"].mean() for key, table in judgments.items()})
    return centred.assign(body_plan=body_plans).groupby("body_plan").mean()


def first_wording_columns(matrix: AgreementMatrix) -> list[int]:
    return [matrix.teachers.index(key) for key in FIRST_WORDING]


def first_wording_frame(matrix: AgreementMatrix) -> pd.DataFrame:
    """A matrix's point values against the first-wording judges, students × teachers, named."""
    return pd.DataFrame(matrix.value[:, first_wording_columns(matrix)],
                        index=pd.Index(matrix.students, name="student"),
                        columns=pd.Index(FIRST_WORDING, name="teacher"))


def index_row(students: str, measure: str, test, judge_label: str) -> dict:
    return {"students": students, "measure": INDEX_NAMES[measure], "teacher": judge_label,
            "index (95% CI)": str(test.index), "held-out pictures": test.index.n,
            "p (matching permutation)": f"{test.p_value:.3f}", "resamples left out (undefined)": test.undefined}


def controls_table(shuffled_auc: dict[str, Estimate], contrasts: dict[str, Estimate], n_shuffles: int) -> pd.DataFrame:
    rows = [(f"{kind} · every judge, shuffled", f"shuffled labels ({n_shuffles} shuffles per judge)", estimate)
            for kind, estimate in shuffled_auc.items()]
    rows += [("XGBoost · own persona reworded − other personas (AUC)", "persona students", contrasts["wording"]),
             ("XGBoost · own persona − no-persona judge (AUC)", "persona students", contrasts["generic habit"]),
             ("judges · ρ(persona, its rewording) − ρ(persona, other personas)", "(the judges' P(cute))",
              contrasts["judges: persona beyond wording"])]
    return pd.DataFrame([{"control": name, "student": student, "mean (95% CI)": str(estimate), "n": estimate.n}
                         for name, student, estimate in rows]).set_index("control")


def cells(matrix: AgreementMatrix, pairs: list[tuple[str, str]]) -> list[Estimate]:
    return [matrix.cell(student, teacher) for student, teacher in pairs]


def gallery_table(shown, test_rows, labels, probabilities, creatures: Creatures) -> pd.DataFrame:
    """Per held-out picture: each judge's label (J, in its cuter half ✓ or not ✗), its XGBoost student's
    (S, probability ≥ 0.5) and the caption the judge read."""
    def mark(value):
        return "✓" if value >= 0.5 else "✗"

    position = {picture: i for i, picture in enumerate(test_rows)}
    gallery = pd.DataFrame({f"#{picture}": {key: f"J {mark(labels[key][picture])} · S "
                                                 f"{mark(probabilities['XGBoost', key][position[picture]])}"
                                            for key in FIRST_WORDING} for picture in shown})
    gallery.loc["caption"] = [creatures.captions[picture] for picture in shown]
    return gallery.T


def ci(estimate: Estimate, digits: int = 2) -> str:
    return f"{estimate.value:.{digits}f} (95% CI {estimate.low:.{digits}f} to {estimate.high:.{digits}f})"


def transfer_statement(main, contrasts: dict[str, Estimate], carried: bool | None) -> str:
    if not np.isfinite(main.index.value):
        return ("the extraction index is undefined in this build (some judge gave one label to every held-out "
                "picture), so nothing is shown either way")
    return (f"persona transfer is **{VERDICT_WORDS[carried]}**: the XGBoost students' persona-extraction index "
            f"({INDEX_MEANING}) is {ci(main.index)} with matching p = {main.p_value:.3f}; against their own "
            f"persona reworded they score {ci(contrasts['wording'])} AUC above the other personas, and against "
            f"their own persona {ci(contrasts['generic habit'])} above the no-persona judge")


def judges_statement(contrast: Estimate, judges_differ: bool | None) -> str:
    conclusion = {True: "do differ by more than their wording", False: "differ no more than their wordings do",
                  None: "cannot be told apart from their wordings in this build"}[judges_differ]
    return (f"the judges themselves: the Spearman correlation of a persona's P(cute) with its own rewording, minus "
            f"its mean correlation with the other personas, is {ci(contrast)}, so the chatbot's personas {conclusion}")


def claim(statement: str, verdict: bool | None, evidence: str, judge: Teacher, judge_label: str) -> Claim:
    """A claim about a chatbot: decided by the numbers when a chatbot judged, not tested with a stand-in."""
    if judge.is_chatbot:
        return Claim.decided(statement, verdict, evidence, judge_label)
    return Claim.not_tested(statement, f"this build's judge is an offline stand-in, not a chatbot ({evidence})",
                            judge_label)
