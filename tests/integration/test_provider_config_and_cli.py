"""The provider's ``[dicomweb]`` configuration section and its ``airflow dicomweb`` commands, as Airflow
itself loads them (the provider info's ``config`` and ``cli``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from airflow_dicomweb.get_provider_info import get_provider_info
from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from airflow_dicomweb.triggers.study_arrival import DicomWebStudyArrivalTrigger
from tests.connections import orthanc_connection


def test_the_section_is_listed_with_the_cores_defaults():
    from airflow_dicomweb.core import defaults

    options = get_provider_info()["config"]["dicomweb"]["options"]
    assert options["pool_size"]["default"] == str(defaults.POOL_SIZE)
    assert options["settle_seconds"]["default"] == str(defaults.ARRIVAL_SETTLE_SECONDS)
    assert set(options) == {"pool_size", "max_retries", "timeout", "settle_seconds"}


def test_configured_defaults_fill_what_a_connection_does_not_set(clean_orthanc, monkeypatch):
    monkeypatch.setenv("AIRFLOW__DICOMWEB__POOL_SIZE", "3")
    monkeypatch.setenv("AIRFLOW__DICOMWEB__MAX_RETRIES", "1")
    monkeypatch.setenv("AIRFLOW__DICOMWEB__SETTLE_SECONDS", "7.5")
    monkeypatch.setenv("AIRFLOW_CONN_DICOMWEB_PLAIN", orthanc_connection(clean_orthanc))
    monkeypatch.setenv("AIRFLOW_CONN_DICOMWEB_OWN", orthanc_connection(clean_orthanc, pool_size=9))
    plain, own = DicomWebHook("dicomweb_plain"), DicomWebHook("dicomweb_own")
    assert plain.settings.pool_size == 3 and own.settings.pool_size == 9
    assert own.settings.retry.max_attempts == plain.settings.retry.max_attempts  # the test extras set retries
    assert DicomWebStudyArrivalTrigger(dicomweb_conn_id="dicomweb_plain").settle_seconds == 7.5
    assert (
        DicomWebStudyArrivalTrigger(dicomweb_conn_id="dicomweb_plain", settle_seconds=0).settle_seconds == 0
    )
    monkeypatch.setenv("AIRFLOW__DICOMWEB__POOL_SIZE", "many")
    import pytest

    with pytest.raises(ValueError, match=r"\[dicomweb\] pool_size must be a number"):
        _ = DicomWebHook("dicomweb_plain").settings


def airflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "airflow"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_airflow_dicomweb_test_connection(clean_orthanc):
    env = {
        "AIRFLOW_CONN_DICOMWEB_GOOD": orthanc_connection(clean_orthanc),
        "AIRFLOW_CONN_DICOMWEB_BAD": json.dumps(
            json.loads(orthanc_connection(clean_orthanc)) | {"password": "wrong-password-here"}
        ),
        "AIRFLOW_CONN_SITE_KEY": json.dumps({"conn_type": "dicom_deid_key", "password": "short"}),
    }
    good = airflow("dicomweb", "test-connection", "dicomweb_good", env=env)
    assert good.returncode == 0 and "\nOK: DICOMweb service answered" in "\n" + good.stdout, (
        good.stdout + good.stderr
    )
    bad = airflow("dicomweb", "test-connection", "dicomweb_bad", env=env)
    assert bad.returncode == 1 and "FAILED: " in bad.stdout
    assert "wrong-password-here" not in bad.stdout + bad.stderr
    key = airflow("dicomweb", "test-connection", "site_key", env=env)
    assert key.returncode == 1 and "too short" in key.stdout and "short\n" not in key.stdout
