"""Chapter 05 as an experiment: `eep_utils.experiments.ellm.run` at tiny sizes, with offline test doubles
for the goal-suggesting chatbot and the offline sentence model (all-MiniLM-L6-v2), and the sealed recording
of SmolLM2's goals replayed."""
import ast
import json
from pathlib import Path

import jupytext
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from eep_utils.book.figures import ellm as figures
from eep_utils.book.report import publish
from eep_utils.book.style import BOOK_RC, figure_problems
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.chat.teachers import make_teacher
from eep_utils.chat.types import ChatAnswer
from eep_utils.chat.usage import Usage
from eep_utils.ellm.goals import (
    WORKED_EXAMPLES,
    GoalTemplateStandIn,
    example_set_of_states,
    example_sets,
    goal_requests,
)
from eep_utils.ellm.verdicts import verdict
from eep_utils.experiments import ellm
from eep_utils.experiments.base import INCONCLUSIVE, NOT_SHOWN, NOT_TESTABLE, NOT_TESTED, SHOWN
from eep_utils.experiments.params import ParameterError, params_for
from eep_utils.personas import voices

ROOT = Path(__file__).resolve().parent.parent
TINY = dict(embeddings="minilm", personas=["newton", "no_persona", "aristotle"], trajectory_episodes=3,
            eval_episodes=6, train_episodes=20, bootstrap_resamples=20, sweep_thresholds=[0.5, 0.99],
            sweep_ks=[1, 5])


def tiny(**changes):
    return params_for("05_ellm_rewards", quick=True).replace(**{**TINY, **changes})


class TemplatesAsChatbot(GoalTemplateStandIn):
    """The goal templates posing as a chatbot: personas differ, and its advice pushes both ways."""

    label, is_chatbot = "templates posing as a chatbot (test double)", True


def worked_answers(request) -> list[str]:
    """The answers of the worked exchanges a goal question showed (the assistant's turns before it)."""
    return [content for role, content in request.messages if role == "assistant"]


class CopyingChatbot:
    """A chatbot that answers every question with the first worked example it was shown, as SmolLM2 did with
    the single example of the first recording: the same goals for every persona, whatever the state."""

    label, is_chatbot, model = "copying chatbot (test double)", True, "copy"

    def __init__(self):
        self.usage = Usage()

    async def acomplete(self, request):
        answer = ChatAnswer(worked_answers(request)[0], self.model)
        self.usage.add_answer(answer)
        return answer


class HalfCopyingChatbot(TemplatesAsChatbot):
    """The goal templates posing as a chatbot that copies its last worked example in every third state."""

    label = "half-copying chatbot (test double)"

    async def acomplete(self, request):
        state = STUDY_2023.parse_description(request.messages[-1][1].split("You see:\n")[1].split("\nSuggest")[0])
        if state % 3 == 0:
            return ChatAnswer(worked_answers(request)[-1], self.model)
        return await super().acomplete(request)


def answered_by(teacher_class):
    asked = []

    def factory(experiment, stand_in):
        asked.append((experiment, type(stand_in)))
        return teacher_class()

    factory.asked = asked
    return factory


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    folder = tmp_path_factory.mktemp("empty-artifacts")
    return folder, ellm.run(tiny(teacher="stand-in"), folder)


@pytest.fixture(scope="module")
def copying(tmp_path_factory):
    factory = answered_by(CopyingChatbot)
    return factory, ellm.run(tiny(), tmp_path_factory.mktemp("copying"), teachers=factory)


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    return ellm.run(tiny(), tmp_path_factory.mktemp("templates"), teachers=answered_by(TemplatesAsChatbot))


def expected_status(difference):
    shown, decidable = verdict(difference)
    return SHOWN if shown else NOT_SHOWN if decidable else INCONCLUSIVE


# Which set of worked examples the first eight states' questions show (`example_set_of_states(2)`).
PINNED_DEAL = [1, 0, 2, 3, 0, 1, 2, 2]
DIFFERENCES = {"a random walk": "versus_random", "the imitation student of the same chatbot": "versus_student",
               "the chatbot acting on its own goals": "versus_teacher"}


