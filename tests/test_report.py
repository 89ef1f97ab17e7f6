"""The introduction's material: tables, abstract, main claims, headline figure."""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from eep_utils.stats import Estimate

from eep_utils.book import abstract
from eep_utils.book.abstract import (
    INDEX_MEANING,
    MissingResults,
    cartpole_returns,
    compose_abstract,
    headline_figure,
    load_results,
    main_claims,
    readable,
)
from eep_utils.book.config import load_plan
from eep_utils.book.report import (
    claim,
    load_table,
    results_dir,
    save_headline,
    save_table,
)

matplotlib.use("Agg")

CHATBOT = "SmolLM2-135M-Instruct-Q4_1 (llama.cpp, local)"


def row(measure, teacher, is_chatbot, mean, low, high, n=10):
    return {
        "measure": measure,
        "teacher": teacher,
        "is_chatbot": is_chatbot,
        "mean": mean,
        "ci_low": low,
        "ci_high": high,
        "n": n,
    }


def fake_book(
    folder,
    judge=CHATBOT,
    is_chatbot=True,
    status_06=True,
    index=(0.46, 0.31, 0.6),
    skip=(),
):
    """Every result chapter's headline as the chapters write it, with chosen numbers."""
    teacher_rows = [
        row(
            "CartPole return: teacher newton (chatbot)",
            "newton (chatbot)",
            True,
            20.4,
            16.2,
            24.6,
        )
    ]
    chapters = {
        "01_embodiment": (
            [row("CartPole return: random walk", "none", False, 18.7, 17.3, 20.1)],
            [claim("Text allows far better play", True, "table 159.15", "none")],
        ),
        "02_teacher_rollouts": (
            teacher_rows,
            [
                claim(
                    "A persona prompt changes how a chatbot teacher drives CartPole",
                    False,
                    "mean returns 20.4 vs 19.5, Welch p = 0.688",
                    CHATBOT,
                )
            ],
        ),
        "03_baselines": (
            [
                row(
                    "CartPole return: baseline random walk",
                    "none (baseline policy)",
                    False,
                    18.7,
                    17.5,
                    19.9,
                    300,
                )
            ],
            [claim("The rule beats a random walk", True, "rule 41.44", "none")],
        ),
        "04_students": (
            [
                row(
                    "CartPole return: best student of newton (mlp)",
                    CHATBOT,
                    True,
                    26.0,
                    25.1,
                    26.9,
                    300,
                )
            ],
            [],
        ),
        "05_ellm_rewards": (
            [row("CartPole return: R_int agent", CHATBOT, True, 57.6, 53.0, 62.1)],
            [
                claim("ELLM beats random", True, "R_int 57.55", CHATBOT),
                claim("R_int rises with survival", False, "rho 0.1", CHATBOT),
            ],
        ),
        "06_personality": (
            [
                row(
                    "persona-extraction index, AUC own − AUC others (XGBoost students)",
                    judge,
                    is_chatbot,
                    *index,
                    60,
                ),
                row(
                    "persona-extraction index, AUC own − AUC others (logistic regression students)",
                    judge,
                    is_chatbot,
                    0.1,
                    0.0,
                    0.2,
                    60,
                ),
            ],
            [
                claim(
                    "A pixel student inherits its own judge's taste",
                    status_06,
                    decidable=not math.isnan(index[0]),
                    evidence=f"extraction index (AUC difference) {Estimate(*index, 60)}",
                    teacher=judge,
                ),
                claim(
                    "A chatbot's persona carries",
                    status_06 if is_chatbot else None,
                    "tested",
                    judge,
                ),
            ],
        ),
    }
    for chapter, (rows, claims) in chapters.items():
        if chapter not in skip:
            save_headline(folder, chapter, rows, claims)
    return folder


def key_result(folder, chapter, text):
    (results_dir(folder) / f"{chapter}.key_result.md").write_text(text)


