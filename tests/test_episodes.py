"""The episode format's additions: the dynamics check and the Minari export."""
import os

import numpy as np
import pandas as pd
import pytest

from eep_utils.cartpole.embodiment import STUDY_2023
from eep_utils.cartpole.episodes import (OBSERVATION_COLUMNS, EpisodeFormatError, EpisodeSet, dataset_name, empty_decisions,
                                         minari_dataset_id, push_consistency, to_minari)
from eep_utils.study2023.replay import replay_actions


def random_walk_episodes(n_frames=300, seed=0) -> EpisodeSet:
    actions = np.repeat(np.random.default_rng(seed).integers(0, 2, n_frames // 2), 2)
    frames = replay_actions(actions, seed=seed).complete_episodes()
    return EpisodeSet("random walk (test)", False, frames, empty_decisions(), {"seed": seed})


def test_push_consistency_on_hand_made_pairs():
    before = np.array([[0, 0.0, 0, 0], [0, 0.5, 0, 0], [0, 0.5, 0, 0]])
    after = np.array([[0, 0.2, 0, 0], [0, 0.3, 0, 0], [0, 0.5, 0, 0]])
    np.testing.assert_array_equal(push_consistency(before, [1, 1, 0], after), [True, False, False])


def test_played_frames_are_consistent_and_a_flipped_action_is_caught():
    episodes = random_walk_episodes()
    consistency = episodes.dynamics_consistency()
    assert consistency.isna().sum() == episodes.n_episodes  # the last frame of each episode has no successor
    assert consistency.dropna().all()
    flipped = episodes.frames.copy()
    assert flipped.loc[2, "decided"]
    flipped.loc[2, "action"] = 1 - flipped.loc[2, "action"]
    damaged = EpisodeSet(episodes.teacher, False, flipped, episodes.decisions)
    assert not damaged.dynamics_consistency()[2]
    checked, _, _ = damaged.training_pairs(dynamics_checked=True)
    unchecked, _, _ = damaged.training_pairs()
    decided_last_frames = (flipped[flipped["decided"]].groupby("episode")["t"].max()
                           == flipped.groupby("episode")["t"].max()).sum()
    assert len(checked) == len(unchecked) - 1 - decided_last_frames
    flipped_observation = flipped.loc[2, OBSERVATION_COLUMNS].to_numpy(np.float32)
    assert (unchecked == flipped_observation).all(axis=1).any()
    assert not (checked == flipped_observation).all(axis=1).any()


def test_minari_export_round_trip(tmp_path, monkeypatch):
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)
    episodes = random_walk_episodes()
    dataset = to_minari(episodes, tmp_path, code_permalink="https://github.com/owner/book")
    assert dataset.spec.dataset_id == minari_dataset_id(episodes.teacher) == "eep/cartpole-random-walk-test-v0"
    assert "MINARI_DATASETS_PATH" not in os.environ
    assert (tmp_path / "eep").is_dir()
    assert dataset.total_episodes == episodes.n_episodes and dataset.total_steps == len(episodes.frames)
    first = next(dataset.iterate_episodes())
    frames = episodes.frames[episodes.frames["episode"] == 0]
    np.testing.assert_array_equal(first.observations[:-1], frames[OBSERVATION_COLUMNS].to_numpy(np.float32))
    np.testing.assert_array_equal(first.actions, frames["action"])
    assert first.terminations[-1] and abs(first.observations[-1][2]) > 0.2094  # the pole fell past 12 degrees
    assert "random walk (test)" in dataset.storage.metadata["description"]
    assert dataset.storage.metadata["code_permalink"] == "https://github.com/owner/book"


def study_2023_style_episodes() -> EpisodeSet:
    """A random walk with a decision table as the 2023 recordings give one: no token counts, no
    probabilities, no latencies (NaN), an empty answer where a turn was not kept, a fallback."""
    episodes = random_walk_episodes()
    decided = episodes.frames[episodes.frames["decided"]]
    decisions = pd.DataFrame({
        "episode": decided["episode"].to_numpy(), "t": decided["t"].to_numpy(),
        "state": STUDY_2023.state_index(decided[OBSERVATION_COLUMNS].to_numpy()),
        "prompt_text": [STUDY_2023.describe(o) for o in decided[OBSERVATION_COLUMNS].to_numpy()],
        "answer": ["" if i == 0 else " right" if i == 1 else ["left", "right"][a]
                   for i, a in enumerate(decided["action"])],
        "status": ["ok", "fallback"] + ["ok"] * (len(decided) - 2),
        "action": decided["action"].to_numpy(), "p_right": np.nan,
        "prompt_tokens": np.nan, "completion_tokens": np.nan, "latency_s": np.nan,
    })
    return EpisodeSet("gpt-3.5-turbo as Newton (2023-style test)", True, episodes.frames, decisions, {"seed": 0})


def test_episode_set_save_load_keeps_every_table_exactly(tmp_path):
    episodes = study_2023_style_episodes()
    loaded = EpisodeSet.load(episodes.save(tmp_path / "walk"))
    for table, original in ((loaded.frames, episodes.frames), (loaded.decisions, episodes.decisions)):
        assert table.dtypes.to_dict() == original.dtypes.to_dict()
        pd.testing.assert_frame_equal(table, original)
    assert (loaded.teacher, loaded.is_chatbot, loaded.metadata) == (episodes.teacher, True, {"seed": 0})
    np.testing.assert_array_equal(loaded.training_pairs()[1], episodes.training_pairs()[1])


def test_a_damaged_or_incomplete_episode_folder_is_named(tmp_path):
    folder = random_walk_episodes().save(tmp_path / "walk")
    table = next(path for path in folder.iterdir() if path.name.startswith("frames."))
    table.write_bytes(table.read_bytes()[:40])
    with pytest.raises(EpisodeFormatError, match="damaged"):
        EpisodeSet.load(folder)
    table.unlink()
    with pytest.raises(EpisodeFormatError, match="not a complete episode folder"):
        EpisodeSet.load(folder)


def test_one_chatbot_playing_several_personas_gives_one_dataset_each():
    episodes = random_walk_episodes(100)
    as_newton = EpisodeSet("SmolLM2 (llama.cpp, local)", True, episodes.frames, episodes.decisions, {"persona": "newton"})
    as_control = EpisodeSet("SmolLM2 (llama.cpp, local)", True, episodes.frames, episodes.decisions, {"persona": "no_persona"})
    assert minari_dataset_id(dataset_name(as_newton)) != minari_dataset_id(dataset_name(as_control))
    named = EpisodeSet("gpt-3.5-turbo as Newton (2023)", True, episodes.frames, episodes.decisions, {"persona": "newton"})
    assert dataset_name(named) == "gpt-3.5-turbo as Newton (2023)"
    # A stand-in's label names its persona; its two wordings are still two datasets.
    rule = "stand-in: rule table 'newton' (offline; not a chatbot)"
    worded = [EpisodeSet(rule, False, episodes.frames, episodes.decisions, {"persona": "newton", "persona_wording": n})
              for n in (1, 2)]
    assert [dataset_name(w) for w in worded] == [rule, f"{rule} wording 2"]
