#!/usr/bin/env bash
# Prepare this machine: the servers and tools the tests use (Debian packages: Orthanc with its DICOMweb plugin,
# Postgres and Redis for the deployed stack, dicom3tools to validate generated instances, dcmtk's DIMSE peers); a virtualenv in .venv
# with the provider (editable), Airflow at the tested version with the stack's extras and the versions the
# suite was verified with (deploy/constraints.txt), the S3 pieces (the amazon provider's s3fs, moto's S3
# server), OpenLineage, and the test tools; and tiny_pacs, a second real DICOMweb server, in its own virtualenv
# (.test-env/tiny-pacs) so that its dependencies never meet Airflow's; Azurite (the Azure Storage emulator, from
# npm) in .test-env/azurite; and the oldest google-auth this package allows, and 2.62 (the one release that
# looks up regional access boundaries by default), each in a folder of .test-env/ that a test puts ahead of
# .venv's. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

AIRFLOW_VERSION="3.3.2"

# command or file that shows the package is there -> Debian package
declare -A NEEDED=(
    [/usr/sbin/Orthanc]=orthanc
    [/usr/share/orthanc/plugins/libOrthancDicomWeb.so]=orthanc-dicomweb
    [/usr/bin/redis-server]=redis-server
    [/usr/bin/pg_ctlcluster]=postgresql
    [/usr/bin/dciodvfy]=dicom3tools
    [/usr/bin/storescp]=dcmtk
)
missing=()
for path in "${!NEEDED[@]}"; do
    [ -e "$path" ] || missing+=("${NEEDED[$path]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]} (apt-get)"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,azure,aws,google,dimse,quality]' \
    "apache-airflow[celery,postgres]==$AIRFLOW_VERSION" apache-airflow-providers-fab \
    "apache-airflow-providers-amazon[s3fs]" apache-airflow-providers-openlineage "moto[server]" \
    -c deploy/constraints.txt 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

TINY_PACS=.test-env/tiny-pacs
if [ ! -x "$TINY_PACS/bin/python" ]; then
    echo "setup: creating $TINY_PACS (tiny_pacs, a second DICOMweb server for the tests)"
    "$PYTHON" -m venv "$TINY_PACS"
fi
echo "setup: installing tiny_pacs with its DICOMweb front-end into $TINY_PACS"
"$TINY_PACS/bin/python" -m pip install -q --disable-pip-version-check \
    "tiny-pacs[dicomweb]==0.4.1" "tiny-pacs-dicomweb==0.1.0" -c tests/tiny-pacs-constraints.txt 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }

AZURITE=.test-env/azurite
if [ ! -x "$AZURITE/node_modules/.bin/azurite-queue" ]; then
    if ! command -v npm >/dev/null; then
        echo "setup: installing npm (apt-get), for Azurite, the Azure Storage emulator the tests start"
        SUDO=""
        if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
    fi
    echo "setup: installing Azurite (the Azure Storage emulator, from npm) into $AZURITE"
    mkdir -p "$AZURITE"
    (cd "$AZURITE" && npm install --no-audit --no-fund --silent azurite@3.37.0 >/dev/null)
fi

for version in 2.29.0 2.62.2; do
    target=".test-env/google-auth-$version"
    if [ ! -d "$target/google/auth" ]; then
        echo "setup: installing google-auth $version into $target (the tests run it beside .venv's)"
        .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --target "$target" \
            "google-auth==$version" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
    fi
done