def test_a_table_keeps_its_values_and_the_names_of_its_rows_and_columns(tmp_path):
    frame = pd.DataFrame(
        [[0.9, np.nan], [0.4, 0.7]],
        index=pd.Index(["newton", "child"], name="student"),
        columns=pd.Index(["newton", "child"], name="teacher"),
    )
    path = save_table(tmp_path, "06_persona_matrix", frame)
    assert path == tmp_path / "results" / "06_persona_matrix.parquet"
    loaded = load_table(tmp_path, "06_persona_matrix")
    pd.testing.assert_frame_equal(loaded, frame)
    assert (loaded.index.name, loaded.columns.name) == ("student", "teacher")


def test_a_missing_table_names_the_table(tmp_path):
    with pytest.raises(FileNotFoundError, match="06_persona_matrix"):
        load_table(tmp_path, "06_persona_matrix")


def test_the_abstract_states_the_question_the_chatbot_and_the_answer_from_the_numbers(
    tmp_path,
):
    text = compose_abstract(load_results(fake_book(tmp_path)))
    assert text.startswith(abstract.QUESTION)
    assert f"In this build the chatbot is {CHATBOT}" in text
    assert "the answer is yes" in text
    assert (
        f"persona-extraction index of XGBoost students ({INDEX_MEANING}) is 0.46 "
        "(95% CI 0.31 to 0.60)"
    ) in text
    assert (
        "“A persona prompt changes how a chatbot teacher drives CartPole”: not shown"
        in text
    )
    assert "\n\n" not in text, "the abstract is one paragraph"


@pytest.mark.parametrize(
    "status, index, answer",
    [
        (False, (0.02, -0.1, 0.15), "the answer is not shown"),
        (True, (math.nan, math.nan, math.nan), "the answer is undecided"),
    ],
)
def test_the_answer_follows_the_claims_status(tmp_path, status, index, answer):
    text = compose_abstract(
        load_results(fake_book(tmp_path, status_06=status, index=index))
    )
    assert answer in text and "the answer is yes" not in text
    if math.isnan(index[0]):
        assert "is undefined in this build" in text and "nan" not in text


def test_without_a_chatbot_the_answer_is_not_tested(tmp_path):
    stand_in = "persona judge stand-in (offline stand-in, not a chatbot)"
    text = compose_abstract(
        load_results(fake_book(tmp_path, judge=stand_in, is_chatbot=False))
    )
    assert "No chatbot answered in this build" in text
    assert f"not tested here: the judge was {stand_in}" in text
    assert "the answer is yes" not in text


def test_the_abstract_quotes_the_persona_chapters_claims_in_order_and_no_others(tmp_path):
    text = compose_abstract(load_results(fake_book(tmp_path)))
    second = text.index("(Chapter 2) “A persona prompt changes how a chatbot teacher drives")
    sixth = text.index("(Chapter 6) “A pixel student inherits its own judge's taste”: shown")
    assert second < sixth < text.index("(Chapter 6) “A chatbot's persona carries”: shown")
    assert "ELLM beats random" not in text and "The rule beats a random walk" not in text


def test_a_persona_chapter_without_a_claim_is_named(tmp_path):
    text = compose_abstract(load_results(fake_book(tmp_path)))
    assert "(Chapter 4) stated no claim in this build." in text


def test_a_chapter_without_a_headline_stops_the_abstract(tmp_path):
    fake_book(tmp_path, skip=("04_students",))
    with pytest.raises(MissingResults, match="04_students"):
        load_results(tmp_path)


def test_the_result_chapters_run_in_this_order_before_the_introduction_and_appendix():
    for mode in ("quick", "full"):
        order = [plan.name for plan in load_plan(mode)]
        positions = [order.index(chapter) for chapter in abstract.RESULT_CHAPTERS]
        assert positions == sorted(positions)
        assert (
            max(positions) < order.index("08_appendix") < order.index("00_introduction")
        )


