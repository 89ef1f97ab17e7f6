"""Chapter 04's experiment at tiny sizes: claims chosen by the evidence, stand-ins never called chatbots,
the 2023 part made only with the recordings, equal summaries from equal runs, clear upstream errors; its
labels asked exactly as chapter 02 asks its probes, and its recording complete at the quick book's size."""
import os
import time
from dataclasses import replace
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from eep_utils.book.figures import students as figures
from eep_utils.experiments.base import chatbot_folder
from eep_utils.book.style import figure_problems
from eep_utils.cartpole.evaluation import RandomPolicy, RandomWalkBaseline, play_episodes, save_random_walk
from eep_utils.cartpole.stand_in import AGAINST, TOWARD, RuleStandIn, StandInRule
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.teaching import ALL_TOP_LOGPROBS, ANY_CASE_CHOICE_GRAMMAR, ask_once, run_cartpole_teacher
from eep_utils.chat.teachers import make_teacher
from eep_utils.chat.transcripts import request_key
from eep_utils.chat.types import ChatAnswer, accepts_grammar
from eep_utils.experiments import students
from eep_utils.experiments import teachers as teacher_rollouts
from eep_utils.experiments.base import NOT_TESTABLE, NOT_TESTED, SHOWN
from eep_utils.experiments.params import StudentsParams, params_for
from eep_utils.personas import Voice
from eep_utils.study2023.fetch import LOCAL_FOLDER_VARIABLE, local_copy_problem

matplotlib.use("Agg")

ANGLE, SWING = "pole-angle", "pole-angular-velocity"
# Rules over the text state whose episodes are short (a few dozen frames), so that students play quickly.
# "lean" and "with the swing" choose differently wherever the pole swings against its lean: a difference
# of the pole's two quantities, which students shown a few episodes carry to the states they never visited.
# "against the swing" differs from "lean" wherever the pole swings at all.
LEAN = ((ANGLE, TOWARD), (SWING, TOWARD))
WITH_THE_SWING = ((SWING, TOWARD), (ANGLE, TOWARD))
AGAINST_THE_SWING = ((SWING, AGAINST), (ANGLE, TOWARD))
TINY = dict(quick=True, seed=1, teacher="auto", personas=["newton", "no_persona"], validation_fraction=0.25,
            eval_episodes=4, reproduction_episodes=4, replay_frames=200, dagger_iterations=1,
            dagger_rollout_episodes=2, dagger_max_labels=20, tune=False)
N_EPISODES = 10
MAIN, FOLLOWS = "A student of", "The XGBoost student of Newton differs"
EVERY_STUDENT, DEMONSTRATIONS = "Every student, trained and played", "The demonstrations each student learns from"
REPRODUCTION, SOFT_LABELS = "The 2023 table reproduced, every agent", "Students of hard and of soft labels"
RECORDINGS = os.environ.get(LOCAL_FOLDER_VARIABLE)  # the local copy conftest found, before any test hides it


class RuleTeacher(RuleStandIn):
    """A test double: a rule over the text state that says whether the chapter may take it for a chatbot."""

    def __init__(self, checks, is_chatbot: bool):
        super().__init__("newton")
        self.rule = StandInRule("a test rule", checks, "right")
        self.is_chatbot = is_chatbot
        self.label = f"test rule {checks} ({'taken for a chatbot' if is_chatbot else 'not a chatbot'})"


class RecordingRule(RuleTeacher):
    """A rule taken for a chatbot that honours a grammar, as the local one does; it keeps every request."""

    accepts_grammar = True

    def __init__(self, checks):
        super().__init__(checks, is_chatbot=True)
        self.requests = []

    async def acomplete(self, request):
        self.requests.append(request)
        return await super().acomplete(request)


def main_voice(persona: str) -> Voice:
    return Voice(persona, teacher_rollouts.MAIN_TEMPLATE, teacher_rollouts.MAIN_WORDING)


