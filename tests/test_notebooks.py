"""The chapters as sources: paired, parameterised from one file, and in the table of contents."""
import ast
from dataclasses import fields
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

from eep_utils.book.config import MODES, PARAMETERS_FILE, load_plan
from eep_utils.book.report import typed_numbers
from eep_utils.experiments.params import PARAMETERS, params_for

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))


def parameters_cell(notebook) -> dict:
    cell = next(c for c in notebook.cells if c.cell_type == "code")
    assert "parameters" in cell.metadata.get("tags", []), "the first code cell must be the papermill parameters cell"
    names = {}
    for statement in ast.parse(cell.source).body:
        assert isinstance(statement, ast.Assign), f"parameters cell holds only assignments: {ast.unparse(statement)}"
        names[statement.targets[0].id] = ast.literal_eval(statement.value)
    return names


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_each_chapter_has_a_parameters_cell_that_the_parameter_file_matches(source):
    defaults = parameters_cell(jupytext.read(source))
    assert "artifacts_dir" in defaults and "quick" in defaults
    for mode in MODES:
        plan = next(p for p in load_plan(mode) if p.name == source.stem)
        unknown = set(plan.parameters) - set(defaults)
        assert not unknown, f"{PARAMETERS_FILE.name} sets {sorted(unknown)} that {source.name} does not declare"


def nonblank_lines(notebook, cell_type: str) -> int:
    return sum(len([line for line in cell.source.splitlines() if line.strip()])
               for cell in notebook.cells if cell.cell_type == cell_type)


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_a_notebook_is_a_lecture_with_little_code(source):
    """The experiment lives in the library; a notebook sets parameters, calls it, draws and explains."""
    notebook = jupytext.read(source)
    code, prose = nonblank_lines(notebook, "code"), nonblank_lines(notebook, "markdown")
    assert code <= 60, f"{source.name} holds {code} lines of code: move the computation into eep_utils"
    assert code < prose, f"{source.name} holds more code ({code} lines) than prose ({prose})"


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_a_notebooks_own_defaults_are_its_quick_values(source):
    """A reader who runs a notebook by hand gets the quick book's chapter, not sizes of the notebook's own."""
    defaults = parameters_cell(jupytext.read(source))
    quick = params_for(source.stem, True)
    assert set(defaults) - {"artifacts_dir"} == {f.name for f in fields(quick)}, \
        f"{source.name}'s parameters cell and {type(quick).__name__} name different parameters"
    assert PARAMETERS[source.stem].from_notebook(defaults) == quick, \
        f"{source.name}'s defaults differ from the quick values in {PARAMETERS_FILE.name}"


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_the_committed_ipynb_pair_matches_its_text_notebook(source):
    paired = source.with_suffix(".ipynb")
    assert paired.exists(), f"{paired.name} is missing: run `jupytext --sync {source}`"
    text, ipynb = jupytext.read(source), nbformat.read(paired, as_version=4)
    assert [(c.cell_type, c.source) for c in text.cells] == [(c.cell_type, c.source) for c in ipynb.cells], \
        f"{paired.name} is out of date: run `jupytext --sync {source}`"
    assert all(not c.get("outputs") for c in ipynb.cells if c.cell_type == "code"), "committed pairs carry no outputs"


def test_every_chapter_runs_in_the_build_and_appears_in_the_toc():
    planned = {p.name for p in load_plan("full")}
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = {Path(toc["root"]).name} | {Path(c["file"]).name for c in toc["chapters"]}
    assert {p.stem for p in CHAPTERS} <= planned
    assert planned <= listed


# Numbers a chapter may type, each inside the phrase that says what it is: none of them is a result.
NOT_RESULTS = {
    "02_teacher_rollouts": ("p is below 0.05",),                              # the test's level
    "04_students": ("prediction is ≥ 0.5",),                                   # the classifier's threshold
    "05_ellm_rewards": ("T = 0.99",                                            # ELLM's published threshold
                        "within 0.01 rad is upright, a cart slower than 0.1 m/s",  # the projection's bands
                        "from 1 to 0.05, learning rate 0.1, discount 0.9"),    # the learner's settings
    "06_personality": ("0.5 is chance", "probability ≥ 0.5"),
}


def prose(source: Path) -> str:
    return "\n\n".join(c.source for c in jupytext.read(source).cells if c.cell_type == "markdown")


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_no_result_is_typed_into_a_chapters_prose(source):
    typed = typed_numbers(prose(source), NOT_RESULTS.get(source.stem, ()))
    assert not typed, f"{source.name} types numbers that should be glued ({{glue:text}}`name`): {typed}"


def test_the_typed_number_check_catches_a_planted_number():
    text = prose(ROOT / "notebooks" / "01_embodiment.md")
    glued = "survives {glue:text}`imitation:.1f` frames"
    assert glued in text and not typed_numbers(text)
    planted = typed_numbers(text.replace(glued, "survives 23.5 frames"))
    assert len(planted) == 1 and planted[0].startswith("23.5 in")
    found = typed_numbers("an agreement of 97.2% with gpt-3.5-turbo, `0.5` in code, $p=0.05$, [a](v/1.2.html)")
    assert [f.split(" in ")[0] for f in found] == ["97.2%"]
