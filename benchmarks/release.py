"""Orchestration overhead of a release: `invoke release --tag T --no-build` as a whole process, against moto.

    .venv/bin/python benchmarks/release.py [--runs 5]

Starts a local AWS (moto on 127.0.0.1), creates the dev stack, seeds one image
per run, then times each release. What it measures is our overhead (process
start, imports, API round trips on loopback), not ECS: moto completes
deployments at once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    import boto3

    from portyfoul_infra.local import server as local_aws

    server = local_aws.start()
    env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint, "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-2"}
    invoke = [sys.executable, "-m", "invoke"]
    try:
        subprocess.run(invoke + ["stack-update", "--yes"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        session = boto3.Session(region_name="us-east-2", aws_access_key_id="bench", aws_secret_access_key="bench")
        sm = session.client("secretsmanager", endpoint_url=server.endpoint)
        sm.put_secret_value(SecretId="portyfoul/dev/finnhub-api-key", SecretString="benchmark-key")
        ecr = session.client("ecr", endpoint_url=server.endpoint)
        times = []
        for i in range(args.runs):
            tag = f"bench{i:04d}"
            local_aws.seed_image(ecr, "portyfoul-dev", tag)
            start = time.perf_counter()
            subprocess.run(invoke + ["release", "--tag", tag, "--no-build"], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
    finally:
        server.stop()
    print(f"invoke release --no-build against moto, {args.runs} runs: median {statistics.median(times):.3f} s, "
          f"min {min(times):.3f} s, max {max(times):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
