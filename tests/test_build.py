"""The build's skip/force logic and its failure reporting, on tiny notebooks run by the real papermill."""
import nbformat
import pytest

from eep_utils.book.build import BuildError, executed_path, run_notebooks
from eep_utils.book.config import load_plan

HEADER = "---\nkernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n"


def notebook(body: str) -> str:
    return HEADER + "\n```{code-cell} ipython3\n:tags: [parameters]\nvalue = 0\nartifacts_dir = '.'\n```\n\n" \
        f"```{{code-cell}} ipython3\n{body}\n```\n"


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "01_first.md").write_text(notebook("print('first', value)"))
    (folder / "02_second.md").write_text(notebook("print('second', value)"))
    (folder / "parameters.yaml").write_text(
        "notebooks:\n  01_first: {common: {value: 1}}\n  02_second: {common: {value: 2}}\n")
    return folder, tmp_path / "out"


def run(project, force=False):
    folder, out = project
    return run_notebooks(load_plan("quick", folder / "parameters.yaml"), "quick", out, force=force)


def test_first_run_executes_with_injected_parameters_then_nothing_changed_skips_all(project):
    assert run(project) == {"01_first": "executed", "02_second": "executed"}
    folder, out = project
    plan = load_plan("quick", folder / "parameters.yaml")[1]
    outputs = "".join(o.get("text", "") for c in nbformat.read(executed_path(plan, out), 4).cells
                      for o in c.get("outputs", []))
    assert "second 2" in outputs
    assert run(project) == {"01_first": "skipped", "02_second": "skipped"}


def test_a_changed_notebook_reruns_itself_and_what_follows_only(project):
    run(project)
    folder, _ = project
    (folder / "02_second.md").write_text(notebook("print('second, changed', value)"))
    assert run(project) == {"01_first": "skipped", "02_second": "executed"}
    (folder / "01_first.md").write_text(notebook("print('first, changed', value)"))
    assert run(project) == {"01_first": "executed", "02_second": "executed"}


def test_changed_parameters_rerun_and_force_reruns_everything(project):
    run(project)
    folder, _ = project
    (folder / "parameters.yaml").write_text(
        "notebooks:\n  01_first: {common: {value: 1}}\n  02_second: {common: {value: 3}}\n")
    assert run(project) == {"01_first": "skipped", "02_second": "executed"}
    assert run(project, force=True) == {"01_first": "executed", "02_second": "executed"}


def test_a_failing_notebook_stops_the_build_naming_notebook_and_cell(project):
    folder, out = project
    (folder / "01_first.md").write_text(notebook("raise RuntimeError('the pole fell')"))
    with pytest.raises(BuildError, match=r"01_first failed in cell \d+.*RuntimeError: the pole fell"):
        run(project)
    plan = load_plan("quick", folder / "parameters.yaml")[0]
    # No half-done output that a later build could mistake for a result.
    assert not executed_path(plan, out).exists()
    assert executed_path(plan, out).with_suffix(".failed.ipynb").exists()
    (folder / "01_first.md").write_text(notebook("print('fixed')"))
    assert run(project) == {"01_first": "executed", "02_second": "executed"}
