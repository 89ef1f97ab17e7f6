"""What a teacher did, in numbers and pictures: returns, action balance, its action table over text states,
agreement with a rule, and an animation of one episode. Works on any `EpisodeSet`."""
from __future__ import annotations

import io
import os

import gymnasium as gym
import numpy as np
import pandas as pd

from eep_utils.cartpole.body import held_cartpole, play_episode_now
from eep_utils.cartpole.embodiment import STUDY_2023, Projection
from eep_utils.cartpole.episodes import FRAME_COLUMNS, OBSERVATION_COLUMNS, EpisodeSet, empty_decisions, frame_rows
from eep_utils.cartpole.evaluation import one_at_a_time
from eep_utils.stats import mean_ci, proportion_ci


def decided_frames(episodes: EpisodeSet) -> pd.DataFrame:
    return episodes.frames[episodes.frames["decided"]]


def teacher_summary(episodes: EpisodeSet) -> dict:
    """One row of the chapter's teacher table: return and action balance with 95% CIs, parse trouble, tokens."""
    returns = mean_ci(episodes.returns())
    decided = decided_frames(episodes)
    rights = proportion_ci(int(decided["action"].sum()), len(decided))
    statuses = episodes.decisions["status"].value_counts()
    n_decisions = max(1, len(episodes.decisions))
    tokens = episodes.decisions["prompt_tokens"].sum() + episodes.decisions["completion_tokens"].sum()
    return {
        "episodes": episodes.n_episodes, "decisions": len(episodes.decisions),
        "return": returns.value, "return 95% CI": f"[{returns.low:.1f}, {returns.high:.1f}]",
        "pushes right (%)": 100 * rights.value, "right 95% CI (%)": f"[{100 * rights.low:.1f}, {100 * rights.high:.1f}]",
        "re-asked (%)": 100 * statuses.get("retried", 0) / n_decisions,
        "fallbacks (%)": 100 * statuses.get("fallback", 0) / n_decisions,
        "tokens per decision": tokens / n_decisions,
    }


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


def record_episode(policy, initial_state, label: str, steps_per_decision: int = 2) -> EpisodeSet:
    """One episode of any policy from a given state, every frame recorded (for `episode_animation`)."""
    env = held_cartpole(steps_per_decision)
    try:
        played = play_episode_now(env, one_at_a_time(policy), options={"state": initial_state})
    finally:
        env.close()
    return EpisodeSet(label, False, pd.DataFrame(frame_rows(0, played), columns=FRAME_COLUMNS), empty_decisions())
