"""``HealthImagingImportOperator``: AWS HealthImaging's bulk path, a DICOM import job from S3 into a data
store (``StartDICOMImportJob``), waited for in the worker or in the triggerer, and judged by the job's
output manifest, not by its status alone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow.configuration import conf
from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.healthimaging.import_job import (
    ACTIVE,
    COMPLETED,
    FAILED,
    ImportJobRequest,
    client_token,
)
from airflow_dicomweb.hooks.healthimaging import HealthImagingHook
from airflow_dicomweb.operators.resumable_operation import ResumableJob
from airflow_dicomweb.triggers.healthimaging_import import HealthImagingImportJobTrigger

#: How many failed files a task's error message names (the XCom names up to the manifest reader's bound).
MAX_FAILURES_IN_MESSAGE = 20


class HealthImagingImportOperator(ResumableJob, BaseOperator):
    """Import the DICOM Part 10 files under ``input_s3_uri`` into a HealthImaging data store.

    The job's id is kept in the task's state store before any wait (Airflow 3.3's ``ResumableJobMixin``),
    and the job is started with an idempotency token derived from the task's run: a retry re-attaches to
    the job its first try started, even if that try died between starting it and keeping its id. A job
    that failed is started again (with a new token).

    ``COMPLETED`` means the job ran; the output manifest says which files were imported. Files that failed
    fail the task, naming them, unless ``allow_partial``.

    :param datastore_id: the data store (32 hex digits) (templated).
    :param input_s3_uri: ``s3://bucket/prefix/`` of the files (templated).
    :param output_s3_uri: ``s3://bucket/prefix/`` for the job's manifest and success/failure lists (templated).
    :param data_access_role_arn: the IAM role HealthImaging assumes to read and write S3 (templated).
    :param job_name: the job's name (templated); default: the task's id.
    :param aws_conn_id: the Airflow AWS connection (default ``aws_default``).
    :param region_name: the region; default: the connection's.
    :param allow_partial: a job with some files failed is a success that names them.
    :param deferrable: wait in the triggerer; default from ``[operators] default_deferrable``.
    :param poll_interval: seconds between polls (growing by half up to a minute).
    :param timeout: the most seconds to wait.
    :param durable: keep the job's id for a retry to re-attach to (default ``True``).

    XCom: ``{"job_id", "datastore_id", "job_status", "scanned", "imported", "failed", "image_sets",
    "failed_files"}``.
    """

    template_fields: Sequence[str] = (
        "datastore_id",
        "input_s3_uri",
        "output_s3_uri",
        "data_access_role_arn",
        "job_name",
    )
    ui_color = "#fde9d9"
    #: Where the job's id is kept in the task's state store; renaming it breaks in-flight retries.
    external_id_key = "healthimaging_import_job"

    def __init__(
        self,
        *,
        datastore_id: str,
        input_s3_uri: str,
        output_s3_uri: str,
        data_access_role_arn: str,
        job_name: str | None = None,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        allow_partial: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = defaults.TASK_OPERATION_POLL_INTERVAL,
        timeout: float = defaults.OPERATION_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.datastore_id = datastore_id
        self.input_s3_uri = input_s3_uri
        self.output_s3_uri = output_s3_uri
        self.data_access_role_arn = data_access_role_arn
        self.job_name = job_name
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.allow_partial = allow_partial
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout

    @cached_property
    def hook(self) -> HealthImagingHook:
        return HealthImagingHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)

    def import_request(self) -> ImportJobRequest:
        return ImportJobRequest(
            datastore_id=str(self.datastore_id),
            input_s3_uri=str(self.input_s3_uri),
            output_s3_uri=str(self.output_s3_uri),
            data_access_role_arn=str(self.data_access_role_arn),
            job_name=str(self.job_name or self.task_id),
        )

    def execute(self, context: Context) -> dict[str, Any]:
        self.import_request()  # a bad value is named before anything is sent
        return self.run_resumable(context)

    # --- ResumableJobMixin: the import job is the job ---------------------------------------------

    def submit_job(self, context: Context) -> str:
        request = self.import_request()
        job_id = self.hook.start_import_job(request, self.idempotency_token(context, request))
        self.log.info(
            "started import job %s: %s into data store %s", job_id, request.input_s3_uri, request.datastore_id
        )
        return job_id

    def idempotency_token(self, context: Context, request: ImportJobRequest) -> str:
        """The same for every try of this task in this run, until a job it started failed."""
        ti = context.get("ti")
        run = [str(getattr(ti, name, "")) for name in ("dag_id", "task_id", "run_id", "map_index")]
        store = context.get("task_state_store")
        failed_before = str(store.get(self.external_id_key) or "") if store is not None else ""
        return client_token(*run, request.datastore_id, request.input_s3_uri, failed_before)

    def get_job_status(self, external_id: Any, context: Context) -> str:
        return str(self.hook.import_job(str(self.datastore_id), str(external_id)).get("jobStatus"))

    def is_job_active(self, status: str) -> bool:
        return status in ACTIVE

    def is_job_succeeded(self, status: str) -> bool:
        return status == COMPLETED

    def poll_until_complete(self, external_id: Any, context: Context) -> None:
        job_id = str(external_id)
        if self.deferrable:
            self.defer(
                trigger=HealthImagingImportJobTrigger(
                    str(self.datastore_id), job_id, self.aws_conn_id, self.region_name, self.poll_interval
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.timeout),
            )
        properties = self.hook.wait_for_import_job(
            str(self.datastore_id), job_id, poll_interval=self.poll_interval, timeout=self.timeout
        )
        self._result = self.finish(job_id, properties)

    def judge_finished(self, external_id: str, context: Context) -> dict[str, Any]:
        return self.finish(external_id, self.hook.import_job(str(self.datastore_id), external_id))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        job_id = str(event.get("job_id") or "")
        if not job_id:
            raise AirflowException(f"the trigger's event names no import job: {event}")
        if event.get("status") != "success" and event.get("job_status") is None:
            raise AirflowException(f"import job {job_id}: {event.get('message')}")
        return self.finish(job_id, self.hook.import_job(str(self.datastore_id), job_id))

    # --- the judgement -----------------------------------------------------------------------------

    def finish(self, job_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        """Read the job's output manifest; fail on a failed job, or on failed files unless allowed."""
        status = str(properties.get("jobStatus"))
        if status == FAILED:
            raise AirflowException(f"import job {job_id} failed: {properties.get('message') or 'no message'}")
        if status != COMPLETED:
            raise AirflowException(f"import job {job_id} is {status}, not over")
        outcome = self.hook.import_outcome(str(properties.get("outputS3Uri") or self.output_s3_uri))
        result = {
            "job_id": job_id,
            "datastore_id": str(self.datastore_id),
            "job_status": status,
            **outcome.to_dict(),
        }
        if outcome.failed and not self.allow_partial:
            shown = [str(f) for f in outcome.failures[:MAX_FAILURES_IN_MESSAGE]]
            more = outcome.failed - len(shown)
            raise AirflowException(
                f"import job {job_id}: {outcome.imported} files imported, {outcome.failed} failed: "
                + "; ".join(shown)
                + (f"; and {more} more (see the job's FAILURE/ folder)" if more > 0 else "")
            )
        if outcome.failed:
            self.log.warning(
                "import job %s: %d imported, %d failed (allowed): %s",
                job_id,
                outcome.imported,
                outcome.failed,
                "; ".join(str(f) for f in outcome.failures[:MAX_FAILURES_IN_MESSAGE]),
            )
        else:
            self.log.info("import job %s: %d files imported", job_id, outcome.imported)
        return result
