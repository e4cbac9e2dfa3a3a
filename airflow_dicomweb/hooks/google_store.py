"""``GoogleDicomStoreHook``: a ``dicomweb`` connection to a Google Cloud Healthcare DICOM store, with what only
such a store does (import, export, de-identify, storage classes, metrics) beside everything the DICOMweb hook
does, as the Amazon provider has a hook per service."""

from __future__ import annotations

from airflow_dicomweb.core.google_store.client import GoogleStoreApi
from airflow_dicomweb.hooks.dicomweb import DicomWebHook


class GoogleDicomStoreHook(DicomWebHook, GoogleStoreApi):  # type: ignore[override]
    """A Google DICOM store through a ``dicomweb`` connection: DICOMweb, and the store's own operations.

    :param dicomweb_conn_id: the connection; its host is the store's DICOMweb root (or its extras name it).
    """

    hook_name = "Google DICOM store"

    def close(self) -> None:
        super().close()
        self.__dict__.pop("google_store", None)  # made over the transport just closed
