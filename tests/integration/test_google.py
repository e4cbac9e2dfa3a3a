"""Every example of Google's "Using the DICOMweb standard" how-to, through the hook, against the emulator
of Google's documented contract (tests/emulators/google_emulator.py), whose data lives in the real Orthanc."""

import io
import json
from pathlib import Path

import pydicom
import pytest
from PIL import Image
from pydicom.uid import generate_uid

from airflow_dicomweb.core.errors import (
    DicomWebHTTPError,
    DicomWebNotFoundError,
    DicomWebOperationError,
    DicomWebOperationTimeoutError,
)
from airflow_dicomweb.core.operations.state import operation_counter
from airflow_dicomweb.core.stow.result import Status
from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from tests.connections import google_connection
from tests.dicom_factory import make_series


def uid_of(item, tag):
    return item[tag]["Value"][0]


def jpeg_bytes(width=48, height=32, color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG", quality=90)
    return out.getvalue()


def jpeg_metadata(study=None, series=None, sop=None, name="Doe^Jane") -> dict:
    md = {
        "0020000D": {"vr": "UI", "Value": [study or generate_uid()]},
        "0020000E": {"vr": "UI", "Value": [series or generate_uid()]},
        "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.7"]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": name}]},
        "00100020": {"vr": "LO", "Value": ["PID-JPEG"]},
        "00080020": {"vr": "DA", "Value": ["20240115"]},
        "00080060": {"vr": "CS", "Value": ["OT"]},
    }
    if sop:
        md["00080018"] = {"vr": "UI", "Value": [sop]}
    return md


# --- store ----------------------------------------------------------------------------------------------


def test_store_an_instance_and_read_googles_xml_reply(google_hook, google, samples, clean_orthanc):
    result = google_hook.store_instances([samples["ct"]], extra_headers={"Accept": "application/dicom+xml"})
    [outcome] = result.stored
    assert outcome.retrieve_url.startswith(google.store_url())
    assert clean_orthanc.count_instances() == 1


def test_store_again_is_a_409_reported_as_already_present(google_hook, samples, tmp_path):
    files = make_series(tmp_path, 2)
    assert google_hook.store_instances(files).ok
    new = make_series(tmp_path / "new", 1)
    again = google_hook.store_instances(
        [*files, *new], skip_existing=False, extra_headers={"Accept": "application/dicom+xml"}
    )
    assert [o.status for o in again.outcomes] == [
        Status.ALREADY_PRESENT,
        Status.ALREADY_PRESENT,
        Status.STORED,
    ]
    assert again.ok
    assert again.outcomes[0].http_status == 409
    assert "already exists" in again.outcomes[0].reason


def test_store_with_a_storage_class(google_hook, google, tmp_path):
    files = make_series(tmp_path, 2)
    result = google_hook.store_instances(files, storage_class="NEARLINE")
    assert result.ok
    assert sorted(google.storage_classes.values()) == ["NEARLINE", "NEARLINE"]
    before = len(google.requests)
    with pytest.raises(
        ValueError, match="storage_class must be one of STANDARD, NEARLINE, COLDLINE, ARCHIVE"
    ):
        google_hook.store_instances(files, storage_class="GLACIER")
    assert len(google.requests) == before  # refused before any request


def test_store_many_files_in_parallel_from_a_wildcard(google_hook, clean_orthanc, tmp_path):
    for n in range(3):
        make_series(tmp_path / f"series{n}", 10, rows=16, columns=16)
    result = google_hook.store_instances([str(tmp_path / "**" / "*.dcm")], concurrency=4, batch_files=4)
    assert len(result.stored) == 30 and result.ok
    assert clean_orthanc.count_instances() == 30


def test_store_json_metadata_with_a_jpeg_in_googles_form(google_hook, google, clean_orthanc, tmp_path):
    image = tmp_path / "photo.jpg"
    image.write_bytes(jpeg_bytes(48, 32))
    study, series, sop = generate_uid(), generate_uid(), generate_uid()
    result = google_hook.store_jpeg_instances([image], jpeg_metadata(study, series, sop), method="json")
    [outcome] = result.stored
    assert outcome.sop_instance_uid == sop
    [path] = google_hook.retrieve_instance(study, series, sop, tmp_path / "out")
    ds = pydicom.dcmread(path)
    assert (ds.Rows, ds.Columns, ds.SamplesPerPixel) == (32, 48, 3)  # read from the JPEG itself
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"
    assert str(ds.PatientName) == "Doe^Jane"
    assert ds.PixelData.find(image.read_bytes()) >= 0  # the JPEG is the encapsulated frame


