"""``GoogleDicomStoreHook``: a ``dicomweb`` connection to a Google Cloud Healthcare DICOM store, with what only
such a store does (import, export, de-identify, storage classes, metrics) beside everything the DICOMweb hook
does, as the Amazon provider has a hook per service."""

from __future__ import annotations

from typing import Any

from airflow_dicomweb.core.google_store.client import GoogleStoreApi
from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from airflow_dicomweb.hooks.lineage import (
    note_files_read,
    note_files_written,
    note_service_read,
    note_service_written,
)


class GoogleDicomStoreHook(DicomWebHook, GoogleStoreApi):  # type: ignore[override]
    """A Google DICOM store through a ``dicomweb`` connection: DICOMweb, and the store's own operations.

    :param dicomweb_conn_id: the connection; its host is the store's DICOMweb root (or its extras name it).
    """

    hook_name = "Google DICOM store"

    # --- the bulk operations, with hook-level lineage: the Cloud Storage objects and the store ---------
    def import_dicom(self, gcs_source: Any, blob_storage_class: str | None = None) -> str:
        """Import Part 10 files from Cloud Storage (see :class:`GoogleStoreApi`); the source and the store
        go to the hook lineage collector."""
        name = super().import_dicom(gcs_source, blob_storage_class)
        note_files_read(self, [gcs_source])
        note_service_written(self, self.settings.base_url)
        return name

    def export_dicom(
        self,
        destination: Any,
        filter_uri: Any = None,
        write_disposition: str | None = None,
        mime_type: str | None = None,
    ) -> str:
        """Export to Cloud Storage or BigQuery (see :class:`GoogleStoreApi`); the store and the destination
        go to the hook lineage collector."""
        name = super().export_dicom(destination, filter_uri, write_disposition, mime_type)
        note_service_read(self, self.settings.base_url)
        note_files_written(self, [destination])
        return name

    def close(self) -> None:
        super().close()
        self.__dict__.pop("google_store", None)  # made over the transport just closed
