#!/usr/bin/env bash
# Set up this machine (scripts/setup.sh), then run the demo: a local Orthanc, sample DICOM files stored,
# ingested, exported, converted from JPEG and deleted by the example DAGs, printing what each task did.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
