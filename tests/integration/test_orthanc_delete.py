"""Deleting through Orthanc's REST API (``delete_api: orthanc``), against the real Orthanc."""

import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import (
    DicomWebDeleteNotSupportedError,
    DicomWebNotFoundError,
    DicomWebResponseError,
)
from tests.dicom_factory import make_series
from tests.fakes.fake_server import FakeServer


def client(orthanc, **extra) -> DicomWebClient:
    return DicomWebClient.from_url(
        orthanc.dicomweb_url, login=orthanc.username, password=orthanc.password, **extra
    )


def test_study_series_and_instance_deletes_remove_exactly_what_was_named(clean_orthanc, tmp_path):
    study, other = generate_uid(), generate_uid()
    series = [generate_uid(), generate_uid()]
    files = make_series(tmp_path / "a", 2, study_uid=study, series_uid=series[0])
    files += make_series(tmp_path / "b", 3, study_uid=study, series_uid=series[1])
    files += make_series(tmp_path / "c", 1, study_uid=other)
    orthanc_client = client(clean_orthanc, delete_api="orthanc")
    assert orthanc_client.store_instances(files).ok
    sop = orthanc_client.search_for_instances(study, series[0])[0]["00080018"]["Value"][0]

    assert orthanc_client.delete_instance(study, series[0], sop) is None  # done at once: no operation
    assert clean_orthanc.count_instances() == 5
    assert orthanc_client.delete_series(study, series[1]) is None
    assert clean_orthanc.count_instances() == 2
    assert orthanc_client.delete_study(study) is None
    assert clean_orthanc.count_instances() == 1
    assert orthanc_client.search_for_studies({"StudyInstanceUID": study}) == []
    assert orthanc_client.search_for_studies({"StudyInstanceUID": other})


def test_a_series_named_under_the_wrong_study_is_left_alone(clean_orthanc, tmp_path):
    study, series = generate_uid(), generate_uid()
    assert (
        client(clean_orthanc).store_instances(make_series(tmp_path, 2, study_uid=study, series_uid=series)).ok
    )
    with pytest.raises(DicomWebNotFoundError, match="Orthanc holds no series"):
        client(clean_orthanc, delete_api="orthanc").delete_series(generate_uid(), series)
    assert clean_orthanc.count_instances() == 2


def test_without_the_opt_in_orthanc_still_says_it_cannot_delete(clean_orthanc, tmp_path):
    study = generate_uid()
    assert client(clean_orthanc).store_instances(make_series(tmp_path, 1, study_uid=study)).ok
    with pytest.raises(DicomWebDeleteNotSupportedError, match="does not support DICOMweb delete"):
        client(clean_orthanc).delete_study(study)
    assert clean_orthanc.count_instances() == 1


def test_an_id_from_a_hostile_lookup_never_becomes_a_path():
    def handler(request):
        return 200, {"Content-Type": "application/json"}, b'[{"ID": "../../system", "Type": "Study"}]'

    with FakeServer(handler) as server:
        hostile = DicomWebClient.from_url(f"{server.url}/dicom-web", delete_api="orthanc", max_retries=0)
        with pytest.raises(DicomWebResponseError, match="invalid ID"):
            hostile.delete_study("1.2.3")
        assert [(r.method, r.path) for r in server.requests] == [("POST", "/tools/lookup")]
