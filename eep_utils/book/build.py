"""Build the book: text notebooks → .ipynb → papermill → Jupyter Book, with execution off.

    python -m eep_utils.build            # the published book (full mode)
    python -m eep_utils.build --quick    # small sizes, for tests and CI
    python -m eep_utils.build --force    # re-execute every notebook

Each notebook runs with its parameters from notebooks/parameters.yaml, inside
_build/<mode>/book/notebooks/, where Jupyter Book then renders it without executing it again.
A notebook is skipped when its build key is unchanged: the key hashes its source, its
parameters, the eep_utils code, the recorded transcripts, the settings read from the
environment and the key of the notebook before it (so a changed chapter re-runs what follows).
Any failing notebook, and any Sphinx warning, stops the build with a non-zero exit.
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
from pathlib import Path

import jupytext
import nbformat
from traitlets.config import Config

from eep_utils.book.config import MODES, ROOT, ConfigError, NotebookPlan, load_plan
from eep_utils.book.site import repository_url

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
# Read, but only to put back what the code itself set: the build sets PYTHONPATH for the kernel, and the
# Minari export points MINARI_DATASETS_PATH at its target folder.
NOT_SETTINGS = {"PYTHONPATH", "MINARI_DATASETS_PATH"}
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


def code_and_data_fingerprint() -> str:
    """What every notebook depends on besides its own source: the library, the recordings, the settings
    and the book's address (chapter 02 writes it into its Minari datasets)."""
    digest = hashlib.sha256()
    _hash_files(digest, (ROOT / "eep_utils").rglob("*.py"))
    digest.update(repository_url().encode())
    transcripts = ROOT / "data" / "transcripts"
    if transcripts.exists():
        _hash_files(digest, (p for p in transcripts.rglob("*") if p.is_file()))
    for name in environment_settings():
        value = os.environ.get(name, "")
        digest.update(f"{name}={bool(value) if SECRET.search(name) else value}".encode())
    return digest.hexdigest()


def build_key(plan: NotebookPlan, mode: str, upstream_key: str, fingerprint: str) -> str:
    digest = hashlib.sha256()
    digest.update(plan.source.read_bytes())
    digest.update(json.dumps(plan.parameters, sort_keys=True).encode())
    digest.update(mode.encode())
    digest.update(upstream_key.encode())
    digest.update(fingerprint.encode())
    return digest.hexdigest()


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


def execute(plan: NotebookPlan, out_dir: Path, key: str) -> Path:
    import papermill

    executed = executed_path(plan, out_dir)
    executed.parent.mkdir(parents=True, exist_ok=True)
    (out_dir / "artifacts").mkdir(parents=True, exist_ok=True)
    parameters = {**plan.parameters, "artifacts_dir": ARTIFACTS_RELATIVE_TO_NOTEBOOK}
    # The kernel imports eep_utils from this checkout, whatever folder the notebook runs in.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    failed = executed.with_suffix(".failed.ipynb")
    failed.unlink(missing_ok=True)
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
                config=Config({"KernelManager": {"transport": "ipc",
                                                 "ip": os.path.join(sockets, "kernel")}}),
            )
    except papermill.PapermillExecutionError as error:
        executed.replace(failed)
        raise BuildError(
            f"notebook {plan.name} failed in cell {error.cell_index} (execution count {error.exec_count}): "
            f"{error.ename}: {error.evalue}\n"
            f"The executed notebook, with the traceback, is {failed}"
        ) from None
    except Exception as error:
        if executed.exists():
            executed.replace(failed)
        raise BuildError(f"notebook {plan.name} could not be executed: {type(error).__name__}: {error}") from None
    notebook = nbformat.read(executed, as_version=4)
    notebook.metadata[KEY_METADATA] = key
    for cell in notebook.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.metadata["tags"].append("hide-cell")  # the values this build used, folded; the defaults are not shown
    nbformat.write(notebook, executed)
    return executed


def run_notebooks(plans: list[NotebookPlan], mode: str, out_dir: Path, force: bool = False) -> dict[str, str]:
    """Execute what changed, in order; returns each notebook's fate ("executed" or "skipped")."""
    fingerprint = code_and_data_fingerprint()
    fates = {}
    upstream = ""
    for plan in plans:
        key = build_key(plan, mode, upstream, fingerprint)
        if not force and recorded_key(executed_path(plan, out_dir)) == key:
            print(f"[{plan.name}] unchanged, skipped", flush=True)
            fates[plan.name] = "skipped"
        else:
            print(f"[{plan.name}] running ({mode} mode) ...", flush=True)
            started = time.perf_counter()
            execute(plan, out_dir, key)
            print(f"[{plan.name}] done in {time.perf_counter() - started:.1f} s", flush=True)
            fates[plan.name] = "executed"
        upstream = key
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
    try:
        run_notebooks(load_plan(mode), mode, build_dir(mode), force=args.force)
        if not args.no_html:
            render_html(mode)
        if args.linkcheck:
            check_links(mode)
    except (ConfigError, BuildError) as error:
        print(f"BUILD FAILED: {error}", file=sys.stderr)
        return 1
    print(f"book built in {time.perf_counter() - started:.1f} s ({mode} mode)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
