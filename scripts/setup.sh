#!/usr/bin/env bash
# Prepare this machine: Orthanc with its DICOMweb plugin (Debian packages) and a virtualenv in .venv with
# the provider (editable), Airflow at the tested version, and the test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

AIRFLOW_VERSION="3.3.2"
PLUGIN=/usr/share/orthanc/plugins/libOrthancDicomWeb.so

if ! { command -v Orthanc >/dev/null || [ -x /usr/sbin/Orthanc ]; } || [ ! -f "$PLUGIN" ]; then
    echo "setup: installing Orthanc and its DICOMweb plugin (apt-get)"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends orthanc orthanc-dicomweb >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: Python 3.11 or newer is required ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PYTHON" -m venv .venv
fi
echo "setup: installing the provider with apache-airflow==$AIRFLOW_VERSION into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' "apache-airflow==$AIRFLOW_VERSION" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