def prepared_artifacts(folder: Path, rules: dict, is_chatbot: bool, teacher_type=None) -> Path:
    """Chapter 01's random walk, and chapter 02's rollouts and probes of the main voices, as those chapters
    save them, at tiny sizes and with chapter 02's protocols."""
    walk = play_episodes(RandomPolicy(1), 20, 2, steps_per_decision=2)
    save_random_walk(folder, RandomWalkBaseline(walk.returns, 1, 2, 2))
    texts = [STUDY_2023.describe_state(state) for state in range(STUDY_2023.n_states)]
    probed = {}
    for persona, checks in rules.items():
        teacher, voice = (teacher_type or RuleTeacher)(checks, is_chatbot), main_voice(persona)
        played = run_cartpole_teacher(teacher, voice, teacher_rollouts.answer_protocol(2, False), N_EPISODES,
                                      seed=2023)
        played.save(folder / "rollouts" / persona)
        probed[voice] = ask_once(teacher, voice, texts, teacher_rollouts.answer_protocol(0, False))
    teacher_rollouts.save_probes(probed, folder)
    return folder


def factory(rules: dict, is_chatbot: bool):
    """The chapter's teachers (for its labels, experiment 04_students, and chapter 02's when its artefacts are
    missing): each persona's rule, whose persona the offline stand-in names."""
    return lambda experiment, stand_in: RuleTeacher(rules[stand_in.persona], is_chatbot)


def run(folder: Path, rules: dict, is_chatbot: bool, **changes):
    return students.run(StudentsParams.check({**TINY, **changes}), folder, factory(rules, is_chatbot))


