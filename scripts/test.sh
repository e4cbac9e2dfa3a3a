#!/usr/bin/env bash
# Set up this machine (scripts/setup.sh), then lint (ruff), type-check (mypy) and run the whole test suite:
# unit and property tests, integration tests against a real Orthanc, hostile servers, the docs build, and the
# system test of the deployed stack.
# Extra arguments go to pytest (for example: scripts/test.sh -k store).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "test: ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "test: mypy"
.venv/bin/mypy
echo "test: pytest"
exec .venv/bin/python -m pytest "$@"
