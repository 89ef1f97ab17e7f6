"""Chapter 02 as an experiment, at tiny sizes with the offline rule stand-ins and chatbot-marked test doubles: its
claims come out as the evidence dictates, its requests are the ones recorded, two runs agree, it runs alone and
fast, and it leaves its rollouts where chapter 04 and the re-run page read them."""
import ast
import math
import time
from dataclasses import asdict
from pathlib import Path

import jupytext
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from IPython.display import Image
from matplotlib.figure import Figure

from eep_utils.book.figures import teachers as figures
from eep_utils.book.style import figure_problems
from eep_utils.cartpole.contrasts import PersonaContrast
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.episodes import EpisodeSet
from eep_utils.cartpole.stand_in import RuleStandIn
from eep_utils.cartpole.teaching import (FEW_SHOT_2023, TASK_PROMPT_2023, BoundedConversation, BoundedHistoryProtocol,
                                         ask_once, decide, run_cartpole_teacher)
from eep_utils.chat.running import run_sync
from eep_utils.chat.transcripts import request_key
from eep_utils.chat.types import ChatAnswer
from eep_utils.experiments import teachers
from eep_utils.experiments.base import INCONCLUSIVE, NOT_SHOWN, NOT_TESTABLE, NOT_TESTED, SHOWN
from eep_utils.experiments.params import ParameterError, TeacherRolloutsParams, params_for
from eep_utils.personas import PERSONAS, template_named, voices
from eep_utils.stats import Estimate
from eep_utils.study2023.fetch import LOCAL_FOLDER_VARIABLE, local_copy_problem

ROOT = Path(__file__).resolve().parent.parent
TINY = TeacherRolloutsParams.check(dict(
    quick=True, seed=2023, teacher="stand-in", personas=["newton", "no_persona", "aristotle"],
    templates=["you-are", "imagine"], protocol="bounded", history_turns=2, max_in_flight=4, n_episodes=3,
    n_resamples=200, n_permutations=200, power_shares=[0.0, 0.1, 0.3], power_replicates=8))
ROLLOUT_FOLDERS = {"newton", "no_persona", "aristotle", *(f"{p}-you-are-w2" for p in TINY.personas),
                   *(f"{p}-imagine-w{w}" for p in TINY.personas for w in (1, 2))}


class ChatbotDouble:
    """A rule stand-in marked as a chatbot that honours a grammar, so that the claims are decided and the
    requests built as they are for one; it keeps every request it is asked. Only a test may do this: the
    book never passes a stand-in off as a chatbot."""

    is_chatbot = True
    accepts_grammar = True

    def __init__(self, rule: RuleStandIn):
        self.rule, self.model, self.usage = rule, rule.model, rule.usage
        self.label = f"test double of a chatbot ({rule.model})"
        self.requests = []

    async def acomplete(self, request):
        self.requests.append(request)
        return await self.rule.acomplete(request)


class WordingDouble(ChatbotDouble):
    """Answers by the wording, whatever the persona: one rule for every first wording, another for every
    second. Its personas differ exactly as much as their wordings do."""

    SECOND_WORDINGS = tuple(persona.identity(2) for persona in PERSONAS.values())

    def __init__(self):
        super().__init__(RuleStandIn("newton"))
        self.reworded = RuleStandIn("aristotle")

    async def acomplete(self, request):
        system = request.messages[0][1]
        rule = self.reworded if any(identity in system for identity in self.SECOND_WORDINGS) else self.rule
        return await rule.acomplete(request)


def as_chatbots(experiment, stand_in):
    """Each persona answered by its own rule (newton, no_persona and aristotle follow different rules)."""
    return ChatbotDouble(stand_in)


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
    asked = []

    def keeping(experiment, stand_in):
        asked.append(ChatbotDouble(stand_in))
        return asked[-1]

    started = time.perf_counter()
    result = teachers.run(TINY, folder, teachers=keeping)
    return result, folder, time.perf_counter() - started, [r for double in asked for r in double.requests]


def test_stand_ins_leave_every_claim_not_tested_and_say_so(with_stand_ins):
    result, _ = with_stand_ins
    assert [claim.status for claim in result.claims] == [NOT_TESTED] * 3
    assert result.claims[0].statement.startswith("Newton's persona changes")
    assert "stand-ins" in result.caveat and "No chatbot endpoint" in result.sentences["teachers_note"]
    assert not any(row["is_chatbot"] for row in result.headline)
    assert all("not a chatbot" in row["teacher"] for row in result.headline)
    assert "not a chatbot" in result.key_result
    assert "skipped" in result.sentences["reproduction_note"] and "Skipped" in result.sentences["rule_agreement"]


