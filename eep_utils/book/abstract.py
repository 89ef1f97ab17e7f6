"""The introduction's abstract, headline figure and claims, from the chapters' results.

The introduction types no result: every number it shows comes from the files the
chapters wrote in this build (`report.save_results`, which `report.publish` calls,
`report.save_table`), and every conclusion from a claim's status, so a build whose
numbers change says something else.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from eep_utils.book.ladder import run_chapter
from eep_utils.book.report import (
    load_claims,
    load_headlines,
    load_key_results,
    load_summaries,
    results_dir,
    save_results,
)
from eep_utils.experiments.base import USABILITY
from eep_utils.experiments.params import params_for
from eep_utils.personality.agreement import INDEX_MEANING

# The chapters whose results the introduction summarises, in the book's order. Each
# saves a headline; the re-run page, the introduction and the appendix save none.
RESULT_CHAPTERS = (
    "01_embodiment",
    "02_teacher_rollouts",
    "03_baselines",
    "04_students",
    "05_ellm_rewards",
    "06_personality",
)
# The chapter that answers the book's question, the one that asks it on CartPole, and the 2023 study's student.
ANSWER_CHAPTER, CARTPOLE_CHAPTER, STUDENTS_CHAPTER = "06_personality", "02_teacher_rollouts", "04_students"
TRANSFER_CLAIM = "A chatbot's persona, not its wording or generic habit, carries into a pixel student"
JUDGES_CLAIM = "The chatbot's judging personas differ by more than rewording"
BOUND_CLAIM = "The chatbot's personas, if any, are weaker than the smallest persona"
CARTPOLE_CLAIM = "Newton's persona changes how the chatbot drives CartPole"
CARTPOLE_BOUND_CLAIM = "Newton's effect on how the chatbot drives, if any, is smaller"
# The introduction's claims: the persona claims with their bounds, and the 2023 re-examination (the appendix
# lists every claim). Each entry is the start of a claim's statement in its chapter.
MAIN_CLAIMS = {
    CARTPOLE_CHAPTER: (CARTPOLE_CLAIM, CARTPOLE_BOUND_CLAIM),
    STUDENTS_CHAPTER: ("A student of", "The 2023 recipe does better on correctly paired frames"),
    "05_ellm_rewards": ("An agent trained on ELLM's intrinsic reward alone",),
    ANSWER_CHAPTER: (TRANSFER_CLAIM, JUDGES_CLAIM, BOUND_CLAIM),
}
MATRIX_TABLE = "06_persona_matrix"
# The introduction's claims table stays short; the appendix lists every claim.
MAX_MAIN_CLAIMS = 8

QUESTION = (
    "Can a persona that a prompt induces in an LLM chatbot (“You are Sir Isaac "
    "Newton…”) be carried into an embodied student trained by imitation on the "
    "chatbot's recorded answers?"
)
_INDEX_PHRASES = (  # how the chapters name the index → a name that says what it is
    (
        re.compile(r"persona-extraction index, AUC own − AUC others \(([^)]*)\)"),
        rf"persona-extraction index of \1 ({INDEX_MEANING})",
    ),
    (
        re.compile(r"(?<!persona-)extraction index \(AUC difference\)"),
        rf"persona-extraction index ({INDEX_MEANING})",
    ),
)
# What the claims table's roles mean, for the headline figure's CartPole panel.
CARTPOLE_ROLES = {
    "02_teacher_rollouts": "teacher",
    "04_students": "student",
    "03_baselines": "baseline",
}
CARTPOLE_PREFIX = "CartPole return: "


class MissingResults(RuntimeError):
    """A chapter that should have run left no headline: a partial abstract."""


@dataclass
class BookResults:
    headlines: pd.DataFrame
    claims: pd.DataFrame
    key_results: dict[str, str]
    summaries: dict[str, dict[str, dict]]  # chapter -> chatbot -> {"numbers", "sentences"}
    chapters: tuple[str, ...] = RESULT_CHAPTERS
    notes: tuple[str, ...] = ()  # chapters run here because this page was opened alone


def load_results(artifacts_dir: str | Path, quick: bool | None = None, chapters=RESULT_CHAPTERS) -> BookResults:
    """Every chapter's headlines, claims, key result and summary, as the build left them.

    A chapter whose results are missing (this page opened alone, as in Colab) is run here at the quick or
    full book's sizes (`quick`), once per chatbot, and a note says so; with `quick` None it is an error."""
    missing = [c for c in chapters if not (results_dir(artifacts_dir) / f"{c}.summary.json").exists()]
    if missing and quick is None:
        raise MissingResults(f"no results from {', '.join(missing)} in {artifacts_dir}: run "
                             "`python -m eep_utils.build` so that every chapter runs before this page")
    for chapter in missing:
        save_results(run_chapter(chapter, params_for(chapter, quick), artifacts_dir), artifacts_dir)
    notes = (f"{', '.join(missing)} had not run in {artifacts_dir}: they ran here, at the "
             f"{'quick' if quick else 'full'} book's sizes.",) if missing else ()
    return BookResults(load_headlines(artifacts_dir), load_claims(artifacts_dir), load_key_results(artifacts_dir),
                       load_summaries(artifacts_dir), tuple(chapters), notes)


