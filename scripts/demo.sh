#!/usr/bin/env bash
# Set up this machine (scripts/setup.sh), then run the demo: a local Orthanc, sample DICOM files stored,
# searched and retrieved back through DicomWebHook, printing what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