def test_a_stand_in_is_labelled_as_one_and_tests_no_claim(stand_in):
    _, result = stand_in
    assert "not a chatbot" in result.numbers["teacher_label"]
    assert {claim.status for claim in result.claims} == {NOT_TESTED}
    assert len(result.claims) == 4  # the stand-in's advice pushes both ways: the student is a claim of its own
    assert not any(row["is_chatbot"] for row in result.headline)
    assert "not a chatbot" in result.caveat and result.numbers["teacher_label"] in result.key_result
    assert result.sentences["provenance"].endswith("asked in this build.")
    assert result.sentences["persona_note"].startswith("The personas' goals differ")


def test_the_chapter_runs_alone_in_an_empty_folder_and_publishes(stand_in):
    folder, result = stand_in
    assert not result.notes  # it reads no earlier chapter's artefact
    written = {path.name for path in (folder / "05_ellm").iterdir()}
    assert written == {"goals_per_persona.csv", "goal_dependence.csv", "intrinsic_reward_by_agent.csv",
                       "threshold_sweep.csv", "reward_by_state.csv", "comparison.csv"}
    publish(result, folder)
    saved = json.loads((folder / "results" / "05_ellm_rewards.json").read_text())
    assert saved["claims"][0]["claim"].endswith("better than a random walk")
    assert (folder / "results" / "05_ellm_rewards.key_result.md").read_text() == result.key_result


def test_two_runs_give_equal_summaries(stand_in, tmp_path):
    _, result = stand_in
    assert ellm.run(tiny(teacher="stand-in"), tmp_path).summary() == result.summary()


def test_the_goals_are_asked_of_the_factorys_teacher_under_the_recorded_experiment(copying):
    factory, result = copying
    assert factory.asked == [("05_ellm_rewards", GoalTemplateStandIn)]
    assert result.numbers["teacher_label"] == "copying chatbot (test double)"
    assert all(row["is_chatbot"] for row in result.headline)


def test_a_chatbot_that_copies_an_example_everywhere_is_not_testable(copying):
    _, result = copying
    numbers = result.numbers
    assert numbers["copied_pct"] == 100 and numbers["state_dependent_states"] == 0
    assert {claim.status for claim in result.claims} == {NOT_TESTABLE}
    for claim in result.claims:  # the evidence is the goals' dependence on the state, never a difference in return
        assert "depend on the text state in 0 of the 81 text states" in claim.evidence
        assert "difference in return" not in claim.evidence
    assert "not testable with this chatbot" in result.key_result
    assert "100% of its answers copy a worked example" in result.key_result
    assert "frames" not in result.key_result and "random walk" not in result.key_result  # no comparison
    assert "cannot test ELLM's premise" in result.caveat and "0 of the 81 text states" in result.caveat
    assert result.sentences["result_status"].startswith("**Not testable with this chatbot.**")
    assert "not testable with this chatbot" in result.sentences["dependence_note"]
    assert result.sentences["persona_note"].startswith("All 3 personas were given the same goals")
    assert result.tables["claims"]["status"].eq(NOT_TESTABLE).all()


def test_the_copy_share_and_the_state_dependence_are_counted_on_a_handmade_chatbot(tmp_path):
    """Every third state copies the last worked example; the rest are the templates' goals about the state."""
    result = ellm.run(tiny(personas=["newton", "no_persona"]), tmp_path, teachers=answered_by(HalfCopyingChatbot))
    copied = STUDY_2023.n_states // 3
    assert result.numbers["copied_pct"] == pytest.approx(100 * copied / STUDY_2023.n_states)
    table = result.tables["dependence"]
    assert table.loc["newton · you-are · w1", "answers copying a worked example"] == f"{100 * copied / 81:.0f}%"
    # The templates' goals differ from the common answer of the same examples in most of the other states.
    dependent = result.numbers["state_dependent_states"]
    assert 41 <= dependent <= STUDY_2023.n_states - copied
    assert NOT_TESTABLE not in {claim.status for claim in result.claims}
    # Newton's and the control's goals differ wherever neither copies the same example.
    assert table.loc["newton · you-are · w1", "goals differ from the control's"] == f"{100 * (81 - copied) / 81:.0f}%"
    assert table.loc["no_persona · you-are · w1", "goals differ from the control's"] == "—"


