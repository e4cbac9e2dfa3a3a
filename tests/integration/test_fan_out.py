"""A server without study- or series-level retrieve (OHIF's static-wado, AWS HealthImaging) still gives whole
studies: series metadata, then each instance, byte-identical, resumable. The server here is the real
Orthanc behind a loopback front that answers 404 to study and series retrieves, as static-wado does, and
passes everything else through."""

from __future__ import annotations

import re

import pydicom
import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import DicomWebNotFoundError
from tests.connections import FAST_RETRY_EXTRAS
from tests.dicom_factory import make_series
from tests.emulators.orthanc_front import OrthancFront

WHOLE = re.compile(r"^/dicomweb/studies/[0-9.]+(/series/[0-9.]+)?$")


@pytest.fixture
def no_whole_retrieve(clean_orthanc):
    """The front: 404 for GET of a whole study or series; every other request forwarded to Orthanc."""

    def gate(request):
        if request.method == "GET" and WHOLE.match(request.path):
            return 404, {"Content-Type": "text/html"}, b"<pre>Cannot GET</pre>"
        return None

    with OrthancFront(clean_orthanc, gate) as front:
        yield front


@pytest.fixture
def study(no_whole_retrieve, tmp_path):
    uid = generate_uid()
    files = make_series(tmp_path / "a", 3, study_uid=uid, rows=16, columns=16)
    files += make_series(tmp_path / "b", 2, study_uid=uid, rows=16, columns=16)
    client = DicomWebClient.from_url(
        no_whole_retrieve.orthanc.dicomweb_url,
        login=no_whole_retrieve.orthanc.username,
        password=no_whole_retrieve.orthanc.password,
    )
    assert len(client.store_instances(files).stored) == 5
    return uid, {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID: f.read_bytes() for f in files}


def client_for(front, **extra) -> DicomWebClient:
    return DicomWebClient.from_url(front.url + "/dicomweb", **FAST_RETRY_EXTRAS, **extra)


def fetched(front) -> list[str]:
    return [r.path for r in front.requests if r.method == "GET" and "/instances/" in r.path]


def test_the_client_adapts_when_the_server_shows_it_has_no_study_retrieve(no_whole_retrieve, study, tmp_path):
    uid, held = study
    paths = client_for(no_whole_retrieve).retrieve_study(uid, tmp_path / "out")
    assert {p.stem: p.read_bytes() for p in paths} == held  # byte-identical
    assert len(fetched(no_whole_retrieve)) == 5


def test_a_profile_without_whole_retrieves_fans_out_at_once_and_resumes(no_whole_retrieve, study, tmp_path):
    uid, held = study
    retrieve = client_for(no_whole_retrieve, server="static-wado").transactions.instances
    assert retrieve.profile.study_retrieve is False
    dest = tmp_path / "out"
    retrieve.retrieve_study(uid, dest, skip_existing=True, series_concurrency=1)
    assert {p.stem: p.read_bytes() for p in dest.rglob("*.dcm")} == held
    assert not [r for r in no_whole_retrieve.requests if WHOLE.match(r.path)]  # never asked whole
    for path in sorted(dest.rglob("*.dcm"))[::2]:
        path.unlink()
    no_whole_retrieve.requests.clear()
    retrieve.retrieve_study(uid, dest, skip_existing=True, series_concurrency=1)
    assert {p.stem: p.read_bytes() for p in dest.rglob("*.dcm")} == held
    assert len(fetched(no_whole_retrieve)) == 3  # only the missing ones


def test_an_unknown_study_is_still_named(no_whole_retrieve, tmp_path):
    unknown = generate_uid()
    with pytest.raises(DicomWebNotFoundError, match=f"study {unknown} was not found"):
        client_for(no_whole_retrieve).retrieve_study(unknown, tmp_path / "none")
