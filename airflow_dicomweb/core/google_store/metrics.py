"""A Google DICOM store's metrics: counts and bytes of the store, a study or a series
(``:getDICOMStoreMetrics``, ``:getStudyMetrics``, ``:getSeriesMetrics``). Google sends int64 values as
strings; these are integers, absent ones 0."""

from __future__ import annotations

from typing import Any

from airflow_dicomweb.core.errors import DicomWebResponseError
from airflow_dicomweb.core.google_store.resource import GoogleStore
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.uids import resource_segments

_COUNTS = ("studyCount", "seriesCount", "instanceCount", "structuredStorageSizeBytes", "blobStorageSizeBytes")


def _integers(body: Any, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise DicomWebResponseError(f"{where}: metrics are not a JSON object")
    out: dict[str, Any] = {}
    for key in keys:
        value = body.get(key, 0)
        try:
            out[key] = int(value)
        except (TypeError, ValueError):
            raise DicomWebResponseError(f"{where}: {key} is not an integer: {str(value)[:40]!r}") from None
    for key in ("name", "study", "series"):
        if isinstance(body.get(key), str):
            out[key] = body[key][:500]
    return out


class StoreMetrics:
    """Metrics of one Google DICOM store, read over ``transport``."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _get(self, url: str, keys: tuple[str, ...]) -> dict[str, Any]:
        reply = self.transport.request("GET", url, headers={"Accept": "application/json"})
        try:
            body = reply.json()
        except ValueError:
            body = None
        return _integers(body, f"GET {self.transport.redact(url)}", keys)

    def store_metrics(self) -> dict[str, Any]:
        """The store's study, series and instance counts and its structured and blob storage bytes."""
        store = GoogleStore.from_service_root(self.transport.base_url, "store_metrics")
        return self._get(f"{store.url}:getDICOMStoreMetrics", _COUNTS)

    def study_metrics(self, study_instance_uid: str) -> dict[str, Any]:
        """One study's series and instance counts and bytes."""
        GoogleStore.from_service_root(self.transport.base_url, "study_metrics")
        url = self.transport.url(*resource_segments(study_instance_uid)) + ":getStudyMetrics"
        return self._get(url, _COUNTS[1:])

    def series_metrics(self, study_instance_uid: str, series_instance_uid: str) -> dict[str, Any]:
        """One series' instance count and bytes."""
        GoogleStore.from_service_root(self.transport.base_url, "series_metrics")
        url = self.transport.url(*resource_segments(study_instance_uid, series_instance_uid))
        return self._get(url + ":getSeriesMetrics", _COUNTS[2:])
