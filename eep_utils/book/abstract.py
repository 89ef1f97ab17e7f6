"""The introduction's abstract, headline figure and claims, from the chapters' results.

The introduction types no result: every number it shows comes from the files the
chapters wrote in this build (`report.save_headline`, `report.key_result`,
`report.save_table`), and every conclusion from a claim's status, so a build whose
numbers change says something else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from eep_utils.personality.agreement import INDEX_MEANING
from eep_utils.book.report import (
    load_claims,
    load_headlines,
    load_key_results,
    results_dir,
)

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
# The chapter that answers the book's question; the one whose main claim is on CartPole.
ANSWER_CHAPTER = "06_personality"
# The chapters that test a persona, and how many of each one's claims (main first) the abstract quotes.
ABSTRACT_CLAIMS = {"02_teacher_rollouts": 1, "04_students": 1, "06_personality": 2}
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
    chapters: tuple[str, ...] = RESULT_CHAPTERS


def load_results(artifacts_dir: str | Path, chapters=RESULT_CHAPTERS) -> BookResults:
    """Every chapter's headline, claims and key result; a missing headline is an error.

    A missing key result is not: the abstract names the chapters without one."""
    missing = [
        c for c in chapters if not (results_dir(artifacts_dir) / f"{c}.json").exists()
    ]
    if missing:
        raise MissingResults(
            f"no headline from {', '.join(missing)} in {artifacts_dir}: run "
            "`python -m eep_utils.build` so that every chapter runs before the "
            "introduction"
        )
    return BookResults(
        load_headlines(artifacts_dir),
        load_claims(artifacts_dir),
        load_key_results(artifacts_dir),
        tuple(chapters),
    )


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


def chatbot_name(results: BookResults) -> str | None:
    """This build's chatbot: the judge of the chapter that answers the question."""
    row = _first(results.headlines, ANSWER_CHAPTER)
    return row.teacher if row is not None and row.is_chatbot else None


def _what_was_done(chatbot: str | None) -> str:
    who = (
        f"In this build the chatbot is {chatbot}"
        if chatbot
        else "No chatbot answered in this build (its teachers were offline stand-ins)"
    )
    return (
        f"{who}: prompted as different personas, it drove CartPole-v1 through a text "
        "channel and judged from captions whether cartoon creatures are cute; every "
        "answer was recorded, and students that sense the world directly (the cart's "
        "numbers, the creatures' pixels) learned to imitate the recordings without "
        "ever seeing a reward, beside hand-made baselines and ELLM-style goal rewards."
    )


def _findings(results: BookResults) -> list[str]:
    """The persona chapters' main claims, each with its status and evidence (key results are longer:
    each chapter opens with its own, and the appendix lists them all)."""
    sentences = []
    for chapter, how_many in ABSTRACT_CLAIMS.items():
        claims = results.claims[results.claims.chapter == chapter] if not results.claims.empty else results.claims
        if claims.empty:
            sentences.append(f"(Chapter {chapter_number(chapter)}) stated no claim in this build.")
        sentences += [f"(Chapter {chapter_number(chapter)}) “{item.claim}”: {item.status} "
                      f"({readable(item.evidence)})." for item in claims.head(how_many).itertuples()]
    return sentences


def _index(row: pd.Series) -> str:
    measure = readable(row.measure)
    if pd.isna(row["mean"]):
        return (
            f"the {measure} is undefined in this build (a judge whose held-out "
            "verdicts are all alike leaves every AUC against it undefined)"
        )
    return (
        f"the {measure} is {row['mean']:.2f} (95% CI {row.ci_low:.2f} to "
        f"{row.ci_high:.2f})"
    )


def _answer(results: BookResults, chatbot: str | None) -> str:
    row, item = (
        _first(results.headlines, ANSWER_CHAPTER),
        _first(results.claims, ANSWER_CHAPTER),
    )
    if row is None or item is None:
        raise MissingResults(f"{ANSWER_CHAPTER} saved no main measure or no claim")
    if not chatbot:
        return (
            f"The answer is not tested here: the judge was {row.teacher}, not a "
            f"chatbot; {_index(row)}."
        )
    taste = "their own persona's taste rather than the other personas'"
    answer = {
        "shown": "yes, for this model, these personas and these creatures: pixel "
        f"students carried {taste}",
        "not shown": "not shown: this build's pixel students are not shown to carry "
        f"{taste}",
        "inconclusive": "undecided",
        "not tested": "not tested",
    }[item.status]
    return f"With this build's chatbot the answer is {answer}: {_index(row)}."


