"""The introduction and the appendix: an abstract, a figure and a claims table chosen by the chapters' results."""
import matplotlib
import pytest

from eep_utils.book import abstract
from eep_utils.book.abstract import (BOUND_CLAIM, CARTPOLE_BOUND_CLAIM, CARTPOLE_CLAIM, JUDGES_CLAIM, MAIN_CLAIMS,
                                     TRANSFER_CLAIM, MissingResults, compose_abstract, figure_caption,
                                     headline_figure, load_results, main_claims)
from eep_utils.book.report import save_results
from eep_utils.experiments.base import ChapterResult, Claim, Usability, headline_row, untestable_result
from eep_utils.personality.agreement import INDEX_MEANING
from eep_utils.stats import Estimate

matplotlib.use("Agg")

SMOL, READER = "SmolLM2-135M-Instruct-Q4_1 (llama.cpp, local)", "reader-7b (your endpoint)"


def chapter(name, chatbot, claims, numbers=None):
    return ChapterResult(name, key_result=f"{name} found something.", chatbot=chatbot, numbers=numbers or {},
                         claims=[Claim.decided(statement, verdict, "evidence", chatbot) for statement, verdict in claims],
                         headline=[headline_row("a measure", Estimate(1.0, 0.5, 1.5, 9), chatbot, True)])


def judging(chatbot, transfer=None, judges=True, bound=True, effect=(0.03, 0.02, 0.05), detectable=(0.33, 0.3, 0.35)):
    return chapter("06_personality", chatbot,
                   [(TRANSFER_CLAIM, transfer), (JUDGES_CLAIM + " the same persona", judges),
                    (BOUND_CLAIM + " the students detect with 80% power", bound)],
                   {"judges_contrast": Estimate(*effect, 240), "index_xgb_auc": Estimate(0.01, -0.02, 0.03, 79),
                    "min_detectable": Estimate(0.4, 0.35, 0.4, 8), "synthetic_effect_at_min": Estimate(*detectable, 8)})


def driving(chatbot):
    return chapter("02_teacher_rollouts", chatbot,
                   [(CARTPOLE_CLAIM + " by more than rewording it does", False),
                    ("Newton's CartPole returns differ", None), (CARTPOLE_BOUND_CLAIM + " than the test", True)],
                   {"newton_effect": Estimate(-0.01, -0.013, -0.007, 81), "min_detectable": 0.075,
                    "effect_at_min": 0.013})


def book(folder, results_06=None, with_2023=True, skip=()):
    """Every result chapter saved as the build saves it; chapters 02 and 06 with chosen claims and numbers."""
    others = {"01_embodiment": ("none", "A claim of 01"), "03_baselines": ("none (random walk)", "A claim of 03"),
              "05_ellm_rewards": (SMOL, "An agent trained on ELLM's intrinsic reward alone beats a random walk")}
    for name, (who, statement) in others.items():
        if name not in skip:
            save_results([chapter(name, who, [(statement, True)])], folder)
    students = chapter("04_students", SMOL, [("A student of SmolLM2 as Newton agrees", True),
                                             ("The 2023 recipe does better on correctly paired frames", True)],
                       {"own_action_rows": 29, "rows_2023": 4000, "aligned_return": 23.06,
                        "published_arrays_return": 20.58} if with_2023 else {})
    save_results([students], folder)
    save_results([driving(SMOL)], folder)
    if "06_personality" not in skip:
        save_results(results_06 or [judging(SMOL)], folder)
    return folder


def test_the_abstract_gives_the_answer_as_a_bound_with_its_numbers_and_the_2023_finding(tmp_path):
    text = compose_abstract(load_results(book(tmp_path)))
    assert text.startswith(abstract.QUESTION)
    assert f"**{SMOL}:**" in text and "0.03 [0.02, 0.05]" in text
    assert "differ from each other by more than from their own rewordings" in text
    assert "(-0.010 [-0.013, -0.007] in P(right) over text states)" in text
    assert "Any persona it holds is weaker than the smallest this pipeline detects with 80% power" in text
    assert "s = 0.40 [0.35, 0.40]" in text and "0.33 [0.30, 0.35]" in text
    assert "no pixel student is shown to carry them (extraction index 0.01 [-0.02, 0.03]" in text
    assert "moved its CartPole decisions no more than rewording did" in text and "7.5% of the states" in text
    assert "only 29 of the 4,000 training pairs" in text and "23.06 frames against 20.58" in text


@pytest.mark.parametrize("transfer, bound, says", [
    (True, None, "pixel students carry them"),
    (None, None, "so this null result sets no bound"),
    (False, False, "so this null result sets no bound"),
])
def test_the_answer_is_chosen_by_the_claims(tmp_path, transfer, bound, says):
    text = compose_abstract(load_results(book(tmp_path, [judging(SMOL, transfer=transfer, bound=bound)])))
    assert says in text
    assert ("weaker than the smallest" in text) is False


