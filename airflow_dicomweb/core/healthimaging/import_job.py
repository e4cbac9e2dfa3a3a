"""A HealthImaging DICOM import job: started from S3 into a data store, then read until it is over.

Through botocore's ``medical-imaging`` client, passed in by the caller (the Airflow layer makes it from an
AWS connection; anyone else from a boto3 session). ``StartDICOMImportJob`` takes an idempotency token
(``clientToken``): the same token gives the same job, so a caller that derives it from what it is doing
(a task's run, say) never starts a second import by sending the same request twice.

A job's status is ``SUBMITTED``, ``IN_PROGRESS``, ``COMPLETED`` or ``FAILED``. ``COMPLETED`` says the job
ran, not that every file was imported: the job's output manifest says that (:mod:`.import_manifest`).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import Any

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.errors import DicomWebConfigError, DicomWebOperationTimeoutError

SUBMITTED = "SUBMITTED"
IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
ACTIVE = frozenset({SUBMITTED, IN_PROGRESS})

# The patterns of the service model's shapes: a bad value is named here, before a request is made.
_DATASTORE = re.compile(r"^[0-9a-z]{32}$")
_S3_URI = re.compile(r"^s3://[a-z0-9][.\-a-z0-9]{1,61}[a-z0-9](/.*)?$")
_ROLE = re.compile(r"^arn:aws(-[^:]+)?:iam::[0-9]{12}:role/.+$")
_JOB_NAME = re.compile(r"[^A-Za-z0-9._/#-]")


@dataclass(frozen=True)
class ImportJobRequest:
    """What ``StartDICOMImportJob`` is asked: the files under ``input_s3_uri`` into ``datastore_id``."""

    datastore_id: str
    input_s3_uri: str
    output_s3_uri: str
    data_access_role_arn: str
    job_name: str = "airflow-dicomweb-import"

    def __post_init__(self) -> None:
        if not _DATASTORE.match(self.datastore_id):
            raise DicomWebConfigError(f"{self.datastore_id!r} is not a HealthImaging data store id (32 hex)")
        for field, value in (("input_s3_uri", self.input_s3_uri), ("output_s3_uri", self.output_s3_uri)):
            if not _S3_URI.match(value) or len(value) > 1024:
                raise DicomWebConfigError(f"{field} {value!r} is not an s3://bucket/prefix/ URI")
        if not _ROLE.match(self.data_access_role_arn):
            raise DicomWebConfigError(f"{self.data_access_role_arn!r} is not an IAM role ARN")

    @property
    def name(self) -> str:
        """The job name as the service accepts it (1 to 64 of ``A-Za-z0-9._/#-``)."""
        return _JOB_NAME.sub("-", self.job_name)[:64] or "import"


def client_token(*parts: str) -> str:
    """An idempotency token from what identifies one import (1 to 64 of ``A-Za-z0-9._-``)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def start_import_job(client: Any, request: ImportJobRequest, token: str) -> str:
    """Start the job; its id. The same ``token`` answers with the job it started before."""
    answer = client.start_dicom_import_job(
        jobName=request.name,
        dataAccessRoleArn=request.data_access_role_arn,
        clientToken=token,
        datastoreId=request.datastore_id,
        inputS3Uri=request.input_s3_uri,
        outputS3Uri=request.output_s3_uri,
    )
    return str(answer["jobId"])


def import_job_properties(client: Any, datastore_id: str, job_id: str) -> dict[str, Any]:
    """``GetDICOMImportJob``'s ``jobProperties``: ``jobStatus``, ``outputS3Uri``, ``message``, ..."""
    return dict(client.get_dicom_import_job(datastoreId=datastore_id, jobId=job_id)["jobProperties"])


def wait_for_import_job(
    client: Any, datastore_id: str, job_id: str, *, poll_interval: float, timeout: float
) -> dict[str, Any]:
    """Poll until the job is over (growing the interval by half, up to ``OPERATION_MAX_POLL_INTERVAL``);
    its properties."""
    deadline = time.monotonic() + timeout
    interval = poll_interval
    while True:
        properties = import_job_properties(client, datastore_id, job_id)
        if properties.get("jobStatus") not in ACTIVE:
            return properties
        if time.monotonic() + interval > deadline:
            raise DicomWebOperationTimeoutError(f"import job {job_id}", timeout, properties)
        time.sleep(interval)
        interval = min(interval * 1.5, defaults.OPERATION_MAX_POLL_INTERVAL)
