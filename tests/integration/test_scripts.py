"""The README's try-it-yourself commands, run as written: scripts/orthanc.sh starts a local Orthanc with its
DICOMweb plugin and says how to reach it, scripts/sample_data.py makes a study, and the command line stores and
retrieves it there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.servers.orthanc_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_local_orthanc_starts_says_how_to_reach_it_and_stops(tmp_path):
    port = free_port()
    state = tmp_path / "orthanc-state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DICOMWEB_")}
    env.update(ORTHANC_STATE=str(state), ORTHANC_PORT=str(port))
    url = f"http://127.0.0.1:{port}/dicom-web"
    started = run("scripts/orthanc.sh", "start", env=env)
    try:
        assert started.returncode == 0, started.stderr
        password = (state / "password").read_text().strip()
        assert f"Orthanc with DICOMweb at {url}" in started.stdout
        assert "user:     orthanc" in started.stdout and f"password: {password}" in started.stdout
        assert oct((state / "password").stat().st_mode & 0o777) == "0o600"
        assert "already running" in run("scripts/orthanc.sh", "start", env=env).stdout

        made = run(
            sys.executable, "scripts/sample_data.py", str(tmp_path / "incoming"), "--count", "5", env=env
        )
        assert made.returncode == 0, made.stderr
        cli = [sys.executable, "-m", "airflow_dicomweb.cli", "--user", "orthanc", url]
        env["DICOMWEB_PASSWORD"] = password
        stored = run(*cli, "store", f"{tmp_path}/incoming/**.dcm", env=env)
        assert stored.returncode == 1  # notes.dcm is not DICOM
        assert "5 stored, 0 already present, 1 failed" in stored.stdout
        assert "notes.dcm: failed: not stored: not a DICOM Part 10 file" in stored.stderr
        found = run(*cli, "search", "studies", "-f", "StudyDate=20240115", "--csv", env=env)
        assert found.returncode == 0 and len(found.stdout.splitlines()) == 2
    finally:
        stopped = run("scripts/orthanc.sh", "stop", env=env)
    assert stopped.returncode == 0 and "orthanc: stopped" in stopped.stdout
    assert "not running" in run("scripts/orthanc.sh", "status", env=env).stdout
