"""Chapter 05 as an experiment: `eep_utils.experiments.ellm.run` at tiny sizes, with offline test doubles
for the goal-suggesting chatbot and the offline sentence model (all-MiniLM-L6-v2)."""
import ast
import json
from pathlib import Path

import jupytext
import matplotlib.pyplot as plt
import pytest

from eep_utils.book.figures import ellm as figures
from eep_utils.book.report import publish
from eep_utils.chat.types import ChatAnswer
from eep_utils.chat.usage import Usage
from eep_utils.ellm.goals import FEW_SHOT, GoalTemplateStandIn
from eep_utils.ellm.verdicts import verdict
from eep_utils.experiments import ellm
from eep_utils.experiments.base import INCONCLUSIVE, NOT_SHOWN, NOT_TESTED, SHOWN
from eep_utils.experiments.params import ParameterError, params_for

ROOT = Path(__file__).resolve().parent.parent
TINY = dict(embeddings="minilm", personas=["newton", "no_persona", "aristotle"], trajectory_episodes=3,
            eval_episodes=6, train_episodes=20, bootstrap_resamples=20, sweep_thresholds=[0.5, 0.99],
            sweep_ks=[1, 5])


def tiny(**changes):
    return params_for("05_ellm_rewards", quick=True).replace(**{**TINY, **changes})


class TemplatesAsChatbot(GoalTemplateStandIn):
    """The goal templates posing as a chatbot: personas differ, and its advice pushes both ways."""

    label, is_chatbot = "templates posing as a chatbot (test double)", True


class CopyingChatbot:
    """A chatbot that answers every state and persona with the prompt's worked example, as the book's
    135M chatbot does: one push everywhere, the same goals for every persona."""

    label, is_chatbot, model = "copying chatbot (test double)", True, "copy"

    def __init__(self):
        self.usage = Usage()

    async def acomplete(self, request):
        answer = ChatAnswer(FEW_SHOT[0][2], self.model)
        self.usage.add_answer(answer)
        return answer


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
    assert written == {"goals_per_persona.csv", "intrinsic_reward_by_agent.csv", "threshold_sweep.csv",
                       "reward_by_state.csv", "comparison.csv"}
    publish(result, folder)
    saved = json.loads((folder / "results" / "05_ellm_rewards.json").read_text())
    assert saved["claims"][0]["claim"].endswith("better than a random walk")
    assert (folder / "results" / "05_ellm_rewards.key_result.md").read_text() == result.key_result


def test_two_runs_give_equal_summaries(stand_in, tmp_path):
    _, result = stand_in
    assert ellm.run(tiny(teacher="stand-in"), tmp_path).summary() == result.summary()


def test_the_goals_are_asked_of_the_factorys_teacher_under_the_recorded_experiment(copying):
    factory, result = copying
    assert factory.asked == [("ellm-goals", GoalTemplateStandIn)]
    assert result.numbers["teacher_label"] == "copying chatbot (test double)"
    assert all(row["is_chatbot"] for row in result.headline)


def test_a_chatbot_that_copies_the_example_is_reported_as_such(copying):
    _, result = copying
    assert result.sentences["persona_note"].startswith("All 3 personas were given the same goals")
    assert "100% of the answers repeat the prompt's worked example" in result.sentences["persona_note"]
    assert "100% of its answers repeat the prompt's worked example" in result.key_result
    assert "larger chatbot" in result.caveat
    # Its advice is "push the cart left" everywhere: the student is that constant, so it gets no claim of its own.
    assert result.sentences["teacher_advice"].startswith("**The teacher's advice names one push in every state.**")
    statements = [claim.statement for claim in result.claims]
    assert not any("imitation student" in statement for statement in statements)
    assert "its imitation student is the same policy" in result.claim(
        "An agent trained on ELLM's intrinsic reward alone (a chatbot's goals as Newton) plays CartPole better "
        "than the chatbot acting on its own goals").evidence


@pytest.mark.parametrize("which", ["copying", "templates"])
def test_a_chatbots_claims_are_decided_by_their_own_intervals(which, request):
    result = request.getfixturevalue(which)
    result = result[1] if isinstance(result, tuple) else result
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


def test_a_chatbot_whose_personas_differ_keeps_the_student_claim(templates):
    assert templates.sentences["persona_note"].startswith("The personas' goals differ")
    assert len(templates.claims) == 4 and NOT_TESTED not in {claim.status for claim in templates.claims}
    assert "worked example" not in templates.key_result and "Its goals vary with the state" in templates.caveat


def test_numbers_are_plain_and_sentences_are_text(stand_in):
    _, result = stand_in
    summary = result.summary()
    json.dumps(summary)  # plain JSON values, nothing numpy
    assert summary["numbers"]["n_states"] == 81 and summary["numbers"]["hold"] == 2
    assert all(isinstance(text, str) and text for text in result.sentences.values())
    assert result.sentences["example_question"].startswith("```text\nValid actions: push the cart left")


def test_the_figures_draw_from_the_result(stand_in):
    _, result = stand_in
    for draw, panels in ((figures.trajectories, 1), (figures.threshold_sweep, 3), (figures.training, 2)):
        figure = draw(result)
        assert len(figure.axes) == panels and all(axis.get_ylabel() for axis in figure.axes)
        assert figure.axes[-1].get_xlabel() and (figure.get_suptitle() or figure.axes[0].get_title())
        plt.close(figure)


def test_without_newton_the_chapter_says_which_setting_to_fix(tmp_path):
    with pytest.raises(ParameterError, match="personas.*add 'newton'"):
        ellm.run(tiny(personas=["aristotle", "no_persona"]), tmp_path)


def test_the_notebooks_parameter_defaults_are_the_quick_values():
    cell = next(c for c in jupytext.read(ROOT / "notebooks" / "05_ellm_rewards.md").cells if c.cell_type == "code")
    defaults = {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body}
    quick = params_for("05_ellm_rewards", quick=True)
    assert {name: value for name, value in defaults.items() if name != "artifacts_dir"} == vars(quick)
