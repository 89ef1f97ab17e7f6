"""What a teacher did, in numbers and pictures: its action table over text states, agreement with a rule,
whether two teachers' students differ where the teachers do, and an animation of one episode. Works on any
`EpisodeSet`."""
from __future__ import annotations

import io
import os
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pandas as pd

from eep_utils.cartpole.embodiment import STUDY_2023, Projection
from eep_utils.cartpole.episodes import OBSERVATION_COLUMNS, EpisodeSet
from eep_utils.stats import Estimate, bootstrap_ci, proportion_ci


def decided_frames(episodes: EpisodeSet) -> pd.DataFrame:
    return episodes.frames[episodes.frames["decided"]]


def action_table(episodes: EpisodeSet, projection: Projection = STUDY_2023) -> pd.DataFrame:
    """Per text state: how often the teacher was asked there and how often it pushed right."""
    decided = decided_frames(episodes)
    states = projection.state_index(decided[OBSERVATION_COLUMNS].to_numpy())
    visits = np.bincount(states, minlength=projection.n_states)
    rights = np.bincount(states, weights=decided["action"].to_numpy(), minlength=projection.n_states)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(visits > 0, rights / visits, np.nan)
    return pd.DataFrame({"state": np.arange(projection.n_states), "visits": visits, "p_right": share,
                         "words": [projection.words_of_state(s) for s in range(projection.n_states)]})


def action_grid(table: pd.DataFrame, projection: Projection = STUDY_2023) -> pd.DataFrame:
    """The action table as a grid: rows cart position × velocity, columns pole angular velocity × angle
    (the first two and last two quantities of the projection), NaN where the teacher was never asked."""
    labels = [f.label for f in projection.features]
    words = pd.DataFrame(table["words"].tolist(), columns=labels)
    grid = pd.concat([words, table["p_right"]], axis=1).pivot_table(
        index=labels[:2], columns=labels[2:], values="p_right", dropna=False, sort=False)
    return grid


def rule_agreement(episodes: EpisodeSet, rule_table: np.ndarray, projection: Projection = STUDY_2023,
                   include_fallbacks: bool = False):
    """Share of the teacher's own decisions that a rule (a lookup table over text states) would also take."""
    observations, actions, _ = episodes.training_pairs(include_fallbacks=include_fallbacks)
    agrees = rule_table[projection.state_index(observations)] == actions
    return proportion_ci(int(agrees.sum()), len(agrees))


def majority_actions(observations, actions, projection: Projection = STUDY_2023) -> np.ndarray:
    """Per text state: 1 where most of the actions taken there were "right", 0 where most were "left",
    NaN where none was taken or the two were taken equally often (no majority)."""
    states = projection.state_index(np.asarray(observations))
    visits = np.bincount(states, minlength=projection.n_states)
    rights = np.bincount(states, weights=np.asarray(actions, dtype=np.float64), minlength=projection.n_states)
    majority = np.full(projection.n_states, np.nan)
    decided = (visits > 0) & (2 * rights != visits)
    majority[decided] = (2 * rights[decided] > visits[decided]).astype(np.float64)
    return majority


