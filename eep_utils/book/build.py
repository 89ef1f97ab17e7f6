"""Build the book: text notebooks → .ipynb → papermill → Jupyter Book, with execution off.

    python -m eep_utils.build            # the published book (full mode)
    python -m eep_utils.build --quick    # small sizes, for tests and CI
    python -m eep_utils.build --force    # re-execute every notebook

Each notebook runs with its parameters from notebooks/parameters.yaml, inside
_build/<mode>/book/notebooks/, where Jupyter Book then renders it without executing it again.
A notebook is skipped when its build key is unchanged. The key hashes what that chapter reads, as
`CHAPTER_READS` declares it: its source and parameters, the eep_utils code, the settings it reads from
the environment, the recordings it replays (of every chatbot), whether the 2023 recordings are present
and their SHA-256 (chapters 02-04), and the keys of the chapters whose artefacts it reads. So adding the
2023 recordings re-runs exactly the chapters that read them and those that read their results, and a
setting no chapter reads re-runs nothing.

The chatbot settings are checked before the first notebook runs. A failing notebook stops the build
with its chapter, the failing cell's first line, the exception's type and message, and where the
executed notebook with its traceback is kept; any Sphinx warning stops it too. The summary at the end
lists what each chatbot did per chapter: answers replayed and asked, retries by cause, failures, budget.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import jupytext
import nbformat
from jupyter_client.manager import AsyncKernelManager
from traitlets.config import Config

from eep_utils.paths import repository_url
from eep_utils.book.config import MODES, ROOT, ConfigError, NotebookPlan, load_plan
from eep_utils.chat import runlog
from eep_utils.chat.teachers import TRANSCRIPTS_DIR, settings_problem
from eep_utils.chat.transcripts import display_path, experiment_of
from eep_utils.study2023 import fetch as study2023_files

BOOK_FILES = ("_config.yml", "_toc.yml", "references.bib", "references.md", "citing.md", "CITATION.cff", "CITATION.bib")
# The book's own CSS: Jupyter Book links every .css file in the book folder's _static/ on every page.
STATIC = "_static"
KEY_METADATA = "eep_build_key"
ARTIFACTS_RELATIVE_TO_NOTEBOOK = "../../artifacts"
# The environment settings that enter the build key are found in the source rather than listed, so that a
# setting added to the library or a chapter re-runs the notebooks without anyone remembering to list it:
# names read by os.environ.get, os.environ[…] or os.getenv, and every quoted name starting with EEP_ (the
# project's own settings, often held in a constant such as MODEL_VARIABLE).
_READ = re.compile(r"""os\.(?:environ\.get|getenv)\(\s*['"](\w+)['"]|os\.environ\[\s*['"](\w+)['"]\s*\]"""
                   r"""|['"](EEP_[A-Z0-9_]+)['"]""")
# Read, but only to put back what the code itself set: the build sets PYTHONPATH and EEP_USAGE_DIR for the
# kernel, and the Minari export points MINARI_DATASETS_PATH at its target folder.
NOT_SETTINGS = {"PYTHONPATH", "MINARI_DATASETS_PATH", runlog.USAGE_DIR_VARIABLE}
# A secret's value never enters the key (nor anything written from it): only whether it is set.
SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD")


class BuildError(RuntimeError):
    """A notebook or the HTML build failed; the message says which and where to look."""


def build_dir(mode: str) -> Path:
    return ROOT / "_build" / mode


def book_source_dir(mode: str) -> Path:
    return build_dir(mode) / "book"


def html_dir(mode: str) -> Path:
    return build_dir(mode) / "_build" / "html"


def _hash_files(digest, paths) -> None:
    for path in sorted(paths):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())


def environment_settings(root: Path = ROOT) -> list[str]:
    """Every environment variable that eep_utils or a chapter (notebooks/*.md) under `root` reads."""
    sources = [*(root / "eep_utils").rglob("*.py"), *(root / "notebooks").glob("*.md")]
    found = {name for path in sources for match in _READ.finditer(path.read_text()) for name in match.groups() if name}
    return sorted(found - NOT_SETTINGS)


CHATBOT_SETTINGS = ("EEP_TEACHER", "EEP_CHATBOT_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY", "EEP_LOCAL_MODEL")
STUDY_2023_SETTINGS = (study2023_files.LOCAL_FOLDER_VARIABLE,)
EMBEDDING_SETTINGS = ("EEP_EMBEDDING_MODEL",)
EVERY_CHAPTER_BEFORE = "*"


