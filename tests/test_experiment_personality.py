"""Chapter 06's experiment at tiny sizes: claims as the evidence dictates, power that rises with a taste's
strength, requests exactly as recorded, reproducible, nothing printed.

Judges are test doubles: the offline stand-in (teacher "stand-in"), and chatbot-marked doubles that answer
"No" or "Yes" with log-probabilities, as SmolLM2 does, their P(yes) read from the creature behind the caption:
one visible generator trait per persona (both wordings and every template of a persona share it), or one
function for every judge with each judge's own noise (personas and wordings exchangeable).
"""
import contextlib
import io
import math
import time
import zlib

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from eep_utils.book.figures import personality as figures
from eep_utils.book.style import BOOK_RC, figure_problems
from eep_utils.chat.types import ChatAnswer
from eep_utils.chat.usage import Usage
from eep_utils.experiments import personality
from eep_utils.experiments.base import NOT_TESTABLE, NOT_TESTED, SHOWN
from eep_utils.experiments.params import ParameterError, PersonalityParams, params_for
from eep_utils.personality.contrasts import judge_contrast
from eep_utils.personality.creatures import generate_creatures, sample_traits, write_caption
from eep_utils.personality.judging import CAPTION_LABEL, judgment_request, one_line, system_message
from eep_utils.personas import MAIN_TEMPLATES, SEARCH_TEMPLATES, voices

matplotlib.use("Agg")

TINY = PersonalityParams.check(dict(
    quick=True, seed=2023, teacher="stand-in", personas=["five_year_old", "herpetologist", "aquarist", "no_persona"],
    test_fraction=0.33, gallery_size=3, max_in_flight=8, image_folder="", n_creatures=90, n_search=20,
    n_unconstrained=5, n_splits=2, n_resamples=100, n_shuffles=1, power_strengths=[1.0], power_replicates=1))
# Enough pictures for students to find a synthetic taste at full strength in every replicate.
POWERED = TINY.replace(n_creatures=150, power_strengths=[0.0, 1.0], power_replicates=2)
TRANSFER = "A chatbot's persona, not its wording"
JUDGES_DIFFER = "The chatbot's judging personas differ"
BOUND = "The chatbot's personas, if any, are weaker"


class LogprobDouble:
    """A chatbot (for the chapter) that answers like SmolLM2 under the grammar: "No" or "Yes", with the
    probability of each spelling at the answer token; P(yes) = `taste(voice, creature)`."""

    is_chatbot, accepts_grammar = True, True
    model = label = "log-probability double (test)"

    def __init__(self, taste, params=TINY):
        self.creatures = generate_creatures(params.n_creatures, params.seed)
        self.index = {one_line(caption): number for number, caption in enumerate(self.creatures.captions)}
        everyone = [*voices(params.personas, MAIN_TEMPLATES), *voices(params.personas, SEARCH_TEMPLATES)]
        # The few-shot voice shares you-are's system message; its persona (all a taste depends on) is the same.
        self.voice = {system_message(voice): voice for voice in reversed(everyone)}
        self.taste = taste
        self.requests = []
        self.usage = Usage()

    async def acomplete(self, request):
        self.requests.append(request)
        voice = self.voice[request.messages[0][1]]
        creature = self.index[request.last_user_message().split(f"{CAPTION_LABEL} ", 1)[1]]
        p_yes = float(np.clip(self.taste(voice, creature, self.creatures.traits), 0.01, 0.99))
        spellings = {"Yes": 0.4 * p_yes, " yes": 0.2 * p_yes, "No": 0.4 * (1 - p_yes), " no": 0.2 * (1 - p_yes),
                     "The": 0.4}
        top = [{"token": token, "logprob": math.log(p)} for token, p in spellings.items()]
        text = "Yes" if p_yes > 0.5 else "No"
        return ChatAnswer(text, self.model, logprobs=[{"token": text, "logprob": math.log(spellings[text]),
                                                       "top_logprobs": top}])


# Traits a pixel student can see (size, where the creature stands, the backdrop, its shape), one per persona.
OWN_TRAITS = {"five_year_old": "size", "herpetologist": "offset_x", "aquarist": "background",
              "no_persona": "roundness"}


def own_taste(voice, creature, traits):
    return traits[OWN_TRAITS[voice.persona]].rank(pct=True).iloc[creature]


def exchangeable(voice, creature, traits):
    """One function for every judge, plus the judge's own noise: no persona, no wording, only noise."""
    noise = np.random.default_rng(zlib.crc32(voice.label.encode())).normal(0, 0.15, len(traits))[creature]
    return traits["size"].rank(pct=True).iloc[creature] * 0.5 + 0.25 + noise


def run_with(double, artifacts_dir, params=TINY):
    return personality.run(params, artifacts_dir, teachers=lambda experiment, stand_in: double)