def compose_abstract(results: BookResults) -> str:
    """One paragraph: the question, what was done, the persona chapters' claims, the answer."""
    chatbot = chatbot_name(results)
    return " ".join(
        [
            QUESTION,
            _what_was_done(chatbot),
            *_findings(results),
            _answer(results, chatbot),
        ]
    )


def main_claims(claims: pd.DataFrame) -> pd.DataFrame:
    """Each chapter's main (first) claim, for the introduction's short table."""
    main = claims.groupby("chapter", sort=False).head(1)
    if len(main) > MAX_MAIN_CLAIMS:
        raise ValueError(
            f"{len(main)} main claims: the introduction shows at most "
            f"{MAX_MAIN_CLAIMS}; the appendix shows them all"
        )
    return pd.DataFrame(
        {
            "chapter": main.chapter,
            "claim": main.claim,
            "status": main.status,
            "evidence": main.evidence.map(readable),
            "chatbot": main.teacher,
        }
    )


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


def cartpole_returns(headlines: pd.DataFrame) -> pd.DataFrame:
    """The CartPole returns of the teachers, students and baselines, in that order."""
    rows = headlines[
        headlines.chapter.isin(CARTPOLE_ROLES)
        & headlines.measure.str.startswith(CARTPOLE_PREFIX)
    ]
    order = list(CARTPOLE_ROLES)
    rows = rows.assign(
        role=rows.chapter.map(CARTPOLE_ROLES),
        label=rows.measure.str.removeprefix(CARTPOLE_PREFIX),
        _order=rows.chapter.map(order.index),
    )
    return rows.sort_values("_order", kind="stable")[
        ["role", "label", "teacher", "is_chatbot", "mean", "ci_low", "ci_high", "n"]
    ].reset_index(drop=True)


def headline_figure(matrix: pd.DataFrame, cartpole: pd.DataFrame, chatbot: str | None):
    """The persona × persona agreement matrix beside CartPole's returns."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    fig, (left, right) = plt.subplots(
        1,
        2,
        figsize=(14, max(5.0, 0.42 * len(cartpole) + 1.5)),
        layout="constrained",
        gridspec_kw={"width_ratios": [1, 1.25]},
    )
    values = matrix.to_numpy(float)
    left.set_facecolor("lightgrey")  # an undefined cell (NaN) is left blank on grey
    image = left.imshow(values, cmap="viridis", vmin=0.0, vmax=1.0)
    for (i, j), value in np.ndenumerate(values):
        left.text(
            j,
            i,
            "undefined" if np.isnan(value) else f"{value:.2f}",
            ha="center",
            va="center",
            fontsize=7 if np.isnan(value) else 8,
            color="black" if np.isnan(value) or value > 0.6 else "white",
        )
    left.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=35, ha="right")
    left.set_yticks(range(matrix.shape[0]), matrix.index)
    left.set_xlabel(
        f"{matrix.columns.name} (judge persona, whose verdicts are the labels)"
    )
    left.set_ylabel(f"{matrix.index.name} (XGBoost on pixels, trained on that persona)")
    left.set_title(
        "Game of personality:\ndoes each student agree most with its own persona?",
        fontsize=10,
    )
    fig.colorbar(
        image, ax=left, shrink=0.8, label="ROC-AUC on held-out pictures (0.5 = chance)"
    )

    colours = [
        "tab:red" if chatbot_row else "tab:grey" for chatbot_row in cartpole.is_chatbot
    ]
    labels = [
        label if label.startswith(role) else f"{role}: {label}"
        for role, label in zip(cartpole.role, cartpole.label)
    ]
    positions = range(len(cartpole))[::-1]  # the first row on top
    right.barh(
        list(positions),
        cartpole["mean"],
        color=colours,
        xerr=[cartpole["mean"] - cartpole.ci_low, cartpole.ci_high - cartpole["mean"]],
        capsize=3,
    )
    right.set_yticks(list(positions), labels, fontsize=8)
    # The full-state controller's maximum return would flatten every other bar.
    right.set_xscale("log")
    right.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    right.xaxis.set_major_formatter(ScalarFormatter())
    right.xaxis.set_minor_formatter(NullFormatter())
    right.set_xlabel(
        "CartPole-v1 return, frames per episode (log scale): mean, 95% CI"
    )
    right.set_title(
        "CartPole: chatbot teachers, their imitating students, baselines", fontsize=10
    )
    right.legend(
        handles=[
            Patch(
                color="tab:red",
                label="a chatbot: this build's or the 2023 "
                "recordings' (teachers and their students)",
            ),
            Patch(color="tab:grey", label="no chatbot (baselines, offline stand-ins)"),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        fontsize=8,
    )
    fig.suptitle(
        "This build's headline results — chatbot: "
        f"{chatbot or 'none (offline stand-ins)'}",
        fontsize=12,
    )
    return fig
