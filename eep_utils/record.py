"""`python -m eep_utils.record`: ask the local chatbot every question the book needs, then seal the recordings.

Runs the book's notebooks (quick mode, then full mode, no HTML) with the teacher setting `local`
($EEP_TEACHER overrides the notebooks' `auto`), so every exchange the default builds replay is asked
of SmolLM2-135M-Instruct on llama.cpp's server (or the GGUF in $EEP_LOCAL_MODEL) and recorded; what
is already recorded is replayed, not asked again, so an interrupted run resumes. The recordings go to
the model's own folder, data/transcripts/<model>/. Then every working transcript there is folded into its
committed, compressed file with a manifest naming the sealed file's SHA-256, the model file's hash,
llama-cpp-python's version and the server's settings (`TranscriptStore.seal`).

Needs `python -m pip install -r requirements-record.txt` (it compiles llama.cpp).

`python -m eep_utils.record --seal-only` only seals what an interrupted or earlier run recorded.
`python -m eep_utils.record --reseal` only seals again every sealed recording written before records
carried digests (format 2), after checking it against its manifest; it asks nothing and needs no server.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from eep_utils.chat.local import LocalModelError, LocalServer, ServerSettings, local_model, server_installed
from eep_utils.chat.teachers import TEACHER_VARIABLE, TRANSCRIPTS_DIR, model_folder
from eep_utils.chat.transcripts import SEALED_SUFFIX, TranscriptError, TranscriptStore, display_path, reseal
from eep_utils.paths import ROOT


def seal_all(provenance: dict, folder) -> list[tuple[str, int]]:
    """Seal every experiment that has a working file in `folder` (one model's recordings); returns
    (experiment, exchanges) for each."""
    sealed = []
    for working in sorted(folder.glob("*.jsonl")):
        store = TranscriptStore(working)
        store.seal(provenance)
        sealed.append((working.stem, len(store)))
    return sealed


def reseal_all(transcripts_dir=TRANSCRIPTS_DIR) -> int:
    """Seal again, with digests, every sealed recording that has none yet (each model's folder)."""
    for sealed in sorted(transcripts_dir.glob(f"*/*{SEALED_SUFFIX}")):
        working = sealed.with_name(sealed.name.removesuffix(SEALED_SUFFIX) + ".jsonl")
        try:
            TranscriptStore(working, strict=True)
            continue  # sound and already with digests
        except TranscriptError as error:
            if "has no digest" not in str(error):
                print(f"NOT RE-SEALED: {error}", file=sys.stderr)
                return 1
        exchanges, added = reseal(working)
        print(f"re-sealed {display_path(sealed)}: {exchanges} exchanges, {added} digests added")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick-only", action="store_true", help="record only what the quick book needs")
    parser.add_argument("--no-seal", action="store_true", help="leave the recordings in the working files")
    parser.add_argument("--seal-only", action="store_true",
                        help="only seal what a recording run left in the working files (asks nothing)")
    parser.add_argument("--reseal", action="store_true",
                        help="only add digests to sealed recordings written before they carried them")
    args = parser.parse_args(argv)
    if args.reseal:
        return reseal_all()
    if not server_installed():
        print("llama-cpp-python is not installed: python -m pip install -r requirements-record.txt", file=sys.stderr)
        return 2
    try:
        model = local_model()
    except LocalModelError as error:
        print(f"RECORDING NOT STARTED: {error}", file=sys.stderr)
        return 2
    environment = {**os.environ, TEACHER_VARIABLE: "local"}
    for mode in () if args.seal_only else ("quick",) if args.quick_only else ("quick", "full"):
        started = time.perf_counter()
        flags = ["--quick"] if mode == "quick" else []
        print(f"recording what the {mode} book asks of {model.alias} ...", flush=True)
        result = subprocess.run([sys.executable, "-m", "eep_utils.build", *flags, "--no-html"], cwd=ROOT,
                                env=environment)
        if result.returncode != 0:
            print(f"RECORDING STOPPED in the {mode} book (see above); what was recorded is kept in "
                  f"{display_path(model_folder(model.alias))}/*.jsonl, and running this command again resumes",
                  file=sys.stderr)
            return result.returncode
        print(f"{mode} book recorded in {time.perf_counter() - started:.0f} s", flush=True)
    if not args.no_seal:
        provenance = {model.alias: LocalServer(model, ServerSettings()).provenance()}
        for experiment, count in seal_all(provenance, model_folder(model.alias)):
            print(f"sealed {experiment}{SEALED_SUFFIX}: {count} exchanges")
    return 0


if __name__ == "__main__":
    sys.exit(main())