@pytest.fixture(scope="module")
def own_tastes(tmp_path_factory):
    """A run with personas of distinct visible tastes, alone in an empty artefacts folder, and its time."""
    artifacts_dir, printed = tmp_path_factory.mktemp("own-tastes"), io.StringIO()
    double = LogprobDouble(own_taste)
    started = time.perf_counter()
    with contextlib.redirect_stdout(printed):
        result = run_with(double, artifacts_dir)
    return result, artifacts_dir, time.perf_counter() - started, printed.getvalue(), double


@pytest.fixture(scope="module")
def no_persona(tmp_path_factory):
    """A run whose judges are one function plus noise (personas and wordings exchangeable)."""
    return run_with(LogprobDouble(exchangeable, POWERED), tmp_path_factory.mktemp("exchangeable"), POWERED)


def test_personas_with_their_own_visible_tastes_are_shown_at_judge_and_student_level(own_tastes):
    result = own_tastes[0]
    assert result.claim(TRANSFER).status == SHOWN, result.claim(TRANSFER).evidence
    assert result.claim(JUDGES_DIFFER).status == SHOWN, result.claim(JUDGES_DIFFER).evidence
    assert "persona transfer is **shown**" in result.key_result
    assert result.numbers["index_xgb_auc"].low > 0 and result.numbers["index_xgb_auc_p"] < 0.05
    assert result.numbers["judges_contrast"].low > 0.5  # each persona is its own rewording, others are not
    assert all(row["is_chatbot"] != row["teacher"].startswith("synthetic") for row in result.headline)


def test_judges_that_differ_only_by_noise_show_no_persona(no_persona):
    result = no_persona
    assert result.claim(TRANSFER).status != SHOWN, result.claim(TRANSFER).evidence
    assert result.claim(JUDGES_DIFFER).status != SHOWN, result.claim(JUDGES_DIFFER).evidence
    assert result.numbers["judges_contrast"].low < 0 < result.numbers["judges_contrast"].high


def test_the_like_with_like_contrast_is_zero_in_expectation_when_personas_and_wordings_are_exchangeable():
    rng = np.random.default_rng(7)
    signal = rng.normal(size=150)  # one function every judge shares, each with its own noise
    contrasts, p_values = [], []
    for _ in range(200):
        first, second = (signal + rng.normal(size=(5, 150)) for _ in range(2))
        contrast = judge_contrast({"t1": first[:, :]}, {"t1": second}, n_resamples=1, seed=0)
        contrasts.append(contrast.pooled.value)
        p_values.append(contrast.test.p_value)
    assert abs(np.mean(contrasts)) < 3 * np.std(contrasts) / np.sqrt(len(contrasts))
    assert np.mean(np.array(p_values) < 0.05) < 0.1  # the matching test keeps its level


def test_the_power_curve_rises_with_the_synthetic_strength_and_finds_a_strong_taste(no_persona):
    result = no_persona
    curve = result.figures["power"]["curve"]
    assert [row["strength"] for row in curve] == POWERED.power_strengths
    assert curve[0]["power"] < curve[-1]["power"] and curve[-1]["power"] == 1.0
    smallest = result.numbers["min_detectable"]
    assert np.isfinite(smallest.value) and smallest.low <= smallest.value <= 1.0 and smallest.n == 2
    effects = result.figures["power"]["judge_effects"]
    assert np.mean(effects[0.0]) < np.mean(effects[1.0])
    synthetic = [row for row in result.headline if "synthetic" in row["measure"]]
    assert synthetic and all(not row["is_chatbot"] and row["teacher"].startswith("synthetic") for row in synthetic)


def test_two_runs_give_equal_summaries(own_tastes, tmp_path):
    assert run_with(LogprobDouble(own_taste), tmp_path).summary_json() == own_tastes[0].summary_json()


def recorded_plan(n_main=240, n_search=40, n_free=40, seed=2023):
    """The requests /work/recording/record_ch06.py records, built as it builds them (the lead's script)."""
    personas = ["newton", "five_year_old", "herpetologist", "spider_and_bat_fan", "aquarist", "no_persona"]
    captions = [write_caption(row) for row in sample_traits(n_main, seed).to_dict("records")]
    plan = [(v, captions[:n_main], True) for v in voices(personas, MAIN_TEMPLATES)]
    plan += [(v, captions[:n_search], True) for v in voices(personas, SEARCH_TEMPLATES)]
    plan += [(v, captions[:n_free], False) for v in voices(personas, MAIN_TEMPLATES, (1,))]
    return {judgment_request(voice, caption, constrained) for voice, asked, constrained in plan for caption in asked}