def test_jpeg_metadata_is_checked_before_sending(google_hook, google, tmp_path):
    image = tmp_path / "photo.jpg"
    image.write_bytes(jpeg_bytes())
    bad = jpeg_metadata(sop="1.2.abc")
    before = len(google.requests)
    [failed] = google_hook.store_jpeg_instances([image], bad).failed
    assert "SOPInstanceUID '1.2.abc' is not a DICOM UID" in failed.reason
    wrong_rows = {**jpeg_metadata(sop=generate_uid()), "00280010": {"vr": "US", "Value": [999]}}
    [failed] = google_hook.store_jpeg_instances([image], wrong_rows).failed
    assert "Rows 999, but the JPEG has 32" in failed.reason
    (tmp_path / "fake.jpg").write_bytes(b"not a jpeg")
    [failed] = google_hook.store_jpeg_instances(
        [tmp_path / "fake.jpg"], jpeg_metadata(sop=generate_uid())
    ).failed
    assert "not a JPEG" in failed.reason
    assert len(google.requests) == before


def test_jpeg_store_on_orthanc_builds_part10_instances(hook, clean_orthanc, tmp_path):
    images = []
    for n in range(3):
        images.append(tmp_path / f"{n}.jpg")
        images[-1].write_bytes(jpeg_bytes(64, 40, (n * 80, 100, 50)))
    study, series = generate_uid(), generate_uid()
    result = hook.store_jpeg_instances(
        images, jpeg_metadata(study, series), concurrency=1
    )  # auto: 415, then Part 10
    assert len(result.stored) == 3, result.failed
    instances = hook.search_for_instances(study, series)
    assert len(instances) == 3
    png = hook.retrieve_instance_rendered(study, series, uid_of(instances[0], "00080018"))
    assert Image.open(io.BytesIO(png)).size == (64, 40)


# --- search ---------------------------------------------------------------------------------------------


@pytest.fixture
def google_studies(google_hook, tmp_path):
    studies = {}
    for name in ("DOE^JOHN", "DOE^JANE", "ROE^RICHARD"):
        studies[name] = generate_uid()
        make_series(tmp_path / name, 2, study_uid=studies[name], patient_name=name, rows=8, columns=8)
    assert google_hook.store_instances([tmp_path]).ok
    return studies


def test_search_studies_by_patient_name_with_the_caret_decoded(google_hook, google_studies):
    [study] = google_hook.search_for_studies({"PatientName": "DOE^JANE"})  # %5E, decoded by Google
    assert uid_of(study, "0020000D") == google_studies["DOE^JANE"]
    assert len(google_hook.search_for_studies({"PatientName": "DOE*"})) == 2


def test_search_instances_and_an_empty_result_as_204(google_hook, google, google_studies):
    assert len(google_hook.search_for_instances()) == 6
    assert len(google_hook.search_for_instances(google_studies["ROE^RICHARD"])) == 2
    assert google_hook.search_for_studies({"PatientName": "NOBODY*"}) == []


def test_search_pages_are_capped_at_googles_maximum(google_hook, google_studies):
    # a page size above 50,000 would be a 400 from Google: the client caps it
    assert len(list(google_hook.iter_search("instances", page_size=1_000_000))) == 6
    assert len(list(google_hook.iter_search("studies", page_size=2))) == 3


# --- retrieve -------------------------------------------------------------------------------------------


@pytest.fixture
def stored_study(google_hook, samples, tmp_path):
    files = make_series(tmp_path / "src", 3, rows=32, columns=32)
    result = google_hook.store_instances([*files, samples["multiframe"]])
    assert result.ok
    return files, result


def test_retrieve_a_study_and_one_instance_single_part(google_hook, stored_study, tmp_path):
    files, result = stored_study
    o = next(x for x in result.stored if x.path == str(files[0]))
    paths = google_hook.retrieve_study(o.study_instance_uid, tmp_path / "study")
    assert sorted(p.read_bytes() for p in paths) == sorted(f.read_bytes() for f in files)
    [one] = google_hook.retrieve_instance(
        o.study_instance_uid, o.series_instance_uid, o.sop_instance_uid, tmp_path / "one", single_part=True
    )
    assert one.read_bytes() == files[0].read_bytes()


