"""``HealthImagingHook``: AWS HealthImaging's own API (``medical-imaging``) through an Airflow AWS connection,
for what its DICOMweb does not do: DICOM import jobs from S3.

It is the Amazon provider's ``AwsBaseHook`` with ``client_type="medical-imaging"``, so the connection's
credentials (keys, a role to assume, web identity, a profile), its region and its endpoints
(``service_config``: ``{"medical-imaging": {"endpoint_url": ...}, "s3": {...}}``) are the Amazon provider's,
and nothing about them is ours. The import's output manifest is read with the same connection's S3 client.
"""

from __future__ import annotations

from typing import Any

from airflow_dicomweb.core.healthimaging.import_job import (
    ImportJobRequest,
    import_job_properties,
    start_import_job,
    wait_for_import_job,
)
from airflow_dicomweb.core.healthimaging.import_manifest import ImportOutcome, read_import_outcome
from airflow_dicomweb.core.servers.healthimaging import service_root
from airflow_dicomweb.hooks.lineage import note_files_read, note_service_written

try:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
except ImportError as missing:  # pragma: no cover - the message is the point
    raise ImportError(
        "HealthImaging imports need the Amazon provider: pip install apache-airflow-providers-amazon"
    ) from missing


class HealthImagingHook(AwsBaseHook):
    """The ``medical-imaging`` client of an AWS connection, with the import job's calls.

    :param aws_conn_id: the Airflow AWS connection (default ``aws_default``).
    :param region_name: the region; default: the connection's.
    """

    hook_name = "AWS HealthImaging"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "medical-imaging"
        super().__init__(*args, **kwargs)

    def start_import_job(self, request: ImportJobRequest, token: str) -> str:
        """Start a DICOM import job (idempotent by ``token``); its id. The S3 input and the data store go
        to the hook lineage collector."""
        job_id = start_import_job(self.conn, request, token)
        note_files_read(self, [request.input_s3_uri])
        note_service_written(self, service_root(str(self.region_name), request.datastore_id))
        return job_id

    def import_job(self, datastore_id: str, job_id: str) -> dict[str, Any]:
        """The job's properties (``jobStatus``, ``outputS3Uri``, ``message``, ...)."""
        return import_job_properties(self.conn, datastore_id, job_id)

    def wait_for_import_job(
        self, datastore_id: str, job_id: str, *, poll_interval: float, timeout: float
    ) -> dict[str, Any]:
        """Poll until the job is over; its properties."""
        return wait_for_import_job(
            self.conn, datastore_id, job_id, poll_interval=poll_interval, timeout=timeout
        )

    def import_outcome(self, output_s3_uri: str) -> ImportOutcome:
        """The counts and failed files of the job whose output is at ``output_s3_uri``."""
        s3 = AwsBaseHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, client_type="s3")
        return read_import_outcome(s3.conn, output_s3_uri)
