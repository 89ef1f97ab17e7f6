"""The parameter file is checked whole before anything runs: every key of every chapter, by its type."""
import resource
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from eep_utils.book.config import ConfigError, load_plan
from eep_utils.experiments.params import PARAMETERS, TeacherRolloutsParams

ROOT = Path(__file__).resolve().parent.parent
PARAMETERS_FILE = ROOT / "notebooks" / "parameters.yaml"


def book_file(tmp_path, change):
    """The book's parameter file with `change` applied to its parsed document, next to stub notebooks."""
    document = yaml.safe_load(PARAMETERS_FILE.read_text())
    change(document["notebooks"])
    for name in document["notebooks"]:
        (tmp_path / f"{name}.md").write_text("# a notebook\n")
    path = tmp_path / "parameters.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_the_books_plan_is_valid_in_both_modes_and_in_file_order():
    for mode in ("quick", "full"):
        plan = load_plan(mode)
        assert [p.name for p in plan] == list(yaml.safe_load(PARAMETERS_FILE.read_text())["notebooks"])
        for notebook in plan:
            assert set(notebook.parameters) == {f.name for f in fields(PARAMETERS[notebook.name])}
    assert load_plan("full")[1].parameters["n_episodes"] > load_plan("quick")[1].parameters["n_episodes"]


@pytest.mark.parametrize("change, message", [
    (lambda nb: nb["02_teacher_rollouts"]["quick"].update(n_episode=10),
     "02_teacher_rollouts (quick mode): unknown parameter(s) ['n_episode']"),
    (lambda nb: nb["02_teacher_rollouts"]["quick"].update(n_episodes=-10),
     "02_teacher_rollouts (quick mode): n_episodes is -10; it must be at least 2"),
    (lambda nb: nb["02_teacher_rollouts"]["common"].update(personas=["newton", "nwton"]),
     "personas: 'nwton' is not allowed; allowed: newton"),
    (lambda nb: nb["06_personality"]["common"].update(test_fraction=1.5),
     "test_fraction is 1.5; it must be above 0 and below 1"),
    (lambda nb: nb["04_students"]["common"].update(teacher="chatgpt"),
     "teacher is 'chatgpt'; it must be one of 'auto', 'local', 'live', 'replay', 'stand-in'"),
    (lambda nb: nb["01_embodiment"]["quick"].update(eval_episodes="200"),
     "eval_episodes is '200'; it must be a whole number"),
    (lambda nb: nb["03_baselines"]["quick"].pop("replay_frames"),
     "03_baselines (quick mode): missing parameter(s) ['replay_frames']"),
    (lambda nb: nb.update({"09_new": {"common": {}}}), "names notebook '09_new', which the book does not know"),
])
def test_a_wrong_parameter_names_notebook_key_and_what_is_allowed(tmp_path, change, message):
    with pytest.raises(ConfigError) as error:
        load_plan("quick", book_file(tmp_path, change))
    assert message in str(error.value)
    assert "parameters.yaml" in str(error.value)


@pytest.mark.parametrize("text, message", [
    ("notebooks: [\n", "not valid YAML"),
    ("chapters: {}\n", "top-level mapping `notebooks:`"),
    ("notebooks:\n  03_baselines: {quik: {}}\n", "unknown keys ['quik']"),
    ("notebooks:\n  03_baselines: {common: [1, 2]}\n", "must be a mapping of parameter"),
])
def test_malformed_parameter_files_say_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "parameters.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="parameters.yaml") as error:
        load_plan("quick", path)
    assert message in str(error.value)


def test_unknown_mode_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="mode must be one of"):
        load_plan("medium")
    with pytest.raises(ConfigError, match="git checkout"):
        load_plan("quick", tmp_path / "absent.yaml")


def test_checked_parameters_can_be_changed_only_to_allowed_values():
    params = TeacherRolloutsParams.check(load_plan("quick")[1].parameters)
    assert params.replace(n_episodes=3).n_episodes == 3
    with pytest.raises(ConfigError, match="power_shares is 1.5"):
        params.replace(power_shares=[0.0, 1.5])


@pytest.mark.slow
def test_the_build_stops_on_a_misspelt_parameter_within_five_seconds(tmp_path):
    """The README's build command, in a copy of the book whose parameter file has a misspelt key."""
    copy = tmp_path / "book"
    subprocess.run(["git", "clone", "-q", "--depth=1", f"file://{ROOT}", str(copy)], check=True)
    text = (copy / "notebooks" / "parameters.yaml").read_text()
    (copy / "notebooks" / "parameters.yaml").write_text(text.replace("n_episodes: 10", "n_episode: 10", 1))
    # CPU time, not wall time: on a busy machine the wall clock measures the other processes too.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([sys.executable, "-m", "eep_utils.build", "--quick"], cwd=copy,
                            capture_output=True, text=True, timeout=120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) < 5
    assert result.returncode != 0
    assert "02_teacher_rollouts (quick mode): unknown parameter(s) ['n_episode']" in result.stderr
    assert "running" not in result.stdout  # no notebook started