def test_retrieve_rendered_png_and_metadata(google_hook, stored_study):
    files, result = stored_study
    o = next(x for x in result.stored if x.path == str(files[0]))
    png = google_hook.retrieve_instance_rendered(
        o.study_instance_uid, o.series_instance_uid, o.sop_instance_uid, viewport=(16, 16)
    )
    assert Image.open(io.BytesIO(png)).size == (16, 16)
    md = google_hook.retrieve_instance_metadata(
        o.study_instance_uid, o.series_instance_uid, o.sop_instance_uid
    )
    assert md["00080018"]["Value"] == [o.sop_instance_uid]
    xml = google_hook.retrieve_instance_metadata(
        o.study_instance_uid, o.series_instance_uid, o.sop_instance_uid, media_type="application/dicom+xml"
    )
    assert o.sop_instance_uid in xml and "NativeDicomModel" in xml


def test_retrieve_bulkdata_by_tag_path_as_google_serves_it(google_hook, google, stored_study, samples):
    _, result = stored_study
    o = next(x for x in result.stored if x.path == samples["multiframe"])
    google.requests.clear()
    data = google_hook.retrieve_bulkdata(
        study_instance_uid=o.study_instance_uid,
        series_instance_uid=o.series_instance_uid,
        sop_instance_uid=o.sop_instance_uid,
        tag_path="7FE00010",
    )
    assert data == pydicom.dcmread(samples["multiframe"]).PixelData
    assert [p for _, p in google.requests if p.endswith("/bulkdata/7FE00010")]
    assert not [p for _, p in google.requests if p.endswith("/metadata")]  # no fallback was needed


# --- delete and long-running operations -----------------------------------------------------------------


def test_delete_a_study_and_poll_the_operation_to_completion(
    google_hook, google, stored_study, clean_orthanc
):
    files, result = stored_study
    study = next(x for x in result.stored if x.path == str(files[0])).study_instance_uid
    operation = google_hook.delete_study(study)
    assert operation["name"].startswith(f"{google.dataset_path}/operations/")
    running = google_hook.get_operation(operation["name"])
    assert "done" not in running  # Google sends no "done" while running
    finished = google_hook.wait_for_operation(operation["name"], timeout=30, poll_interval=0.05)
    assert finished["done"] is True and "response" in finished
    assert operation_counter(finished) == {"success": 3, "failure": 0, "pending": 0}  # int64 strings parsed
    assert google_hook.search_for_studies({"StudyInstanceUID": study}) == []
    assert clean_orthanc.count_instances() == 1  # the other study is untouched


def test_delete_an_instance_returns_no_operation(google_hook, stored_study, clean_orthanc):
    files, result = stored_study
    o = next(x for x in result.stored if x.path == str(files[0]))
    assert (
        google_hook.delete_instance(o.study_instance_uid, o.series_instance_uid, o.sop_instance_uid) is None
    )
    assert clean_orthanc.count_instances() == 3


def test_a_failed_operation_raises_its_code_and_message(google_hook, google, stored_study):
    files, result = stored_study
    o = next(x for x in result.stored if x.path == str(files[0]))
    google.fail_next_operation = {"code": 9, "message": "study is locked by another operation", "details": []}
    operation = google_hook.delete_series(o.study_instance_uid, o.series_instance_uid)
    with pytest.raises(DicomWebOperationError, match="failed with code 9: study is locked") as info:
        google_hook.wait_for_operation(operation["name"], timeout=30, poll_interval=0.05)
    assert info.value.code == 9


def test_an_operation_that_outlasts_the_timeout(google_hook, google, stored_study):
    files, result = stored_study
    o = next(x for x in result.stored if x.path == str(files[0]))
    google.hold_operations()  # runs until the fixture releases it
    operation = google_hook.delete_study(o.study_instance_uid)
    with pytest.raises(DicomWebOperationTimeoutError, match=r"still running after 0\.3 s"):
        google_hook.wait_for_operation(operation["name"], timeout=0.3, poll_interval=0.05)


def test_deleting_what_does_not_exist_is_a_404_with_googles_message(google_hook):
    with pytest.raises(DicomWebNotFoundError, match="not found"):
        google_hook.delete_study("1.2.3.4.5")


# --- authentication and quotas --------------------------------------------------------------------------