def test_a_chatbot_whose_personas_differ_beyond_wording_shows_the_persona_effect(with_chatbots):
    result = with_chatbots[0]
    newton = result.numbers["newton_effect"]
    assert newton.low > 0 and newton.n == STUDY_2023.n_states, "newton's and no_persona's rules differ; wordings do not"
    assert result.numbers["newton_p"] < 0.05
    assert result.claim("Newton's persona changes").status == SHOWN
    assert "differs from the neutral control by more than rewording" in result.sentences["excess_statement"]
    assert "moved the chatbot's answers by more than rewording" in result.caveat
    assert result.claim("Newton's CartPole returns").status in (SHOWN, INCONCLUSIVE)
    # A persona this far from the control lies beyond the smallest the test detects: not bounded below it.
    assert result.claim("Newton's effect on how").status in (NOT_SHOWN, INCONCLUSIVE)
    chatbot_rows = [row for row in result.headline if "synthetic" not in row["teacher"]]
    assert chatbot_rows and all(row["is_chatbot"] for row in chatbot_rows)
    synthetic = [row for row in result.headline if "synthetic" in row["teacher"]]
    assert synthetic and not any(row["is_chatbot"] for row in synthetic)


def test_personas_that_differ_only_as_much_as_their_wordings_do_not_show_a_persona_effect(tmp_path):
    result = teachers.run(TINY, tmp_path, teachers=lambda experiment, stand_in: WordingDouble())
    assert result.numbers["newton_effect"].value == 0 and result.numbers["all_effect"].value == 0
    assert result.claim("Newton's persona changes").status == NOT_SHOWN
    assert "no more than rewording" in result.sentences["excess_statement"]
    assert "a persona effect beyond wording is not shown" in result.caveat
    # Equal returns in each wording: no gap beyond rewording's.
    assert result.claim("Newton's CartPole returns").status in (NOT_SHOWN, INCONCLUSIVE)


def test_the_power_curve_rises_with_the_share_of_deviating_states(with_chatbots):
    power = with_chatbots[0].figures["power"]["power"]
    powers = [row["power"] for row in power.curve]
    assert [row["strength"] for row in power.curve] == TINY.power_shares
    assert powers[0] < powers[-1] and powers == sorted(powers)
    power_table = with_chatbots[0].details["The persona test's power against a synthetic teacher"]
    assert any("synthetic teacher" in column for column in power_table.columns)


class RecordingScriptProtocol(BoundedHistoryProtocol):
    """The protocol of the script that records chapter 02's requests (written before this chapter was):
    chapter 04's old protocol with the any-case grammar and 20 alternatives put in by hand, and its
    conversation opened by an old-style persona whose sentence is the voice's introduction (built here by
    hand, as that persona's system prompt was)."""

    def request_settings(self):
        return {"temperature": 0.0, "max_tokens": 2, "logprobs": True, "top_logprobs": 20,
                "grammar": 'root ::= " "? ("left" | "Left" | "LEFT" | "right" | "Right" | "RIGHT")'
                if self.constrained else None}

    def conversation(self, voice, projection=STUDY_2023):
        sentence = template_named(voice.template).introduce(voice.of(), voice.wording) + " "
        messages = [{"role": "system", "content": sentence + TASK_PROMPT_2023.format(schema=projection.schema())}]
        for state, answer in FEW_SHOT_2023:
            messages += [{"role": "user", "content": state}, {"role": "assistant", "content": answer}]
        return BoundedConversation(messages, self.turns)


def test_the_chapter_asks_exactly_what_the_recording_script_recorded(with_chatbots):
    asked = with_chatbots[3]
    double = ChatbotDouble(RuleStandIn("newton"))
    texts = [STUDY_2023.describe_state(state) for state in range(STUDY_2023.n_states)]
    for voice in voices(TINY.personas, TINY.templates):
        double.rule = RuleStandIn(voice.persona)
        for constrained in ([True, False] if (voice.template, voice.wording) == ("you-are", 1) else [True]):
            protocol = RecordingScriptProtocol(turns=0, constrained=constrained)
            for text in texts[:3]:  # the probes: one question per state, no history
                run_sync(decide(double, protocol.conversation(voice), text, protocol.request_settings()))
        run_cartpole_teacher(double, voice, RecordingScriptProtocol(turns=2, constrained=True),
                             TINY.n_episodes, TINY.seed, steps_per_decision=2)
    recorded = {request_key(double.model, request) for request in double.requests}
    chapter = {request_key(double.model, request) for request in asked}
    assert recorded <= chapter, "a request of the recording script that the chapter does not ask"
    single = {request_key(double.model, r) for r in asked if len(r.messages) == 16}  # system, 7 example turns, state
    assert len(single) == 12 * 81 + 3 * 81  # every voice constrained, the first wordings of you-are free
    assert chapter - recorded <= single, "the chapter differs from the script beyond the probes left out here"


def test_probes_read_every_spelling_of_left_and_right_and_report_the_answer_mass():
    class Spelling(ChatbotDouble):
        async def acomplete(self, request):
            alternatives = {" Right": 0.5, "right": 0.2, " left": 0.1, "Left": 0.05, "The": 0.15}
            top = [{"token": token, "logprob": math.log(p)} for token, p in alternatives.items()]
            return ChatAnswer(" Right", self.model,
                              logprobs=[{"token": " Right", "logprob": math.log(0.5), "top_logprobs": top}])

    decision = ask_once(Spelling(RuleStandIn("newton")), voices(["newton"])[0], ["a state"],
                        teachers.answer_protocol(0, True))[0]
    assert decision.action == 1 and decision.p_right == pytest.approx(0.7 / 0.85)
    assert decision.mass == pytest.approx(0.85)