@dataclass(frozen=True)
class ChapterReads:
    """What a chapter's results depend on besides its own source and parameters and the library's code."""

    upstream: tuple[str, ...] = ()  # chapters whose artefacts it reads (EVERY_CHAPTER_BEFORE: all before it)
    settings: tuple[str, ...] = ()  # environment settings it reads (through the library)
    recordings: tuple[str, ...] = ()  # the recorded experiments it replays (name patterns), of every chatbot
    study_2023: bool = False  # the 2023 recordings: which are present, and their SHA-256
    book_address: bool = False  # the repository's address (chapter 02 writes it into its Minari datasets)
    files: tuple[str, ...] = ()  # other files of the repository it reads


# Every chapter's inputs, in one table. A chapter not listed (a new one) depends on everything.
CHAPTER_READS = {
    "01_embodiment": ChapterReads(),
    "02_teacher_rollouts": ChapterReads(settings=CHATBOT_SETTINGS + STUDY_2023_SETTINGS,
                                        recordings=("02_teacher_rollouts*",), study_2023=True,
                                        book_address=True),
    "03_baselines": ChapterReads(upstream=("01_embodiment",), settings=STUDY_2023_SETTINGS, study_2023=True),
    "04_students": ChapterReads(upstream=("01_embodiment", "02_teacher_rollouts"),
                                settings=CHATBOT_SETTINGS + STUDY_2023_SETTINGS, recordings=("04_students*",),
                                study_2023=True),
    "05_ellm_rewards": ChapterReads(settings=CHATBOT_SETTINGS + EMBEDDING_SETTINGS,
                                    recordings=("05_ellm_rewards*",)),
    "06_personality": ChapterReads(settings=CHATBOT_SETTINGS + EMBEDDING_SETTINGS, recordings=("06_personality*",)),
    # The re-run page counts the chatbot chapters' requests by running them over the recordings at the parameter
    # file's sizes, and reads the faults their runs logged.
    "07_rerun": ChapterReads(upstream=("02_teacher_rollouts", "04_students", "05_ellm_rewards", "06_personality"),
                             recordings=("*",), files=("notebooks/parameters.yaml",)),
    "08_appendix": ChapterReads(upstream=(EVERY_CHAPTER_BEFORE,)),
    "00_introduction": ChapterReads(upstream=(EVERY_CHAPTER_BEFORE,)),
}


def reads_of(name: str) -> ChapterReads:
    """A chapter's declared inputs; an undeclared chapter reads everything (never wrongly skipped)."""
    everything = ChapterReads(upstream=(EVERY_CHAPTER_BEFORE,), settings=tuple(environment_settings()),
                              recordings=("*",), study_2023=True, book_address=True)
    return CHAPTER_READS.get(name) or everything


def library_fingerprint() -> str:
    """The eep_utils code, which every chapter runs."""
    digest = hashlib.sha256()
    _hash_files(digest, (ROOT / "eep_utils").rglob("*.py"))
    return digest.hexdigest()


def settings_fingerprint(names) -> str:
    """The values of these settings (of a secret, only whether it is set)."""
    return "\n".join(f"{name}={bool(value) if SECRET.search(name) else value}"
                     for name in sorted(set(names)) for value in [os.environ.get(name, "")])


def recording_files(patterns) -> list[Path]:
    """Every chatbot's recording files (sealed, manifest and working) of the experiments matching `patterns`."""
    files = (p for p in Path(TRANSCRIPTS_DIR).rglob("*") if p.is_file() and p.name != "README.md")
    return sorted(p for p in files if any(fnmatch(experiment_of(p), pattern) for pattern in patterns))


def study_2023_fingerprint() -> str:
    """Which of the 2023 files are present where the chapters look for them, and their SHA-256."""
    folder = Path(os.environ.get(study2023_files.LOCAL_FOLDER_VARIABLE) or study2023_files.DEFAULT_CACHE)
    found = {name: study2023_files.sha256_of(folder / name) if (folder / name).is_file() else "missing"
             for name in study2023_files.FILES}
    return json.dumps(found, sort_keys=True)


def chapter_key(plan: NotebookPlan, mode: str, reads: ChapterReads, upstream_keys: list[str], library: str) -> str:
    """The build key: a hash of everything the chapter's results depend on (see `ChapterReads`)."""
    digest = hashlib.sha256()
    for part in (plan.source.read_bytes(), json.dumps(plan.parameters, sort_keys=True).encode(), mode.encode(),
                 library.encode(), settings_fingerprint(reads.settings).encode(), *map(str.encode, upstream_keys)):
        digest.update(hashlib.sha256(part).digest())
    # Named relative to data/transcripts, so that a moved checkout re-runs nothing.
    for path in recording_files(reads.recordings):
        digest.update(str(path.relative_to(TRANSCRIPTS_DIR)).encode())
        digest.update(path.read_bytes())
    _hash_files(digest, (ROOT / name for name in reads.files))
    if reads.study_2023:
        digest.update(study_2023_fingerprint().encode())
    if reads.book_address:
        digest.update(repository_url().encode())
    return digest.hexdigest()


