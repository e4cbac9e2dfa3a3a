"""What the server holds of a study, for a retrieve: its series (with their instance counts where the search
gives them) and its instances, from QIDO-RS or, where a server cannot list them, from series metadata. Every
UID a server answers is validated before it names a file."""

from __future__ import annotations

from typing import Any

from airflow_dicomweb.core.dicom.json_model import (
    NUMBER_OF_SERIES_RELATED_INSTANCES,
    SERIES_INSTANCE_UID,
    SOP_INSTANCE_UID,
    first_value,
)
from airflow_dicomweb.core.errors import DicomWebHTTPError, DicomWebNotFoundError, DicomWebResponseError
from airflow_dicomweb.core.qido.search import Search
from airflow_dicomweb.core.uids import validate_uid
from airflow_dicomweb.core.wado.metadata import RetrieveMetadata

#: Statuses of a search resource a server does not offer (or cannot answer for this study): listing is then
#: done another way, never a reason to fail a retrieve.
LISTING_UNSUPPORTED = frozenset({400, 404, 405, 501})


class StudyListing:
    """Lists a study's series and instances through ``search``, or through ``metadata``."""

    def __init__(self, search: Search, metadata: RetrieveMetadata) -> None:
        self.search = search
        self.metadata = metadata

    def series(self, study: str) -> tuple[list[str], int | None]:
        """The study's series, and its instance count (None when a series' count is not given)."""
        series: list[str] = []
        total: int | None = 0
        for item in self.search.iter_search("series", study_instance_uid=study):
            series.append(
                validate_uid(first_value(item, SERIES_INSTANCE_UID), "SeriesInstanceUID in a search result")
            )
            count = _count(first_value(item, NUMBER_OF_SERIES_RELATED_INSTANCES))
            total = total + count if total is not None and count is not None else None
        return series, total

    def instances(self, study: str, series: str | None) -> dict[str, list[str]]:
        """The SOP Instance UIDs of a study or series, by series, from a QIDO-RS search."""
        by_series: dict[str, list[str]] = {}
        for item in self.search.iter_search(
            "instances", study_instance_uid=study, series_instance_uid=series
        ):
            series_uid = validate_uid(
                first_value(item, SERIES_INSTANCE_UID), "SeriesInstanceUID in a search result"
            )
            sop_uid = validate_uid(first_value(item, SOP_INSTANCE_UID), "SOPInstanceUID in a search result")
            by_series.setdefault(series_uid, []).append(sop_uid)
        return by_series

    def every_instance(self, study: str) -> dict[str, list[str]]:
        """The SOP Instance UIDs of a study, by series, whichever way this server can list them: one
        study-level instance search; else a search per series (a server without ``/studies/{uid}/instances``);
        else series metadata (a server without instance-level search). Empty when the server holds none of
        the study (or does not know it: a 404)."""
        attempts = (
            lambda: self.instances(study, None),
            lambda: self._instances_by_series(study),
            lambda: _group(self.instances_by_metadata(study, None)),
        )
        refused: Exception | None = None
        for attempt in attempts:
            try:
                return attempt()
            except DicomWebNotFoundError:
                continue
            except (DicomWebHTTPError, DicomWebResponseError) as exc:
                if isinstance(exc, DicomWebHTTPError) and exc.status not in LISTING_UNSUPPORTED:
                    raise
                refused = exc
        if refused is not None:
            raise refused
        return {}

    def _instances_by_series(self, study: str) -> dict[str, list[str]]:
        series, _ = self.series(study)
        by_series: dict[str, list[str]] = {}
        for series_uid in series:
            by_series.update(self.instances(study, series_uid))
        return by_series

    def instances_by_metadata(self, study: str, series: str | None) -> list[tuple[str, str]]:
        """(series, SOP Instance UID) of every instance of a study or series, from series metadata."""
        if series is not None:
            all_series = [series]
        else:
            all_series = [
                validate_uid(first_value(item, SERIES_INSTANCE_UID), "SeriesInstanceUID in a search result")
                for item in self.search.iter_search("series", study_instance_uid=study)
            ]
        instances = []
        for series_uid in all_series:
            for dataset in self.metadata.retrieve_series_metadata(study, series_uid):
                sop = validate_uid(
                    first_value(dataset, SOP_INSTANCE_UID), "SOPInstanceUID in the series metadata"
                )
                instances.append((series_uid, sop))
        return instances


def _group(instances: list[tuple[str, str]]) -> dict[str, list[str]]:
    by_series: dict[str, list[str]] = {}
    for series, sop in instances:
        by_series.setdefault(series, []).append(sop)
    return by_series


def _count(value: Any) -> int | None:
    """A count from a search result, or None when absent or not a count (a hostile server's "abc")."""
    try:
        count = int(value)
    except (TypeError, ValueError):
        return None
    return count if count >= 0 else None
