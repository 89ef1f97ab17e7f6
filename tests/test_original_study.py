"""The 2023 recordings: checksums, fetching, replay, alignment, the published numbers."""
import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.episodes import OBSERVATION_COLUMNS, push_consistency
from eep_utils.cartpole.evaluation import (
    RandomPolicy,
    RandomWalkBaseline,
    play_episodes,
)
from eep_utils.cartpole.students import OriginalXGBoostStudent
from eep_utils.stats import Estimate
from eep_utils.study2023.fetch import (
    FILES,
    LocalFolder,
    OriginalStudyDataError,
    OriginalStudyUnavailable,
    local_copy_problem,
    sha256_of,
)
from eep_utils.study2023.fetch import main as fetch_main
from eep_utils.study2023.recordings import PUBLISHED_MEANS, OriginalStudy, locate
from eep_utils.study2023.replay import (
    FEW_SHOT_TURNS_2023,
    TEXT_COMPLETION_2023,
    zipped_pair_alignment,
)
from eep_utils.study2023.reproduction import (
    aligned_statement,
    pairing_statement,
    play_as_in_2023,
    published_table_check,
    reproduction_table,
    rhythm_statement,
)

LOCAL = os.environ.get("EEP_ORIGINAL_STUDY_DIR")
needs_local_copy = pytest.mark.skipif(not LOCAL, reason="no local copy of the 2023 recordings")


@pytest.fixture(scope="module")
def study():
    if not LOCAL:
        pytest.skip("no local copy of the 2023 recordings")
    return locate()


@pytest.fixture(scope="module")
def chat(study):
    return study.chat_run()


def _copy(names, target: Path) -> Path:
    for name in names:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(LOCAL) / name, target / name)
    return target


@needs_local_copy
def test_local_copy_matches_the_pinned_checksums():
    for name, (original, expected) in FILES.items():
        path = Path(LOCAL) / name
        if original is None and not path.exists():
            continue  # a fetched copy lacks the files the original repository does not have
        assert sha256_of(path) == expected, name


def test_published_means_are_the_means_of_their_score_files(study):
    table = published_table_check(study)
    for _, row in table.iterrows():
        assert row["mean"] == pytest.approx(PUBLISHED_MEANS[row["row"]], abs=5e-7)
        assert row["ci_low"] < row["mean"] < row["ci_high"]
    assert dict(zip(table["row"], table["n"])) == {"chatbot": 164, "random_walk": 5247, "xgboost_student": 4706}


def test_chat_run_replays_and_aligns_with_the_conversations(chat, study):
    scores = study.scores("chatbot/2023-03-03/scores.json")
    assert chat.is_chatbot and "gpt-3.5-turbo" in chat.teacher
    assert chat.n_episodes == 164
    np.testing.assert_array_equal(chat.returns(), scores)
    decisions = chat.decisions
    assert len(decisions) == chat.frames["decided"].sum() == 1999
    # Every question is the description of the replayed observation at that frame.
    decided = chat.frames[chat.frames["decided"]]
    descriptions = [STUDY_2023.describe(row) for row in decided[OBSERVATION_COLUMNS].to_numpy(np.float64)]
    assert decisions["prompt_text"].tolist() == descriptions
    np.testing.assert_array_equal(decisions["state"], STUDY_2023.state_index(decided[OBSERVATION_COLUMNS].to_numpy()))
    # The 38 " right" messages in prompts.json are 16 distinct fallback decisions (conversations repeat).
    fallbacks = decisions[decisions["status"] == "fallback"]
    assert len(fallbacks) == chat.metadata["fallbacks"] == 16
    assert (fallbacks["answer"] == " right").all() and (fallbacks["action"] == 1).all()
    # Where the 2023 script restarted a conversation, the episode's earlier answers were not kept: such an
    # episode has fewer answers after the initial prompt than decided frames.
    conversations = study.json("chatbot/2023-03-03/prompts.json")
    kept = [sum(m["role"] == "assistant" for m in c[1 + 2 * FEW_SHOT_TURNS_2023:]) for c in conversations]
    decided_per_episode = decided.groupby("episode").size()
    lost = {int(e): n - kept[e] for e, n in decided_per_episode.items() if n > kept[e]}
    assert chat.metadata["turns_not_in_prompts_json"] == sum(lost.values()) > 0
    assert chat.metadata["restarts_within_an_episode"] == sorted(lost)
    assert (decisions.loc[decisions["answer"] == "", "status"] == "ok").all()
    answered = decisions[decisions["answer"].isin(["left", "right"])]
    np.testing.assert_array_equal(answered["action"], (answered["answer"] == "right").astype(int))
    assert chat.metadata["unfinished_frames_left_out"] == 2