def upstream_of(name: str, reads: ChapterReads, before: dict[str, str]) -> list[str]:
    """The keys of the chapters whose artefacts this one reads (`before`: the keys of the chapters before it)."""
    names = list(before) if EVERY_CHAPTER_BEFORE in reads.upstream else list(reads.upstream)
    return [f"{upstream}={before.get(upstream, 'not in this build')}" for upstream in names]


def recorded_key(executed: Path) -> str | None:
    if not executed.exists():
        return None
    try:
        return nbformat.read(executed, as_version=4).metadata.get(KEY_METADATA)
    except Exception:  # an unreadable earlier output is simply re-executed
        return None


def copy_if_changed(source: Path, target: Path) -> None:
    """Copy keeping the target's mtime when nothing changed, so Sphinx rebuilds nothing."""
    if target.exists() and target.read_bytes() == source.read_bytes():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def sync_book_sources(mode: str) -> None:
    for name in BOOK_FILES:
        copy_if_changed(ROOT / name, book_source_dir(mode) / name)
    # _static/ is mirrored, so that a stylesheet deleted from the repository leaves the book too.
    staged = book_source_dir(mode) / STATIC
    sources = {path.relative_to(ROOT / STATIC) for path in (ROOT / STATIC).rglob("*") if path.is_file()}
    for path in staged.rglob("*") if staged.is_dir() else ():
        if path.is_file() and path.relative_to(staged) not in sources:
            path.unlink()
    for relative in sources:
        copy_if_changed(ROOT / STATIC / relative, staged / relative)


def input_notebook(plan: NotebookPlan, out_dir: Path) -> Path:
    """The text notebook, the source of truth, as the .ipynb papermill reads.

    Written inside the build folder: the committed .ipynb pair beside the source is refreshed only by
    `jupytext --sync`, so a test can tell when the author forgot to."""
    paired = out_dir / "inputs" / f"{plan.name}.ipynb"
    paired.parent.mkdir(parents=True, exist_ok=True)
    notebook = jupytext.read(plan.source)
    notebook.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    jupytext.write(notebook, paired)
    return paired


def executed_path(plan: NotebookPlan, out_dir: Path) -> Path:
    return out_dir / "book" / "notebooks" / f"{plan.name}.ipynb"


class QuietShutdownKernelManager(AsyncKernelManager):
    """The kernel manager papermill uses, without the interrupt (SIGINT) jupyter_client sends before every
    shutdown to stop a busy kernel: papermill shuts a kernel down only after its last cell, and the signal
    then reaches ipykernel while it handles its last message, which it logs as "[IPKernelApp] ERROR |
    KeyboardInterrupt caught in kernel." A kernel that does not exit on the shutdown request is still killed."""

    async def _async_interrupt_kernel(self) -> None:
        if not self.shutting_down:
            await super()._async_interrupt_kernel()


def first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "(empty cell)")


def execute(plan: NotebookPlan, out_dir: Path, key: str) -> Path:
    import papermill  # a second of import time, needed only when a notebook runs

    executed = executed_path(plan, out_dir)
    executed.parent.mkdir(parents=True, exist_ok=True)
    (out_dir / "artifacts").mkdir(parents=True, exist_ok=True)
    parameters = {**plan.parameters, "artifacts_dir": ARTIFACTS_RELATIVE_TO_NOTEBOOK}
    # The kernel imports eep_utils from this checkout, whatever folder the notebook runs in, and logs what
    # its chatbots did under this chapter's name.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    os.environ[runlog.USAGE_DIR_VARIABLE] = str(out_dir / "artifacts" / runlog.USAGE_FOLDER / plan.name)
    failed = executed.with_suffix(".failed.ipynb")
    failed.unlink(missing_ok=True)
    # The kernel's own report of a failing cell (its execute_reply), which holds the exception even when its
    # error output was lost on the way (papermill then knows only "CellExecutionError").
    replies: list[dict] = []
    try:
        # The kernel talks to papermill over Unix sockets in a private folder, not TCP ports on
        # 127.0.0.1 (ipykernel >= 7.3 warns at every start of an unencrypted TCP kernel).
        with tempfile.TemporaryDirectory(prefix="eep-kernel-") as sockets:
            papermill.execute_notebook(
                str(input_notebook(plan, out_dir)),
                str(executed),
                parameters=parameters,
                cwd=str(executed.parent),
                kernel_name="python3",
                progress_bar=False,
                log_output=False,
                kernel_manager_class=QuietShutdownKernelManager,
                on_cell_error=lambda cell, cell_index, execute_reply: replies.append(
                    {"source": cell.source, **execute_reply["content"]}),
                config=Config({"KernelManager": {"transport": "ipc",
                                                 "ip": os.path.join(sockets, "kernel")}}),
            )
    except papermill.PapermillExecutionError as error:
        executed.replace(failed)
        reply = replies[-1] if replies else {}
        ename, evalue = (reply["ename"], reply["evalue"]) if reply.get("ename") else (error.ename, error.evalue)
        raise BuildError(
            f"notebook {plan.name} failed in cell {error.cell_index} (execution count {error.exec_count}), "
            f"which starts `{first_line(reply.get('source') or error.source)}`:\n"
            f"{ename}: {evalue}\n"
            f"The executed notebook, with the traceback, is {display_path(failed)}"
        ) from None
    except Exception as error:
        if executed.exists():
            executed.replace(failed)
        kept = f"; what ran is kept in {display_path(failed)}" if failed.exists() else ""
        raise BuildError(f"notebook {plan.name} could not be executed: {type(error).__name__}: {error}{kept}") from None
    notebook = nbformat.read(executed, as_version=4)
    notebook.metadata[KEY_METADATA] = key
    # The values this build used, folded (the defaults are not shown); a page whose only parameters are the mode
    # and the artefacts folder (the introduction, the appendix) shows none.
    sizes = set(plan.parameters) - {"quick", "artifacts_dir"}
    for cell in notebook.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.metadata["tags"].append("hide-cell" if sizes else "remove-cell")
    nbformat.write(notebook, executed)
    return executed


