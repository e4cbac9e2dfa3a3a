#!/usr/bin/env bash
# Set up this machine (scripts/setup.sh), then lint and run the whole test suite against a real Orthanc.
# Extra arguments go to pytest (for example: scripts/test.sh -k store).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "test: ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "test: pytest"
exec .venv/bin/python -m pytest "$@"