def test_text_completion_runs(study):
    earlier = study.completion_run("2023-02-28")
    fixed = study.scores("chatbot/2023-02-28/fixed_scores.json")
    # fixed_scores.json covers only the first 21 of the run's 39 finished episodes.
    assert earlier.n_episodes == 39
    np.testing.assert_array_equal(earlier.returns()[:21], fixed)
    first = study.completion_run("2023-02-25")
    assert first.n_episodes == 56
    for run in (earlier, first):
        decided = run.frames[run.frames["decided"]]
        np.testing.assert_array_equal(
            run.decisions["state"], TEXT_COMPLETION_2023.state_index(decided[OBSERVATION_COLUMNS].to_numpy()))
        assert run.decisions["answer"].str.startswith("push-cart: ").all()


def test_replayed_pairs_pass_the_dynamics_check_and_zipped_pairs_do_not(study, chat):
    consistency = chat.dynamics_consistency()
    assert consistency.notna().sum() == len(chat.frames) - chat.n_episodes
    assert consistency.dropna().all()
    observations, actions = study.original_training_arrays()
    # observations.npy is the sequence.json state records, as the README says.
    records = [item[0]["obs"] for item in study.sequence("2023-03-03")]
    np.testing.assert_array_equal(observations, np.asarray(records))
    replay = study.replayed_run("2023-03-03")
    alignment = zipped_pair_alignment(replay, len(observations))
    # Each row's observation found among the replayed frames by value (-1: a terminal observation).
    frame_of = {tuple(o): f for f, o in enumerate(replay.frames[OBSERVATION_COLUMNS].to_numpy())}
    found = np.array([frame_of.get(tuple(o), -1) for o in observations])
    np.testing.assert_array_equal(alignment["observation_frame"], found)
    episode = replay.frames["episode"].to_numpy()
    np.testing.assert_array_equal(alignment["same_episode"],
                                  (found >= 0) & (episode[np.maximum(found, 0)] == episode[:len(found)]))
    # Only the first episode's rows pair an observation with its own action.
    assert (alignment["lag"] == 0).sum() == study.scores("chatbot/2023-03-03/scores.json")[0]
    assert (alignment["lag"] == 0).to_numpy().nonzero()[0].max() < (episode == 0).sum()
    zipped = push_consistency(observations[:-1], actions[:-1], observations[1:])
    assert 0.45 < zipped.mean() < 0.53  # no better than chance


def test_published_student_is_the_original_settings_on_the_zipped_rows(study):
    observations, actions = study.original_training_arrays()
    published = study.published_student()
    retrained = OriginalXGBoostStudent().fit(observations[:3000], actions[:3000])
    np.testing.assert_array_equal(published.predict_proba(observations), retrained.predict_proba(observations))


def test_published_student_replays_its_recorded_scores(study):
    booster = study.published_student().booster_
    scores = play_as_in_2023(lambda rows: booster.inplace_predict(rows) >= 0.5, n_frames=1500)
    recorded = study.scores("student/2023-03-04/scores.json")
    assert len(scores) > 50
    np.testing.assert_array_equal(scores, recorded[:len(scores)])


def test_reproduction_table(study):
    walk = play_episodes(RandomPolicy(3), 120, seed=4, steps_per_decision=2).returns
    random_walk = RandomWalkBaseline(walk, 3, 4, 2)
    table = reproduction_table(study, random_walk, n_episodes=300, seed=7, replay_frames=600)
    recorded = table[table["origin"] == "2023 score file"]
    np.testing.assert_allclose(recorded["mean"], recorded["published"], atol=5e-7)
    assert {"played here", "replayed as in 2023"} <= set(table["origin"])
    played = table[table["origin"] == "played here"]
    walked = played["agent"] == "Random walk"
    # The random walk played here is the one given, not a new simulation.
    assert played[walked]["mean"].item() == walk.mean() and played[walked]["n"].item() == 120
    assert (played[~walked]["n"] == 300).all()
    assert ((table["ci_low"] <= table["mean"]) & (table["mean"] <= table["ci_high"])).all()
    assert table["details"].str.contains(f"all {study.chat_run().n_episodes} episodes").any()
    again = reproduction_table(study, random_walk, n_episodes=300, seed=7, replay_frames=0)
    np.testing.assert_array_equal(again["mean"], table["mean"][:len(again)])
    assert table["teacher"].str.contains("gpt-3.5-turbo|random").all()


# ---------------------------------------------------------------------------------------------
# Bad input


