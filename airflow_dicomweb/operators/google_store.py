"""Operators for a Google DICOM store's own long-running operations: import from Cloud Storage, export to
Cloud Storage or BigQuery, de-identify into a new store, and storage classes.

Each starts its operation in the worker, then waits for it there or, with ``deferrable``, in the triggerer
(``DicomWebOperationTrigger``), so no worker slot is held. A finished operation is judged by
:func:`~airflow_dicomweb.core.operations.outcome.judge`: some instances failed fails the task, naming the
counts and the operation's ``logsUrl``, unless ``allow_partial``. The XCom is
``{"operation", "success", "failure", "destination", "logs_url"}``; the task's extra links open the
operation's logs and the store in the Cloud console.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.configuration import conf
from airflow.sdk import Context

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.google_store.resource import GoogleStore
from airflow_dicomweb.core.operations.outcome import judge, outcome_of
from airflow_dicomweb.hooks.google_store import GoogleDicomStoreHook
from airflow_dicomweb.operators.base import DicomWebBaseOperator
from airflow_dicomweb.operators.google_store_links import (
    LINKS_KEY,
    DicomStoreLink,
    DicomStoreOperationLogsLink,
)
from airflow_dicomweb.operators.google_store_uris import dataset_of, gcs_text
from airflow_dicomweb.operators.lineage import dicomweb_dataset_name
from airflow_dicomweb.operators.resumable_operation import ResumableOperation


class DicomStoreOperationBase(ResumableOperation, DicomWebBaseOperator):
    """What the four operators share: start, then wait (or defer), then judge the operation.

    The operation's name is saved in the task's state store (Airflow 3.3's ``ResumableJobMixin``) before
    any wait or deferral: a retry after the worker died finds it, re-attaches to a running operation,
    reads a finished one, and starts a new one only when the saved one failed. On Airflow below 3.3 every
    try starts its own operation.

    :param wait_for_completion: wait until the operation is done (else the XCom names it, for a sensor).
    :param deferrable: wait in the triggerer; default from ``[operators] default_deferrable``.
    :param allow_partial: a result with some instances failed is a success that reports the counts.
    :param poll_interval: seconds between polls (growing by half up to a minute).
    :param timeout: the most seconds to wait.
    :param durable: keep the operation's name for a retry to re-attach to (default ``True``).
    """

    operator_extra_links = (DicomStoreLink(), DicomStoreOperationLogsLink())
    ui_color = "#d6eaf8"
    #: Where the operation's name is kept in the task's state store; renaming it breaks in-flight retries.
    external_id_key = "dicom_store_operation"

    @cached_property
    def hook(self) -> GoogleDicomStoreHook:
        return GoogleDicomStoreHook(self.dicomweb_conn_id)

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        allow_partial: bool = False,
        poll_interval: float = defaults.TASK_OPERATION_POLL_INTERVAL,
        timeout: float = defaults.OPERATION_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.allow_partial = allow_partial
        self.poll_interval = poll_interval
        self.timeout = timeout

    # --- what each operator says ------------------------------------------------------------------

    def start(self) -> str:
        """Start the operation; its name."""
        raise NotImplementedError

    def destination(self) -> str:
        """What the operation writes to (the XCom's ``destination``)."""
        return ""

    def note_lineage(self) -> None:
        """Lineage: the datasets the operation read and wrote."""

    # --- the flow ---------------------------------------------------------------------------------

    @property
    def store(self) -> GoogleStore:
        return GoogleStore.from_service_root(self.hook.settings.base_url, type(self).__name__)

    def execute(self, context: Context) -> dict[str, Any]:
        _ = self.store  # a connection that is not a Google store fails here, before anything is sent
        self.note_lineage()
        return self.run_resumable(context)

    # --- ResumableOperation: the store's operation is the job, its name the external id -----------

    def submit_job(self, context: Context) -> str:
        name = self.start()
        self.log.info("started operation %s", name)
        self.save_links(context, {"store": self.store.console_url, "logs": ""})
        return name

    def poll_until_complete(self, external_id: Any, context: Context) -> None:
        if not self.wait_for_completion:  # the XCom names the operation, for a sensor
            self._result = {"operation": str(external_id), "destination": self.destination(), "done": False}
            return
        super().poll_until_complete(external_id, context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        self.note_lineage()
        return super().execute_complete(context, event)

    def finish(self, context: Context, operation: dict[str, Any]) -> dict[str, Any]:
        # the links first: a partial result that fails the task still points at its logs
        self.save_links(context, {"store": self.store.console_url, "logs": outcome_of(operation).logs_url})
        outcome = judge(operation, self.allow_partial)
        if outcome.failure:
            self.log.warning(
                "operation %s: %d succeeded, %d failed (allowed); logs: %s",
                outcome.operation,
                outcome.success,
                outcome.failure,
                outcome.logs_url or "none",
            )
        else:
            self.log.info("operation %s: %d succeeded", outcome.operation, outcome.success)
        self.after(context, outcome.to_dict())
        return {
            "operation": outcome.operation,
            "success": outcome.success,
            "failure": outcome.failure,
            "destination": self.destination(),
            "logs_url": outcome.logs_url,
        }

    def after(self, context: Context, outcome: dict[str, Any]) -> None:
        """What an operator does once its operation succeeded (asset events)."""

    def save_links(self, context: Context, links: dict[str, str]) -> None:
        """The extra links' targets, in XCom (when the task runs in Airflow and pushes XCom)."""
        ti = context.get("ti") if hasattr(context, "get") else None
        if ti is not None and self.do_xcom_push:
            ti.xcom_push(key=LINKS_KEY, value=links)


class DicomStoreImportOperator(DicomStoreOperationBase):
    """Import Part 10 files from Cloud Storage into the connection's Google DICOM store
    (``dicomStores.import``): at scale, Google's advice over STOW-RS.

    :param gcs_uri: ``gs://bucket/path/**.dcm`` (``*`` within a folder, ``**`` across), or a ``gs://``
        ``ObjectStoragePath`` (templated).
    :param blob_storage_class: the storage class of what is imported (``STANDARD``, ``NEARLINE``,
        ``COLDLINE``, ``ARCHIVE``); default: the store's.

    A ``dicomweb://`` asset among the outlets gets an event with the operation and its counts.
    """

    lineage_role = "write"
    template_fields: Sequence[str] = ("gcs_uri", "blob_storage_class", "dicomweb_conn_id")

    def __init__(self, *, gcs_uri: Any, blob_storage_class: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gcs_uri = gcs_uri
        self.blob_storage_class = blob_storage_class

    def start(self) -> str:
        return self.hook.import_dicom(gcs_text(self.gcs_uri), blob_storage_class=self.blob_storage_class)

    def destination(self) -> str:
        return self.store.name

    def note_lineage(self) -> None:
        self.lineage_notes.inputs.append(dataset_of(gcs_text(self.gcs_uri)))
        self.lineage_notes.outputs.append(dicomweb_dataset_name(self.hook.settings.base_url))

    def after(self, context: Context, outcome: dict[str, Any]) -> None:
        from airflow.sdk import Asset

        from airflow_dicomweb.assets.dicomweb import SCHEME

        events = context.get("outlet_events")
        for outlet in self.outlets or []:
            if events is not None and isinstance(outlet, Asset) and outlet.uri.startswith(f"{SCHEME}://"):
                events[outlet].extra.update(
                    {
                        "operation": "import",
                        "dicomweb_conn_id": self.dicomweb_conn_id,
                        "source": gcs_text(self.gcs_uri),
                        "google_operation": outcome["operation"],
                        "instances": outcome["success"],
                        "failed": outcome["failure"],
                    }
                )


class DicomStoreExportOperator(DicomStoreOperationBase):
    """Export the store (or the resources ``filter_uri`` lists) to Cloud Storage as Part 10 files, or its
    metadata to a BigQuery table (``dicomStores.export``).

    :param destination: ``gs://bucket/prefix/`` (or a ``gs://`` ``ObjectStoragePath``), or
        ``bq://project.dataset.table`` (templated).
    :param filter_uri: a ``gs://`` file listing ``/studies/...`` paths to export (templated).
    :param write_disposition: for BigQuery: ``WRITE_EMPTY`` (Google's default), ``WRITE_TRUNCATE`` or
        ``WRITE_APPEND``.
    :param mime_type: for Cloud Storage: e.g. ``application/dicom; transfer-syntax=1.2.840.10008.1.2.1``.
    """

    template_fields: Sequence[str] = (
        "destination_uri",
        "filter_uri",
        "write_disposition",
        "dicomweb_conn_id",
    )

    def __init__(
        self,
        *,
        destination: Any,
        filter_uri: Any = None,
        write_disposition: str | None = None,
        mime_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.destination_uri = destination
        self.filter_uri = filter_uri
        self.write_disposition = write_disposition
        self.mime_type = mime_type

    def start(self) -> str:
        return self.hook.export_dicom(
            self.destination(),
            filter_uri=gcs_text(self.filter_uri) if self.filter_uri else None,
            write_disposition=self.write_disposition,
            mime_type=self.mime_type,
        )

    def destination(self) -> str:
        return gcs_text(self.destination_uri)

    def note_lineage(self) -> None:
        self.lineage_notes.outputs.append(dataset_of(self.destination()))


class DicomStoreDeidentifyOperator(DicomStoreOperationBase):
    """De-identify the store (or the resources ``filter_uri`` lists) into a new store of the same location
    (``dicomStores.deidentify``).

    :param destination_store: a store id of the same dataset, or a full resource name; it must not exist
        (templated).
    :param config: Google's ``DeidentifyConfig`` (templated).
    :param filter_uri: a ``gs://`` file listing ``/studies/...`` paths to de-identify (templated).
    """

    template_fields: Sequence[str] = ("destination_store", "config", "filter_uri", "dicomweb_conn_id")

    def __init__(
        self, *, destination_store: str, config: dict[str, Any], filter_uri: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.destination_store = destination_store
        self.config = config
        self.filter_uri = filter_uri

    def start(self) -> str:
        return self.hook.deidentify_store(
            self.destination_store,
            self.config,
            filter_uri=gcs_text(self.filter_uri) if self.filter_uri else None,
        )

    def destination(self) -> str:
        return self.store.sibling(str(self.destination_store))

    def note_lineage(self) -> None:
        root = self.store.service_root_of(str(self.destination_store))
        self.lineage_notes.outputs.append(dicomweb_dataset_name(root))


class DicomStorageClassOperator(DicomStoreOperationBase):
    """Move the store, a study or a series to a storage class (``setBlobStorageSettings``).

    :param storage_class: ``STANDARD``, ``NEARLINE``, ``COLDLINE`` or ``ARCHIVE`` (templated).
    :param study_instance_uid: a study; with ``series_instance_uid``, a series (templated).
    :param filter_uri: store-wide only: a ``gs://`` file listing the resources to move (templated).
    """

    template_fields: Sequence[str] = (
        "storage_class",
        "study_instance_uid",
        "series_instance_uid",
        "filter_uri",
        "dicomweb_conn_id",
    )

    def __init__(
        self,
        *,
        storage_class: str,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        filter_uri: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.storage_class = storage_class
        self.study_instance_uid = study_instance_uid
        self.series_instance_uid = series_instance_uid
        self.filter_uri = filter_uri

    def start(self) -> str:
        return self.hook.set_storage_class(
            self.storage_class,
            study_instance_uid=self.study_instance_uid or None,
            series_instance_uid=self.series_instance_uid or None,
            filter_uri=gcs_text(self.filter_uri) if self.filter_uri else None,
        )

    def destination(self) -> str:
        return str(self.storage_class).upper()