@pytest.mark.parametrize("which", ["copying", "templates"])
def test_a_chatbots_claims_keep_the_student_claim_unless_its_advice_is_one_push(which, request):
    result = request.getfixturevalue(which)
    result = result[1] if isinstance(result, tuple) else result
    advice_is_constant = result.sentences["teacher_advice"].startswith("**The teacher's advice names one push")
    statements = [claim.statement for claim in result.claims]
    assert any("imitation student" in statement for statement in statements) != advice_is_constant


def test_a_chatbot_whose_goals_depend_on_the_state_has_its_claims_decided_by_their_intervals(templates):
    result = templates
    assert result.numbers["state_dependent_pct"] > 50 and result.numbers["copied_pct"] == 0
    assert NOT_TESTABLE not in {claim.status for claim in result.claims}
    for claim in result.claims[:-1]:
        label = claim.statement.split("better than ")[1]
        difference = result.numbers[DIFFERENCES[label]]
        assert claim.status == expected_status(difference), claim
        assert str(difference) in claim.evidence
    rate = result.claims[-1]
    assert rate.statement == ellm.CLAIM_RATE and str(result.numbers["rho_rate"]) in rate.evidence
    shown = result.numbers["rho_rate"].low > 0
    decided = shown or result.numbers["rho_rate"].high <= 0
    assert rate.status == (SHOWN if shown else NOT_SHOWN if decided else INCONCLUSIVE)
    assert result.sentences["result_status"].endswith("the claims below are decided by their intervals.")


def test_a_chatbot_whose_personas_differ_keeps_the_student_claim(templates):
    assert templates.sentences["persona_note"].startswith("The personas' goals differ")
    assert len(templates.claims) == 4 and NOT_TESTED not in {claim.status for claim in templates.claims}
    assert "worked example" not in templates.key_result and "Its goals vary with the state" in templates.caveat


def test_goal_requests_are_deterministic_and_never_show_a_state_its_own_answer():
    for voice in voices(["newton", "no_persona"], ("you-are", "imagine"), (1, 2)):
        assert goal_requests(voice, 5, 2) == goal_requests(voice, 5, 2)
    dealt = example_set_of_states(2)
    np.testing.assert_array_equal(dealt, example_set_of_states(2))
    # The seeded deal, pinned: a change here changes every recorded request.
    assert list(dealt[:8]) == PINNED_DEAL
    sets = example_sets(2)
    assert len(sets) == 4 and [e for s in sets for e in s] == list(WORKED_EXAMPLES)
    assert set(np.bincount(dealt)) <= {20, 21, 22}  # dealt round the sets
    for state, chosen in enumerate(dealt):
        assert all(STUDY_2023.state_of_words(example.words) != state for example in sets[chosen])
    # Every voice sees the same worked examples in the same state: only the system message differs.
    newton, control = goal_requests("newton", 5, 2), goal_requests("no_persona", 5, 2)
    assert all(a.messages[1:] == b.messages[1:] and a.messages[0] != b.messages[0] for a, b in zip(newton, control))
    assert all(request.max_tokens == 60 for request in newton)  # answers are kept short
    assert len(goal_requests("newton", 5, 0)[0].messages) == 2  # no worked example: system and question


def test_an_example_count_that_does_not_cut_the_pool_into_sets_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="worked_examples = 3 .* use 0, 1, 2, 4 or 8"):
        ellm.run(tiny(worked_examples=3, teacher="stand-in"), tmp_path)


