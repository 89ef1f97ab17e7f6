"""Time the book build from a fresh checkout: a first build, then a rebuild with nothing changed.

    python benchmarks/bench_build.py            # quick mode (tests, CI); target ≤ 3 min
    python benchmarks/bench_build.py --full     # the published book; target ≤ 10 min

The baseline is the first build in the same run; the script prints the no-change rebuild as a
ratio of it (target ≤ 15%). The checkout is a `git clone` of this repository's HEAD into a
temporary folder, so untracked files and earlier builds cannot help it.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed_build(checkout: Path, mode_flag: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "eep_utils.build", *mode_flag], cwd=checkout, check=True,
                   env={**os.environ, "PYTHONPATH": str(checkout)})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="time the full (published) book instead of quick mode")
    args = parser.parse_args()
    mode_flag = [] if args.full else ["--quick"]
    with tempfile.TemporaryDirectory() as folder:
        checkout = Path(folder) / "book"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(checkout)], check=True)
        first = timed_build(checkout, mode_flag)
        again = timed_build(checkout, mode_flag)
    mode = "full" if args.full else "quick"
    print(f"{mode} build from a fresh checkout: {first:.1f} s (target {'600' if args.full else '180'} s)")
    print(f"rebuild with nothing changed:     {again:.1f} s")
    print(f"ratio rebuild / first build:      {again / first:.1%} (target ≤ 15%)")


if __name__ == "__main__":
    main()
