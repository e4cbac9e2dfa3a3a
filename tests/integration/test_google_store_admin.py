"""A Google DICOM store beyond DICOMweb, through the core client (and so the hook): import from Cloud
Storage, export to Cloud Storage and BigQuery, de-identify into a new store, storage classes and metrics,
against the Google emulator (tests/emulators/google_store_admin.py: Part 10 files really read from a folder standing
for the bucket and stored in the real Orthanc; a second real Orthanc for the de-identified store)."""

from __future__ import annotations

import json

import pydicom
import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.errors import DicomWebConfigError, DicomWebHTTPError, DicomWebOperationError
from airflow_dicomweb.core.operations.outcome import judge
from tests.dicom_factory import make_series
from tests.emulators.google_store_admin import StoreAdmin, derived_uid
from tests.servers.orthanc_server import OrthancServer


@pytest.fixture(scope="session")
def spare_orthanc(tmp_path_factory):
    """A second real Orthanc: the store a de-identification creates."""
    with OrthancServer(tmp_path_factory.mktemp("spare-orthanc")) as server:
        yield server


@pytest.fixture
def admin(google, spare_orthanc, tmp_path):
    spare_orthanc.wipe()
    google.admin = StoreAdmin(google, tmp_path / "gcs", tmp_path / "bigquery", spare_orthanc)
    google.admin.instance_delay = 0.0
    yield google.admin
    google.admin = None


@pytest.fixture
def bucket(admin, tmp_path):
    """gs://landing: two studies of Part 10 files, in nested folders, and one file that is not DICOM."""
    root = tmp_path / "gcs" / "landing"
    studies = {}
    for name in ("site-a", "site-b/day-1"):
        uid = generate_uid()
        studies[uid] = make_series(root / name, 3, study_uid=uid, rows=8, columns=8, patient_name="DOE^JANE")
    (root / "site-b" / "notes.dcm").write_bytes(b"not a DICOM file")
    return studies


def wait(hook, name):
    return hook.wait_for_operation(name, poll_interval=0.05, max_poll_interval=0.1, raise_on_error=False)


def test_an_import_reads_the_bucket_and_partial_failures_are_named(google_hook, google, bucket):
    name = google_hook.import_dicom("gs://landing/**.dcm", blob_storage_class="NEARLINE")
    assert name.startswith(f"{google.dataset_path}/operations/")
    outcome = judge(wait(google_hook, name), allow_partial=True)
    assert (outcome.success, outcome.failure) == (6, 1)
    assert outcome.logs_url.startswith("https://console.cloud.google.com/logs/")
    with pytest.raises(
        DicomWebOperationError, match=r"6 instances succeeded and 1 failed.*notes\.dcm.*logs: https://"
    ):
        judge(wait(google_hook, name))
    assert google.orthanc.count_instances() == 6
    assert set(google.storage_classes.values()) == {"NEARLINE"}
    metrics = google_hook.store_metrics()
    assert (metrics["studyCount"], metrics["seriesCount"], metrics["instanceCount"]) == (2, 2, 6)
    assert all(isinstance(v, int) for k, v in metrics.items() if k != "name")
    study = next(iter(bucket))
    assert google_hook.study_metrics(study)["instanceCount"] == 3
    series = str(pydicom.dcmread(bucket[study][0]).SeriesInstanceUID)
    assert google_hook.series_metrics(study, series)["instanceCount"] == 3
    assert google_hook.search_for_studies({"PatientName": "DOE*"})  # a search sees what was imported


def test_only_the_glob_is_imported(google_hook, google, bucket):
    judge(wait(google_hook, google_hook.import_dicom("gs://landing/site-a/*.dcm")))
    assert google.orthanc.count_instances() == 3


def test_export_to_cloud_storage_and_to_bigquery(google_hook, google, admin, bucket, tmp_path):
    judge(wait(google_hook, google_hook.import_dicom("gs://landing/site-a/*.dcm")))
    name = google_hook.export_dicom("gs://exports/run-1/")
    assert judge(wait(google_hook, name)).success == 3
    exported = sorted((tmp_path / "gcs" / "exports" / "run-1").rglob("*.dcm"))
    originals = {pydicom.dcmread(f).SOPInstanceUID: f.read_bytes() for f in next(iter(bucket.values()))}
    assert {p.stem: p.read_bytes() for p in exported} == originals  # byte-identical
    table = "bq://test-project.imaging.instances"
    assert judge(wait(google_hook, google_hook.export_dicom(table))).success == 3
    rows = (tmp_path / "bigquery" / "test-project.imaging.instances.jsonl").read_text().splitlines()
    assert len(rows) == 3 and json.loads(rows[0])["PatientName"] == "DOE^JANE"
    with pytest.raises(DicomWebOperationError, match="WRITE_EMPTY"):  # the default: the table has rows
        judge(wait(google_hook, google_hook.export_dicom(table)))
    judge(wait(google_hook, google_hook.export_dicom(table, write_disposition="WRITE_APPEND")))
    assert len((tmp_path / "bigquery" / "test-project.imaging.instances.jsonl").read_text().splitlines()) == 6
    assert admin.bodies[-1] == (
        "export",
        {"bigqueryDestination": {"tableUri": table, "writeDisposition": "WRITE_APPEND"}},
    )