def readable(text: str) -> str:
    """`text` with the persona-extraction index named as the difference of AUCs it is.

    A phrasing of the index that is not known here fails loudly rather than shows in a
    way that reads as an AUC."""
    for pattern, replacement in _INDEX_PHRASES:
        text = pattern.sub(replacement, text)
    if "extraction index" in text and INDEX_MEANING not in text:
        raise ValueError(
            f"unknown name of the extraction index in {text!r}: teach "
            "eep_utils.book.abstract.readable to say it is a difference of AUCs"
        )
    return text


def chapter_number(chapter: str) -> int:
    return int(chapter[:2])


def _first(frame: pd.DataFrame, chapter: str) -> pd.Series | None:
    """A chapter's first row: chapters list their main measure and main claim first."""
    rows = frame[frame.chapter == chapter] if not frame.empty else frame
    return None if rows.empty else rows.iloc[0]


def _estimate(value) -> str:
    """An Estimate as the chapters saved it ({"value", "low", "high", …}), in words: "0.03 [0.02, 0.05]", with
    enough decimals that a narrow interval keeps its ends apart ("-0.010 [-0.013, -0.008]")."""
    if not isinstance(value, dict) or not np.isfinite(value["value"]):
        return "undefined"
    width = value["high"] - value["low"]
    decimals = max(2, -math.floor(math.log10(width))) if np.isfinite(width) and width > 0 else 2
    return f"{value['value']:.{decimals}f} [{value['low']:.{decimals}f}, {value['high']:.{decimals}f}]"


def chatbots(results: BookResults) -> list[str]:
    """The chatbots of this build, the book's own first: those that judged in the game of personality."""
    return [name for name in results.summaries.get(ANSWER_CHAPTER, {}) if name]


def _claim(results: BookResults, chapter: str, start: str, chatbot: str) -> pd.Series | None:
    claims = results.claims
    if claims.empty:
        return None
    chosen = claims[(claims.chapter == chapter) & claims.claim.str.startswith(start) & (claims.teacher == chatbot)]
    return None if chosen.empty else chosen.iloc[0]


def _status(results: BookResults, chapter: str, start: str, chatbot: str) -> str:
    claim = _claim(results, chapter, start, chatbot)
    return "not made" if claim is None else claim.status


def _numbers(results: BookResults, chapter: str, chatbot: str) -> dict:
    summary = results.summaries.get(chapter, {})
    if chatbot not in summary:
        raise MissingResults(f"{chapter} saved no results for {chatbot!r}: run `python -m eep_utils.build`")
    return summary[chatbot]["numbers"]


def _untestable(results: BookResults, chapter: str, chatbot: str) -> str:
    """Why a chapter's claims were not testable with this chatbot (its answers could not be read), or ""."""
    return results.summaries.get(chapter, {}).get(chatbot, {}).get("sentences", {}).get(USABILITY, "")