def cohen_kappa(a, b) -> float:
    """Agreement of two yes/no patterns beyond what their rates alone give by chance (1: identical,
    0: chance, below 0: opposed). NaN when either pattern is constant: kappa is then 0 or undefined
    whatever the other pattern does, so it says nothing about whether the two follow each other."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.min() == a.max() or b.min() == b.max():
        return float("nan")
    expected = a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean())
    return float((np.mean(a == b) - expected) / (1 - expected))


@dataclass
class DisagreementPatterns:
    """Two teachers and their students compared on the same text states."""

    states: pd.DataFrame  # per compared text state: its words and the four majority actions
    teachers: Estimate  # share of states where the teachers' majority actions differ (Wilson 95% CI)
    students: Estimate  # the same for their students
    pattern: Estimate  # Cohen's kappa between the two disagreement patterns (percentile bootstrap over states)


def disagreement_patterns(teacher_a: EpisodeSet, teacher_b: EpisodeSet, student_a, student_b,
                          projection: Projection = STUDY_2023, n_resamples: int = 2000,
                          seed: int = 0) -> DisagreementPatterns:
    """Do two students differ where their teachers differ?

    Each teacher's action in a text state is its majority action over its own checked decisions there
    (the pairs its student trained on). Each student is asked about the same observations, both
    teachers' pooled, so that the students differ only by what they learned; its action in a text state
    is its majority action over them. States where any of the four has no majority are left out."""
    observations_a, actions_a, _ = teacher_a.training_pairs(dynamics_checked=True)
    observations_b, actions_b, _ = teacher_b.training_pairs(dynamics_checked=True)
    pooled = np.concatenate([observations_a, observations_b])
    majorities = {"teacher_a": majority_actions(observations_a, actions_a, projection),
                  "teacher_b": majority_actions(observations_b, actions_b, projection),
                  "student_a": majority_actions(pooled, np.asarray(student_a(pooled)), projection),
                  "student_b": majority_actions(pooled, np.asarray(student_b(pooled)), projection)}
    compared = np.all([np.isfinite(m) for m in majorities.values()], axis=0)
    states = pd.DataFrame({"state": np.flatnonzero(compared),
                           "words": [", ".join(projection.words_of_state(s)) for s in np.flatnonzero(compared)],
                           **{who: m[compared].astype(np.int64) for who, m in majorities.items()}})
    teachers_differ = (states["teacher_a"] != states["teacher_b"]).to_numpy()
    students_differ = (states["student_a"] != states["student_b"]).to_numpy()
    n = len(states)
    if n == 0:
        nothing = Estimate(float("nan"), float("nan"), float("nan"), 0)
        return DisagreementPatterns(states, nothing, nothing, nothing)
    kappa = cohen_kappa(teachers_differ, students_differ)
    pattern = (bootstrap_ci(cohen_kappa, teachers_differ, students_differ, n_resamples=n_resamples, seed=seed)
               if np.isfinite(kappa) and n > 1 else Estimate(kappa, float("nan"), float("nan"), n))
    return DisagreementPatterns(states, proportion_ci(int(teachers_differ.sum()), n),
                                proportion_ci(int(students_differ.sum()), n), pattern)


def follows_teachers(result: DisagreementPatterns) -> bool | None:
    """True if the students' disagreement pattern follows the teachers' (kappa's 95% CI above 0), False
    if it opposes it (CI below 0), None if this build cannot tell (the CI spans 0 or kappa is undefined)."""
    low, high = result.pattern.low, result.pattern.high
    if not (np.isfinite(low) and np.isfinite(high)):
        return None
    return True if low > 0 else False if high < 0 else None


def disagreement_statement(result: DisagreementPatterns, a: str, b: str, students: str) -> str:
    """The chapter's answer, in words, to whether `a`'s and `b`'s students differ the way `a` and `b`
    do; every number in it comes from `result`."""
    def share(estimate):
        return f"{100 * estimate.value:.0f}% (95% CI {100 * estimate.low:.0f}–{100 * estimate.high:.0f}%)"

    n = result.teachers.n
    if n == 0:
        return (f"no text state has a majority action for {a}, {b} and both their {students}, "
                "so this build cannot compare them")
    found = (f"on the {n} text states where {a}, {b} and both their {students} have a majority "
             f"action, the teachers choose differently in {share(result.teachers)} of them and the "
             f"students in {share(result.students)}")
    if result.teachers.value == 0:
        return found + "; the teachers never differ there, so there is no difference to inherit"
    if result.teachers.value == 1:
        return found + "; the teachers differ everywhere, so there is no pattern to follow"
    kappa = result.pattern
    if not np.isfinite(kappa.value):
        return found + ("; the students differ everywhere or nowhere, so whether they differ where "
                        "the teachers do cannot be measured (Cohen's kappa is undefined)")
    measured = f"Cohen's kappa between the two patterns is {kappa.value:.2f}"
    if not np.isfinite(kappa.low):
        return found + f"; {measured}, but too few states for an interval: this build cannot tell"
    interval = f"95% CI {kappa.low:.2f} to {kappa.high:.2f}"
    verdict = follows_teachers(result)
    if verdict is None:
        return (found + f"; {measured} ({interval}, which includes 0): this build cannot tell "
                "whether the students differ where the teachers do")
    where = "the teachers differ" if verdict else "the teachers agree"
    return found + f"; the students differ where {where}, more than chance explains: {measured} ({interval})"


def episode_animation(episodes: EpisodeSet, episode: int, every: int = 2, max_frames: int = 120,
                      title: str = "") -> bytes:
    """A GIF of one episode as CartPole renders it, with the action taken under each frame."""
    # Pillow comes with matplotlib, not with this book's own requirements; only the GIF needs it.
    from PIL import Image, ImageDraw

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    frames = episodes.frames[episodes.frames["episode"] == episode].iloc[::every].head(max_frames)
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    env.reset(seed=0)
    pictures = []
    for row in frames.itertuples():
        env.unwrapped.state = np.array([row.x, row.x_dot, row.theta, row.theta_dot], dtype=np.float64)
        picture = Image.fromarray(env.render()).resize((300, 200))
        ImageDraw.Draw(picture).text((6, 4), f"{title}\nframe {row.t}: push {'right' if row.action else 'left'}",
                                     fill=(0, 0, 0))
        pictures.append(picture)
    env.close()
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=40 * every, loop=0)
    return buffer.getvalue()

