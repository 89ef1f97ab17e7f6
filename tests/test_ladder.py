"""The model ladder: one run per chatbot with recordings (and the reader's endpoint), side by side."""
import pytest

from eep_utils.book.ladder import run_every_chatbot
from eep_utils.book.report import claims_by_chatbot, load_claims, load_summaries, publish
from eep_utils.chat.local import local_alias
from eep_utils.chat.teachers import TEACHER_VARIABLE
from eep_utils.experiments.base import NOT_TESTABLE, ChapterResult, Claim, Usability, chatbot_folder, untestable_result
from eep_utils.experiments.params import params_for

OTHER = "reader-model-7b"


@pytest.fixture
def transcripts(tmp_path):
    """Recordings of the book's own model and of a reader's model, one experiment each."""
    root = tmp_path / "transcripts"
    for model in (local_alias(), OTHER):
        (root / model).mkdir(parents=True)
        (root / model / "06_personality.jsonl").write_text("")
    return root


def params(teacher="auto"):
    return params_for("06_personality", quick=True).replace(teacher=teacher)


def fake_run(calls):
    def run(params, artifacts_dir, teachers=None):
        calls.append((artifacts_dir, teachers))
        verdict = len(calls) == 1  # the two chatbots disagree
        return ChapterResult("06_personality", key_result=f"run {len(calls)}",
                             claims=[Claim.decided("Personas carry over", verdict, "e", f"teacher {len(calls)}")],
                             headline=[{"measure": "m", "teacher": f"teacher {len(calls)}", "is_chatbot": True,
                                        "mean": 1.0, "ci_low": 0.0, "ci_high": 2.0, "n": 3}])
    return run


def test_every_recorded_chatbot_runs_the_books_own_first_each_in_its_own_folder(tmp_path, transcripts, monkeypatch):
    monkeypatch.delenv(TEACHER_VARIABLE, raising=False)
    calls = []
    results = run_every_chatbot(fake_run(calls), params(), tmp_path / "artifacts", transcripts)
    assert [r.chatbot.split(" ")[0] for r in results] == [local_alias(), OTHER]
    assert calls[0][0] == tmp_path / "artifacts" and calls[1][0] == chatbot_folder(tmp_path / "artifacts", OTHER)
    assert all(callable(teachers) for _, teachers in calls)


@pytest.mark.parametrize("setting, environment", [("stand-in", None), ("local", None), ("auto", "local")])
def test_a_setting_that_names_one_teacher_runs_once(tmp_path, transcripts, monkeypatch, setting, environment):
    if environment:
        monkeypatch.setenv(TEACHER_VARIABLE, environment)
    else:
        monkeypatch.delenv(TEACHER_VARIABLE, raising=False)
    calls = []
    assert len(run_every_chatbot(fake_run(calls), params(setting), tmp_path, transcripts)) == 1
    assert calls == [(tmp_path, None)]


def test_published_side_by_side_every_chatbots_claims_are_saved(tmp_path, transcripts, monkeypatch):
    monkeypatch.delenv(TEACHER_VARIABLE, raising=False)
    results = run_every_chatbot(fake_run([]), params(), tmp_path, transcripts)
    table = claims_by_chatbot(results)
    assert table.splitlines()[0] == f"| claim | {results[0].chatbot} | {results[1].chatbot} |"
    assert "| Personas carry over | shown | not shown |" in table
    publish(results, tmp_path)
    assert sorted(load_claims(tmp_path).teacher) == ["teacher 1", "teacher 2"]
    summaries = load_summaries(tmp_path)["06_personality"]
    assert list(summaries) == [results[0].chatbot, results[1].chatbot]
    assert set(summaries[results[0].chatbot]) == {"numbers", "sentences"}
    assert "One chatbot answered in this build" in claims_by_chatbot(results[:1])


def test_a_chatbot_whose_answers_could_not_be_read_is_explained_under_the_table(tmp_path, transcripts, monkeypatch):
    monkeypatch.delenv(TEACHER_VARIABLE, raising=False)
    readable = run_every_chatbot(fake_run([]), params(), tmp_path, transcripts)[0]
    unreadable = untestable_result("06_personality", [c.statement for c in readable.claims],
                                   Usability("cuteness judgments", 1, 10, ("Maybe.",)), "teacher 2")
    unreadable.chatbot = "reader's model"
    text = claims_by_chatbot([readable, unreadable])
    assert f"| {readable.claims[0].statement} | {readable.claims[0].status} | {NOT_TESTABLE} |" in text
    assert text.endswith(f"**reader's model:** {unreadable.sentences['usability']}")
    assert "Only 1 of this chatbot's 10 cuteness judgments could be read (10%)" in text and "“Maybe.”" in text
