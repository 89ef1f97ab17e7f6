"""Chapter 03's experiment at tiny sizes: alone in an empty folder, its claims, and the 2023 recordings' claim."""
import time
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from eep_utils.book.figures import baselines as figures
from eep_utils.book.style import figure_problems, use_book_style
from eep_utils.cartpole.embodiment import STEPS_PER_DECISION_2023
from eep_utils.cartpole.evaluation import RANDOM_WALK_FILE, RandomWalkBaseline, load_random_walk, save_random_walk
from eep_utils.experiments import baselines, embodiment
from eep_utils.experiments.base import NOT_SHOWN, NOT_TESTED, SHOWN
from eep_utils.experiments.params import BaselinesParams, params_for
from eep_utils.stats import Estimate
from eep_utils.study2023.fetch import LOCAL_FOLDER_VARIABLE, local_copy_problem
from test_experiment_embodiment import TINY, glued_names, published_names

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
PARAMS = BaselinesParams.check({"quick": True, "seed": 7, "replay_frames": 2000})
needs_2023 = pytest.mark.skipif(local_copy_problem() is not None, reason=f"{local_copy_problem()}")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """A folder with chapter 01's artefacts, made at tiny sizes."""
    folder = tmp_path_factory.mktemp("artifacts")
    embodiment.run(TINY, folder)
    return folder


@pytest.fixture
def artifacts(upstream, tmp_path):
    for name in baselines.UPSTREAM:
        (tmp_path / name).write_bytes((upstream / name).read_bytes())
    return tmp_path


def test_alone_in_an_empty_folder_it_runs_chapter_01_at_this_modes_sizes_and_says_so(tmp_path):
    started = time.perf_counter()
    result = baselines.run(PARAMS, tmp_path)
    assert time.perf_counter() - started < 60
    assert all((tmp_path / name).exists() for name in baselines.UPSTREAM)
    # Chapter 01 ran with the quick book's sizes: its random walk has that many episodes, and so does every baseline.
    quick_episodes = params_for("01_embodiment", True).eval_episodes
    assert len(load_random_walk(tmp_path, STEPS_PER_DECISION_2023).returns) == quick_episodes
    assert result.numbers["eval_episodes"] == quick_episodes
    assert len(result.notes) == 1 and "chapter 01" in result.notes[0] and "\n" not in result.notes[0]
    assert all(name in result.notes[0] for name in baselines.UPSTREAM)


def test_a_missing_random_walk_alone_is_made_too(artifacts):
    (artifacts / RANDOM_WALK_FILE).unlink()
    result = baselines.run(PARAMS, artifacts)
    assert (artifacts / RANDOM_WALK_FILE).exists()
    assert RANDOM_WALK_FILE in result.notes[0] and embodiment.BEST_TABLE_FILE not in result.notes[0]


def test_with_chapter_01s_artefacts_it_makes_nothing_and_notes_nothing(artifacts):
    started = time.perf_counter()
    result = baselines.run(PARAMS, artifacts)
    assert time.perf_counter() - started < 30
    assert result.notes == []
    assert result.numbers["eval_episodes"] == TINY.eval_episodes
    assert result.numbers["best"].n == TINY.eval_episodes


def test_every_name_the_prose_glues_is_published_and_two_runs_agree(artifacts):
    result = baselines.run(PARAMS, artifacts)
    missing = glued_names(ROOT / "notebooks" / "03_baselines.md") - published_names(result)
    assert not missing, f"the chapter's prose glues names its result does not publish: {sorted(missing)}"
    assert baselines.run(PARAMS, artifacts).summary_json() == result.summary_json()
    assert result.tables["baselines"].index.tolist() == list(result.figures["baselines"]["estimates"])


def test_the_figure_draws_from_the_result_in_the_books_style(artifacts):
    result = baselines.run(PARAMS, artifacts)
    with matplotlib.rc_context():
        use_book_style()
        figure = figures.baselines(result)
        assert isinstance(figure, Figure) and figure_problems(figure) == []
        plt.close(figure)


@pytest.mark.parametrize("walk_return, status", [(5, SHOWN), (500, NOT_SHOWN)])
def test_the_rule_claim_follows_the_random_walk_it_is_compared_with(artifacts, walk_return, status):
    # A random walk that always survived `walk_return` frames: the rule (about 40) beats 5 but not 500.
    save_random_walk(artifacts, RandomWalkBaseline(np.full(50, walk_return), 1, 2, STEPS_PER_DECISION_2023))
    result = baselines.run(PARAMS, artifacts)
    assert result.claim("Following the 2023 prompt's rule").status == status


def test_without_the_2023_recordings_the_rhythm_claim_is_not_tested(artifacts, monkeypatch, tmp_path):
    monkeypatch.setenv(LOCAL_FOLDER_VARIABLE, str(tmp_path / "no-such-folder"))
    result = baselines.run(PARAMS, artifacts)
    claim = result.claim("The 2023 scripts' run-wide decision rhythm")
    assert claim.status == NOT_TESTED and "no-such-folder" in claim.evidence
    assert "2023 random walk" not in result.tables
    assert result.sentences["rhythm_finding"].startswith("Not tested")
    assert "not tested" in result.key_result
    assert result.claim("Following the 2023 prompt's rule").status == SHOWN  # the rest of the chapter goes on


@needs_2023
def test_with_the_2023_recordings_the_rhythm_claim_is_decided_from_the_three_walks(artifacts):
    result = baselines.run(PARAMS, artifacts)
    claim = result.claim("The 2023 scripts' run-wide decision rhythm")
    assert claim.status != NOT_TESTED and "the 2023 recording" in claim.evidence
    assert len(result.tables["2023 random walk"]) == 3
    assert result.sentences["rhythm_finding"].startswith(claim.evidence)


@needs_2023
def test_too_few_frames_replayed_the_2023_way_leave_the_rhythm_claim_not_tested(artifacts):
    result = baselines.run(PARAMS.replace(replay_frames=0), artifacts)
    claim = result.claim("The 2023 scripts' run-wide decision rhythm")
    assert claim.status == NOT_TESTED and "replay_frames" in claim.evidence


def test_the_caveat_says_whether_the_controller_reaches_the_ceiling():
    assert "every episode" in baselines.controller_caveat(Estimate(500.0, 500.0, 500.0, 10))
    assert "may do better" in baselines.controller_caveat(Estimate(450.0, 430.0, 470.0, 10))