@needs_local_copy
def test_truncated_file_gives_a_clear_error(tmp_path, monkeypatch):
    copy = _copy(["chatbot/2023-03-03/scores.json"], tmp_path)
    path = copy / "chatbot/2023-03-03/scores.json"
    path.write_bytes(path.read_bytes()[:100])
    monkeypatch.setenv("EEP_ORIGINAL_STUDY_DIR", str(copy))
    with pytest.raises(OriginalStudyDataError, match="SHA-256.*damaged or truncated"):
        locate().scores("chatbot/2023-03-03/scores.json")


@needs_local_copy
def test_unparseable_and_unreplayable_files_give_clear_errors(tmp_path, monkeypatch):
    copy = _copy(["chatbot/2023-03-03/sequence.json", "chatbot/2023-03-03/scores.json"], tmp_path)
    monkeypatch.setenv("EEP_ORIGINAL_STUDY_DIR", str(copy))
    scores = copy / "chatbot/2023-03-03/scores.json"
    scores.write_text("[1.0, 2.0")
    monkeypatch.setitem(FILES, "chatbot/2023-03-03/scores.json", (None, sha256_of(scores)))
    with pytest.raises(OriginalStudyDataError, match="not valid JSON"):
        locate().scores("chatbot/2023-03-03/scores.json")
    sequence = copy / "chatbot/2023-03-03/sequence.json"
    items = json.loads(sequence.read_text())
    items[10][0]["obs"][0] += 0.5
    sequence.write_text(json.dumps(items))
    monkeypatch.setitem(FILES, "chatbot/2023-03-03/sequence.json", (None, sha256_of(sequence)))
    with pytest.raises(OriginalStudyDataError, match="record 10 .* replaying"):
        locate().replayed_run("2023-03-03")


def test_missing_local_folder_or_file_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("EEP_ORIGINAL_STUDY_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(OriginalStudyUnavailable, match="not a folder"):
        locate()
    monkeypatch.setenv("EEP_ORIGINAL_STUDY_DIR", str(tmp_path))
    with pytest.raises(OriginalStudyUnavailable, match="missing"):
        locate().scores("random-walk/2023-02-28c/scores.json")


# ---------------------------------------------------------------------------------------------
# Fetching from the pinned repository, against a local server with the repository's paths


@pytest.fixture
def mirror(tmp_path):
    """A 127.0.0.1 server laid out like raw.githubusercontent.com/<repo>/<commit>/ (paths with spaces and colons)."""
    if not LOCAL:
        pytest.skip("no local copy of the 2023 recordings")
    root = tmp_path / "mirror"
    for name, (original, _) in FILES.items():
        if original:
            (root / original).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(LOCAL) / name, root / original)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_checks_sha256_and_reads_like_the_local_copy(mirror, tmp_path, monkeypatch):
    _, url = mirror
    monkeypatch.delenv("EEP_ORIGINAL_STUDY_DIR")
    downloaded = locate(cache_dir=tmp_path / "cache", base_url=url, timeout=5)
    np.testing.assert_array_equal(downloaded.scores("random-walk/2023-02-28c/scores.json"),
                                  locate_local().scores("random-walk/2023-02-28c/scores.json"))
    # Only the local copy has the re-saved model: without it the student is retrained, identically.
    with pytest.raises(OriginalStudyUnavailable, match="only in the local copy"):
        downloaded.path("student/2023-03-04/xgboost.json")
    observations, _ = downloaded.original_training_arrays()
    np.testing.assert_array_equal(downloaded.published_student().predict_proba(observations),
                                  locate_local().published_student().predict_proba(observations))


def test_download_with_a_wrong_checksum_is_refused(mirror, tmp_path, monkeypatch):
    root, url = mirror
    monkeypatch.delenv("EEP_ORIGINAL_STUDY_DIR")
    original = FILES["chatbot/2023-03-03/scores.json"][0]
    (root / original).write_text("[1.0]")
    cache = tmp_path / "cache"
    with pytest.raises(OriginalStudyDataError, match="pinned SHA-256.*Nothing was kept"):
        locate(cache_dir=cache, base_url=url, timeout=5).scores("chatbot/2023-03-03/scores.json")
    assert not any(cache.rglob("*scores*"))


def test_offline_download_raises_unavailable_quickly(tmp_path, monkeypatch):
    monkeypatch.delenv("EEP_ORIGINAL_STUDY_DIR", raising=False)
    closed_port = "http://127.0.0.1:9/"
    with pytest.raises(OriginalStudyUnavailable, match="could not be downloaded.*EEP_ORIGINAL_STUDY_DIR"):
        locate(cache_dir=tmp_path, base_url=closed_port, timeout=2).scores("chatbot/2023-03-03/scores.json")


