"""The README's command-line examples, run as written against the real Orthanc and the clouds' emulators.
The one change to each line is the host: the emulator's loopback address in place of the cloud's (for
Google, ``--api-root``, since its line names no host), and ``--server`` where the profile is told from the
cloud's host. The secrets are where the README says they are: the
environment and the cloud libraries' own chains."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from tests.dicom_factory import make_series
from tests.emulators import healthimaging_emulator as hi
from tests.integration.test_azure import azure  # noqa: F401  (a fixture)
from tests.integration.test_healthimaging import healthimaging  # noqa: F401  (a fixture)
from tests.servers.orthanc_server import OrthancServer

ROOT = Path(__file__).resolve().parents[2]


def readme_lines() -> list[str]:
    """The ``dicomweb`` lines of the README's "The command line" block, comments cut."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## The command line", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("   #", 1)[0].strip() for line in block.splitlines() if line.startswith("dicomweb ")]


def line_for(word: str) -> list[str]:
    (line,) = [line for line in readme_lines() if word in line]
    return shlex.split(line)


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    assert argv[0] == "dicomweb"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "DICOMWEB_"))}
    return subprocess.run(
        [sys.executable, "-m", "airflow_dicomweb.cli", *argv[1:]],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_readme_has_one_line_per_server_kind():
    lines = readme_lines()
    assert len(lines) == 4
    assert [
        w
        for w in ("--user", "--google", "--auth-type azure", "--auth-type aws")
        if any(w in x for x in lines)
    ]


class ReadmeOrthanc(OrthancServer):
    username = "orthanc"  # the README's user


@pytest.fixture(scope="module")
def readme_orthanc(tmp_path_factory):
    with ReadmeOrthanc(tmp_path_factory.mktemp("readme-orthanc")) as server:
        yield server


def test_orthanc_line(readme_orthanc, tmp_path):
    study = generate_uid()
    make_series(tmp_path / "incoming" / "ct", 3, study_uid=study, rows=8, columns=8)
    argv = [
        readme_orthanc.dicomweb_url if a == "http://127.0.0.1:8042/dicom-web" else a
        for a in line_for("--user")
    ]
    done = run(argv, tmp_path, {"DICOMWEB_PASSWORD": readme_orthanc.password})
    assert done.returncode == 0, done.stderr
    assert "3 stored" in done.stdout
    assert readme_orthanc.count_instances() == 3


def test_google_line(google, tmp_path):
    study = generate_uid()
    google.orthanc.wipe()
    make_series(tmp_path / "in", 1, study_uid=study, rows=8, columns=8)
    key = tmp_path / "adc.json"
    key.write_text(json.dumps(google.service_account_key()))
    argv = line_for("--google")
    path = argv[argv.index("--google") + 1]
    saved = (google.project, google.location, google.dataset, google.dicom_store)
    google.project, google.location, google.dataset, google.dicom_store = path.split("/")
    try:
        from airflow_dicomweb.core.client import DicomWebClient

        with DicomWebClient.from_url(google.store_url(), auth_type="google", key_path=str(key)) as client:
            assert client.store_instances(sorted((tmp_path / "in").iterdir())).ok
        done = run(
            [*argv[:1], "--api-root", google.url, *argv[1:]],
            tmp_path,
            {"GOOGLE_APPLICATION_CREDENTIALS": str(key)},
        )
    finally:
        google.project, google.location, google.dataset, google.dicom_store = saved
    assert done.returncode == 0, done.stderr
    assert [s["0020000D"]["Value"][0] for s in json.loads(done.stdout)] == [study]


def test_azure_line(azure, tmp_path):  # noqa: F811
    study = generate_uid()
    from airflow_dicomweb.core.client import DicomWebClient

    with DicomWebClient.from_url(azure.dicom.dicomweb_url, auth_type="azure", server="azure") as client:
        assert client.store_instances(make_series(tmp_path / "in", 1, study_uid=study, rows=8, columns=8)).ok
    argv = [
        azure.dicom.dicomweb_url if a.startswith("https://") else a for a in line_for("--auth-type azure")
    ]
    done = run([*argv[:1], "--server", "azure", *argv[1:]], tmp_path, dict(azure.environment))
    assert done.returncode == 0, done.stderr
    assert study in {s["0020000D"]["Value"][0] for s in json.loads(done.stdout)}


def test_aws_line(healthimaging, tmp_path):  # noqa: F811
    study = generate_uid()
    argv = line_for("--auth-type aws")
    url = next(a for a in argv if a.startswith("https://"))
    assert url.endswith(f"/datastore/{hi.DATASTORE}")
    from airflow_dicomweb.core.client import DicomWebClient

    with DicomWebClient.from_url(
        healthimaging.dicomweb_url, auth_type="aws", region_name=hi.REGION, server="healthimaging"
    ) as client:
        assert client.store_instances(make_series(tmp_path / "in", 1, study_uid=study, rows=8, columns=8)).ok
    argv = [healthimaging.dicomweb_url if a == url else a for a in argv]
    env = {k: v for k, v in os.environ.items() if re.match(r"^AWS_", k)}
    done = run([*argv[:1], "--server", "healthimaging", *argv[1:]], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert study in {s["0020000D"]["Value"][0] for s in json.loads(done.stdout)}