def test_an_expired_token_is_refreshed_on_the_401(google_hook, google, tmp_path):
    assert google_hook.search_for_studies() == []
    issued = google.token_requests
    google.expire_tokens()
    assert google_hook.store_instances(make_series(tmp_path, 1)).ok  # 401, refresh, the same body again
    assert google.token_requests == issued + 1


def test_a_call_without_credentials_is_refused(google, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_NOAUTH", json.dumps({"conn_type": "dicomweb", "host": google.store_url()})
    )
    with pytest.raises(DicomWebHTTPError, match="HTTP 401: Request had invalid authentication credentials"):
        DicomWebHook("noauth").search_for_studies()


def test_impersonation_chain(google, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_IMPERSONATE",
        google_connection(
            google,
            impersonation_chain="middle@p.iam.gserviceaccount.com,target@p.iam.gserviceaccount.com",
            iam_endpoint_override=f"{google.url}/v1/projects/-/serviceAccounts/target@p.iam.gserviceaccount.com"
            ":generateAccessToken",
        ),
    )
    assert DicomWebHook("impersonate").search_for_studies() == []
    assert any(":generateAccessToken" in p for _, p in google.requests)


def test_a_429_storm_is_ridden_out(google_hook, google, tmp_path):
    files = make_series(tmp_path, 4)
    before = google.injected_count
    google.inject(429, count=2, retry_after="0")
    google.inject(503, count=2)  # 4 failures in a row: the 5th attempt (max_retries 4) goes through
    result = google_hook.store_instances(files, batch_files=2, concurrency=1)
    assert len(result.stored) == 4
    assert google.injected_count - before == 4


def test_a_storm_longer_than_the_retries_fails_each_file_with_the_status(google_hook, google, tmp_path):
    files = make_series(tmp_path, 2)
    google.inject(429, count=50, retry_after="0")
    result = google_hook.store_instances(files)
    assert [o.http_status for o in result.failed] == [429, 429]
    assert "Quota exceeded" in result.failed[0].reason
    google.injected.clear()


def test_the_store_is_named_by_a_full_url_too(google, monkeypatch, samples):
    key = google.service_account_key()
    monkeypatch.setenv(
        "AIRFLOW_CONN_GOOGLE_URL",
        json.dumps(
            {
                "conn_type": "dicomweb",
                "host": google.store_url("v1beta1"),
                "extra": {"auth_type": "google", "keyfile_dict": key},
            }
        ),
    )
    hook = DicomWebHook("google_url")
    assert hook.store_instances([samples["mr"]]).ok
    assert Path(samples["mr"]).exists()


def test_key_file_path_and_application_default_credentials(google, monkeypatch, tmp_path):
    key = google.service_account_key()
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(key))
    store = {
        "api_root": google.url,
        "project": google.project,
        "location": google.location,
        "dataset": google.dataset,
        "dicom_store": google.dicom_store,
    }
    monkeypatch.setenv(
        "AIRFLOW_CONN_BY_KEY_PATH",
        json.dumps(
            {"conn_type": "dicomweb", "extra": {"auth_type": "google", "key_path": str(key_file), **store}}
        ),
    )
    assert DicomWebHook("by_key_path").search_for_studies() == []
    # No key in the connection: google-auth's Application Default Credentials find it
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    monkeypatch.setenv(
        "AIRFLOW_CONN_BY_ADC",
        json.dumps({"conn_type": "dicomweb", "extra": {"auth_type": "google", **store}}),
    )
    assert DicomWebHook("by_adc").search_for_studies() == []


def test_refused_credentials_are_a_typed_error_without_the_key(google, monkeypatch):
    key = google.service_account_key()
    key["private_key_id"] = "unknown-key-id"  # the token endpoint does not trust it
    monkeypatch.setenv(
        "AIRFLOW_CONN_BAD_KEY",
        json.dumps(
            {
                "conn_type": "dicomweb",
                "host": google.store_url(),
                "extra": {"auth_type": "google", "keyfile_dict": json.dumps(key)},
            }
        ),
    )
    from airflow_dicomweb.core.errors import DicomWebAuthError

    with pytest.raises(DicomWebAuthError, match=r"could not obtain Google credentials.*unknown key") as info:
        DicomWebHook("bad_key").search_for_studies()
    assert "PRIVATE KEY" not in str(info.value) and key["private_key"][40:80] not in str(info.value)