def test_the_extraction_index_is_always_named_as_a_difference_of_aucs():
    assert readable("persona-extraction index, AUC own − AUC others (XGBoost students)") == (
        f"persona-extraction index of XGBoost students ({INDEX_MEANING})"
    )
    assert readable("extraction index (AUC difference) 0.46 [0.31, 0.60]") == (
        f"persona-extraction index ({INDEX_MEANING}) 0.46 [0.31, 0.60]"
    )
    assert readable("CartPole return: random walk") == "CartPole return: random walk"
    with pytest.raises(ValueError, match="difference of AUCs"):
        readable("extraction index by Spearman 0.3")


def test_the_main_claims_are_each_chapters_first_claim(tmp_path):
    table = main_claims(load_results(fake_book(tmp_path)).claims)
    assert list(table.chapter) == [
        "01_embodiment",
        "02_teacher_rollouts",
        "03_baselines",
        "05_ellm_rewards",
        "06_personality",
    ]
    assert list(table.columns) == ["chapter", "claim", "status", "evidence", "chatbot"]
    assert "R_int rises with survival" not in set(table.claim)
    assert INDEX_MEANING in table.evidence.iloc[-1]


def test_more_than_eight_main_claims_are_refused():
    claims = pd.DataFrame(
        [{"chapter": f"{i:02d}_c", **claim("c", True, "e", "t")} for i in range(9)]
    )
    with pytest.raises(ValueError, match="at most 8"):
        main_claims(claims)


def test_cartpole_returns_put_teachers_then_students_then_baselines(tmp_path):
    returns = cartpole_returns(load_results(fake_book(tmp_path)).headlines)
    assert list(returns.role) == ["teacher", "student", "baseline"]
    assert list(returns.label) == [
        "teacher newton (chatbot)",
        "best student of newton (mlp)",
        "baseline random walk",
    ]
    assert list(returns.is_chatbot) == [True, True, False]


def test_the_headline_figure_labels_its_axes_and_marks_chatbot_rows(tmp_path):
    returns = cartpole_returns(load_results(fake_book(tmp_path)).headlines)
    matrix = pd.DataFrame(
        [[0.9, np.nan], [0.4, 0.7]],
        index=pd.Index(["newton", "child"], name="student"),
        columns=pd.Index(["newton", "child"], name="teacher"),
    )
    figure = headline_figure(matrix, returns, CHATBOT)
    left, right = figure.axes[:2]
    assert left.get_xlabel().startswith("teacher") and left.get_ylabel().startswith(
        "student"
    )
    assert "undefined" in [text.get_text() for text in left.texts]
    assert (
        "return" in right.get_xlabel()
        and "95% CI" in right.get_xlabel()
        and "log" in right.get_xlabel()
    )
    colours = [matplotlib.colors.to_hex(bar.get_facecolor()) for bar in right.patches]
    assert colours == [
        matplotlib.colors.to_hex(c) for c in ("tab:red", "tab:red", "tab:grey")
    ]
    assert CHATBOT in figure._suptitle.get_text()


def test_the_appendix_tables_name_the_index_and_format_every_interval(tmp_path):
    fake_book(tmp_path)
    key_result(tmp_path, "01_embodiment", "A  key\nresult.")
    results = load_results(tmp_path)
    measures = abstract.measures_table(results.headlines)
    assert list(measures.columns) == ["chapter", "measure", "teacher", "chatbot?", "mean", "95% CI", "n"]
    index = measures[measures.chapter == "06_personality"].iloc[0]
    assert INDEX_MEANING in index.measure and (index["mean"], index["95% CI"]) == ("0.46", "[0.31, 0.60]")
    assert set(measures["chatbot?"]) == {"yes", "no"}
    claims = abstract.claims_table(results.claims)
    assert list(claims.columns) == ["chapter", "claim", "status", "evidence", "teacher"]
    assert INDEX_MEANING in claims[claims.chapter == "06_personality"].evidence.iloc[0]
    listed = abstract.key_results_list(results).splitlines()
    assert listed[0] == "- **01_embodiment**: A key result."
    assert len(listed) == len(abstract.RESULT_CHAPTERS) and "missing from this build" in listed[1]
