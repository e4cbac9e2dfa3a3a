#!/usr/bin/env bash
# Set up this machine (scripts/setup.sh), then run the benchmark race (benchmarks/run.py; --help for flags);
# with "targets" first, every benchmark in turn and one table of the performance targets
# (benchmarks/targets.py); with "scale" first, the scaling benchmark (benchmarks/scale.py); with "compare REF" first, the regression
# guard: the zero-cost races on REF and on the working tree, interleaved, and the ratio of each
# (benchmarks/compare.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ ! -x /usr/sbin/nginx ]; then  # the zero-cost server of the benchmark
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nginx-light curl >/dev/null
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[bench]' 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
if [ "${1:-}" = "compare" ]; then
    shift
    exec .venv/bin/python benchmarks/compare.py "$@"
fi
if [ "${1:-}" = "targets" ]; then
    shift
    exec .venv/bin/python benchmarks/targets.py "$@"
fi
if [ "${1:-}" = "scale" ]; then
    shift
    exec .venv/bin/python benchmarks/scale.py "$@"
fi
exec .venv/bin/python benchmarks/run.py "$@"