def test_fetch_makes_a_local_copy_that_the_tests_and_ci_accept(mirror, tmp_path, monkeypatch, capsys):
    _, url = mirror
    folder = tmp_path / "fetched"
    assert fetch_main([str(folder), "--base-url", url]) == 0
    assert f"EEP_ORIGINAL_STUDY_DIR={folder}" in capsys.readouterr().out
    monkeypatch.setenv("EEP_ORIGINAL_STUDY_DIR", str(folder))
    assert local_copy_problem() is None
    for name, (original, expected) in FILES.items():
        assert (folder / name).is_file() == (original is not None), name
    np.testing.assert_array_equal(locate().scores("chatbot/2023-03-03/scores.json"),
                                  locate_local().scores("chatbot/2023-03-03/scores.json"))


def test_fetch_offline_fails_with_the_reason(tmp_path, capsys):
    assert fetch_main([str(tmp_path), "--base-url", "http://127.0.0.1:9/"]) == 1
    assert "FETCH FAILED" in capsys.readouterr().err


def test_an_incomplete_local_copy_is_named_with_the_way_to_fetch_one(tmp_path, monkeypatch):
    monkeypatch.delenv("EEP_ORIGINAL_STUDY_DIR", raising=False)
    assert "is not set" in local_copy_problem()
    monkeypatch.setenv("EEP_ORIGINAL_STUDY_DIR", str(tmp_path / "nowhere"))
    assert "not a folder" in local_copy_problem()
    (tmp_path / "chatbot").mkdir()
    monkeypatch.setenv("EEP_ORIGINAL_STUDY_DIR", str(tmp_path))
    problem = local_copy_problem()
    assert f"lacks {sum(o is not None for o, _ in FILES.values())} of the pinned files" in problem
    assert "python -m eep_utils.study2023.fetch" in problem


def locate_local():
    return OriginalStudy(LocalFolder(Path(LOCAL)))


def test_the_rhythm_verdict_follows_the_intervals():
    recorded, ours = Estimate(19.1, 18.6, 19.6, 1000), Estimate(18.2, 17.9, 18.4, 2000)
    measured, conclusion, verdict = rhythm_statement(recorded, Estimate(19.0, 18.5, 19.5, 900), ours)
    assert verdict is True and "explains the" in conclusion
    assert "19.00 frames (95% CI 18.50–19.50)" in measured
    _, conclusion, verdict = rhythm_statement(recorded, Estimate(18.1, 17.9, 18.3, 900), ours)
    assert verdict is False and "does not explain" in conclusion
    _, conclusion, verdict = rhythm_statement(recorded, Estimate(18.7, 18.2, 19.2, 900), ours)
    assert verdict is None and "undecided" in conclusion
    _, conclusion, verdict = rhythm_statement(Estimate(18.5, 18.0, 19.0, 100), Estimate(19.0, 18.5, 19.5, 900), ours)
    assert verdict is None and "no clear gap" in conclusion


def test_the_pairing_verdicts_follow_the_checks():
    coin = np.arange(1000) % 2 == 0  # passes exactly half the time
    push, unrelated, mostly = pairing_statement(coin, np.ones(300, bool), np.arange(3000) < 450)
    assert "about as often as a coin toss (50.0% of 1000" in push and "p = 1" in push
    assert push.endswith("it always passes.") and mostly is True and "mostly unrelated" in unrelated
    push, unrelated, mostly = pairing_statement(np.arange(1000) < 300, np.arange(300) < 270, np.ones(3000, bool))
    assert "less often than a coin toss" in push and "passes in 90.0% of 300 pairs" in push
    assert mostly is False
    assert pairing_statement(coin, coin, np.arange(3000) < 1500)[2] is None


def test_the_aligned_verdict_follows_the_intervals():
    def table(aligned, misaligned):
        return pd.DataFrame([
            {"agent": "XGBoost student retrained as in 2023", "origin": "played here", **misaligned.as_dict()},
            {"agent": "XGBoost student, aligned pairs", "origin": "played here", **aligned.as_dict()}])
    low, high = Estimate(20, 19, 21, 300), Estimate(40, 35, 45, 300)
    sentence, better = aligned_statement(table(high, low))
    assert better is True and sentence.startswith("With aligned pairs the same recipe does better: 40.00")
    assert aligned_statement(table(low, high))[1] is False
    assert aligned_statement(table(Estimate(21, 19.5, 22.5, 300), low))[1] is None
