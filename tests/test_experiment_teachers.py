"""Chapter 02 as an experiment, at tiny sizes with the offline rule stand-ins: its claims come out as the
evidence dictates, two runs agree, it runs alone and fast, and it leaves its rollouts where chapter 04 and
the re-run page read them."""
import ast
import time
from dataclasses import asdict
from pathlib import Path

import jupytext
import matplotlib.pyplot as plt
import pytest
from IPython.display import Image
from matplotlib.figure import Figure

from eep_utils.book.figures import teachers as figures
from eep_utils.book.rerun import decisions_per_episode
from eep_utils.cartpole.episodes import EpisodeSet
from eep_utils.cartpole.stand_in import RuleStandIn
from eep_utils.experiments import teachers
from eep_utils.experiments.base import INCONCLUSIVE, NOT_SHOWN, NOT_TESTED, SHOWN
from eep_utils.experiments.params import ParameterError, TeacherRolloutsParams, params_for
from eep_utils.study2023.fetch import LOCAL_FOLDER_VARIABLE, local_copy_problem

ROOT = Path(__file__).resolve().parent.parent
TINY = TeacherRolloutsParams.check(dict(
    quick=True, seed=2023, teacher="stand-in", personas=["newton", "no_persona", "aristotle"], wordings=[1, 2],
    protocol="bounded", history_turns=2, max_in_flight=4, n_episodes=4, n_probe_states=3, n_resamples=50))
ROLLOUT_FOLDERS = {"newton", "newton-wording2", "no_persona", "no_persona-wording2", "aristotle",
                   "aristotle-wording2"}


class ChatbotDouble:
    """A rule stand-in marked as a chatbot, so that the claims are decided as they are for one. Only a
    test may do this: the book never passes a stand-in off as a chatbot."""

    is_chatbot = True

    def __init__(self, rule: RuleStandIn):
        self.rule, self.model, self.usage = rule, rule.model, rule.usage
        self.label = f"test double of a chatbot ({rule.model})"

    async def acomplete(self, request):
        return await self.rule.acomplete(request)


def as_chatbots(experiment, stand_in):
    """Each persona answered by its own rule (newton, no_persona and aristotle follow different rules)."""
    return ChatbotDouble(stand_in)


def all_alike(experiment, stand_in):
    """Every persona answered by one rule: personas that make no difference."""
    return ChatbotDouble(RuleStandIn("no_persona"))