def answer_for(results: BookResults, chatbot: str) -> str:
    """The book's answer for one chatbot, chosen by the claims' statuses and stated with their numbers."""
    why = _untestable(results, ANSWER_CHAPTER, chatbot)
    if why:
        return f"**{chatbot}:** its judging personas could not be tested. {why}"
    judging = _numbers(results, ANSWER_CHAPTER, chatbot)
    transfer = _status(results, ANSWER_CHAPTER, TRANSFER_CLAIM, chatbot)
    judges = _status(results, ANSWER_CHAPTER, JUDGES_CLAIM, chatbot)
    bound = _status(results, ANSWER_CHAPTER, BOUND_CLAIM, chatbot)
    # The effect is ρ(persona, its rewording) − ρ(persona, other personas' rewordings): above zero, a persona
    # agrees with its own rewording more than with other personas.
    judges_words = {"shown": "differ from each other by more than from their own rewordings",
                    "not shown": "differ from each other no more than from their own rewordings",
                    }.get(judges, "cannot be told from their rewordings in this build")
    sentence = (f"**{chatbot}:** its judging personas {judges_words} (a persona effect beyond wording of "
                f"{_estimate(judging['judges_contrast'])}, Spearman ρ over pictures), and ")
    if transfer == "shown":
        sentence += (f"pixel students carry them: the extraction index is {_estimate(judging['index_xgb_auc'])}.")
    else:
        sentence += (f"no pixel student is shown to carry them (extraction index "
                     f"{_estimate(judging['index_xgb_auc'])}, where 0 means no persona carried).")
    if bound == "shown":
        sentence += (f" **Any persona it holds is weaker than the smallest this pipeline detects with 80% power:** "
                     f"synthetic judges, mixed with its own answers at strength s = "
                     f"{_estimate(judging['min_detectable'])}, show a persona effect of "
                     f"{_estimate(judging['synthetic_effect_at_min'])}.")
    elif transfer != "shown":
        sentence += (" At these sizes the pipeline could not reliably detect even the strongest synthetic persona "
                     "tried, so this null result sets no bound.")
    driving = _numbers(results, CARTPOLE_CHAPTER, chatbot) if chatbot in results.summaries.get(
        CARTPOLE_CHAPTER, {}) else None
    if driving is not None and _untestable(results, CARTPOLE_CHAPTER, chatbot):
        sentence += " Its CartPole decisions could not be tested: too few of them could be read."
    elif driving is not None:
        moved = {"shown": "moved its CartPole decisions more than rewording did",
                 "not shown": "moved its CartPole decisions no more than rewording did"}.get(
            _status(results, CARTPOLE_CHAPTER, CARTPOLE_CLAIM, chatbot), "had an undecided effect on its decisions")
        sentence += f" Newton's persona {moved} ({_estimate(driving['newton_effect'])} in P(right) over text states)"
        if _status(results, CARTPOLE_CHAPTER, CARTPOLE_BOUND_CLAIM, chatbot) == "shown":
            sentence += (f", less than the behaviour test detects with 80% power (a synthetic teacher deviating in "
                         f"{100 * driving['min_detectable']:.1f}% of the states)")
        sentence += "."
    return sentence


def study_2023_sentence(results: BookResults) -> str:
    """What re-examining the 2023 recordings found, from chapter 04 (or that they were not available)."""
    summary = next(iter(results.summaries.get(STUDENTS_CHAPTER, {}).values()), {})
    numbers = summary.get("numbers", {})
    if "own_action_rows" not in numbers:
        return "The 2023 recordings were not available to this build, so its re-examination is not shown here."
    return (f"Re-examining the 2023 study's own recordings, only {numbers['own_action_rows']} of the "
            f"{numbers['rows_2023']:,} training pairs of its student match an observation with its own action; "
            f"trained on correctly aligned pairs, its recipe survives {numbers['aligned_return']:.2f} frames against "
            f"{numbers['published_arrays_return']:.2f} on the published arrays.")


def compose_abstract(results: BookResults) -> str:
    """The abstract: the question, what was done, the answer for each chatbot, the 2023 re-examination."""
    names = chatbots(results)
    if not names:
        raise MissingResults(f"{ANSWER_CHAPTER} names no chatbot: run `python -m eep_utils.build`")
    done = (f"We asked {' and '.join(names)} to be different personas (each in two prompt templates and two "
            "wordings) as it drove CartPole-v1 through text and judged cartoon creatures' cuteness from captions, "
            "and trained students that see only numbers or pixels to imitate its recorded answers.")
    return "\n\n".join([f"{QUESTION} {done}", *(answer_for(results, name) for name in names),
                         study_2023_sentence(results)])


def main_claims(claims: pd.DataFrame) -> pd.DataFrame:
    """The persona claims, their bounds and the 2023 re-examination, each chatbot's status side by side."""
    rows = []
    for chapter, starts in MAIN_CLAIMS.items():
        for start in starts:
            of_claim = claims[(claims.chapter == chapter) & claims.claim.str.startswith(start)]
            if of_claim.empty:
                continue
            rows.append({"chapter": f"{chapter_number(chapter):02d}", "claim": of_claim.claim.iloc[0],
                         **{teacher: status for teacher, status in zip(of_claim.teacher, of_claim.status)}})
    if len(rows) > MAX_MAIN_CLAIMS:
        raise ValueError(f"{len(rows)} main claims: the introduction shows at most {MAX_MAIN_CLAIMS}")
    return pd.DataFrame(rows).fillna("—")