def run_notebooks(plans: list[NotebookPlan], mode: str, out_dir: Path, force: bool = False,
                  fates: dict[str, str] | None = None) -> dict[str, str]:
    """Execute what changed, in order; returns each notebook's fate ("executed" or "skipped"), also kept
    in `fates` as it goes (a notebook that fails stays "running")."""
    library = library_fingerprint()
    fates = {} if fates is None else fates
    keys: dict[str, str] = {}
    for plan in plans:
        reads = reads_of(plan.name)
        key = chapter_key(plan, mode, reads, upstream_of(plan.name, reads, keys), library)
        keys[plan.name] = key
        if not force and recorded_key(executed_path(plan, out_dir)) == key:
            print(f"[{plan.name}] unchanged, skipped", flush=True)
            fates[plan.name] = "skipped"
        else:
            print(f"[{plan.name}] running ({mode} mode) ...", flush=True)
            fates[plan.name] = "running"
            started = time.perf_counter()
            shutil.rmtree(out_dir / "artifacts" / runlog.USAGE_FOLDER / plan.name, ignore_errors=True)
            execute(plan, out_dir, key)
            print(f"[{plan.name}] done in {time.perf_counter() - started:.1f} s", flush=True)
            fates[plan.name] = "executed"
    return fates


def jupyter_book_command(mode: str, *options: str) -> list[str]:
    """`jupyter-book build` of the executed book, from this Python (the package has no __main__)."""
    return [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build",
            str(book_source_dir(mode)), "--path-output", str(build_dir(mode)), *options]


def render_html(mode: str) -> Path:
    """Jupyter Book with execution off; every Sphinx warning is an error, all listed at once."""
    sync_book_sources(mode)
    command = jupyter_book_command(mode, "--warningiserror", "--keep-going")
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
        warnings = [line for line in output.splitlines()
                    if "WARNING" in line or "ERROR" in line or "Error" in line]
        raise BuildError("the HTML build failed (Sphinx warnings count as errors):\n"
                         + "\n".join(warnings or output.splitlines()[-30:]))
    print(f"[html] built in {time.perf_counter() - started:.1f} s: {html_dir(mode) / 'index.html'}", flush=True)
    return html_dir(mode)


def check_links(mode: str) -> None:
    """Sphinx's link checker over the executed book (reaches the internet: the weekly CI job only)."""
    if subprocess.run(jupyter_book_command(mode, "--builder", "linkcheck")).returncode != 0:
        raise BuildError(f"broken links: see {build_dir(mode) / '_build' / 'linkcheck' / 'output.txt'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for tests and CI")
    parser.add_argument("--force", action="store_true", help="re-execute every notebook")
    parser.add_argument("--no-html", action="store_true", help="execute the notebooks only")
    parser.add_argument("--linkcheck", action="store_true", help="also check the book's external links (needs network)")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    assert mode in MODES
    started = time.perf_counter()
    problem = settings_problem()
    if problem:
        print(f"BUILD NOT STARTED: {problem}", file=sys.stderr)
        return 2
    fates: dict[str, str] = {}
    try:
        run_notebooks(load_plan(mode), mode, build_dir(mode), force=args.force, fates=fates)
        if not args.no_html:
            render_html(mode)
        if args.linkcheck:
            check_links(mode)
    except (ConfigError, BuildError) as error:
        print(f"BUILD FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        ran = [name for name, fate in fates.items() if fate != "skipped"]
        for line in runlog.summary_lines(build_dir(mode) / "artifacts", chapters=ran):
            print(line, flush=True)
    print(f"book built in {time.perf_counter() - started:.1f} s ({mode} mode)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
