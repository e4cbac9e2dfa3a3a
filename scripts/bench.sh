#!/usr/bin/env bash
# Set up this machine (scripts/setup.sh), then run the benchmark race (benchmarks/run.py; --help for flags).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[bench]' 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
exec .venv/bin/python benchmarks/run.py "$@"