def test_two_runs_agree_and_each_takes_seconds(with_chatbots):
    first, folder, took, _ = with_chatbots
    again = teachers.run(TINY, folder, teachers=as_chatbots)  # a rebuild replaces the Minari datasets
    assert first.summary() == again.summary()
    assert first.summary_json() == again.summary_json()
    assert took < 40, f"chapter 02 at test size took {took:.1f} s"


def test_alone_in_an_empty_folder_it_leaves_the_rollouts_and_datasets_other_chapters_read(with_stand_ins):
    result, folder = with_stand_ins
    assert not result.notes, "chapter 02 reads no earlier chapter's artefact"
    assert {path.name for path in (folder / "rollouts").iterdir()} == ROLLOUT_FOLDERS
    newton = EpisodeSet.load(folder / "rollouts" / "newton")
    assert newton.n_episodes == TINY.n_episodes
    assert (newton.metadata["persona"], newton.metadata["template"], newton.metadata["persona_wording"]) == (
        "newton", "you-are", 1)
    assert newton.metadata["system_prompt"].startswith("You are Sir Isaac Newton. Your task is to balance a cartpole.")
    assert all(len(EpisodeSet.load(folder / "rollouts" / persona).decisions) for persona in TINY.personas)
    datasets = result.details["The rollouts as Minari datasets"]
    assert len(datasets) == len(ROLLOUT_FOLDERS) == len(set(datasets["Minari dataset"]))
    assert (folder / "minari").is_dir()
    probes = pd.read_parquet(folder / teachers.PROBES_FILE)  # chapter 04 compares its students on them
    assert len(probes) == 12 * STUDY_2023.n_states and set(probes["state"]) == set(range(STUDY_2023.n_states))


def test_return_intervals_resample_distinct_prompt_sequences_not_episodes(with_chatbots):
    result = with_chatbots[0]
    summary = result.tables["teacher summary"]
    for row in (row for row in result.headline if row["measure"].startswith("CartPole return: teacher")):
        name = row["measure"].removeprefix("CartPole return: teacher ")
        assert row["n"] == summary.loc[name, "distinct prompt sequences"] <= summary.loc[name, "episodes"]


def test_every_interval_names_its_unit(with_chatbots):
    result = with_chatbots[0]
    for name, table in {**result.tables, **result.details}.items():
        for column in table.columns:
            if "CI" in column:
                assert " over " in column or "(" in column, f"table {name!r}, column {column!r} names no unit"
    for statement in ("excess_statement", "returns_statement"):
        assert all(" over " in part for part in result.sentences[statement].split("95% CI")[1:])
    assert "single" not in "".join(result.tables["teacher summary"].columns)


def test_the_figures_draw_from_the_result(with_stand_ins):
    result, folder = with_stand_ins
    for draw in (figures.probes, figures.action_tables, figures.contrasts, figures.power):
        figure = draw(result)
        assert isinstance(figure, Figure) and figure_problems(figure) == [], draw.__name__
        plt.close(figure)
    for title, table in result.details.items():  # each reaches the appendix whole, its index a column
        table.to_parquet(folder / "detail.parquet")
        assert isinstance(table.index, pd.RangeIndex), title
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


def test_the_caveat_says_when_the_templates_disagree():
    above, below = Estimate(0.004, 0.001, 0.007, 81), Estimate(-0.024, -0.029, -0.019, 81)
    split = PersonaContrast(Estimate(-0.010, -0.013, -0.007, 81), {"you-are": above, "imagine": below}, 1.0, 200)
    sentence = teachers.templates_disagree(split)
    assert "you-are, 0.004 (95% CI 0.001 to 0.007 over 81 text states)" in sentence and "imagine, -0.024" in sentence
    assert teachers.templates_disagree(PersonaContrast(above, {"you-are": above, "imagine": above}, 0.01, 200)) == ""


class UnusableDouble(ChatbotDouble):
    """A chatbot whose every answer is no decision (as an endpoint that ignores the instruction)."""

    async def acomplete(self, request):
        self.requests.append(request)
        return ChatAnswer(text="I would rather talk about gravitation.", model=self.model)


def test_a_chatbot_whose_answers_are_unusable_is_not_testable_and_still_leaves_its_rollouts(tmp_path):
    result = teachers.run(TINY, tmp_path, teachers=lambda experiment, stand_in: UnusableDouble(stand_in))
    assert {claim.status for claim in result.claims} == {NOT_TESTABLE} and len(result.claims) == 3
    assert "Only 0 of this chatbot's" in result.key_result
    assert "“I would rather talk about gravitation.”" in result.claims[0].evidence
    # Chapter 04 still finds what it reads (and says, in its turn, what it can test).
    assert {path.name for path in (tmp_path / "rollouts").iterdir()} == ROLLOUT_FOLDERS
    assert (tmp_path / teachers.PROBES_FILE).exists()
