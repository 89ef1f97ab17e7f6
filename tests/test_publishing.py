"""The publishing side: the CI workflow runs the README's commands, and the citation files agree."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def workflow_runs() -> list[str]:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    return [step["run"].strip() for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def test_readme_gives_exactly_two_commands_and_ci_runs_the_test_one():
    build, test = readme_commands()
    assert "eep_utils.build" in build and "pytest" in test
    ci = (ROOT / ".ci" / "run").read_text()
    assert test in ci


def test_workflow_is_valid_yaml_and_runs_the_readme_commands_verbatim():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as True
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    build, test = readme_commands()
    runs = workflow_runs()
    assert build in runs and test in runs
    uses = [step.get("uses", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)


def test_ci_fetches_the_2023_recordings_and_tests_with_them():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    _, test = readme_commands()
    testing = next(i for i, step in enumerate(steps) if step.get("run", "").strip() == test)
    fetching = next(i for i, step in enumerate(steps) if "python -m eep_utils.study2023.fetch" in step.get("run", ""))
    assert fetching < testing
    folder = steps[fetching]["run"].split("eep_utils.study2023.fetch", 1)[1].strip().strip('"')
    assert folder == "$RUNNER_TEMP/original-study"
    assert steps[testing]["env"]["EEP_ORIGINAL_STUDY_DIR"] == "${{ runner.temp }}/original-study"


def run_tests_with(**variables) -> subprocess.CompletedProcess:
    """A small test file run by pytest with this conftest, in a changed environment."""
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "EEP_ORIGINAL_STUDY_DIR")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_config.py"],
                          cwd=ROOT, env={**env, **variables}, capture_output=True, text=True, timeout=300)


def test_in_ci_missing_2023_recordings_fail_the_run_and_say_how_to_provide_them(tmp_path):
    result = run_tests_with(CI="true", EEP_ORIGINAL_STUDY_DIR=str(tmp_path / "nowhere"))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "EEP_ORIGINAL_STUDY_DIR" in output and "python -m eep_utils.study2023.fetch" in output
    # Outside CI the same run passes: the 2023-data tests would skip.
    assert run_tests_with(EEP_ORIGINAL_STUDY_DIR=str(tmp_path / "nowhere")).returncode == 0


@pytest.mark.skipif(not os.environ.get("EEP_ORIGINAL_STUDY_DIR"), reason="no local copy of the 2023 recordings")
def test_in_ci_a_complete_local_copy_lets_the_run_go_ahead():
    assert run_tests_with(CI="true", EEP_ORIGINAL_STUDY_DIR=os.environ["EEP_ORIGINAL_STUDY_DIR"]).returncode == 0


def parse_bib_entry(text: str) -> dict:
    return {k.lower(): v.strip("{}") for k, v in re.findall(r"(\w+)\s*=\s*(\{.*?\}|\S+?),?\n", text)}


def test_citation_files_agree():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    bib = parse_bib_entry((ROOT / "CITATION.bib").read_text())
    assert bib["title"] == cff["title"]
    assert bib["version"] == cff["version"]
    assert bib["year"] == str(cff["date-released"])[:4]
    assert bib["url"] == cff["repository-code"]
    assert bib["license"] == cff["license"]
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["url"] == cff["repository-code"]


def test_the_2023_study_is_cited_at_its_pinned_commit_everywhere():
    commit = "b131541656d47135192de3ee409464ee9b4e2cbf"
    assert commit in (ROOT / "references.bib").read_text()
    assert any(ref.get("commit") == commit for ref in yaml.safe_load((ROOT / "CITATION.cff").read_text())["references"])
