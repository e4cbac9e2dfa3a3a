"""The Google store operators in both modes (waiting in the worker, and deferred to the operation trigger),
and the two example DAGs end to end with dag.test(), against the Google emulator
(tests/emulators/google_store_admin.py) over the real Orthanc."""

from __future__ import annotations

import json

import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.errors import DicomWebConfigError, DicomWebOperationError
from airflow_dicomweb.operators.google_store import (
    DicomStorageClassOperator,
    DicomStoreDeidentifyOperator,
    DicomStoreExportOperator,
    DicomStoreImportOperator,
    dataset_of,
    gcs_text,
)
from airflow_dicomweb.triggers.operation import DicomWebOperationTrigger
from tests.connections import google_connection
from tests.dicom_factory import make_series
from tests.emulators.google_store_admin import StoreAdmin
from tests.integration.test_dags import states
from tests.integration.test_google_store_admin import spare_orthanc  # noqa: F401  (a fixture)
from tests.integration.test_operators import run_trigger
from tests.task_state import TaskStateStore


@pytest.fixture
def admin(google, spare_orthanc, tmp_path, monkeypatch):  # noqa: F811
    spare_orthanc.wipe()
    google.admin = StoreAdmin(google, tmp_path / "gcs", tmp_path / "bigquery", spare_orthanc)
    monkeypatch.setenv("AIRFLOW_CONN_DICOMWEB_GCP", google_connection(google))
    yield google.admin
    google.admin = None


@pytest.fixture
def landing(admin, tmp_path):
    studies = []
    for n in range(2):
        uid = generate_uid()
        make_series(tmp_path / "gcs" / "landing" / f"day-{n}", 2, study_uid=uid, rows=8, columns=8)
        studies.append(uid)
    return studies


def run(op, deferred: bool):
    """Execute in the worker, or defer, run the trigger to its event, and complete."""
    from airflow.sdk.exceptions import TaskDeferred

    if not deferred:
        return op.execute({})
    with pytest.raises(TaskDeferred) as info:
        op.execute({})
    assert isinstance(info.value.trigger, DicomWebOperationTrigger)
    return op.execute_complete({}, run_trigger(info.value.trigger))


@pytest.mark.parametrize("deferred", [False, True], ids=["in-the-worker", "deferred"])
def test_each_operator_in_both_modes(admin, google, landing, tmp_path, deferred):
    common = {"dicomweb_conn_id": "dicomweb_gcp", "poll_interval": 0.05, "deferrable": deferred}
    done = run(DicomStoreImportOperator(task_id="i", gcs_uri="gs://landing/**.dcm", **common), deferred)
    assert (done["success"], done["failure"]) == (4, 0)
    assert done["destination"] == f"{google.dataset_path}/dicomStores/{google.dicom_store}"
    assert done["operation"].startswith(f"{google.dataset_path}/operations/")
    exported = run(DicomStoreExportOperator(task_id="e", destination="gs://out/x/", **common), deferred)
    assert exported["success"] == 4 and len(list((tmp_path / "gcs" / "out" / "x").rglob("*.dcm"))) == 4
    moved = run(
        DicomStorageClassOperator(
            task_id="c", storage_class="ARCHIVE", study_instance_uid=landing[0], **common
        ),
        deferred,
    )
    assert moved["success"] == 2 and sorted(google.storage_classes.values()) == ["ARCHIVE", "ARCHIVE"]
    copy = run(
        DicomStoreDeidentifyOperator(task_id="d", destination_store="copy", config={"dicom": {}}, **common),
        deferred,
    )
    assert copy["success"] == 4 and copy["destination"].endswith("/dicomStores/copy")


@pytest.mark.parametrize("deferred", [False, True], ids=["in-the-worker", "deferred"])
def test_a_partial_import_fails_the_task_unless_allowed(admin, google, landing, tmp_path, deferred):
    (tmp_path / "gcs" / "landing" / "junk.dcm").write_bytes(b"junk")
    common = {"dicomweb_conn_id": "dicomweb_gcp", "poll_interval": 0.05, "deferrable": deferred}
    with pytest.raises(
        DicomWebOperationError, match=r"4 instances succeeded and 1 failed.*junk\.dcm.*logs: https"
    ):
        run(DicomStoreImportOperator(task_id="i", gcs_uri="gs://landing/**.dcm", **common), deferred)
    lenient = run(
        DicomStoreImportOperator(task_id="i2", gcs_uri="gs://landing/**.dcm", allow_partial=True, **common),
        deferred,
    )
    assert (lenient["success"], lenient["failure"]) == (4, 1) and lenient["logs_url"].startswith("https://")


def test_without_waiting_the_operation_is_named_for_a_sensor(admin, landing):
    out = DicomStoreImportOperator(
        task_id="i", gcs_uri="gs://landing/**.dcm", wait_for_completion=False, dicomweb_conn_id="dicomweb_gcp"
    ).execute({})
    assert out["done"] is False and "/operations/" in out["operation"]


