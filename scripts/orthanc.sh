#!/usr/bin/env bash
# A local Orthanc with its DICOMweb plugin, to try the provider and the `dicomweb` command on, without Docker.
#
#   scripts/orthanc.sh start    start it on http://127.0.0.1:8042 (user orthanc, a password generated once),
#                               and print how to reach it
#   scripts/orthanc.sh stop     stop it
#   scripts/orthanc.sh status   say whether it runs, and print how to reach it
#
# It keeps its data, logs and password in .orthanc/ (delete the folder to start over, empty; ORTHANC_STATE
# names another folder). ORTHANC_PORT
# chooses another port. Orthanc and its DICOMweb plugin come from Debian's packages, installed if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE="${ORTHANC_STATE:-.orthanc}"
PORT="${ORTHANC_PORT:-8042}"
USER_NAME=orthanc
BINARY=/usr/sbin/Orthanc
PLUGIN=/usr/share/orthanc/plugins/libOrthancDicomWeb.so
URL="http://127.0.0.1:$PORT/dicom-web"

running() {
    [ -f "$STATE/orthanc.pid" ] && kill -0 "$(cat "$STATE/orthanc.pid")" 2>/dev/null
}

usage() {
    cat <<EOF
Orthanc with DICOMweb at $URL
  user:     $USER_NAME
  password: $(cat "$STATE/password")   (kept in $STATE/password)

Try the command line (scripts/setup.sh made .venv):
  export DICOMWEB_PASSWORD="\$(cat $STATE/password)"
  .venv/bin/dicomweb --user $USER_NAME $URL search studies

Or an Airflow connection:
  export AIRFLOW_CONN_DICOMWEB_DEFAULT="{\"conn_type\": \"dicomweb\", \"host\": \"$URL\", \"login\": \"$USER_NAME\", \"password\": \"\$(cat $STATE/password)\", \"extra\": {\"caret_as_wildcard\": true, \"delete_api\": \"orthanc\"}}"
EOF
}

start() {
    if running; then
        echo "orthanc: already running (pid $(cat "$STATE/orthanc.pid"))"
        usage
        return
    fi
    if [ ! -x "$BINARY" ] || [ ! -e "$PLUGIN" ]; then
        echo "orthanc: installing orthanc and orthanc-dicomweb (apt-get)"
        SUDO=""
        if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
            orthanc orthanc-dicomweb >/dev/null
    fi
    mkdir -p "$STATE/storage" "$STATE/logs"
    chmod 700 "$STATE"
    if [ ! -s "$STATE/password" ]; then
        (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(18))' >"$STATE/password")
    fi
    python3 - "$STATE" "$PORT" "$USER_NAME" "$PLUGIN" <<'EOF'
import json, os, sys
state, port, user, plugin = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
password = open(os.path.join(state, "password")).read().strip()
config = {
    "Name": "airflow-dicomweb-local",
    "StorageDirectory": os.path.abspath(os.path.join(state, "storage")),
    "IndexDirectory": os.path.abspath(os.path.join(state, "storage")),
    "HttpPort": port,
    "RemoteAccessAllowed": False,
    "AuthenticationEnabled": True,
    "RegisteredUsers": {user: password},
    "DicomServerEnabled": False,
    "HttpCompressionEnabled": False,
    "Plugins": [plugin],
    "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "Host": f"127.0.0.1:{port}"},
}
path = os.path.join(state, "orthanc.json")
with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
    json.dump(config, out, indent=2)
EOF
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "orthanc: port $PORT is taken by another program; choose another with ORTHANC_PORT=..." >&2
        exit 1
    fi
    setsid "$BINARY" --logdir="$STATE/logs" "$STATE/orthanc.json" >/dev/null 2>&1 </dev/null &
    echo $! >"$STATE/orthanc.pid"
    for _ in $(seq 1 100); do
        if python3 - "http://127.0.0.1:$PORT/system" "$USER_NAME" "$STATE/password" 2>/dev/null <<'PROBE'; then
import base64, sys, urllib.request
url, user, secret = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().strip()
token = base64.b64encode(f"{user}:{secret}".encode()).decode()
urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Basic {token}"}), timeout=1)
PROBE
            echo "orthanc: started (pid $(cat "$STATE/orthanc.pid"))"
            usage
            return
        fi
        if ! running; then
            echo "orthanc: it exited; see $STATE/logs" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "orthanc: no answer on port $PORT after 10 s; see $STATE/logs" >&2
    exit 1
}

stop() {
    if ! running; then
        echo "orthanc: not running"
        rm -f "$STATE/orthanc.pid"
        return
    fi
    pid=$(cat "$STATE/orthanc.pid")
    kill "$pid"
    for _ in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$STATE/orthanc.pid"
    echo "orthanc: stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status)
    if running; then
        echo "orthanc: running (pid $(cat "$STATE/orthanc.pid"))"
        usage
    else
        echo "orthanc: not running"
    fi
    ;;
*)
    echo "usage: scripts/orthanc.sh start|stop|status" >&2
    exit 2
    ;;
esac
