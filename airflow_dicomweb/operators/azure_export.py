"""``AzureDicomExportOperator``: an Azure DICOM service's export of studies, series or instances into a Blob
Storage container, waited for in the worker or in the triggerer, and resumable: the operation's name is kept
in the task's state store before any wait, so a retry after a dead worker re-attaches to it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.configuration import conf
from airflow.sdk import Context

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.operations.azure_export import export_body, start_export
from airflow_dicomweb.core.operations.outcome import judge
from airflow_dicomweb.operators.base import DicomWebBaseOperator
from airflow_dicomweb.operators.lineage import dicomweb_dataset_name
from airflow_dicomweb.operators.resumable_operation import ResumableOperation


class AzureDicomExportOperator(ResumableOperation, DicomWebBaseOperator):
    """Export from the connection's Azure DICOM service into a Blob Storage container (``POST /export``).

    :param identifiers: ``<study>``, ``<study>/<series>`` or ``<study>/<series>/<instance>`` UIDs (templated;
        a list from XCom too), at most 1,000.
    :param blob_container_uri: ``https://<account>.blob.core.windows.net/<container>`` (templated); the
        service writes with its managed identity, so the URI carries no SAS.
    :param allow_partial: instances skipped (not exported) are a success that reports the counts.
    :param deferrable: wait in the triggerer; default from ``[operators] default_deferrable``.
    :param poll_interval: seconds between polls (growing by half up to a minute).
    :param timeout: the most seconds to wait.
    :param durable: keep the operation's name for a retry to re-attach to (default ``True``).

    XCom: ``{"operation", "exported", "skipped", "errors", "destination"}``.
    """

    template_fields: Sequence[str] = ("identifiers", "blob_container_uri", "dicomweb_conn_id")
    ui_color = "#d6eaf8"
    #: Where the operation's name is kept in the task's state store; renaming it breaks in-flight retries.
    external_id_key = "azure_dicom_export"

    def __init__(
        self,
        *,
        identifiers: Any,
        blob_container_uri: str,
        allow_partial: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = defaults.TASK_OPERATION_POLL_INTERVAL,
        timeout: float = defaults.OPERATION_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.identifiers = identifiers
        self.blob_container_uri = blob_container_uri
        self.allow_partial = allow_partial
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout

    def identifier_list(self) -> list[str]:
        value = self.identifiers
        return [value] if isinstance(value, str) else [str(v) for v in value]

    def execute(self, context: Context) -> dict[str, Any]:
        export_body(self.identifier_list(), str(self.blob_container_uri))  # bad values named before sending
        self.lineage_notes.inputs.append(dicomweb_dataset_name(self.hook.settings.base_url))
        return self.run_resumable(context)

    def submit_job(self, context: Context) -> str:
        name = start_export(self.hook, self.identifier_list(), str(self.blob_container_uri))
        self.log.info("started export %s into %s", name, self.blob_container_uri)
        return name

    def finish(self, context: Context, operation: dict[str, Any]) -> dict[str, Any]:
        outcome = judge(operation, self.allow_partial)
        if outcome.failure:
            self.log.warning(
                "export %s: %d exported, %d skipped (allowed): %s",
                outcome.operation,
                outcome.success,
                outcome.failure,
                outcome.error or "no errors listed",
            )
        else:
            self.log.info("export %s: %d exported", outcome.operation, outcome.success)
        return {
            "operation": outcome.operation,
            "exported": outcome.success,
            "skipped": outcome.failure,
            "errors": outcome.error,
            "destination": str(self.blob_container_uri),
        }
