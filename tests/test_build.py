"""The build's skip/force logic and its failure reporting, on tiny notebooks run by the real papermill."""
import os
import signal
import time

import nbformat
import pytest

from eep_utils.book import build
from eep_utils.book.build import BuildError, executed_path, run_notebooks
from eep_utils.book.config import NotebookPlan

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
    return folder, tmp_path / "out"


def plans(folder, second_value=2):
    # Chapters the build's table does not know: each depends on everything before it.
    return [NotebookPlan("01_first", {"value": 1}, folder / "01_first.md"),
            NotebookPlan("02_second", {"value": second_value}, folder / "02_second.md")]


def run(project, force=False, second_value=2):
    folder, out = project
    return run_notebooks(plans(folder, second_value), "quick", out, force=force)


def test_first_run_executes_with_injected_parameters_then_nothing_changed_skips_all(project):
    assert run(project) == {"01_first": "executed", "02_second": "executed"}
    folder, out = project
    outputs = "".join(o.get("text", "") for c in nbformat.read(executed_path(plans(folder)[1], out), 4).cells
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
    assert run(project, second_value=3) == {"01_first": "skipped", "02_second": "executed"}
    assert run(project, force=True, second_value=3) == {"01_first": "executed", "02_second": "executed"}


def test_a_failing_notebook_stops_the_build_naming_notebook_and_cell(project):
    folder, out = project
    (folder / "01_first.md").write_text(notebook("raise RuntimeError('the pole fell')"))
    with pytest.raises(BuildError, match=r"01_first failed in cell \d+.*starts `raise RuntimeError\('the pole fell'\)`"
                                         r":\nRuntimeError: the pole fell\n.*01_first.failed.ipynb"):
        run(project)
    # No half-done output that a later build could mistake for a result.
    assert not executed_path(plans(folder)[0], out).exists()
    assert executed_path(plans(folder)[0], out).with_suffix(".failed.ipynb").exists()
    (folder / "01_first.md").write_text(notebook("print('fixed')"))
    assert run(project) == {"01_first": "executed", "02_second": "executed"}


def test_a_failing_notebooks_real_error_is_on_the_console(project, monkeypatch, capsys):
    folder, out = project
    (folder / "02_second.md").write_text(notebook(
        "class ChatbotError(RuntimeError):\n    pass\n\n"
        "answers = {'state': 'left'}\n"
        "raise ChatbotError('model at 127.0.0.1:9 (live): APIConnectionError after retries: Connection error.')"))
    monkeypatch.setattr(build, "load_plan", lambda mode: plans(folder))
    monkeypatch.setattr(build, "build_dir", lambda mode: out)
    assert build.main(["--quick", "--no-html"]) == 1
    printed = capsys.readouterr()
    assert "[01_first] done" in printed.out
    assert ("BUILD FAILED: notebook 02_second failed in cell 2 (execution count 3), which starts `class "
            "ChatbotError(RuntimeError):`:\nChatbotError: model at 127.0.0.1:9 (live): APIConnectionError after "
            "retries: Connection error.\nThe executed notebook, with the traceback, is ") in printed.err
    assert printed.err.rstrip().endswith("02_second.failed.ipynb")


def test_a_kernel_is_shut_down_without_an_interrupt(project, tmp_path, capfd):
    # jupyter_client interrupts (SIGINT) a kernel's process group before asking it to shut down; ipykernel
    # logged "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel." when the signal caught it in a
    # handler. A child of the kernel, in its process group, records any SIGINT that reaches the group.
    folder, _ = project
    marker, pid_file = tmp_path / "sigint", tmp_path / "pid"
    child = (f"import os, pathlib, signal, time\n"
             f"signal.signal(signal.SIGINT, lambda *_: pathlib.Path({str(marker)!r}).write_text('SIGINT'))\n"
             f"pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))\ntime.sleep(60)")
    (folder / "02_second.md").write_text(notebook(
        f"import pathlib, subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {child!r}])\n"
        f"while not pathlib.Path({str(pid_file)!r}).exists():\n    time.sleep(0.05)"))
    try:
        run(project)
        time.sleep(1)  # a signal sent at shutdown has arrived by now
        assert not marker.exists(), "the kernel's shutdown sent SIGINT"
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
    printed = capfd.readouterr()
    assert [line for line in (printed.out + printed.err).splitlines() if "ERROR" in line or "WARN" in line] == []


@pytest.mark.parametrize("settings, missing", [
    ({"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}, "EEP_CHATBOT_MODEL is not"),
    ({"EEP_CHATBOT_MODEL": "gpt-4o-mini"}, "no endpoint is: set OPENAI_BASE_URL"),
])
def test_inconsistent_chatbot_settings_stop_the_build_before_any_notebook_runs(settings, missing, monkeypatch,
                                                                               capsys):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EEP_CHATBOT_MODEL", "EEP_TEACHER", "EEP_LOCAL_MODEL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)

    def never(*args, **kwargs):
        raise AssertionError("a notebook ran")

    monkeypatch.setattr(build, "run_notebooks", never)
    assert build.main(["--quick", "--no-html"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("BUILD NOT STARTED: ") and missing in err
