"""Chapter 07: what a re-run asks is counted by running every chatbot chapter's `ask` against a counting teacher
over the committed recordings, never by a formula; priced, timed, and beside the last build's faults."""
import ast
import gzip
import json
import math
import re
import time
from dataclasses import asdict
from pathlib import Path

import jupytext
import pandas as pd
import pytest

from eep_utils.book.figures import rerun as figures
from eep_utils.book.style import figure_problems
from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.stand_in import RuleStandIn
from eep_utils.chat import runlog
from eep_utils.chat.counting import CountingReplay, busy_seconds, recorded_requests
from eep_utils.chat.local import local_alias
from eep_utils.chat.running import complete_all
from eep_utils.chat.teachers import TRANSCRIPTS_DIR
from eep_utils.chat.transcripts import TranscriptStore, exchange_record
from eep_utils.chat.types import ChatAnswer, ChatRequest
from eep_utils.chat.usage import approximate_tokens
from eep_utils.experiments import embodiment, ellm, personality, rerun, students
from eep_utils.experiments import teachers as teacher_rollouts
from eep_utils.experiments.params import RerunParams, params_for
from eep_utils.study2023.fetch import LOCAL_FOLDER_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = TRANSCRIPTS_DIR / local_alias()  # the book's own chatbot's recordings, as committed


def committed_exchanges(experiment: str) -> int:
    """The distinct exchanges the committed (sealed) recording of `experiment` holds."""
    with gzip.open(COMMITTED / f"{experiment}.jsonl.gz", "rt") as lines:
        return len({json.loads(line)["key"] for line in lines if line.strip()})


@pytest.fixture(scope="module")
def full_count():
    """Every chatbot chapter's requests at the full book's sizes, counted over the committed recordings."""
    counter, started = CountingReplay(), time.perf_counter()
    rerun.count_requests(False, counter)
    return counter, time.perf_counter() - started


@pytest.mark.parametrize("chapter", rerun.CHATBOT_CHAPTERS)
def test_the_full_books_count_equals_the_exchanges_the_chapters_committed_recordings_hold(full_count, chapter):
    counter, _ = full_count
    counted = counter.table()
    assert chapter in counted.index.get_level_values("chapter"), f"{chapter} asked nothing"
    for experiment, row in counted.loc[chapter].iterrows():
        assert row["not recorded"] == 0, (f"{chapter} asks {int(row['not recorded']):,} requests that {experiment}'s "
                                          "recording lacks: record them (python -m eep_utils.record)")
        assert row["requests"] == committed_exchanges(experiment), (
            f"{experiment}'s recording holds {committed_exchanges(experiment):,} exchanges; {chapter} asks "
            f"{int(row['requests']):,} of them at the full book's sizes: re-record it")


def test_every_committed_recording_is_asked_by_a_chapter_and_the_count_takes_seconds(full_count):
    counter, took = full_count
    committed = {path.name.removesuffix(".jsonl.gz") for path in COMMITTED.glob("*.jsonl.gz")}
    assert committed == set(counter.table().index.get_level_values("experiment"))
    assert took < 90, f"counting the full book took {took:.0f} s"


def count_of(chapter_ask, params) -> int:
    counter = CountingReplay()
    chapter_ask(params, counter)
    return len(counter.requests)


def test_adding_a_persona_or_a_voice_changes_the_count():
    full = params_for(teacher_rollouts.CHAPTER, False)
    ask = teacher_rollouts.ask
    with_aristotle = count_of(ask, full)
    assert count_of(ask, full.replace(personas=["newton", "no_persona"])) < with_aristotle
    assert count_of(ask, full.replace(templates=["you-are"])) < with_aristotle  # one template: half the voices
    quick = params_for(personality.EXPERIMENT, True)
    captions = personality.creatures_of(quick).captions

    def judged(params) -> int:
        return count_of(lambda p, counter: personality.ask(p, counter, captions), params)

    assert "aquarist" not in quick.personas
    assert judged(quick.replace(personas=[*quick.personas, "aquarist"])) > judged(quick)


def recorded_exchange(store: TranscriptStore, question: str, end: str, latency: float, tokens=(100, 3)) -> ChatRequest:
    request = ChatRequest((("user", question),))
    answer = ChatAnswer("right", "tiny-model", prompt_tokens=tokens[0], completion_tokens=tokens[1], latency_s=latency)
    store.append({**exchange_record("tiny-model", request, answer, "test"), "time": end})
    return request


