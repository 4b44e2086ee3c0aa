"""The whole test suite as CI runs it: `./go test` on a fresh clone, after `./go` (target: 90 s or less).

    python3 benchmarks/suite.py [--runs 3] [--keep]

Clones the committed HEAD into a temporary directory, runs `./go` there once (install and sandbox; not
timed), then times `./go test` RUNS times as whole processes and prints each run, the median and the target.
The target is a figure to watch on this project's 2-core machines, not a test: a timed test would fail on a
busy machine for no fault of the code.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 90.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = parser.parse_args()
    clone = Path(tempfile.mkdtemp(prefix="portyfoul-suite-"))
    try:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        print(f"clone: {clone} ({_head(clone)})", flush=True)
        started = time.monotonic()
        subprocess.run(["./go"], cwd=clone, check=True, stdout=subprocess.DEVNULL)
        print(f"./go (install and sandbox, not counted): {time.monotonic() - started:.0f} s", flush=True)
        seconds = []
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            proc = subprocess.run(["./go", "test", "-q", "-p", "no:cacheprovider"], cwd=clone, capture_output=True,
                                  text=True)
            elapsed = time.monotonic() - started
            summary = _summary(proc.stdout)
            if proc.returncode != 0:
                print(proc.stdout[-3000:] + proc.stderr[-2000:])
                print(f"run {run}: FAILED after {elapsed:.1f} s ({summary})")
                return 1
            seconds.append(elapsed)
            print(f"run {run}: {elapsed:.1f} s ({summary})", flush=True)
        median = statistics.median(seconds)
        verdict = "within" if median <= TARGET_SECONDS else "OVER"
        print(f"./go test: median {median:.1f} s, min {min(seconds):.1f}, max {max(seconds):.1f} over {len(seconds)} "
              f"runs; {verdict} the {TARGET_SECONDS:.0f} s target")
        return 0
    finally:
        if args.keep:
            print(f"kept {clone}")
        else:
            shutil.rmtree(clone, ignore_errors=True)


def _head(clone: Path) -> str:
    return subprocess.run(["git", "log", "-1", "--format=%h %s"], cwd=clone, capture_output=True,
                          text=True).stdout.strip()[:80]


def _summary(stdout: str) -> str:
    found = re.findall(r"^=*\s*(\d+ passed.*?) in [\d.]+s", stdout, re.M)
    return found[-1] if found else "no summary"


if __name__ == "__main__":
    sys.exit(main())
