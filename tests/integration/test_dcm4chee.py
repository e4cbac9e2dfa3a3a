"""``delete_api: dcm4chee``: reject, then delete, against an emulator of dcm4chee-arc's IOCM REST API as its
source documents it (tests/emulators/dcm4chee_emulator.py; the data in the real Orthanc). dcm4chee itself cannot run
on these machines."""

from __future__ import annotations

import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import DicomWebConfigError, DicomWebHTTPError, DicomWebNotFoundError
from tests.connections import FAST_RETRY_EXTRAS
from tests.dicom_factory import make_series
from tests.emulators.dcm4chee_emulator import Dcm4cheeEmulator


@pytest.fixture
def dcm4chee(clean_orthanc):
    with Dcm4cheeEmulator(clean_orthanc) as emulator:
        yield emulator


@pytest.fixture
def study(dcm4chee, tmp_path):
    uid = generate_uid()
    series = [generate_uid(), generate_uid()]
    for i, series_uid in enumerate(series):
        make_series(tmp_path / str(i), 2, study_uid=uid, series_uid=series_uid, rows=8, columns=8)
    with client(dcm4chee) as c:
        assert c.store_instances(sorted(tmp_path.rglob("*.dcm"))).ok
    return uid, series


def client(dcm4chee, **extra) -> DicomWebClient:
    return DicomWebClient.from_url(dcm4chee.dicomweb_url, **FAST_RETRY_EXTRAS, **extra)


def test_the_profile_is_told_from_the_url_and_delete_stays_opt_in(dcm4chee, study):
    with client(dcm4chee) as c:
        assert c.transport.settings.profile.name == "dcm4chee"
        assert c.transport.settings.delete_api == "dicomweb"
        with pytest.raises(DicomWebHTTPError, match=r"403.*Study is not empty"):
            c.delete_study(study[0])  # dcm4chee deletes nothing that was not rejected
    assert dcm4chee.orthanc.count_instances() == 4


def test_a_study_is_rejected_then_deleted_for_good(dcm4chee, study):
    with client(dcm4chee, delete_api="dcm4chee") as c:
        assert c.delete_study(study[0]) is None  # at once: no operation
        assert c.search_for_studies({"StudyInstanceUID": study[0]}) == []
    assert dcm4chee.orthanc.count_instances() == 0
    calls = [
        (r.method, r.path.rsplit("/rs", 1)[1])
        for r in dcm4chee.front.requests
        if r.method == "DELETE" or "/reject/" in r.path
    ]
    assert calls == [
        ("POST", f"/studies/{study[0]}/reject/113039%5EDCM"),
        ("DELETE", f"/studies/{study[0]}"),
    ]


def test_a_delete_that_stopped_after_the_rejection_completes_when_run_again(dcm4chee, study):
    with client(dcm4chee, delete_api="dcm4chee") as c:
        c.delete_series(study[0], study[1][0])
        c.delete_series(study[0], study[1][1])  # every instance is rejected now; the study is still there
        assert dcm4chee.orthanc.count_instances() == 4
        assert c.delete_study(study[0]) is None  # nothing left to reject (404), so on to the delete
    assert dcm4chee.orthanc.count_instances() == 0
    with client(dcm4chee, delete_api="dcm4chee") as c, pytest.raises(DicomWebNotFoundError):
        c.delete_study(study[0])


def test_a_series_is_rejected_and_hidden_until_the_archive_cleans_it_up(dcm4chee, study):
    uid, (first, second) = study
    with client(dcm4chee, delete_api="dcm4chee", rejection_code="113001^DCM") as c:
        assert c.delete_series(uid, first) is None
        assert [s["0020000E"]["Value"][0] for s in c.search_for_series(uid)] == [second]
        assert len(c.search_for_instances(uid)) == 2
    assert set(dcm4chee.rejected.values()) == {"113001^DCM"} and len(dcm4chee.rejected) == 2
    assert dcm4chee.orthanc.count_instances() == 4  # still stored: dcm4chee's own cleanup removes it


def test_a_rejection_code_the_archive_does_not_know_or_a_malformed_one_is_a_clear_error(dcm4chee, study):
    with (
        client(dcm4chee, delete_api="dcm4chee", rejection_code="999^XYZ") as c,
        pytest.raises(DicomWebHTTPError, match=r"Unknown Rejection Note Code: \(999, XYZ\)"),
    ):
        c.delete_study(study[0])
    assert dcm4chee.orthanc.count_instances() == 4 and not dcm4chee.rejected
    with pytest.raises(DicomWebConfigError, match="is not CodeValue\\^CodingSchemeDesignator"):
        client(dcm4chee, delete_api="dcm4chee", rejection_code="113039/../x")