def test_replaying_the_sealed_recording_of_smollm2_misses_no_goal_request(tmp_path):
    """Every goal question the full book asks (the quick book asks a subset) is in the sealed recording, and
    the chapter runs on it with the replaying teacher alone."""
    full, quick = params_for("05_ellm_rewards", quick=False), params_for("05_ellm_rewards", quick=True)
    asked = voices(full.personas, full.templates, full.wordings)
    assert set(voices(quick.personas, quick.templates, quick.wordings)) <= set(asked)
    teachers = []

    def replaying(experiment, stand_in):
        teachers.append(make_teacher("replay", stand_in=stand_in, experiment=experiment))
        return teachers[-1]

    result = ellm.run(tiny(personas=full.personas, templates=full.templates, wordings=full.wordings,
                           worked_examples=full.worked_examples, k=full.k), tmp_path, teachers=replaying)
    [teacher] = teachers
    assert teacher.is_chatbot and "SmolLM2" in teacher.label
    assert teacher.usage.replayed == len(asked) * STUDY_2023.n_states and teacher.usage.misses == 0
    assert result.sentences["provenance"] == (
        f"All {len(asked) * 81} answers ({len(asked)} voices × 81 text states) came from {teacher.label}, "
        f"{len(asked) * 81} of them replayed from its recordings.")


def test_numbers_are_plain_and_sentences_are_text(stand_in):
    _, result = stand_in
    summary = result.summary()
    json.dumps(summary)  # plain JSON values, nothing numpy
    assert summary["numbers"]["n_states"] == 81 and summary["numbers"]["hold"] == 2
    assert all(isinstance(text, str) and text for text in result.sentences.values())
    assert result.sentences["example_question"].startswith("```text\n[system]\nYou are Sir Isaac Newton. Your task")
    assert result.sentences["example_question"].count("[assistant]") == result.numbers["worked_examples"] == 2


def test_the_figure_draws_from_the_result_in_the_book_style(stand_in):
    _, result = stand_in
    with plt.rc_context(BOOK_RC):
        figure = figures.returns(result)
    assert figure_problems(figure) == []
    assert figure.axes[0].get_xlabel().startswith("CartPole return (frames") and figure.get_suptitle()
    plt.close(figure)


def test_the_page_keeps_to_its_argument_and_the_appendix_gets_the_rest(stand_in):
    _, result = stand_in
    assert set(result.tables) == {"top goals", "dependence", "differences", "claims"}
    assert len(result.details) == 10 and all(table.index.equals(pd.RangeIndex(len(table)))
                                            for table in result.details.values())  # the appendix hides the index
    goals = result.tables["top goals"]
    assert list(goals.columns) == ["newton", "no_persona", "aristotle"] and goals.index.name == "rank"


def test_without_newton_the_chapter_says_which_setting_to_fix(tmp_path):
    with pytest.raises(ParameterError, match="personas.*add 'newton'"):
        ellm.run(tiny(personas=["aristotle", "no_persona"]), tmp_path)


def test_the_notebooks_parameter_defaults_are_the_quick_values():
    cell = next(c for c in jupytext.read(ROOT / "notebooks" / "05_ellm_rewards.md").cells if c.cell_type == "code")
    defaults = {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body}
    quick = params_for("05_ellm_rewards", quick=True)
    assert {name: value for name, value in defaults.items() if name != "artifacts_dir"} == vars(quick)


class SilentChatbot(CopyingChatbot):
    """A chatbot that answers every goal question with no goal at all."""

    label, model = "silent chatbot (test double)", "silent"

    async def acomplete(self, request):
        return ChatAnswer("As an AI, I can't advise on that.", self.model)


def test_a_chatbot_that_gives_no_goals_is_not_testable_and_says_why(tmp_path):
    result = ellm.run(tiny(), tmp_path, teachers=answered_by(SilentChatbot))
    assert {claim.status for claim in result.claims} == {NOT_TESTABLE} and len(result.claims) == 4
    assert f"Only 0 of this chatbot's {STUDY_2023.n_states} goal lists as newton" in result.key_result
    assert "“As an AI, I can't advise on that.”" in result.claims[0].evidence