def test_a_filter_file_narrows_an_export(google_hook, admin, bucket, tmp_path):
    judge(
        wait(
            google_hook,
            google_hook.import_dicom("gs://landing/**.dcm"),
        ),
        allow_partial=True,
    )
    study = next(iter(bucket))
    (tmp_path / "gcs" / "landing" / "filter.txt").write_text(f"/studies/{study}\n")
    name = google_hook.export_dicom("gs://exports/one/", filter_uri="gs://landing/filter.txt")
    assert judge(wait(google_hook, name)).success == 3
    assert {p.parent.parent.name for p in (tmp_path / "gcs" / "exports" / "one").rglob("*.dcm")} == {study}


def test_deidentify_into_a_new_store_then_search_it(
    google_hook, google, admin, bucket, spare_orthanc, monkeypatch
):
    judge(wait(google_hook, google_hook.import_dicom("gs://landing/**.dcm")), allow_partial=True)
    config = {"dicom": {"keepList": {"tags": ["PatientID"]}}}
    name = google_hook.deidentify_store("research-copy", config)
    assert judge(wait(google_hook, name)).success == 6
    assert admin.bodies[-1][1]["destinationStore"] == f"{google.dataset_path}/dicomStores/research-copy"
    from airflow_dicomweb.core.client import DicomWebClient

    copy = DicomWebClient(
        google_hook.settings.__class__.from_connection_fields(
            host=google_hook.settings.base_url.replace("/test-store/", "/research-copy/"),
            extra={
                "auth_type": "google",
                "keyfile_dict": json.dumps(google.service_account_key()),
                "api_root": google.url,
            },
        )
    )
    found = copy.search_for_studies(includefield=["PatientName", "PatientID"])
    assert sorted(s["0020000D"]["Value"][0] for s in found) == sorted(derived_uid(u) for u in bucket)
    assert all("Value" not in s.get("00100010", {}) for s in found)  # the name is gone
    assert all(s["00100020"]["Value"] for s in found)  # the kept ID is there
    assert spare_orthanc.count_instances() == 6
    with pytest.raises(DicomWebHTTPError, match=r"409.*already exists"):
        google_hook.deidentify_store("research-copy", config)


def test_storage_classes_of_a_study_and_a_series(google_hook, google, bucket):
    judge(wait(google_hook, google_hook.import_dicom("gs://landing/**.dcm")), allow_partial=True)
    first, second = list(bucket)
    judge(wait(google_hook, google_hook.set_storage_class("ARCHIVE", study_instance_uid=first)))
    series = str(pydicom.dcmread(bucket[second][0]).SeriesInstanceUID)
    judge(wait(google_hook, google_hook.set_storage_class("coldline", second, series)))
    by_class = {}
    for sop, storage in google.storage_classes.items():
        by_class.setdefault(storage, set()).add(sop)
    assert len(by_class["ARCHIVE"]) == 3 and len(by_class["COLDLINE"]) == 3
    with pytest.raises(DicomWebHTTPError, match="404"):
        google_hook.set_storage_class("ARCHIVE", study_instance_uid=generate_uid())


def test_bad_requests_are_refused_before_or_by_the_server(google_hook, admin, bucket):
    with pytest.raises(DicomWebConfigError, match="gs://bucket/path"):
        google_hook.import_dicom("s3://landing/x.dcm")
    with pytest.raises(DicomWebConfigError, match="storage class 'FROZEN'"):
        google_hook.import_dicom("gs://landing/**.dcm", blob_storage_class="FROZEN")
    with pytest.raises(DicomWebConfigError, match=r"bq://project\.dataset\.table"):
        google_hook.export_dicom("bq://only-two.parts")
    with pytest.raises(DicomWebConfigError, match="into itself"):
        google_hook.deidentify_store("test-store", {})
    admin.denied_buckets.add("landing")
    with pytest.raises(DicomWebHTTPError, match="403"):
        google_hook.import_dicom("gs://landing/**.dcm")


def test_a_missing_bucket_fails_the_operation_with_no_success(google_hook, admin):
    with pytest.raises(DicomWebOperationError, match="bucket gs://nowhere not found"):
        judge(wait(google_hook, google_hook.import_dicom("gs://nowhere/**.dcm")), allow_partial=True)


def test_a_connection_that_is_not_a_google_store_is_refused(hook):
    from airflow_dicomweb.hooks.google_store import GoogleDicomStoreHook

    google_hook = GoogleDicomStoreHook(hook.dicomweb_conn_id)
    for call in (lambda: google_hook.import_dicom("gs://b/x.dcm"), google_hook.store_metrics):
        with pytest.raises(DicomWebConfigError, match="needs a Google DICOM store"):
            call()


def test_the_bulk_methods_tell_the_hook_lineage_collector(google_hook, google, bucket, monkeypatch):
    """TaskFlow code calling the hook's import and export reports lineage: the bucket read and the store
    written, the store read and the export written (Airflow's own collector, as a lineage reader has it)."""
    from airflow.sdk.lineage import HookLineageCollector

    from airflow_dicomweb.hooks import lineage

    collector = HookLineageCollector()
    monkeypatch.setattr(lineage, "_collector", lambda: collector)
    judge(wait(google_hook, google_hook.import_dicom("gs://landing/site-a/*.dcm")))
    judge(wait(google_hook, google_hook.export_dicom("gs://exports/run-2/")))
    seen = collector.collected_assets
    inputs = {a.asset.uri for a in seen.inputs}
    outputs = {a.asset.uri for a in seen.outputs}
    store = next(uri for uri in outputs if uri.startswith("dicomweb://"))
    assert "/dicomStores/" in store and store in inputs
    assert "gs://landing/site-a/*.dcm" in inputs and "gs://exports/run-2" in outputs  # as Asset normalizes it