def test_the_counting_teacher_counts_distinct_requests_once_with_their_recorded_tokens(tmp_path, monkeypatch):
    monkeypatch.setattr(runlog, "_COUNTERS", {})
    store = TranscriptStore(tmp_path / "tiny-model" / "x.jsonl")
    one = recorded_exchange(store, "a", "2026-01-01T00:00:02+00:00", 2.0)
    two = recorded_exchange(store, "b", "2026-01-01T00:00:03+00:00", 2.0, tokens=(40, 1))
    store.seal()
    files = sorted(tmp_path.rglob("*"))
    counter = CountingReplay(tmp_path, model="tiny-model")
    stand_in = RuleStandIn("newton")
    teacher = counter.for_chapter("02_teacher_rollouts")("x", stand_in)
    # Repeats asked one after another and in flight together, and a request the recording lacks, twice.
    missing = ChatRequest((("user", STUDY_2023.describe_state(0)),))
    answers = complete_all(teacher, [one, one, two, one, missing, missing], max_in_flight=4)
    answers += complete_all(teacher, [two, one])
    unrecorded = stand_in.choose(0)  # the recording lacks it: the stand-in answers
    assert [a.text for a in answers] == ["right"] * 4 + [unrecorded] * 2 + ["right"] * 2
    assert answers[0].replayed and not answers[4].replayed

    table = counter.table().loc[("02_teacher_rollouts", "x")]
    assert table["requests"] == 3 and table["asked, repeats included"] == 8 and table["not recorded"] == 1
    assert table["prompt tokens"] == 100 + 40 + approximate_tokens(missing)
    assert table["completion tokens"] == 3 + 1 + math.ceil(len(unrecorded) / 4)  # at ~4 characters a token
    assert table["latency, summed (s)"] == pytest.approx(4.0)
    assert table["server busy (s)"] == pytest.approx(3.0)  # the two answers overlapped by a second
    assert sorted(tmp_path.rglob("*")) == files and runlog._COUNTERS == {}, "counting writes and logs nothing"


def test_busy_time_is_the_union_of_the_request_intervals():
    assert busy_seconds([]) == 0
    assert busy_seconds([(0, 2), (1, 3), (5, 6)]) == pytest.approx(4)
    assert busy_seconds([(0, 10), (2, 3), (4, 5)]) == pytest.approx(10)  # nested in one long request


def test_recorded_requests_read_sealed_and_working_transcripts(tmp_path):
    sealed = TranscriptStore(tmp_path / "06_personality.jsonl")
    recorded_exchange(sealed, "a", "2026-01-01T00:00:02+00:00", 2.0)
    recorded_exchange(sealed, "b", "2026-01-01T00:00:03+00:00", 2.0)
    recorded_exchange(sealed, "c", "2026-01-01T00:01:00+00:00", 0.5, tokens=(40, 1))
    sealed.seal()
    working = TranscriptStore(tmp_path / "05_ellm_rewards.jsonl")  # a live run still recording
    recorded_exchange(working, "d", "2026-01-01T00:00:05+00:00", 1.0, tokens=(7, 20))
    table = recorded_requests(tmp_path)
    judged = table.loc["06_personality"]
    assert (judged["requests"], judged["prompt tokens"], judged["completion tokens"]) == (3, 240, 7)
    assert judged["latency, summed (s)"] == pytest.approx(4.5) and judged["server busy (s)"] == pytest.approx(3.5)
    assert table.loc["05_ellm_rewards", "completion tokens"] == 20
    assert recorded_requests(tmp_path / "nothing here").empty


def keys_by_experiment(counter: CountingReplay) -> dict[str, set]:
    found = {}
    for experiment, key in counter.requests:
        found.setdefault(experiment, set()).add(key)
    return found


def asking_and_running(chapter, tmp_path):
    """The requests of a chapter's `ask` and of its whole `run`, at the quick book's sizes."""
    params, asked, ran = params_for(chapter, True), CountingReplay(), CountingReplay()
    if chapter == students.CHAPTER:
        rollouts = teacher_rollouts.ask(params_for(teacher_rollouts.CHAPTER, True), CountingReplay()).rollouts
        demonstrations = {v.persona: e for v, e in rollouts.items() if teacher_rollouts.rollout_folder(v) == v.persona}
        students.ask(params, asked, demonstrations, rerun.UNASSESSED)
        # The run reads chapters 01's and 02's artefacts: made here first, so that only its own requests count.
        embodiment.run(params_for(embodiment.CHAPTER, True), tmp_path)
        teacher_rollouts.run(params_for(teacher_rollouts.CHAPTER, True), tmp_path, CountingReplay())
    elif chapter == personality.EXPERIMENT:
        personality.ask(params, asked, personality.creatures_of(params).captions)
    else:
        {teacher_rollouts.CHAPTER: teacher_rollouts, ellm.CHAPTER: ellm}[chapter].ask(params, asked)
    runs = {teacher_rollouts.CHAPTER: teacher_rollouts, students.CHAPTER: students, ellm.CHAPTER: ellm,
            personality.EXPERIMENT: personality}
    runs[chapter].run(params, tmp_path, ran)
    return keys_by_experiment(asked), keys_by_experiment(ran)


