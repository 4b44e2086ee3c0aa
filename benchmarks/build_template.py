"""Wall time of `invoke build-template` as a whole process, next to the bare cost of importing troposphere.

    .venv/bin/python benchmarks/build_template.py [--runs 7]

Target (issue 2): under 1 second on the 2-core reference machine. Writes into a
temporary directory, so the committed generated/ is never touched.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 1.0


def median_seconds(cmd: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PORTYFOUL_GENERATED_DIR": tmp}
        py = sys.executable
        interpreter = median_seconds([py, "-c", "pass"], args.runs, env)
        imports = median_seconds([py, "-c", "import troposphere, troposphere.ecs, troposphere.rds, awacs.aws"], args.runs, env)
        build = median_seconds([py, "-m", "invoke", "build-template"], args.runs, env)
        check = median_seconds([py, "-m", "invoke", "build-template", "--check"], args.runs, env)
    print(f"median of {args.runs} runs, whole processes")
    print(f"  python startup                  {interpreter:6.3f} s")
    print(f"  import troposphere + awacs      {imports:6.3f} s")
    print(f"  invoke build-template           {build:6.3f} s   (target < {TARGET_SECONDS:.1f} s)")
    print(f"  invoke build-template --check   {check:6.3f} s")
    return 0 if build < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
