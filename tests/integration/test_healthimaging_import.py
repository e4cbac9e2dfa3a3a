"""``HealthImagingImportOperator`` end to end against the HealthImaging emulator's import-job API (requests
signed by botocore and verified by the emulator), its S3 in moto's server, its data in the real Orthanc:
waiting in the worker and deferred to its trigger, a partial failure naming its failed files, and a retry
re-attaching to the job its first try started."""

from __future__ import annotations

import json
from types import SimpleNamespace

import boto3
import pytest
from airflow.sdk.exceptions import AirflowException, TaskDeferred
from pydicom.uid import generate_uid

from airflow_dicomweb.operators.healthimaging_import import HealthImagingImportOperator
from airflow_dicomweb.triggers.healthimaging_import import HealthImagingImportJobTrigger
from tests.dicom_factory import make_series
from tests.emulators import healthimaging_emulator as hi
from tests.integration.test_healthimaging import healthimaging  # noqa: F401  (a fixture)
from tests.integration.test_operators import run_trigger
from tests.task_state import TaskStateStore

ROLE = "arn:aws:iam::111122223333:role/HealthImagingImport"


@pytest.fixture
def landing(healthimaging, moto_server, monkeypatch, tmp_path):  # noqa: F811
    """Three instances of one study and a file that is not DICOM under s3://<bucket>/in/; the
    ``aws_healthimaging`` connection reaching the emulator's API and moto's S3 with the emulator's keys."""
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_server.url,
        aws_access_key_id=hi.ACCESS_KEY,
        aws_secret_access_key=hi.SECRET_KEY,
        region_name=hi.REGION,
    )
    bucket = f"imaging-{generate_uid()[-12:].replace('.', '')}"
    s3.create_bucket(Bucket=bucket)
    study = generate_uid()
    for path in make_series(tmp_path, 3, study_uid=study, rows=8, columns=8):
        s3.put_object(Bucket=bucket, Key=f"in/{path.name}", Body=path.read_bytes())
    s3.put_object(Bucket=bucket, Key="in/readme.dcm", Body=b"not DICOM")
    healthimaging.import_s3 = s3
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_HEALTHIMAGING",
        json.dumps(
            {
                "conn_type": "aws",
                "login": hi.ACCESS_KEY,
                "password": hi.SECRET_KEY,
                "extra": {
                    "aws_session_token": hi.SESSION_TOKEN,
                    "region_name": hi.REGION,
                    "service_config": {
                        "medical-imaging": {"endpoint_url": healthimaging.url},
                        "s3": {"endpoint_url": moto_server.url},
                    },
                },
            }
        ),
    )
    return SimpleNamespace(bucket=bucket, study=study, s3=s3)


def operator(landing, **kwargs) -> HealthImagingImportOperator:
    kwargs.setdefault("task_id", "import_dicom")
    return HealthImagingImportOperator(
        datastore_id=hi.DATASTORE,
        input_s3_uri=f"s3://{landing.bucket}/in/",
        output_s3_uri=f"s3://{landing.bucket}/out/",
        data_access_role_arn=ROLE,
        aws_conn_id="aws_healthimaging",
        poll_interval=0.05,
        **kwargs,
    )


def test_a_partial_import_names_its_failed_files_and_fails_unless_allowed(healthimaging, landing):  # noqa: F811
    with pytest.raises(AirflowException) as failed:
        operator(landing).execute({})
    message = str(failed.value)
    assert "3 files imported, 1 failed" in message
    assert f"s3://{landing.bucket}/in/readme.dcm: ValidationException" in message
    assert healthimaging.orthanc.count_instances() == 3
    assert hi.SECRET_KEY not in message and hi.SESSION_TOKEN not in message

    done = operator(landing, allow_partial=True, task_id="lenient").execute({})
    assert (done["scanned"], done["imported"], done["failed"], done["image_sets"]) == (4, 3, 1, 1)
    [failure] = done["failed_files"]
    assert failure.startswith(f"s3://{landing.bucket}/in/readme.dcm: ValidationException: not a DICOM P10")
    assert done["job_status"] == "COMPLETED" and done["datastore_id"] == hi.DATASTORE
    assert healthimaging.refused == []  # every call was signed, and signed right


def test_deferred_the_trigger_waits_and_the_task_reads_the_manifest(healthimaging, landing):  # noqa: F811
    healthimaging.import_delay = 0.1
    op = operator(landing, allow_partial=True, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, HealthImagingImportJobTrigger)
    assert trigger.serialize()[1]["aws_conn_id"] == "aws_healthimaging"
    event = run_trigger(trigger)
    assert event == {"status": "success", "job_id": trigger.job_id, "job_status": "COMPLETED"}
    done = op.execute_complete({}, event)
    assert (done["imported"], done["failed"]) == (3, 1)


def test_a_retry_re_attaches_to_its_job_and_the_token_covers_a_lost_id(healthimaging, landing):  # noqa: F811
    """The first try keeps the job's id in the state store, then dies while the job runs; the retry waits
    for that job. A try that died before it kept the id sends the same idempotency token: the same job."""
    healthimaging.import_delay = 0.3
    ti = SimpleNamespace(dag_id="d", task_id="import_dicom", run_id="manual__1", map_index=-1, stats_tags={})
    state = TaskStateStore()
    with pytest.raises(TaskDeferred):
        operator(landing, allow_partial=True, deferrable=True).execute({"ti": ti, "task_state_store": state})
    (job_id,) = state.values.values()
    assert healthimaging.import_jobs[job_id]["jobStatus"] in ("SUBMITTED", "IN_PROGRESS")

    retry = operator(landing, allow_partial=True).execute({"ti": ti, "task_state_store": state})
    assert retry["job_id"] == job_id and len(healthimaging.import_calls) == 1

    lost = operator(landing, allow_partial=True).execute({"ti": ti, "task_state_store": TaskStateStore()})
    assert lost["job_id"] == job_id  # a second StartDICOMImportJob, answered with the first job
    assert len(healthimaging.import_calls) == 2 and len(healthimaging.import_jobs) == 1
    assert healthimaging.orthanc.count_instances() == 3


def test_bad_values_are_named_before_any_request(healthimaging, landing):  # noqa: F811
    for bad, named in [
        ({"datastore_id": "not-a-datastore"}, "data store id"),
        ({"input_s3_uri": "/local/folder"}, "input_s3_uri"),
        ({"data_access_role_arn": "admin"}, "IAM role ARN"),
    ]:
        op = operator(landing)
        for key, value in bad.items():
            setattr(op, key, value)
        with pytest.raises(ValueError, match=named):
            op.execute({})
    assert healthimaging.import_calls == []
