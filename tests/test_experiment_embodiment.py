"""Chapter 01's experiment at tiny sizes: what it saves for later chapters, and how its claim and caveat are decided."""
import re
import time
from pathlib import Path

import jupytext
import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from eep_utils.book.figures import embodiment as figures
from eep_utils.book.style import figure_problems, use_book_style
from eep_utils.cartpole.embodiment import FIVE_WORDS, STUDY_2023
from eep_utils.cartpole.evaluation import load_random_walk
from eep_utils.experiments import embodiment
from eep_utils.experiments.base import INCONCLUSIVE, NOT_SHOWN, SHOWN
from eep_utils.experiments.params import EmbodimentParams
from eep_utils.stats import Estimate

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
TINY = EmbodimentParams.check({"quick": True, "seed": 7, "eval_episodes": 20, "cem_iterations": 2,
                               "cem_population": 6, "cem_episodes": 2})


def glued_names(notebook: Path) -> set[str]:
    """Every name a chapter's prose glues ({glue:text}`name:format` or {glue:md}`name`)."""
    prose = "\n".join(c.source for c in jupytext.read(notebook).cells if c.cell_type == "markdown")
    return set(re.findall(r"\{glue:(?:text|md)\}`([^`:]+)", prose))


def published_names(result) -> set[str]:
    """Every name `report.publish` glues for a result."""
    names = {"key_result", "caveat", *result.sentences}
    for name, value in result.numbers.items():
        names |= {name, f"{name}_low", f"{name}_high", f"{name}_n"} if isinstance(value, Estimate) else {name}
    return names


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("artifacts")
    started = time.perf_counter()
    result = embodiment.run(TINY, folder)
    return result, folder, time.perf_counter() - started


def test_it_runs_in_seconds_and_saves_what_later_chapters_read(tiny):
    result, folder, seconds = tiny
    assert seconds < 30
    walk = load_random_walk(folder, steps_per_decision=embodiment.STEPS_PER_DECISION_2023)
    assert len(walk.returns) == TINY.eval_episodes
    assert walk.summary() == result.numbers["random"]  # the walk later chapters read is the one reported here
    table = np.load(folder / embodiment.BEST_TABLE_FILE)
    assert table.shape == (STUDY_2023.n_states,) and set(np.unique(table)) <= {0, 1}


def test_every_name_the_prose_glues_is_published(tiny):
    result, _, _ = tiny
    missing = glued_names(ROOT / "notebooks" / "01_embodiment.md") - published_names(result)
    assert not missing, f"the chapter's prose glues names its result does not publish: {sorted(missing)}"


def test_two_runs_give_the_same_summary(tiny, tmp_path):
    result, _, _ = tiny
    assert embodiment.run(TINY, tmp_path).summary_json() == result.summary_json()


def test_the_result_has_its_claim_headline_tables_and_figures(tiny):
    result, _, _ = tiny
    assert [c.statement for c in result.claims][0].startswith("The 2023 text channel")
    assert {row["measure"] for row in result.headline} == {f"CartPole return: {n}" for n in embodiment.HEADLINE}
    assert not any(row["is_chatbot"] for row in result.headline)
    returns = result.details["Every policy's return on the same episodes"]
    assert returns["policy"].tolist() == list(result.figures["returns"]["estimates"])


def test_the_details_name_their_rows_in_a_column_since_the_appendix_hides_the_index(tiny):
    result, _, _ = tiny
    for title, table in result.details.items():
        assert isinstance(table.index, pd.RangeIndex), title
    reasons = result.details["Why each candidate body scores as it does"]
    assert set(reasons["environment"]) == set(result.tables["candidates"].index)


def test_the_figures_draw_from_the_result_in_the_books_style(tiny):
    result, _, _ = tiny
    with matplotlib.rc_context():
        use_book_style()
        for draw in (figures.candidates, figures.what_the_chatbot_sees, figures.text_states_met,
                     figures.search_progress, figures.returns):
            figure = draw(result)
            assert isinstance(figure, Figure) and figure_problems(figure) == [], draw.__name__
            plt.close(figure)


def estimate(value, half_width=1.0):
    return Estimate(value, value - half_width, value + half_width, 100)


@pytest.mark.parametrize("best, status, holds_back", [
    (estimate(200), SHOWN, False),   # clearly above chance and the rule
    (estimate(30), SHOWN, True),     # above chance, not above the rule
    (estimate(19.5), INCONCLUSIVE, True),  # overlaps the random walk
    (estimate(5), NOT_SHOWN, True),  # below chance
])
def test_the_claim_and_the_channel_statement_follow_the_intervals(best, status, holds_back):
    statement, claim = embodiment.channel_verdict(best, estimate(19), estimate(41), hold=2)
    assert claim.status == status
    assert statement.startswith("The text channel may itself") == holds_back


def test_the_caveat_says_the_search_fell_short_only_when_the_richer_table_is_clearly_worse():
    assert embodiment.refines(FIVE_WORDS, STUDY_2023) and not embodiment.refines(STUDY_2023, FIVE_WORDS)
    short = embodiment.search_caveat(estimate(90), estimate(160), TINY, hold=2)
    assert "falling short" in short and "the quick build's sizes" in short
    fine = embodiment.search_caveat(estimate(160), estimate(159), TINY.replace(quick=False), hold=2)
    assert "falling short" not in fine and "quick" not in fine
