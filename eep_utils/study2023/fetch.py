"""The 2023 recordings' files: pinned in the study's public repository, checked by SHA-256, read from a
local copy or downloaded.

A local copy is a folder laid out as `FILES` names them; the environment variable EEP_ORIGINAL_STUDY_DIR
points at one (tests and CI). Otherwise each file is downloaded once from the original repository at a
pinned commit (pooch, SHA-256 checked, short timeout) into the same layout under data/original-study/, so
a fetched folder is itself a local copy:

    python -m eep_utils.study2023.fetch [FOLDER]      # every pinned file into FOLDER (default data/original-study)
    export EEP_ORIGINAL_STUDY_DIR=FOLDER
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pooch
import requests

from eep_utils.paths import DATA_DIR

REPOSITORY = "keskival/embodied-emulated-personas"
PINNED_COMMIT = "b131541656d47135192de3ee409464ee9b4e2cbf"
RAW_BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{PINNED_COMMIT}/"
LOCAL_FOLDER_VARIABLE = "EEP_ORIGINAL_STUDY_DIR"
DEFAULT_CACHE = DATA_DIR / "original-study"

_CHAT = "chatbot-gym/outputs/2023-03-03 21:17:53.874433/"
_FEB28 = "chatbot-gym/outputs/2023-02-28 13:46:18.495354/"
_FEB25 = "chatbot-gym/outputs/2023-02-25 22:57:15.568798/"
_WALK = "chatbot-gym/random-walk-baseline/outputs/"
_STUDENT = "student-policy/outputs/"
# Local name -> (path in the original repository, or None if only the local copy has it; SHA-256).
FILES = {
    "chatbot/2023-03-03/sequence.json": (_CHAT + "sequence.json", "7131037da59edc6f8eff62614e187797e2594e9c1baace66b5ba585acca1d6da"),
    "chatbot/2023-03-03/prompts.json": (_CHAT + "prompts.json", "c1add26e6dd7204236a195deb03fe77dc2212e722985cb579a3295c6c9b82178"),
    "chatbot/2023-03-03/scores.json": (_CHAT + "scores.json", "f09b207e56fd0d61b091d1ab6c891b6e1dec3d6bce187d9668ed9a3cfb01c851"),
    "chatbot/2023-03-03/observations.npy": ("chatbot-gym/observations.npy", "35317f00e171e7eff73c41fac5793c48f4eb3b17f15a3b202b3fac4daccf3aa6"),
    "chatbot/2023-03-03/actions.npy": ("chatbot-gym/actions.npy", "24fc9899ea27625d9148a8f430c25d3ece16ebd9b23e2f662eed32c1779f0381"),
    "chatbot/2023-02-28/sequence.json": (_FEB28 + "sequence.json", "0b04dd60b093d0202ede6ed22c866f99fad43b09efe0486b1bfcac87ea86203f"),
    "chatbot/2023-02-28/prompts.json": (_FEB28 + "prompts.json", "af1616e0cda4f1d91b279ce9493ccc093c7edd23b6edfec20b6b94bf1f38a7b6"),
    "chatbot/2023-02-28/scores.json": (_FEB28 + "scores.json", "63e63651a36bb461285336f7fb88d4eca4568482c8d1686c55de27230c062145"),
    "chatbot/2023-02-28/fixed_scores.json": (_FEB28 + "fixed_scores.json", "f628495187cd8a522ede0ec12b8d66bcadaac76d64fdbdc658c77a9987990dcd"),
    "chatbot/2023-02-25/sequence.json": (_FEB25 + "sequence.json", "44f60bf154c46390ebb987bdf066b01a7f173b1dde00ba1ec5e3f41f41c5bf93"),
    "chatbot/2023-02-25/prompts.json": (_FEB25 + "prompts.json", "49c481b94e66fe37977561a857b5e757bca2d01980f2721dd694a64f91b3e806"),
    "random-walk/2023-02-28a/scores.json": (_WALK + "2023-02-28 12:05:34.588088/scores.json", "8f4e4cbe83da73018e8a1e216eefaba67275d30c95be9c875e95df2ecff13491"),
    "random-walk/2023-02-28b/scores.json": (_WALK + "2023-02-28 12:09:08.766331/scores.json", "ab1bfd8a1cc0d4822727472ee61629d3134a80ef9e8183db39f9d1a63f4e63b2"),
    "random-walk/2023-02-28c/scores.json": (_WALK + "2023-02-28 12:13:47.146559/scores.json", "1e4ed7834ca678bdfbd6b3e7818a32c744b1b349e56dc86542b3279e8e536966"),
    "student/2023-02-28/scores.json": (_STUDENT + "2023-02-28 23:29:40.389534/scores.json", "d5ce0874a397df285b24f09754666db9a121431c928eca0c461d88ae2ade4c93"),
    "student/2023-03-01/scores.json": (_STUDENT + "2023-03-01 00:54:44.366088/scores.json", "b08c313eb56927a9a6431670cb1b19cf0f17a8a9c39b264093184c0a20844291"),
    "student/2023-03-04/scores.json": (_STUDENT + "2023-03-04 19:54:13.393381/scores.json", "9be7950f54e0bec3855a1ab0953298f03daca373de3602cb0fc7f3d51f5ff1a0"),
    # The published model re-saved as JSON (XGBoost >= 3.1 cannot read the original binary file).
    "student/2023-03-04/xgboost.json": (None, "7807c3d3e91c42832fd023431d572373af9e379636b46d6793983509ca5c676b"),
}
# Each chatbot run's folder in the original repository (named in the runs' metadata).
RUN_FOLDERS = {"2023-03-03": _CHAT, "2023-02-28": _FEB28, "2023-02-25": _FEB25}

# pooch announces each download on stderr, which a chapter would show as an error output; the chapters
# say where the recordings came from, and the CLI prints its own summary.
pooch.get_logger().setLevel("WARNING")


class OriginalStudyUnavailable(RuntimeError):
    """The 2023 recordings are neither in a local folder nor downloadable (offline)."""


class OriginalStudyDataError(ValueError):
    """A 2023 file is damaged (wrong checksum, truncated, unparseable) or does not replay."""


def sha256_of(path: Path) -> str:
    return pooch.file_hash(str(path), alg="sha256")


def _known(name: str) -> tuple[str | None, str]:
    if name not in FILES:
        raise KeyError(f"{name!r} is not one of the 2023 files: {sorted(FILES)}")
    return FILES[name]


@dataclass
class LocalFolder:
    folder: Path

    def path(self, name: str) -> Path:
        _, expected = _known(name)
        path = self.folder / name
        if not path.is_file():
            raise OriginalStudyUnavailable(f"{path} is missing from the local copy of the 2023 recordings "
                                           f"({LOCAL_FOLDER_VARIABLE}={self.folder}); restore it or unset the variable")
        actual = sha256_of(path)
        if actual != expected:
            raise OriginalStudyDataError(
                f"{path} is not the 2023 file (SHA-256 {actual}, expected {expected}); it is damaged or "
                "truncated: replace it with a fresh copy")
        return path


@dataclass
class PinnedDownload:
    cache: Path
    base_url: str
    timeout: float

    def path(self, name: str) -> Path:
        original, expected = _known(name)
        if original is None:
            raise OriginalStudyUnavailable(
                f"{name} exists only in the local copy of the 2023 recordings, not in {REPOSITORY}; "
                f"set {LOCAL_FOLDER_VARIABLE} to a folder that has it")
        # Paths with spaces and colons must be percent-encoded in the raw-file URL.
        url = self.base_url + quote(original)
        downloader = pooch.HTTPDownloader(timeout=self.timeout, progressbar=False)
        try:
            # Stored as a local copy is laid out, so that a fetched folder can be EEP_ORIGINAL_STUDY_DIR.
            return Path(pooch.retrieve(url, known_hash=f"sha256:{expected}", fname=Path(name).name,
                                       path=self.cache / Path(name).parent, downloader=downloader))
        except ValueError as error:
            if "hash" not in str(error).lower():
                raise
            raise OriginalStudyDataError(
                f"the download of {name} from {url} does not have the pinned SHA-256 {expected}; the file "
                f"there changed or the transfer was cut. Nothing was kept. Retry, or set {LOCAL_FOLDER_VARIABLE} "
                "to a checked local copy") from None
        except (requests.RequestException, OSError) as error:
            raise OriginalStudyUnavailable(
                f"the 2023 recordings are not available: {name} could not be downloaded from {url} "
                f"({type(error).__name__}) and {LOCAL_FOLDER_VARIABLE} is not set. Work offline by "
                f"setting {LOCAL_FOLDER_VARIABLE} to a local copy") from None


def local_copy_problem() -> str | None:
    """Why $EEP_ORIGINAL_STUDY_DIR does not name a complete local copy (None when it does), and how to get one."""
    folder = os.environ.get(LOCAL_FOLDER_VARIABLE)
    if not folder:
        problem = f"{LOCAL_FOLDER_VARIABLE} is not set"
    elif not Path(folder).is_dir():
        problem = f"{LOCAL_FOLDER_VARIABLE}={folder} is not a folder"
    else:
        missing = [name for name, (original, _) in FILES.items() if original and not (Path(folder) / name).is_file()]
        if not missing:
            return None
        problem = f"{LOCAL_FOLDER_VARIABLE}={folder} lacks {len(missing)} of the pinned files, e.g. {missing[0]}"
    return (f"{problem}. Point {LOCAL_FOLDER_VARIABLE} at a copy of the 2023 recordings, or fetch them at the "
            f"pinned commit with `python -m eep_utils.study2023.fetch FOLDER` and set {LOCAL_FOLDER_VARIABLE}=FOLDER")


def fetch(folder: Path = DEFAULT_CACHE, base_url: str = RAW_BASE_URL, timeout: float = 30.0) -> list[Path]:
    """Download every file the original repository holds into `folder`, laid out as a local copy."""
    source = PinnedDownload(Path(folder), base_url, timeout)
    return [source.path(name) for name, (original, _) in FILES.items() if original is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fetch the 2023 study's recordings at the pinned commit, SHA-256 checked.")
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_CACHE, help=f"where to put them (default {DEFAULT_CACHE})")
    parser.add_argument("--base-url", default=RAW_BASE_URL, help="a mirror laid out like the original repository")
    args = parser.parse_args(argv)
    try:
        paths = fetch(args.folder, args.base_url)
    except (OriginalStudyUnavailable, OriginalStudyDataError) as error:
        print(f"FETCH FAILED: {error}", file=sys.stderr)
        return 1
    print(f"{len(paths)} files of {REPOSITORY}@{PINNED_COMMIT} in {args.folder.resolve()}; "
          f"use them with {LOCAL_FOLDER_VARIABLE}={args.folder.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
