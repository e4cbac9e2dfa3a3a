#!/usr/bin/env bash
# The stack's init step, run once before the other services (the airflow-init service of docker-compose.yaml;
# the system test runs this same script): folders, secrets generated once, Orthanc's configuration, sample
# data, the metadata database, the admin login and the DICOMweb connection. Safe to run again.
#
# STACK_ROOT is /opt/airflow in the containers. No password is put on a command line.
set -euo pipefail
ROOT="${STACK_ROOT:-/opt/airflow}"
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-python}"
USERNAME="${_AIRFLOW_WWW_USER_USERNAME:-airflow}"

mkdir -p "$ROOT/logs" "$ROOT/data" "$ROOT/secrets" "$ROOT/orthanc-config"
"$PYTHON" "$HERE/init_files.py" secrets "$ROOT/secrets"
"$PYTHON" "$HERE/init_files.py" orthanc "$ROOT/secrets" "$ROOT/orthanc-config"
"$PYTHON" "$HERE/init_files.py" samples "$ROOT/data"
if [ "$(id -u)" = 0 ]; then
    chown -R "${AIRFLOW_UID:-50000}:0" "$ROOT/logs" "$ROOT/data"
fi

echo "init: waiting for the metadata database"
for _ in $(seq 1 60); do
    if airflow db check >/dev/null 2>&1; then break; fi
    sleep 2
done
airflow db migrate

password="$(cat "$ROOT/secrets/admin_password")"
if airflow users list 2>/dev/null | grep -qw -- "$USERNAME"; then
    printf '%s\n%s\n' "$password" "$password" | airflow users reset-password --username "$USERNAME" >/dev/null
else
    printf '%s\n%s\n' "$password" "$password" | airflow users create --username "$USERNAME" \
        --firstname Airflow --lastname Admin --email "$USERNAME@example.org" --role Admin >/dev/null
fi

connection_file="$(mktemp --suffix=.json)"
trap 'rm -f "$connection_file"' EXIT
"$PYTHON" "$HERE/init_files.py" connection "$ROOT/secrets" "$connection_file"
airflow connections import --overwrite "$connection_file"

echo "init: done. Log in to Airflow as '$USERNAME' with the password in $ROOT/secrets/admin_password"
echo "init: (docker compose exec airflow-apiserver cat $ROOT/secrets/admin_password)"