def headline_figure(results: BookResults):
    """For each chatbot, the persona effects the book measured, with the smallest effect its pipeline detects
    with 80% power (synthetic, a positive control) beside them: a null result read as a bound."""
    import matplotlib.pyplot as plt

    from eep_utils.book.style import dot_plot, figure_size

    names = chatbots(results)
    panels = (
        (ANSWER_CHAPTER, "Game of personality",
         (("judges_contrast", "judges: persona beyond wording"), ("index_xgb_auc", "students: extraction index"),
          ("synthetic_effect_at_min", "synthetic judges at 80% power")),
         "effect (ρ or AUC difference), 95% CI"),
        (CARTPOLE_CHAPTER, "CartPole",
         (("newton_effect", "Newton beyond wording"), ("effect_at_min", "synthetic teacher at 80% power")),
         "gap in P(right) over text states, 95% CI"),
    )
    fig, axes = plt.subplots(2, 1, figsize=figure_size(1.05), layout="constrained",
                             gridspec_kw={"height_ratios": [3, 2]})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, (chapter, title, measures, unit) in zip(axes, panels):
        labels, values, lows, highs, dot_colours = [], [], [], [], []
        for number, name in enumerate(names):
            numbers = results.summaries.get(chapter, {}).get(name, {}).get("numbers", {})
            for key, label in measures:
                value = numbers.get(key)
                value = value if isinstance(value, dict) else {"value": value, "low": value, "high": value}
                if value["value"] is None or not np.isfinite(value["value"]):
                    continue
                labels.append(label if len(names) == 1 else f"{label} ({name.split(' ')[0]})")
                values.append(value["value"]), lows.append(value["low"]), highs.append(value["high"])
                dot_colours.append("0.55" if key in ("synthetic_effect_at_min", "effect_at_min")
                                   else colours[number % len(colours)])
        dot_plot(axis, labels, values, lows, highs, unit=unit, reference=0.0, reference_label="no effect",
                 colours=dot_colours)
        axis.set_title(title)
    return fig


def measures_table(headlines: pd.DataFrame) -> pd.DataFrame:
    """Every chapter's headline measures, for the appendix: chapter, measure (the index named as the
    difference of AUCs it is), teacher, whether a chatbot, mean, 95% CI and sample size."""
    return pd.DataFrame(
        {
            "chapter": headlines.chapter,
            "measure": headlines.measure.map(readable),
            "teacher": headlines.teacher,
            "chatbot?": headlines.is_chatbot.map({True: "yes", False: "no"}),
            "mean": headlines["mean"].map("{:.2f}".format),
            "95% CI": [
                f"[{low:.2f}, {high:.2f}]"
                for low, high in zip(headlines.ci_low, headlines.ci_high)
            ],
            "n": headlines.n,
        }
    )


def claims_table(claims: pd.DataFrame) -> pd.DataFrame:
    """Every chapter's claims, for the appendix, with the evidence in readable words."""
    return claims.assign(evidence=claims.evidence.map(readable))[
        ["chapter", "claim", "status", "evidence", "teacher"]
    ]


def key_results_list(results: BookResults) -> str:
    """Each result chapter's key result as a Markdown list item, in the book's order (a chapter
    without one is named as missing)."""
    return "\n".join(
        f"- **{chapter}**: "
        + (
            " ".join(results.key_results[chapter].split())
            if chapter in results.key_results
            else "missing from this build (the chapter does not yet save one)"
        )
        for chapter in RESULT_CHAPTERS
    )


def figure_caption(results: BookResults) -> str:
    """The headline figure's message, chosen by the numbers: where each chatbot's measured persona effects lie
    against the effect a synthetic persona needs to be detected with 80% power."""
    sentences = []
    for name in chatbots(results):
        judging = _numbers(results, ANSWER_CHAPTER, name)
        detectable, measured = judging.get("synthetic_effect_at_min"), judging.get("judges_contrast")
        if measured is None:
            sentences.append(f"For {name}, too few answers could be read to measure a persona effect")
            continue
        if not (isinstance(detectable, dict) and np.isfinite(detectable["value"])):
            sentences.append(f"For {name}, no synthetic persona tried was detected with 80% power, so the figure "
                             "bounds nothing")
            continue
        below = measured["high"] < detectable["low"]
        sentences.append(f"For {name}, the judges' persona effect ({_estimate(measured)}) lies "
                         f"{'wholly below' if below else 'not wholly below'} the effect a synthetic persona shows "
                         f"when the pipeline detects it with 80% power ({_estimate(detectable)}, grey)")
    return ("; ".join(sentences) + ". Each dot is an estimate with its 95% confidence interval; the synthetic "
            "judges and teacher are positive controls, never chatbot results.")