def test_every_chatbot_gets_its_answer_and_its_column(tmp_path):
    results = load_results(book(tmp_path, [judging(SMOL), judging(READER, judges=False, bound=False)]))
    text = compose_abstract(results)
    assert text.index(f"**{SMOL}:**") < text.index(f"**{READER}:**")
    assert "differ from each other no more than from their own rewordings" in text
    table = main_claims(results.claims)
    assert {SMOL, READER} <= set(table.columns)
    bound_row = table[table.claim.str.startswith(BOUND_CLAIM)].iloc[0]
    assert (bound_row[SMOL], bound_row[READER]) == ("shown", "not shown")


def test_the_main_claims_are_the_persona_claims_their_bounds_and_the_2023_finding(tmp_path):
    table = main_claims(load_results(book(tmp_path)).claims)
    assert len(table) <= abstract.MAX_MAIN_CLAIMS
    assert list(table.chapter) == ["02", "02", "04", "04", "05", "06", "06", "06"][:len(table)]
    assert any(table.claim.str.startswith("The 2023 recipe does better"))
    assert sum(len(starts) for starts in MAIN_CLAIMS.values()) <= abstract.MAX_MAIN_CLAIMS


def test_the_figure_shows_every_chatbots_effects_beside_the_detectable_one_in_grey(tmp_path):
    results = load_results(book(tmp_path, [judging(SMOL), judging(READER)]))
    figure = headline_figure(results)
    personality, cartpole = figure.axes
    labels = [label.get_text() for label in personality.get_yticklabels()]
    assert "judges: persona beyond wording (SmolLM2-135M-Instruct-Q4_1)" in labels
    assert "synthetic judges at 80% power (reader-7b)" in labels
    assert personality.get_title() == "Game of personality" and "95% CI" in personality.get_xlabel()
    assert "wholly below" in figure_caption(results) and "grey" in figure_caption(results)


def test_the_caption_says_when_the_effect_is_not_below_the_detectable_one(tmp_path):
    results = load_results(book(tmp_path, [judging(SMOL, effect=(0.3, 0.25, 0.4))]))
    assert "not wholly below" in figure_caption(results)


def test_a_missing_chapter_stops_the_page_or_is_run_here_when_opened_alone(tmp_path, monkeypatch):
    book(tmp_path, skip=("06_personality",))
    with pytest.raises(MissingResults, match="06_personality"):
        load_results(tmp_path)
    ran = []
    monkeypatch.setattr(abstract, "run_chapter", lambda name, params, folder: ran.append(name) or [judging(SMOL)])
    results = load_results(tmp_path, quick=True)
    assert ran == ["06_personality"] and "06_personality had not run" in results.notes[0]
    assert "quick book's sizes" in results.notes[0]


def test_without_the_2023_recordings_the_abstract_says_so(tmp_path):
    assert "The 2023 recordings were not available" in compose_abstract(load_results(book(tmp_path, with_2023=False)))


def test_the_appendix_tables_name_the_index_and_format_every_interval(tmp_path):
    results = load_results(book(tmp_path))
    measures = abstract.measures_table(results.headlines)
    assert list(measures.columns) == ["chapter", "measure", "teacher", "chatbot?", "mean", "95% CI", "n"]
    assert set(measures["95% CI"]) == {"[0.50, 1.50]"}
    claims = abstract.claims_table(results.claims.assign(
        evidence=results.claims.evidence.where(results.claims.chapter != "06_personality",
                                               "extraction index (AUC difference) 0.01")))
    assert INDEX_MEANING in claims[claims.chapter == "06_personality"].evidence.iloc[0]
    listed = abstract.key_results_list(results).splitlines()
    assert listed[0] == "- **01_embodiment**: 01_embodiment found something."


def test_a_chatbot_whose_personas_could_not_be_tested_is_said_so_and_drawn_without_a_dot(tmp_path):
    # The ladder names the chatbot; its claims name the teacher as the chapter saw it.
    untestable = untestable_result("06_personality", [TRANSFER_CLAIM, JUDGES_CLAIM, BOUND_CLAIM],
                                   Usability("pictures judged readably by all 8 judges", 0, 90), "reader-7b at a URL")
    untestable.chatbot = READER
    why = untestable.sentences["usability"]
    results = load_results(book(tmp_path, results_06=[judging(SMOL), untestable]))
    text = compose_abstract(results)
    assert f"**{READER}:** its judging personas could not be tested. {why}" in text
    assert f"For {READER}, too few answers could be read" in figure_caption(results)
    headline_figure(results)
