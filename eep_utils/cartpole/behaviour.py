"""What a teacher did, in numbers and pictures: its action table over text states, agreement with a rule,
whether two teachers' students differ where the teachers do (state by state), and an animation of one
episode."""
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
    """Two teachers and their students compared on the same text states, the unit of every interval."""

    states: pd.DataFrame  # per compared text state: its words, the teachers' decisions and the students' actions
    teachers: Estimate  # share of states where the teachers' decisions differ (Wilson 95% CI over text states)
    students: Estimate  # the same for their students
    pattern: Estimate  # Cohen's kappa between the two disagreement patterns (percentile bootstrap over text states)

    @property
    def teachers_differ_in(self) -> int:
        """How many of the compared text states the teachers' decisions differ in."""
        return int((self.states["teacher_a"] != self.states["teacher_b"]).sum()) if len(self.states) else 0


def disagreement_patterns(teacher_a, teacher_b, student_a, student_b, projection: Projection = STUDY_2023,
                          n_resamples: int = 2000, seed: int = 0) -> DisagreementPatterns:
    """Do two students differ where their teachers differ, text state by text state?

    `teacher_a` and `teacher_b` hold each teacher's decision in every text state of the projection (1 right,
    0 left, NaN where it named no direction), asked once per state (chapter 02's probes): a temperature-0
    teacher asked the same prompt again says the same, so a state is one piece of evidence however often
    episodes visit it. Each student is asked about the state's representative observation
    (`projection.observation_of_state`). States where either teacher gave no decision are left out."""
    teachers = [np.asarray(t, dtype=np.float64) for t in (teacher_a, teacher_b)]
    if any(t.shape != (projection.n_states,) for t in teachers):
        raise ValueError(f"a teacher's decisions must be one per text state ({projection.n_states}), "
                         f"not of shape {[t.shape for t in teachers]}")
    compared = np.flatnonzero(np.isfinite(teachers[0]) & np.isfinite(teachers[1]))
    observations = np.array([projection.observation_of_state(s) for s in compared]).reshape(-1, 4)

    def asked(student) -> np.ndarray:
        return np.asarray(student(observations), dtype=np.int64).reshape(-1) if len(compared) else np.zeros(0, int)

    states = pd.DataFrame({"state": compared,
                           "words": [", ".join(projection.words_of_state(s)) for s in compared],
                           "teacher_a": teachers[0][compared].astype(np.int64),
                           "teacher_b": teachers[1][compared].astype(np.int64),
                           "student_a": asked(student_a), "student_b": asked(student_b)})
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
    """True if the students' disagreement pattern follows the teachers' (kappa's 95% CI above 0), False if it
    opposes it (CI below 0) or the students differ nowhere although the teachers differ somewhere (they carried
    none of it; kappa is undefined for a pattern without a difference), None if this build cannot tell (the CI
    spans 0, or kappa is otherwise undefined)."""
    if result.teachers.value > 0 and result.students.value == 0:
        return False
    low, high = result.pattern.low, result.pattern.high
    if not (np.isfinite(low) and np.isfinite(high)):
        return None
    return True if low > 0 else False if high < 0 else None


def disagreement_statement(result: DisagreementPatterns, a: str, b: str, students: str) -> str:
    """The chapter's answer, in words, to whether `a`'s and `b`'s students differ the way `a` and `b`
    do; every number in it comes from `result`, every interval says its unit (text states)."""
    def share(estimate):
        return (f"{100 * estimate.value:.0f}% (95% CI {100 * estimate.low:.0f}–{100 * estimate.high:.0f}% over "
                "text states)")

    n = result.teachers.n
    if n == 0:
        return f"no text state has a decision of both {a} and {b}, so this build cannot compare their {students}"
    found = (f"on the {n} text states that {a} and {b} each answered, asked once per state, the teachers choose "
             f"differently in {share(result.teachers)} and their {students}, asked at each state's representative "
             f"observation, in {share(result.students)}")
    if result.teachers.value == 0:
        return found + "; the teachers never differ there, so there is no difference to inherit"
    if result.teachers.value == 1:
        return found + "; the teachers differ everywhere, so there is no pattern to follow"
    if result.students.value == 0:
        return found + "; the students differ in none of the states where the teachers differ, so they carry none of it"
    kappa = result.pattern
    if not np.isfinite(kappa.value):
        return found + ("; the students differ everywhere, so whether they differ where the teachers do cannot be "
                        "measured (Cohen's kappa is undefined)")
    measured = f"Cohen's kappa between the two patterns is {kappa.value:.2f}"
    if not np.isfinite(kappa.low):
        return found + f"; {measured}, but too few states for an interval: this build cannot tell"
    undefined = (f"; kappa was undefined in {kappa.undefined} resamples, left out" if kappa.undefined else "")
    interval = f"95% CI {kappa.low:.2f} to {kappa.high:.2f} over text states{undefined}"
    verdict = follows_teachers(result)
    if verdict is None:
        return (found + f"; {measured} ({interval}), an interval that includes 0: this build cannot tell "
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

