"""``auth_type: aws`` and ``server: healthimaging``: requests signed by botocore's SigV4 signer, verified by
recomputing the signature on the server side (tests/emulators/healthimaging_emulator.py, its data in the real
Orthanc); a study fanned out through series metadata, as HealthImaging has no study retrieve; a signature
never sent to another origin, and no key in an error."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import DicomWebConfigError, DicomWebHTTPError, DicomWebUnsafeUrlError
from tests.connections import FAST_RETRY_EXTRAS
from tests.dicom_factory import make_series
from tests.emulators import healthimaging_emulator as hi
from tests.fakes.fake_server import FakeServer


@pytest.fixture
def healthimaging(clean_orthanc, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", hi.ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", hi.SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", hi.SESSION_TOKEN)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance metadata service
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    with hi.HealthImagingEmulator(clean_orthanc) as emulator:
        yield emulator


def client_for(emulator, **extra) -> DicomWebClient:
    return DicomWebClient.from_url(
        emulator.dicomweb_url,
        auth_type="aws",
        region_name=hi.REGION,
        server="healthimaging",
        **{**FAST_RETRY_EXTRAS, "max_retries": 0},
        **extra,
    )


def test_signed_store_search_and_a_fanned_out_retrieve(healthimaging, tmp_path):
    study = generate_uid()
    files = make_series(tmp_path / "a", 2, study_uid=study, rows=16, columns=16)
    files += make_series(tmp_path / "b", 2, study_uid=study, rows=16, columns=16)
    with client_for(healthimaging) as client:
        assert len(client.store_instances(files).stored) == 4  # the pre-check's searches, then the POST
        assert len(client.search_for_instances(study)) == 4
        paths = client.retrieve_study(study, tmp_path / "out")
    assert healthimaging.refused == [] and healthimaging.verified > 8
    by_uid = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID: f.read_bytes() for f in files}
    assert {p.stem: p.read_bytes() for p in paths} == by_uid  # byte-identical, instance by instance


def test_a_wrong_key_is_refused_by_the_signature_check(healthimaging, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not/the/key")
    with client_for(healthimaging) as client, pytest.raises(DicomWebHTTPError) as raised:
        client.search_for_studies()
    assert raised.value.status == 403 and healthimaging.refused == ["signature mismatch"]
    assert "not/the/key" not in str(raised.value) and hi.SESSION_TOKEN not in str(raised.value)


def test_a_redirect_elsewhere_carries_no_signature(healthimaging):
    with FakeServer(lambda r: (200, {"Content-Type": "application/dicom+json"}, b"[]")) as other:
        original = healthimaging.handler
        healthimaging.handler = lambda r: (302, {"Location": f"{other.url}/steal"}, b"")
        with client_for(healthimaging) as client, pytest.raises(DicomWebUnsafeUrlError):
            client.search_for_studies()
        healthimaging.handler = original
    assert other.requests == []


def test_the_region_comes_from_the_extra_or_the_host(monkeypatch):
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = DicomWebClient.from_url(
        "https://dicom-medical-imaging.eu-west-1.amazonaws.com/datastore/abc", auth_type="aws"
    )
    assert client.transport.settings.profile.name == "healthimaging"  # told from the host
    with pytest.raises(DicomWebConfigError, match="needs the extra region_name"):
        DicomWebClient.from_url("https://pacs.example/dicomweb", auth_type="aws")


def test_the_session_token_echoed_by_a_server_is_redacted(healthimaging):
    original = healthimaging.handler
    healthimaging.handler = lambda r: (
        400,
        {"Content-Type": "text/plain"},
        f"bad request from {r.headers.get('X-Amz-Security-Token')}".encode(),
    )
    with client_for(healthimaging) as client, pytest.raises(DicomWebHTTPError) as raised:
        client.search_for_studies()
    healthimaging.handler = original
    assert raised.value.status == 400 and hi.SESSION_TOKEN not in str(raised.value)


def test_an_airflow_aws_connection_is_the_credential_source_through_the_amazon_provider(
    healthimaging, monkeypatch, caplog
):
    from airflow_dicomweb.hooks.dicomweb import DicomWebHook
    from tests.connections import connection_json

    # botocore's default chain holds a wrong key: only the AWS connection's keys can pass the check.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGDEFAULTCHAIN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong/default/chain")
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_IMAGING",
        connection_json(
            None,
            conn_type="aws",
            login=hi.ACCESS_KEY,
            password=hi.SECRET_KEY,
            extra={"aws_session_token": hi.SESSION_TOKEN, "region_name": hi.REGION},
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_DICOMWEB_HI",
        connection_json(
            healthimaging.dicomweb_url,
            extra={
                **FAST_RETRY_EXTRAS,
                "auth_type": "aws",
                "aws_conn_id": "aws_imaging",
                "region_name": hi.REGION,
                "server": "healthimaging",
            },
        ),
    )
    hook = DicomWebHook("dicomweb_hi")
    assert hook.search_for_studies() == []
    assert healthimaging.refused == [] and healthimaging.verified == 1
    hook.close()
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_IMAGING",
        connection_json(None, conn_type="aws", login=hi.ACCESS_KEY, password="not/the/key"),
    )
    with pytest.raises(DicomWebHTTPError) as raised:
        DicomWebHook("dicomweb_hi").search_for_studies()
    assert raised.value.status == 403 and "not/the/key" not in str(raised.value) + caplog.text


def test_aws_conn_id_without_airflow_is_a_clear_error():
    with pytest.raises(DicomWebConfigError, match="aws_conn_id names an Airflow AWS connection"):
        DicomWebClient.from_url(
            "https://dicom-medical-imaging.eu-west-1.amazonaws.com/datastore/abc",
            auth_type="aws",
            aws_conn_id="aws_default",
        )
