"""What only a Google DICOM store does, beyond DICOMweb: import, export, de-identify, storage classes
(:mod:`.bulk`) and metrics (:mod:`.metrics`). :class:`GoogleStoreApi` needs only a ``transport``, like
:class:`~airflow_dicomweb.core.client.DicomWebApi`; the operations it starts are polled with that API's
``wait_for_operation``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from airflow_dicomweb.core.google_store.bulk import StoreBulkOperations
from airflow_dicomweb.core.google_store.metrics import StoreMetrics
from airflow_dicomweb.core.http.transport import Transport


@dataclass(frozen=True)
class GoogleStoreTransactions:
    """A Google store's own methods, over one transport."""

    store_bulk: StoreBulkOperations
    store_metrics: StoreMetrics

    @classmethod
    def over(cls, transport: Transport) -> GoogleStoreTransactions:
        return cls(store_bulk=StoreBulkOperations(transport), store_metrics=StoreMetrics(transport))


class GoogleStoreApi:
    """Import, export, de-identify, storage classes and metrics of the Google DICOM store at ``self.transport``."""

    transport: Transport

    @cached_property
    def google_store(self) -> GoogleStoreTransactions:
        """The store's own methods, made on first use over this object's transport."""
        return GoogleStoreTransactions.over(self.transport)

    # store bulk
    def import_dicom(self, gcs_source: Any, blob_storage_class: str | None = None) -> str:
        """Import the Part 10 files matching ``gcs_source`` (``gs://bucket/dir/**.dcm``); the operation's
        name."""
        return self.google_store.store_bulk.import_dicom(gcs_source, blob_storage_class)

    def export_dicom(
        self,
        destination: Any,
        filter_uri: Any = None,
        write_disposition: str | None = None,
        mime_type: str | None = None,
    ) -> str:
        """Export to ``gs://bucket/prefix/`` (Part 10 files, or ``mime_type``) or to
        ``bq://project.dataset.table`` (the metadata, with ``write_disposition``); the operation's name."""
        return self.google_store.store_bulk.export_dicom(
            destination, filter_uri, write_disposition, mime_type
        )

    def deidentify_store(self, destination_store: str, config: dict[str, Any], filter_uri: Any = None) -> str:
        """De-identify into ``destination_store`` (a store id of this dataset, or a resource name), a store
        that must not exist yet; ``config`` is Google's ``DeidentifyConfig``. The operation's name."""
        return self.google_store.store_bulk.deidentify_store(destination_store, config, filter_uri)

    def set_storage_class(
        self,
        storage_class: str,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        filter_uri: Any = None,
    ) -> str:
        """Move the store, a study or a series (or the resources listed by ``filter_uri``, store-wide) to a
        storage class; the operation's name."""
        return self.google_store.store_bulk.set_storage_class(
            storage_class, study_instance_uid, series_instance_uid, filter_uri
        )

    # store metrics
    def store_metrics(self) -> dict[str, Any]:
        """The store's study, series and instance counts and its structured and blob storage bytes."""
        return self.google_store.store_metrics.store_metrics()

    def study_metrics(self, study_instance_uid: str) -> dict[str, Any]:
        """One study's series and instance counts and bytes."""
        return self.google_store.store_metrics.study_metrics(study_instance_uid)

    def series_metrics(self, study_instance_uid: str, series_instance_uid: str) -> dict[str, Any]:
        """One series' instance count and bytes."""
        return self.google_store.store_metrics.series_metrics(study_instance_uid, series_instance_uid)
