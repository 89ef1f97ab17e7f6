"""The published table (Newton chatbot, random walk, XGBoost student) checked against its score files and
reproduced: the same agents played here, and the published model replayed frame by frame as in 2023."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from tqdm import tqdm

from eep_utils.cartpole.body import play_run
from eep_utils.cartpole.embodiment import STEPS_PER_DECISION_2023
from eep_utils.cartpole.episodes import OBSERVATION_COLUMNS
from eep_utils.cartpole.evaluation import RandomPolicy, RandomWalkBaseline, compared
from eep_utils.cartpole.students import OriginalXGBoostStudent, closed_loop_return
from eep_utils.stats import Estimate, mean_ci, proportion_ci, welch_test
from eep_utils.study2023.recordings import (
    CHAT_RUN_TEACHER,
    ORIGINAL_TRAINING_ROWS,
    PUBLISHED_MEANS,
    PUBLISHED_SCORE_FILES,
    OriginalStudy,
)
from eep_utils.study2023.replay import FIRST_RESET_SEED


def published_table_check(study: OriginalStudy) -> pd.DataFrame:
    """Each published mean next to the mean computed from its score file (mean, 95% CI, n)."""
    rows = []
    for key, scores in study.published_scores().items():
        estimate = mean_ci(scores)
        rows.append({"row": key, "published": PUBLISHED_MEANS[key], **estimate.as_dict(),
                     "file": PUBLISHED_SCORE_FILES[key]})
    return pd.DataFrame(rows)


def play_as_in_2023(policy, n_frames: int = 100_000, seed: int = FIRST_RESET_SEED, progress: bool = False) -> np.ndarray:
    """Episode returns of `policy` played the way the 2023 student script did: one CartPole-v1 run of
    `n_frames` frames from reset(seed), unseeded resets, a decision on every 2nd frame of the run
    (so after an odd-length episode the next one starts on the old action; `body.RunWideHold`).
    Unfinished last episode dropped. For the published model this reproduces its scores.json exactly."""
    if n_frames % STEPS_PER_DECISION_2023:
        raise ValueError(f"the 2023 protocol plays whole decisions of {STEPS_PER_DECISION_2023} frames; "
                         f"n_frames={n_frames} is not a multiple of {STEPS_PER_DECISION_2023}")

    def choose(observation):
        return int(np.asarray(policy(observation[None, :])).reshape(-1)[0])

    scores, score = [], 0.0
    n_decisions = n_frames // STEPS_PER_DECISION_2023
    run = play_run(choose, n_decisions, seed, STEPS_PER_DECISION_2023)
    for frames, _ in tqdm(run, total=n_decisions + 1, desc="2023 protocol", disable=not progress, mininterval=2):
        for frame in frames:
            score += frame.reward
            if frame.terminated or frame.truncated:
                scores.append(score)
                score = 0.0
    return np.asarray(scores)


def reproduction_table(study: OriginalStudy, random_walk: RandomWalkBaseline, n_episodes: int, seed: int,
                       replay_frames: int = 100_000, progress: bool = False) -> pd.DataFrame:
    """The published table (Newton chatbot, random walk, XGBoost student) from its score files, next to
    the same agents and corrected students played here with one decision held for two frames
    (`n_episodes` fresh episodes each, vectorised), and the published model replayed frame by frame
    exactly as in 2023 for `replay_frames` frames (0 to skip). The random walk played here is the book's
    one (`random_walk`, played by chapter 01), not a new simulation. One row per agent: mean return,
    95% CI, n, the published number where there is one, and Welch's p-value against the random walk of
    the same origin (recorded or played here)."""
    recorded = study.published_scores()
    observations, actions = study.original_training_arrays()
    chat = study.chat_run()
    first_frames = chat.frames.iloc[:ORIGINAL_TRAINING_ROWS]
    aligned = first_frames[OBSERVATION_COLUMNS].to_numpy(), first_frames["action"].to_numpy()
    checked_observations, checked_actions, _ = chat.training_pairs(dynamics_checked=True)
    students = {
        "XGBoost student, published model": (study.published_student(), "as published"),
        "XGBoost student retrained as in 2023": (
            OriginalXGBoostStudent().fit(observations[:ORIGINAL_TRAINING_ROWS], actions[:ORIGINAL_TRAINING_ROWS]),
            "observations.npy/actions.npy rows 0-2999 (zipped, misaligned pairs)"),
        "XGBoost student, aligned pairs": (
            OriginalXGBoostStudent().fit(*aligned), "the same 3000 frames, each observation with its own action"),
        "XGBoost student, checked decisions": (
            OriginalXGBoostStudent().fit(checked_observations, checked_actions),
            f"all {chat.n_episodes} episodes' decided frames, no fallbacks, dynamics-checked"),
    }
    published_model = students["XGBoost student, published model"][0]
    rows = [
        _table_row("Newton chatbot", CHAT_RUN_TEACHER, "2023 score file", recorded["chatbot"],
                   PUBLISHED_MEANS["chatbot"], recorded["random_walk"], PUBLISHED_SCORE_FILES["chatbot"]),
        _table_row("Random walk", "uniform random pushes", "2023 score file", recorded["random_walk"],
                   PUBLISHED_MEANS["random_walk"], None, PUBLISHED_SCORE_FILES["random_walk"]),
        _table_row("XGBoost student", "student of " + CHAT_RUN_TEACHER, "2023 score file",
                   recorded["xgboost_student"], PUBLISHED_MEANS["xgboost_student"], recorded["random_walk"],
                   PUBLISHED_SCORE_FILES["xgboost_student"]),
        _table_row("Random walk", "uniform random pushes", "played here", random_walk.returns, np.nan, None,
                   f"the book's random walk: RandomPolicy(seed={random_walk.policy_seed}), episodes from seed "
                   f"{random_walk.episode_seed}"),
    ]
    for offset, (name, (student, data)) in enumerate(tqdm(students.items(), desc="students", disable=not progress)):
        played = closed_loop_return(student.predict, n_episodes, seed + 1 + offset)
        rows.append(_table_row(name, "student of " + CHAT_RUN_TEACHER, "played here", played.returns,
                               PUBLISHED_MEANS["xgboost_student"] if name.endswith("published model") else np.nan,
                               random_walk.returns, data))
    if replay_frames:
        random_2023 = play_as_in_2023(RandomPolicy(seed), replay_frames)
        rows.append(_table_row("Random walk", "uniform random pushes", "replayed as in 2023", random_2023, np.nan, None,
                               f"RandomPolicy(seed={seed}), {replay_frames} frames, run-wide decision phase"))
        # One row per call: the booster directly, without scikit-learn's input checks (~10x faster).
        booster = published_model.booster_
        replayed = play_as_in_2023(lambda rows: booster.inplace_predict(rows) >= 0.5, replay_frames, progress=progress)
        rows.append(_table_row("XGBoost student, published model", "student of " + CHAT_RUN_TEACHER,
                               "replayed as in 2023", replayed, PUBLISHED_MEANS["xgboost_student"],
                               recorded["random_walk"], f"{replay_frames} frames from reset(seed=42), run-wide decision phase"))
    return pd.DataFrame(rows)


def _table_row(agent, teacher, origin, returns, published, random_returns, details) -> dict:
    estimate = mean_ci(returns)
    return {"agent": agent, "teacher": teacher, "origin": origin, **estimate.as_dict(),
            "published": published,
            "p_vs_random": welch_test(returns, random_returns) if random_returns is not None else np.nan,
            "details": details}


def rhythm_statement(recorded: Estimate, replayed: Estimate, ours: Estimate) -> tuple[str, str, bool | None]:
    """Whether the 2023 scripts' run-wide decision rhythm explains why their recorded random walk differs
    from this book's (a fresh rhythm per episode), judged by 95% CIs: the measured means in words, the
    conclusion, and the verdict (None where the intervals cannot decide)."""
    measured = (f"Replayed the 2023 way, a random walk survives {replayed.value:.2f} frames (95% CI "
                f"{replayed.low:.2f}–{replayed.high:.2f}); the 2023 recording {recorded.value:.2f} "
                f"({recorded.low:.2f}–{recorded.high:.2f}); this book's protocol {ours.value:.2f} "
                f"({ours.low:.2f}–{ours.high:.2f}).")
    if compared(recorded, ours) == 0:
        return measured, "The 2023 random walk and this book's overlap: there is no clear gap to explain.", None
    like_2023, unlike_ours = compared(replayed, recorded) == 0, compared(replayed, ours) != 0
    if like_2023 and unlike_ours:
        return measured, ("The run-wide rhythm explains the 2023 random walk's gap to this book's: replayed "
                          "with it, a random walk matches 2023's."), True
    if not like_2023:
        return measured, ("The run-wide rhythm does not explain the 2023 random walk's gap to this book's: "
                          "replayed with it, a random walk still differs from 2023's."), False
    return measured, ("Replayed with the run-wide rhythm, a random walk overlaps both 2023's and this "
                      "book's, so whether the rhythm explains the gap is undecided."), None


def pairing_statement(zipped_ok, replayed_ok, same_episode) -> tuple[str, str, bool | None]:
    """What the push check says about the 2023 training pairs, in words computed from the checks.

    `zipped_ok` and `replayed_ok` are the push check per pair of the zipped arrays and of the replayed
    run; `same_episode` says, per row the student was trained on, whether its observation and action
    come from one episode. Returns the push-check sentence, the sentence on how related the training
    pairs are, and whether they were mostly unrelated (None where the interval includes one half)."""
    zipped_ok, replayed_ok, same_episode = (np.asarray(a, dtype=bool) for a in (zipped_ok, replayed_ok, same_episode))
    zipped = proportion_ci(int(zipped_ok.sum()), len(zipped_ok))
    coin = binomtest(int(zipped_ok.sum()), len(zipped_ok), 0.5).pvalue
    how_often = ("about as often as a coin toss" if coin >= 0.05 else
                 "less often than a coin toss" if zipped.value < 0.5 else "more often than a coin toss")
    replayed = ("always passes" if replayed_ok.all() else
                f"passes in {100 * replayed_ok.mean():.1f}% of {len(replayed_ok)} pairs")
    push = (f"On the zipped pairs the push check passes {how_often} ({100 * zipped.value:.1f}% of "
            f"{zipped.n}, 95% CI {100 * zipped.low:.1f}–{100 * zipped.high:.1f}%; binomial test against "
            f"50%: p = {coin:.2g}); on the replayed run, where every observation sits with its own action, "
            f"it {replayed}.")
    same = proportion_ci(int(same_episode.sum()), len(same_episode))
    share = (f"observation and action come from the same episode in {100 * same.value:.1f}% of its "
             f"{same.n} training rows (95% CI {100 * same.low:.1f}–{100 * same.high:.1f}%)")
    if same.high < 0.5:
        return push, f"The published student learned from pairs that were mostly unrelated: {share}.", True
    if same.low > 0.5:
        return push, f"Most of the published student's training pairs come from one episode: {share}.", False
    return push, f"About half of the published student's training pairs come from one episode: {share}.", None


def aligned_statement(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Whether the 2023 recipe does better on correctly paired frames than on the published misaligned
    arrays, from the reproduction table's 95% CIs: the sentence and the verdict (None if they overlap)."""
    def played(agent):
        row = table[(table["agent"] == agent) & (table["origin"] == "played here")].iloc[0]
        return Estimate(row["mean"], row["ci_low"], row["ci_high"], int(row["n"]))

    misaligned, aligned = played("XGBoost student retrained as in 2023"), played("XGBoost student, aligned pairs")
    numbers = (f"{aligned.value:.2f} (95% CI {aligned.low:.2f}–{aligned.high:.2f}) on aligned pairs against "
               f"{misaligned.value:.2f} ({misaligned.low:.2f}–{misaligned.high:.2f}) on the published ones")
    order = compared(aligned, misaligned)
    if order == 1:
        return f"With aligned pairs the same recipe does better: {numbers}", True
    if order == -1:
        return f"With aligned pairs the same recipe does worse: {numbers}", False
    return f"With aligned pairs the same recipe cannot be told apart from the published pairs: {numbers}", None