@pytest.mark.parametrize("chapter", rerun.CHATBOT_CHAPTERS)
def test_a_chapters_ask_sends_every_request_its_run_sends(chapter, tmp_path, monkeypatch):
    # The 2023 recordings take seconds to replay and ask no chatbot.
    monkeypatch.setenv(LOCAL_FOLDER_VARIABLE, str(tmp_path / "no 2023 recordings here"))
    asked, ran = asking_and_running(chapter, tmp_path)
    assert asked and asked == ran


@pytest.fixture(scope="module")
def quick_page(tmp_path_factory):
    artifacts = tmp_path_factory.mktemp("artifacts")
    usage = artifacts / runlog.USAGE_FOLDER / "06_personality"
    usage.mkdir(parents=True)
    retries = {"429": 3, "5xx": 1, "timeout/connection": 0, "malformed": 2}
    (usage / "06_personality.json").write_text(json.dumps({
        "experiment": "06_personality", "chapter": "06_personality",
        "chatbots": {"gpt-4o-mini": {"answers": 100, "replayed": 40, "asked": 60, "misses": 0, "prompt_tokens": 9,
                                     "completion_tokens": 1, "parse_failures": 0, "fallbacks": 0,
                                     "http_requests": 67, "retries": retries, "failures": 1,
                                     "failures_by_cause": {"5xx": 1}, "billed_requests": 64, "budget_tokens": 5000}}}))
    return rerun.run(params_for(rerun.CHAPTER, True), artifacts), artifacts


def test_the_page_prices_and_times_the_quick_books_count(quick_page):
    result, _ = quick_page
    numbers = result.numbers
    assert numbers["sizes"] == "quick" and numbers["model"] == local_alias()
    requests = result.tables["requests"]
    assert numbers["total_requests"] == int(requests.loc["total", "requests"].replace(",", ""))
    assert numbers["total_requests"] == sum(int(v.replace(",", "")) for v in requests["requests"][:-1])
    assert numbers["total_asked"] > numbers["total_requests"]  # the chapters ask some questions again
    assert 0 < numbers["busy_minutes"] <= numbers["serial_minutes"]
    assert numbers["cheapest_example"] < numbers["your_cost"] < numbers["dearest_example"]
    assert f"{numbers['total_requests']:,}" in result.key_result
    assert "quick book's smaller sizes" in result.sentences["recorded_statement"]
    prices = result.tables["prices"]
    assert prices.loc["your price", "the whole count (USD)"] == f"{numbers['your_cost']:,.2f}"
    assert figure_problems(figures.requests(result)) == []


def test_the_page_reports_the_last_builds_faults(quick_page, tmp_path):
    result, _ = quick_page
    faults = result.tables["faults"]
    assert faults.loc["06 · 06_personality", "retries by cause"] == "429 ×3, 5xx ×1, malformed ×2"
    assert faults.loc["06 · 06_personality", "budget used"] == "64 billed requests, 5,000 tokens"
    assert "60 requests" in result.sentences["faults_statement"] and "6 attempts were retried" in \
        result.sentences["faults_statement"] and "1 exchange given up" in result.sentences["faults_statement"]
    assert "No build has logged" in rerun.faults_statement(rerun.fault_table(tmp_path), tmp_path)


def test_two_runs_of_the_page_agree(quick_page):
    result, artifacts = quick_page
    assert rerun.run(params_for(rerun.CHAPTER, True), artifacts).summary() == result.summary()


def test_the_notebooks_defaults_are_the_quick_values():
    cell = next(c for c in jupytext.read(ROOT / "notebooks" / "07_rerun.md").cells if c.cell_type == "code")
    defaults = {s.targets[0].id: ast.literal_eval(s.value) for s in ast.parse(cell.source).body}
    assert RerunParams.from_notebook(defaults) == params_for(rerun.CHAPTER, True)
    assert set(defaults) - {"artifacts_dir"} == set(asdict(params_for(rerun.CHAPTER, True)))


def test_costs_price_prompt_and_completion_tokens_separately_and_total_them():
    table = pd.DataFrame({"requests": [2, 3], "prompt tokens": [1_000_000, 0], "completion tokens": [0, 2_000_000]},
                         index=pd.Index(["a", "b"], name="experiment"))
    costs = rerun.with_costs(table, {"mine": (1.0, 4.0)})
    assert costs.loc["a", "mine (USD)"] == pytest.approx(1.0)
    assert costs.loc["b", "mine (USD)"] == pytest.approx(8.0)
    assert costs.loc["total", "mine (USD)"] == pytest.approx(9.0)
    assert costs.loc["total", "requests"] == 5


def test_example_prices_are_dated_and_completion_costs_more():
    for model, ((prompt, completion), since) in rerun.EXAMPLE_PRICES.items():
        assert re.fullmatch(r"20\d\d-\d\d", since), model
        assert 0 < prompt < completion, model