def test_object_storage_paths_lineage_and_refusals(admin, orthanc_conn_id):
    from airflow.sdk import ObjectStoragePath

    assert (
        gcs_text(ObjectStoragePath("gs://google_cloud_default@landing/a/**.dcm")) == "gs://landing/a/**.dcm"
    )
    assert gcs_text(ObjectStoragePath("gs://bucket/prefix/")) == "gs://bucket/prefix/"
    with pytest.raises(ValueError, match="Cloud Storage path is needed"):
        gcs_text(ObjectStoragePath("s3://bucket/key"))
    assert dataset_of("bq://p.d.t") == ("bigquery", "p.d.t")
    assert dataset_of("gs://b/x/") == ("gs://b", "x/")
    op = DicomStoreImportOperator(task_id="i", gcs_uri="gs://landing/**.dcm", dicomweb_conn_id="dicomweb_gcp")
    op.note_lineage()
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("gs://landing", "**.dcm")]
    assert lineage.outputs[0].namespace.startswith("dicomweb://127.0.0.1:")
    on_orthanc = DicomStoreExportOperator(
        task_id="e", destination="gs://b/x/", dicomweb_conn_id=orthanc_conn_id
    )
    with pytest.raises(DicomWebConfigError, match="needs a Google DICOM store"):
        on_orthanc.execute({})


def test_the_bulk_ingest_dag(dagbag, admin, google, landing, tmp_path):
    (tmp_path / "gcs" / "landing" / "readme.dcm").write_text("not DICOM")
    run = dagbag.dags["dicomweb_google_bulk_ingest"].test(
        run_conf={
            "gcs_uri": "gs://landing/**.dcm",
            "bigquery_table": "bq://test-project.imaging.metadata",
            "dicomweb_conn_id": "dicomweb_gcp",
        }
    )
    assert str(run.state) == "success", states(run)
    assert google.orthanc.count_instances() == 4
    rows = (tmp_path / "bigquery" / "test-project.imaging.metadata.jsonl").read_text().splitlines()
    assert sorted({json.loads(r)["StudyInstanceUID"] for r in rows}) == sorted(landing)
    imported = run.get_task_instance("import_from_gcs")
    assert str(imported.state) == "success"


def test_the_research_copy_dag(dagbag, admin, google, landing, spare_orthanc):  # noqa: F811
    from airflow_dicomweb.core.operations.outcome import judge
    from airflow_dicomweb.hooks.google_store import GoogleDicomStoreHook

    hook = GoogleDicomStoreHook("dicomweb_gcp")
    judge(hook.wait_for_operation(hook.import_dicom("gs://landing/**.dcm"), poll_interval=0.05))
    run = dagbag.dags["dicomweb_google_research_copy"].test(
        run_conf={"destination_store": "research-1", "dicomweb_conn_id": "dicomweb_gcp"}
    )
    assert str(run.state) == "success", states(run)
    assert spare_orthanc.count_instances() == 4
    assert admin.bodies[-1][1]["config"] == {"dicom": {"filterProfile": "DEIDENTIFY_TAG_CONTENTS"}}


def imports(admin) -> int:
    return sum(1 for verb, _ in admin.bodies if verb == "import")


def test_a_retry_re_attaches_to_the_import_its_first_try_started(admin, google, landing):
    """The first try keeps the operation's name in the state store before it defers (and dies there); the
    retry, waiting in the worker, re-attaches to that operation and a later retry reads its result: the
    emulator sees one import. An operation that failed is started again."""
    from airflow.sdk.exceptions import TaskDeferred

    admin.instance_delay = 0.3  # the import is still running when the retry comes
    state = TaskStateStore()
    common = {"task_id": "i", "gcs_uri": "gs://landing/**.dcm", "dicomweb_conn_id": "dicomweb_gcp"}
    with pytest.raises(TaskDeferred):
        DicomStoreImportOperator(deferrable=True, poll_interval=0.05, **common).execute(
            {"task_state_store": state}
        )
    (saved,) = state.values.values()
    assert str(saved).startswith(f"{google.dataset_path}/operations/") and imports(admin) == 1
    assert google.operations[saved].done is False  # still running: the retry must wait for this one

    retry = DicomStoreImportOperator(poll_interval=0.05, **common).execute({"task_state_store": state})
    assert retry["operation"] == saved and (retry["success"], retry["failure"]) == (4, 0)
    again = DicomStoreImportOperator(poll_interval=0.05, **common).execute({"task_state_store": state})
    assert again == retry and imports(admin) == 1

    admin.instance_delay = 0.0
    failed = TaskStateStore()
    bad = {**common, "gcs_uri": "gs://no-such-bucket/**.dcm"}
    with pytest.raises(DicomWebOperationError):
        DicomStoreImportOperator(poll_interval=0.05, **bad).execute({"task_state_store": failed})
    (failed_name,) = failed.values.values()
    assert imports(admin) == 2
    fresh = DicomStoreImportOperator(poll_interval=0.05, **common).execute({"task_state_store": failed})
    assert fresh["operation"] != failed_name and imports(admin) == 3 and fresh["success"] == 4
    assert list(failed.values.values()) == [fresh["operation"]]
