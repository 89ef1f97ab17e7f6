"""Chapter 06's experiment at tiny sizes: claims as the evidence dictates, reproducible, nothing printed.

Judges are test doubles: the offline stand-in (teacher "stand-in"), and a chatbot-marked double that reads
the creature behind each caption and answers from one generator trait per persona (both wordings of a
persona share it), or from one trait for every judge.
"""
import contextlib
import io
import json
import time

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.figure import Figure

from eep_utils.book.figures import personality as figures
from eep_utils.chat.types import ChatAnswer
from eep_utils.chat.usage import Usage
from eep_utils.experiments import personality
from eep_utils.experiments.base import NOT_SHOWN, NOT_TESTED, SHOWN
from eep_utils.experiments.params import PersonalityParams
from eep_utils.personality.creatures import generate_creatures
from eep_utils.personality.personas import NO_PERSONA, PERSONAS, one_line, reworded

matplotlib.use("Agg")

TINY = PersonalityParams.check(dict(
    quick=True, seed=2023, teacher="stand-in", test_fraction=0.33, gallery_size=3, max_in_flight=8,
    image_folder="", n_creatures=90, n_unconstrained=5, n_resamples=100, n_shuffles=1))
TRANSFER = "A chatbot's persona, not its wording"
JUDGES_DIFFER = "The chatbot's judging personas differ"


class TasteDouble:
    """A chatbot (for the chapter) with a built-in taste: each judge scores a creature by the percentile of one
    generator trait, read from the creature behind the caption. Both wordings of a judge share its trait."""

    is_chatbot, accepts_grammar = True, False
    model = label = "taste double (test)"

    def __init__(self, trait_of_judge: dict[str, str], params=TINY):
        creatures = generate_creatures(params.n_creatures, params.seed)
        percentiles = creatures.traits[sorted(set(trait_of_judge.values()))].rank(pct=True)
        self.creature = dict(zip(map(one_line, creatures.captions), percentiles.to_dict("records")))
        self.trait = {wording.system_message(): trait_of_judge[judge.key]
                      for judge in (*PERSONAS, NO_PERSONA) for wording in (judge, reworded(judge))}
        self.usage = Usage()

    async def acomplete(self, request):
        system = next((content for role, content in request.messages if role == "system"), None)
        caption = request.last_user_message().split("Caption: ", 1)[1]
        score = round(10 * self.creature[caption][self.trait[system]], 2)
        return ChatAnswer(json.dumps({"cute": score >= 5, "score": score}), self.model)


# Traits a pixel student can see (size, shape, eye size, where the creature stands, the backdrop), one each.
OWN_TASTES = {"Newton": "size", "five-year-old": "roundness", "herpetologist": "eye_size",
              "spider-and-bat fan": "offset_x", "aquarist": "background", "no persona": "offset_y"}
ONE_TASTE = {key: "size" for key in OWN_TASTES}


def run_with(double, artifacts_dir):
    return personality.run(TINY, artifacts_dir, teachers=lambda experiment, stand_in: double)


@pytest.fixture(scope="module")
def stand_in_runs(tmp_path_factory):
    return [personality.run(TINY, tmp_path_factory.mktemp(f"stand-in-{i}")) for i in range(2)]


@pytest.fixture(scope="module")
def own_tastes(tmp_path_factory):
    """A run with personas of distinct visible tastes, alone in an empty artefacts folder, and its time."""
    artifacts_dir, printed = tmp_path_factory.mktemp("own-tastes"), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(printed):
        result = run_with(TasteDouble(OWN_TASTES), artifacts_dir)
    return result, artifacts_dir, time.perf_counter() - started, printed.getvalue()


def test_with_the_offline_stand_in_nothing_is_claimed_about_a_chatbot(stand_in_runs):
    result = stand_in_runs[0]
    assert [c.status for c in result.claims] == [NOT_TESTED, NOT_TESTED]
    assert result.claims[0].statement.startswith(TRANSFER)
    assert all("not a chatbot" in c.teacher and "stand-in" in c.evidence for c in result.claims)
    assert "nothing here shows that a chatbot's persona transfers" in result.caveat
    assert all(not row["is_chatbot"] for row in result.headline)


def test_two_runs_give_equal_summaries(stand_in_runs):
    assert stand_in_runs[0].summary_json() == stand_in_runs[1].summary_json()


def test_the_chapter_runs_alone_in_seconds_and_writes_its_judgments_and_matrix(own_tastes):
    result, artifacts_dir, seconds, printed = own_tastes
    assert seconds < 60  # about 5 s on an idle machine at these sizes
    assert result.notes == []  # it reads no earlier chapter's artefact
    judgments = pd.read_csv(artifacts_dir / "06_personality" / "judgments.csv")
    assert len(judgments) == 12 * TINY.n_creatures and judgments["persona"].nunique() == 12
    matrix = result.exports["06_persona_matrix"]
    assert matrix.shape == (6, 6) and matrix.index.name == "student" and matrix.columns.name == "teacher"
    assert result.numbers["n_undefined_resamples"] == 0


def test_personas_with_their_own_visible_tastes_are_carried_into_their_students(own_tastes):
    result = own_tastes[0]
    assert result.claim(TRANSFER).status == SHOWN, result.claim(TRANSFER).evidence
    assert result.claim(JUDGES_DIFFER).status == SHOWN, result.claim(JUDGES_DIFFER).evidence
    assert "persona transfer is **shown**" in result.key_result
    assert result.numbers["index_xgb_auc"].low > 0 and result.numbers["index_xgb_auc_p"] < 0.05


def test_judges_that_all_answer_alike_show_no_persona(tmp_path):
    result = run_with(TasteDouble(ONE_TASTE), tmp_path)
    assert result.claim(TRANSFER).status != SHOWN, result.claim(TRANSFER).evidence
    assert result.claim(JUDGES_DIFFER).status == NOT_SHOWN, result.claim(JUDGES_DIFFER).evidence


def test_every_figure_draws_from_the_result_and_nothing_is_printed(own_tastes, capsys):
    assert own_tastes[3] == ""  # the run printed nothing
    drawn = [draw(own_tastes[0]) for draw in (figures.pictures, figures.taste_by_body_plan, figures.agreement,
                                              figures.controls, figures.gallery)]
    assert all(isinstance(figure, Figure) for figure in drawn)
    plt.close("all")
    assert capsys.readouterr().out == ""