@pytest.fixture(scope="module")
def without_recordings(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(LOCAL_FOLDER_VARIABLE, str(tmp_path_factory.mktemp("no-recordings")))
        yield


@pytest.fixture(scope="module")
def differing(tmp_path_factory):
    """Newton and the control taken for chatbots whose rules differ in some text states; with the 2023
    recordings where this machine has them."""
    rules = {"newton": LEAN, "no_persona": WITH_THE_SWING}
    folder = prepared_artifacts(tmp_path_factory.mktemp("differing"), rules, is_chatbot=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(LOCAL_FOLDER_VARIABLE, RECORDINGS or str(tmp_path_factory.mktemp("no-recordings")))
        yield run(folder, rules, is_chatbot=True)


def test_a_persona_difference_the_students_inherit_is_shown(differing):
    assert differing.claim(MAIN).status == SHOWN
    assert differing.claim(FOLLOWS).status == SHOWN, differing.claim(FOLLOWS).evidence
    assert "the students differ where the teachers differ" in differing.sentences["same_way"]
    assert differing.sentences["same_way"] in differing.key_result
    assert all(row["is_chatbot"] for row in differing.headline)
    assert differing.sentences["stand_in_note"].startswith("Every teacher here is a chatbot")
    # Every kind of student of every teacher is in the table, each played its episodes.
    table = differing.details[EVERY_STUDENT]
    assert {(t, k) for t in TINY["personas"] for k in students.STUDENT_KINDS} <= set(zip(table.teacher, table.student))
    assert {h["n"] for h in differing.headline} == {TINY["eval_episodes"]}
    assert set(differing.figures["dagger"]["histories"]) == set(TINY["personas"])


def test_without_a_persona_difference_the_claim_is_not_testable(tmp_path, without_recordings):
    rules = {"newton": LEAN, "no_persona": LEAN}
    result = run(prepared_artifacts(tmp_path, rules, is_chatbot=True), rules, is_chatbot=True)
    follows = result.claim(FOLLOWS)
    assert follows.status == NOT_TESTABLE
    assert "the teachers never differ there" in follows.evidence
    assert f"chose the same way in all {STUDY_2023.n_states} states" in result.caveat
    assert "not testable with this chatbot" in result.caveat


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory, without_recordings):
    """Teachers that are not chatbots, from the chapter's own `teacher: stand-in` setting; timed."""
    rules = {"newton": LEAN, "no_persona": AGAINST_THE_SWING}
    folder = prepared_artifacts(tmp_path_factory.mktemp("stand-ins"), rules, is_chatbot=False)
    started = time.perf_counter()
    result = students.run(StudentsParams.check({**TINY, "teacher": "stand-in"}), folder)
    return folder, result, time.perf_counter() - started


def test_stand_in_teachers_are_never_reported_as_chatbots(stand_ins):
    _, result, seconds = stand_ins
    assert seconds < 60, f"the chapter took {seconds:.0f} s at test size"
    assert {c.status for c in result.claims} == {NOT_TESTED}
    assert not any(row["is_chatbot"] for row in result.headline)
    assert result.sentences["stand_in_note"].startswith("Students of the stand-in teachers (newton, no_persona)")
    # The fidelity labels came from the chapter's stand-ins (RuleStandIn), which have no log-probabilities.
    assert "No teacher in this build gave token log-probabilities" in result.sentences["soft_labels"]
    assert SOFT_LABELS not in result.details


def test_without_the_recordings_the_2023_claims_are_not_made(stand_ins):
    _, result, _ = stand_ins
    assert len(result.claims) == 2
    assert result.claims[0].statement.startswith(MAIN) and result.claims[1].statement.startswith(FOLLOWS)
    assert result.sentences["pairing"].startswith("**The reproduction was skipped in this build:**")
    assert result.sentences["study_statement"] == "The 2023 recordings were not available to this build."
    assert "push_check" not in result.tables and "reproduction" not in result.figures
    assert REPRODUCTION not in result.details
    assert "chatgpt_2023" not in result.details[DEMONSTRATIONS]["demonstrations of"].tolist()


def test_two_runs_give_equal_summaries(stand_ins):
    folder, first, _ = stand_ins
    again = students.run(StudentsParams.check({**TINY, "teacher": "stand-in"}), folder)
    assert again.summary() == first.summary()


def test_the_figures_draw_from_the_result(stand_ins):
    folder, result, _ = stand_ins
    for draw in (figures.returns, figures.dagger):
        figure = draw(result)
        assert isinstance(figure, plt.Figure) and figure.axes[0].get_xlabel()
        assert figure_problems(figure) == [], draw.__name__
        plt.close(figure)
    assert figures.reproduction(result) is None  # no 2023 recordings in this run
    # Every detail reaches the appendix whole: saved as Parquet, its index a column.
    for title, table in result.details.items():
        table.to_parquet(folder / "detail.parquet")
        assert isinstance(table.index, pd.RangeIndex), title
    assert figures.student_episode(result).data[:6] == b"GIF89a"


@pytest.mark.skipif(bool(local_copy_problem()), reason="no local copy of the 2023 recordings")
def test_with_the_recordings_the_2023_student_is_reexamined_and_claimed(differing):
    assert len(differing.claims) == 4
    study_claims = differing.claims[2:]
    assert all(c.teacher.startswith("gpt-3.5-turbo as Newton (2023") for c in study_claims)
    assert all(c.status != NOT_TESTED for c in study_claims)
    # The arrays' misalignment is a property of the recordings, not of the sizes.
    assert differing.sentences["pairing"].startswith("Only 29 of the 4000 rows of the 2023 arrays")
    assert differing.tables["push_check"]["pairs checked"].tolist() == [3999, 3834]
    # The introduction states the re-examination from these numbers.
    assert (differing.numbers["own_action_rows"], differing.numbers["rows_2023"]) == (29, 4000)
    assert differing.numbers["aligned_return"] > 0 and differing.numbers["published_arrays_return"] > 0
    reproduced = differing.details[REPRODUCTION]
    assert ("XGBoost student, published model", "replayed as in 2023") in set(zip(reproduced.agent, reproduced.origin))
    figure = figures.reproduction(differing)
    assert figure_problems(figure) == []
    plt.close(figure)
    assert "Why the numbers differ" in differing.sentences["why_numbers_differ"]
    assert "chatgpt_2023" in differing.details[DEMONSTRATIONS]["demonstrations of"].tolist()
    assert any("chatgpt_2023" in row["measure"] for row in differing.headline)


@pytest.mark.skipif(bool(local_copy_problem()), reason="no local copy of the 2023 recordings")
def test_a_further_chatbots_run_leaves_the_2023_part_to_the_books_own(tmp_path):
    """On the model ladder a further chatbot runs in its own folder; the 2023 re-examination belongs to the
    recordings, not to a chatbot, and is made once, by the book's own run (which also keeps the random walk)."""
    rules = {"newton": LEAN, "no_persona": WITH_THE_SWING}
    book = prepared_artifacts(tmp_path, rules, is_chatbot=True)
    further = prepared_artifacts(chatbot_folder(book, "reader-model-7b"), rules, is_chatbot=True)
    (further / "random_walk.parquet").unlink()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(LOCAL_FOLDER_VARIABLE, RECORDINGS)
        result = run(further, rules, is_chatbot=True)
    assert result.notes == []  # the book's random walk was read, not made again
    assert len(result.claims) == 2 and "push_check" not in result.tables and "reproduction" not in result.figures
    assert "chatgpt_2023" not in result.details[DEMONSTRATIONS]["demonstrations of"].tolist()
    assert "once, with the book's own chatbot's run" in result.sentences["pairing"]


@pytest.mark.slow
def test_opened_alone_it_makes_chapters_01_and_02s_artefacts_and_says_so(tmp_path, without_recordings):
    rules = {"newton": LEAN, "no_persona": AGAINST_THE_SWING, "aristotle": LEAN}
    result = run(tmp_path, rules, is_chatbot=False)
    assert len(result.notes) == 2
    assert "random_walk.parquet was missing" in result.notes[0] and "chapter 01's experiment" in result.notes[0]
    assert "chapter 02's experiment at the quick book's sizes" in result.notes[1]
    assert (tmp_path / "rollouts" / "newton" / "frames.parquet").exists()
    assert run(tmp_path, rules, is_chatbot=False).notes == []  # made once, then read


def test_personas_without_newton_and_the_control_are_refused(tmp_path):
    with pytest.raises(ValueError, match="must include 'newton' and 'no_persona'"):
        students.run(StudentsParams.check({**TINY, "personas": ["newton", "aristotle"]}), tmp_path)


def test_labels_are_asked_as_chapter_02_asks_its_probes(tmp_path, without_recordings):
    rules = {"newton": LEAN, "no_persona": WITH_THE_SWING}
    folder = prepared_artifacts(tmp_path, rules, is_chatbot=True)
    asked = {}

    def teachers(experiment, stand_in):
        assert experiment == students.CHAPTER == "04_students"  # one experiment for every persona's labels
        asked[stand_in.persona] = RecordingRule(rules[stand_in.persona])
        return asked[stand_in.persona]

    students.run(StudentsParams.check(TINY), folder, teachers)
    texts = [STUDY_2023.describe_state(state) for state in range(STUDY_2023.n_states)]
    for persona, teacher in asked.items():
        prober = RecordingRule(rules[persona])  # chapter 02's probes of the same voice, every state
        ask_once(prober, main_voice(persona), texts, teacher_rollouts.answer_protocol(0, accepts_grammar(prober)))
        labels = {request_key(teacher.model, request) for request in teacher.requests}
        probes = {request_key(prober.model, request) for request in prober.requests}
        assert labels and labels <= probes, f"{persona}: a label request that is no probe of its voice"
        assert {(r.grammar, r.top_logprobs) for r in teacher.requests} == {(ANY_CASE_CHOICE_GRAMMAR, ALL_TOP_LOGPROBS)}


def test_the_sealed_recording_answers_every_label_the_quick_book_asks(tmp_path, without_recordings):
    """Chapter 04 alone at the quick book's sizes, replaying: it makes chapters 01 and 02's artefacts (chapter
    02 replaying its own recording), and every label it asks is in its recording (a miss would raise)."""
    params = replace(params_for(students.CHAPTER, quick=True), teacher="replay")
    result = students.run(params, tmp_path)
    assert not [note for note in result.notes if "skipped" in note]
    assert set(result.figures["dagger"]["histories"]) == set(params.personas)
    assert result.details[EVERY_STUDENT]["fidelity on own states (%)"].ne("—").all()
    # Every text state of every teacher is recorded, so no size of the book, and no rollout, can miss one.
    every_state = np.array([STUDY_2023.observation_of_state(state) for state in range(STUDY_2023.n_states)])
    for persona in params.personas:
        labeller = students._labeller(make_teacher("replay", stand_in=RuleStandIn(persona),
                                                   experiment=students.CHAPTER), main_voice(persona))
        actions, p_right = labeller(every_state)
        assert len(actions) == STUDY_2023.n_states and np.isfinite(p_right).any()


class UnusableTeacher(RuleTeacher):
    """Taken for a chatbot, it never answers with a decision (as an endpoint that ignores the instruction)."""

    async def acomplete(self, request):
        return ChatAnswer(text="Let us discuss optics instead.", model=self.model)


def test_a_chatbot_whose_decisions_were_unusable_is_not_testable_and_asked_nothing(tmp_path, without_recordings):
    rules = {"newton": LEAN, "no_persona": WITH_THE_SWING}
    folder = prepared_artifacts(tmp_path, rules, is_chatbot=True, teacher_type=UnusableTeacher)
    asked = []
    result = students.run(StudentsParams.check(TINY), folder,
                          lambda experiment, stand_in: asked.append(experiment) or UnusableTeacher({}, True))
    assert {claim.status for claim in result.claims} == {NOT_TESTABLE} and len(result.claims) == 2
    assert "“Let us discuss optics instead.”" in result.claims[0].evidence
    assert asked == []  # no label is asked of a teacher whose decisions the students could not learn from