def test_every_request_is_one_the_recording_holds(own_tastes):
    double, plan = own_tastes[4], recorded_plan()
    asked = set(double.requests)
    assert asked <= plan, next(iter(asked - plan)).preview()
    # Every judge of the chapter, in every template, asked at least once; with and without the grammar.
    systems = {request.messages[0][1] for request in asked}
    assert systems == {system_message(v) for v in voices(TINY.personas, (*MAIN_TEMPLATES, *SEARCH_TEMPLATES))}
    assert {request.grammar is None for request in asked} == {True, False}


def test_the_quick_and_full_sizes_are_what_the_recording_holds():
    full, quick = params_for("06_personality", quick=False), params_for("06_personality", quick=True)
    assert (full.n_creatures, full.n_search, full.n_unconstrained) == (240, 40, 40)
    assert set(quick.personas) <= set(full.personas) and quick.seed == full.seed
    assert quick.n_creatures <= full.n_creatures and quick.n_search <= full.n_search
    assert quick.n_unconstrained <= full.n_unconstrained


def test_with_the_offline_stand_in_nothing_is_claimed_about_a_chatbot(tmp_path):
    params = TINY.replace(n_creatures=30, n_search=10, n_unconstrained=2, personas=["five_year_old", "herpetologist",
                                                                                      "no_persona"],
                          power_replicates=1)
    result = personality.run(params, tmp_path)
    assert [c.status for c in result.claims] == [NOT_TESTED] * 3
    assert all("not a chatbot" in c.teacher and "stand-in" in c.evidence for c in result.claims)
    assert "nothing here shows that a chatbot's persona transfers" in result.caveat
    assert all(not row["is_chatbot"] for row in result.headline)
    judgments = pd.read_csv(tmp_path / "06_personality" / "judgments.csv")
    assert len(judgments) == 12 * 30 and judgments["answer"].str.contains('"score"').all()


def test_the_chapter_runs_alone_in_seconds_and_writes_its_judgments_and_matrix(own_tastes):
    result, artifacts_dir, seconds, printed, _ = own_tastes
    assert seconds < 60  # about 10 s on an idle machine at these sizes
    assert result.notes == []  # it reads no earlier chapter's artefact
    judgments = pd.read_csv(artifacts_dir / "06_personality" / "judgments.csv")
    assert len(judgments) == 16 * TINY.n_creatures
    assert judgments.groupby(["persona", "template", "wording"]).ngroups == 16
    matrix = result.exports["06_persona_matrix"]
    assert matrix.shape == (4, 4) and matrix.index.name == "student" and matrix.columns.name == "teacher"
    assert result.numbers["n_undefined_resamples"] == 0
    verdicts = result.details["Each judge's verdicts, P(cute) and answer mass"]
    assert verdicts["answer mass, mean (lowest)"].str.startswith("0.60").all()  # every spelling of yes and no


def test_every_figure_draws_from_the_result_in_the_book_style_and_nothing_is_printed(own_tastes, capsys):
    assert own_tastes[3] == ""  # the run printed nothing
    with plt.rc_context(BOOK_RC):
        drawn = [draw(own_tastes[0]) for draw in (figures.pictures, figures.judges, figures.agreement, figures.power)]
        assert all(isinstance(figure, Figure) and figure_problems(figure) == [] for figure in drawn)
    plt.close("all")
    assert capsys.readouterr().out == ""


def test_the_page_keeps_to_its_argument_and_the_appendix_gets_the_rest(own_tastes):
    result = own_tastes[0]
    assert set(result.tables) == {"captions", "extraction", "controls"}
    assert len(result.details) == 12
    assert all(table.index.equals(pd.RangeIndex(len(table))) for table in result.details.values())  # index hidden


def test_the_judges_must_include_the_neutral_control_and_two_personas_with_a_taste():
    with pytest.raises(ParameterError, match="no_persona"):
        TINY.replace(personas=["newton", "aquarist"])
    with pytest.raises(ParameterError, match="no_persona"):
        TINY.replace(personas=["newton", "no_persona"])
    with pytest.raises(ParameterError, match="aristotle.* is not allowed"):
        TINY.replace(personas=["aristotle", "newton", "aquarist", "no_persona"])


class JsonDouble(LogprobDouble):
    """A chatbot that answers its judgments as JSON cut short by max_tokens, as a model that ignores the
    instruction might: no verdict can be read."""

    async def acomplete(self, request):
        self.requests.append(request)
        return ChatAnswer('{"cute": tr', self.model)


def test_a_judge_whose_answers_are_unreadable_is_not_testable_and_says_why(tmp_path):
    result = run_with(JsonDouble(own_taste), tmp_path)
    assert {claim.status for claim in result.claims} == {NOT_TESTABLE}
    assert [c.statement for c in result.claims] == [personality.TRANSFER_STATEMENT, personality.JUDGES_STATEMENT,
                                                    personality.BOUND_STATEMENT]
    assert f"Only 0 of this chatbot's {TINY.n_creatures} pictures judged readably" in result.key_result
    assert "“{\"cute\": tr”" in result.claims[0].evidence