@pytest.fixture(scope="module", autouse=True)
def without_the_2023_recordings(tmp_path_factory):
    """The 2023 run takes seconds to replay; the one test that needs it asks for it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(LOCAL_FOLDER_VARIABLE, str(tmp_path_factory.mktemp("empty") / "no 2023 recordings here"))
        yield


@pytest.fixture(scope="module")
def with_stand_ins(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stand-ins")
    return teachers.run(TINY, folder), folder


@pytest.fixture(scope="module")
def with_chatbots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chatbots")
    started = time.perf_counter()
    result = teachers.run(TINY, folder, teachers=as_chatbots)
    return result, folder, time.perf_counter() - started


def test_stand_ins_leave_both_claims_not_tested_and_say_so(with_stand_ins):
    result, _ = with_stand_ins
    assert [claim.status for claim in result.claims] == [NOT_TESTED, NOT_TESTED]
    assert result.claims[0].statement.startswith("Newton's persona changes")
    assert "stand-ins" in result.caveat and "No chatbot endpoint" in result.sentences["teachers_note"]
    assert not any(row["is_chatbot"] for row in result.headline)
    assert all("(stand-in)" in row["teacher"] or "not a chatbot" in row["teacher"] for row in result.headline)
    assert "not a chatbot" in result.key_result
    assert "skipped" in result.sentences["reproduction_note"] and "Skipped" in result.sentences["rule_agreement"]


def test_a_chatbot_whose_personas_differ_beyond_wording_shows_the_persona_effect(with_chatbots):
    result = with_chatbots[0]
    assert result.numbers["excess_newton"].low > 0, "the rules of newton and no_persona differ; their rewordings do not"
    assert result.claim("Newton's persona changes").status == SHOWN
    assert "moves the chatbot's behaviour by more than rewording" in result.sentences["excess_statement"]
    assert "moved the chatbot's behaviour by more than rewording" in result.caveat
    assert result.claim("Newton's CartPole returns").status in (SHOWN, INCONCLUSIVE)
    assert all(row["is_chatbot"] for row in result.headline)


def test_personas_that_make_no_difference_do_not_show_a_persona_effect(tmp_path):
    result = teachers.run(TINY, tmp_path, teachers=all_alike)
    assert result.numbers["excess_newton"].value == 0
    assert result.claim("Newton's persona changes").status in (NOT_SHOWN, INCONCLUSIVE)
    # Equal returns: a p-value of 1 cannot show that they differ, nor that they are equal.
    assert result.claim("Newton's CartPole returns").status == INCONCLUSIVE
    assert "a persona effect on behaviour is not shown" in result.caveat


def test_two_runs_agree_and_each_takes_seconds(with_chatbots):
    first, folder, took = with_chatbots
    again = teachers.run(TINY, folder, teachers=as_chatbots)  # a rebuild replaces the Minari datasets
    assert first.summary() == again.summary()
    assert first.summary_json() == again.summary_json()
    assert took < 30, f"chapter 02 at test size took {took:.1f} s"


def test_alone_in_an_empty_folder_it_leaves_the_rollouts_and_datasets_other_chapters_read(with_stand_ins):
    result, folder = with_stand_ins
    assert not result.notes, "chapter 02 reads no earlier chapter's artefact"
    assert {path.name for path in (folder / "rollouts").iterdir()} == ROLLOUT_FOLDERS
    newton = EpisodeSet.load(folder / "rollouts" / "newton")
    assert newton.n_episodes == TINY.n_episodes and newton.metadata["persona"] == "newton"
    assert set(decisions_per_episode(folder / "rollouts", TINY.personas)) == set(TINY.personas)
    assert len(result.tables["minari"]) == len(ROLLOUT_FOLDERS) == len(set(result.tables["minari"]["Minari dataset"]))
    assert (folder / "minari").is_dir()


def test_the_figures_draw_from_the_result(with_stand_ins):
    result, _ = with_stand_ins
    for draw in (figures.action_tables, figures.distances, figures.habits):
        figure = draw(result)
        assert isinstance(figure, Figure)
        plt.close(figure)
    animation = figures.episode_animation(result)
    assert isinstance(animation, Image) and animation.data[:3] == b"GIF"


def test_the_2023_recordings_join_the_rollouts_when_present(tmp_path, monkeypatch):
    shared = ROOT.parent / "shared" / "original-study"
    monkeypatch.setenv(LOCAL_FOLDER_VARIABLE, str(shared))
    if local_copy_problem():
        pytest.skip(f"no local copy of the 2023 recordings: {local_copy_problem()}")
    result = teachers.run(TINY, tmp_path)
    assert "2023 ChatGPT as Newton" in result.tables["teacher summary"].index
    assert "matched the literal rule" in result.sentences["rule_agreement"]
    assert EpisodeSet.load(tmp_path / "rollouts" / "chatgpt_2023").is_chatbot
    row = next(row for row in result.headline if row["teacher"] == "2023 ChatGPT as Newton")
    assert row["is_chatbot"] and row["n"] == 164


def test_the_chapter_refuses_personas_without_the_two_it_compares(tmp_path):
    with pytest.raises(ParameterError, match="must include 'newton' and 'no_persona'"):
        teachers.run(TINY.replace(personas=["newton", "aristotle"]), tmp_path)


def test_the_notebooks_defaults_are_the_quick_values():
    cell = next(c for c in jupytext.read(ROOT / "notebooks" / "02_teacher_rollouts.md").cells if c.cell_type == "code")
    defaults = {s.targets[0].id: ast.literal_eval(s.value) for s in ast.parse(cell.source).body}
    assert "artifacts_dir" in defaults
    assert TeacherRolloutsParams.from_notebook(defaults) == params_for("02_teacher_rollouts", quick=True)
    assert set(defaults) - {"artifacts_dir"} == set(asdict(params_for("02_teacher_rollouts", quick=True)))
