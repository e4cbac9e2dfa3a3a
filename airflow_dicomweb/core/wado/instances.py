"""WADO-RS of instances: a study, series or instance written to files, resumably (PS3.18 section 10.4).

Instances are asked for with ``transfer-syntax=*`` by default, so servers return the bytes they stored
instead of transcoding. Multipart responses are decoded as they arrive and written part by part, so memory
stays bounded whatever the size of a study or of one instance. A whole retrieve is retried when its
response is cut short; files already renamed into place are simply written again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.dicom.transfer_syntaxes import transfer_syntax_uid
from airflow_dicomweb.core.errors import (
    DicomWebHTTPError,
    DicomWebNotFoundError,
    DicomWebPaginationError,
    DicomWebResponseError,
)
from airflow_dicomweb.core.http.transport import IDENTITY, Transport
from airflow_dicomweb.core.media_types import DICOM, multipart_accept
from airflow_dicomweb.core.progress import ProgressCallback, ProgressTracker
from airflow_dicomweb.core.qido.search import Search
from airflow_dicomweb.core.servers.profile import ServerProfile
from airflow_dicomweb.core.storage.paths import Destination, StoragePath
from airflow_dicomweb.core.uids import resource_segments
from airflow_dicomweb.core.wado.destination import InstanceDestination
from airflow_dicomweb.core.wado.listing import LISTING_UNSUPPORTED, StudyListing
from airflow_dicomweb.core.wado.metadata import RetrieveMetadata
from airflow_dicomweb.core.wado.response import WadoResponses
from airflow_dicomweb.core.wado.sink import InstanceSink

log = logging.getLogger(__name__)


class RetrieveInstances:
    """Retrieve studies, series and instances into a destination (WADO-RS), over ``transport``; ``search``
    lists what a resumed retrieve lacks."""

    def __init__(
        self,
        transport: Transport,
        responses: WadoResponses,
        search: Search,
        metadata: RetrieveMetadata,
        profile: ServerProfile,
    ) -> None:
        self.transport = transport
        self.responses = responses
        self.search = search
        self.metadata = metadata
        self.profile = profile
        self.listing = StudyListing(search, metadata)

    def _retrieve_to(
        self,
        segments: list[str],
        dest: InstanceSink,
        expected: dict[str, str],
        transfer_syntax: str | None,
        accept: str | None = None,
        tracker: ProgressTracker | None = None,
        keep_existing: bool = False,
    ) -> list[Any]:
        transfer_syntax = transfer_syntax_uid(transfer_syntax)
        url = self.transport.url(*segments)
        safe_url = self.transport.redact(url)
        if accept is None:
            accept = multipart_accept(DICOM, transfer_syntax)
        elif transfer_syntax:
            accept = f"{accept}; transfer-syntax={transfer_syntax}"
        headers = {"Accept": accept, **IDENTITY}

        def attempt() -> list[Any]:
            response = self.transport.send("GET", url, headers=headers)
            try:
                events = self.responses.events(response, safe_url, DICOM)
                return dest.write(
                    events,
                    source=f"GET {safe_url}",
                    expected=expected,
                    on_file=counted(tracker),
                    keep_existing=keep_existing,
                )
            finally:
                response.close()

        try:
            return self.transport.retry(attempt)
        except DicomWebNotFoundError as exc:
            raise named_not_found(exc, expected) from None
        except DicomWebHTTPError as exc:
            if exc.status != 406 or not transfer_syntax:
                raise
            if not self.transport.settings.transfer_syntax_fallback:
                refused = DicomWebHTTPError(
                    406, method=exc.method, url=exc.url, server_message=exc.server_message
                )
                refused.args = (
                    f"{resource_name(expected)}: the server cannot send transfer syntax {transfer_syntax} "
                    f"({exc}); ask for another, or set transfer_syntax_fallback on the connection to take the "
                    "server's default",
                )
                raise refused from None
            log.info(
                "%s: the server cannot send transfer syntax %s (HTTP 406); taking its default",
                resource_name(expected),
                transfer_syntax,
            )
            plain = DICOM if accept.split(";", 1)[0].strip() == DICOM else None
            return self._retrieve_to(segments, dest, expected, None, plain, tracker, keep_existing)

    def retrieve_study(
        self,
        study_instance_uid: str,
        dest_dir: Destination,
        transfer_syntax: str | None = defaults.TRANSFER_SYNTAX,
        *,
        skip_existing: bool = defaults.RETRIEVE_SKIP_EXISTING,
        series_concurrency: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[StoragePath]:
        """Every instance of a study, written under ``dest_dir``; the paths of its files there.

        With ``skip_existing``, instances whose file is already in place (files are only ever renamed into
        place once complete) are not fetched again: the study's instances are listed with QIDO-RS and only
        the missing ones are retrieved, by whole series where a series is missing entirely.
        ``series_concurrency`` > 1 fetches the study's series as that many parallel streams; 1 forces one
        stream. By default (None) the study's series are listed first (one QIDO-RS request) and fetched
        :data:`~airflow_dicomweb.core.defaults.SERIES_CONCURRENCY` at a time when there are several: one stream is limited by the
        client's single thread of parsing and writing, or by one connection's latency. A server that cannot
        list the series gets one stream.

        Listing is an optimisation, never a requirement: a server that cannot list a study's instances
        (no such search resource, or a search it cannot complete) still gets the study retrieved, whole into
        a destination that holds none of it yet, or whole while keeping the complete files already in place.
        A study the server does not hold raises :class:`DicomWebNotFoundError` naming the study.
        """
        resource_segments(study_instance_uid)
        dest = InstanceDestination.of(dest_dir)
        series: list[str] = []
        files_total: int | None = 0
        if series_concurrency is None or series_concurrency > 1:
            try:
                series, files_total = self.listing.series(study_instance_uid)
            except (DicomWebHTTPError, DicomWebResponseError) as exc:
                log.info("study %s: series not listed (%s); one stream", study_instance_uid, exc)
                series = []
            if series_concurrency is None:
                series_concurrency = min(defaults.SERIES_CONCURRENCY, len(series))
        if series_concurrency > 1 and len(series) > 1:
            shared = ProgressTracker(progress, files_total=files_total or None) if progress else None
            with ThreadPoolExecutor(max_workers=series_concurrency, thread_name_prefix="wado") as pool:
                parts = pool.map(
                    lambda se: self.retrieve_series(
                        study_instance_uid,
                        se,
                        dest.location,
                        transfer_syntax,
                        skip_existing=skip_existing,
                        progress=shared.part() if shared else None,
                    ),
                    series,
                )
                return [path for paths in parts for path in paths]
        if skip_existing:
            return self._retrieve_missing(study_instance_uid, None, dest, transfer_syntax, progress)
        tracker = ProgressTracker(progress) if progress else None
        return self._fetch_whole(study_instance_uid, None, dest, transfer_syntax, tracker)

    def retrieve_series(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        dest_dir: Destination,
        transfer_syntax: str | None = defaults.TRANSFER_SYNTAX,
        *,
        skip_existing: bool = defaults.RETRIEVE_SKIP_EXISTING,
        progress: ProgressCallback | None = None,
    ) -> list[StoragePath]:
        """Every instance of a series, written under ``dest_dir``; the paths of its files there."""
        resource_segments(study_instance_uid, series_instance_uid)
        dest = InstanceDestination.of(dest_dir)
        if skip_existing:
            return self._retrieve_missing(
                study_instance_uid, series_instance_uid, dest, transfer_syntax, progress
            )
        tracker = ProgressTracker(progress) if progress else None
        return self._fetch_whole(study_instance_uid, series_instance_uid, dest, transfer_syntax, tracker)

    def _retrieve_missing(
        self,
        study: str,
        series: str | None,
        dest: InstanceDestination,
        transfer_syntax: str | None,
        progress: ProgressCallback | None,
    ) -> list[StoragePath]:
        if removed := dest.remove_stale_partials():
            log.info("removed %d temporary files left by an interrupted retrieve in %s", removed, dest)
        segments = resource_segments(study, series)
        expected = {"StudyInstanceUID": study, **({"SeriesInstanceUID": series} if series else {})}
        try:
            by_series = self.listing.instances(study, series)
        except (DicomWebHTTPError, DicomWebPaginationError) as exc:
            if isinstance(exc, DicomWebHTTPError) and exc.status not in LISTING_UNSUPPORTED:
                raise
            keep = dest.holds_any(*segments[1::2])
            log.info(
                "%s: its instances cannot be listed (%s); fetching it whole%s",
                resource_name(expected),
                exc,
                " and keeping the complete files already in place" if keep else "",
            )
            return self._fetch_whole(study, series, dest, transfer_syntax, ProgressTracker(progress), keep)
        present, sizes, not_here = dest.partition(
            study, ((se, sop) for se, sops in by_series.items() for sop in sops)
        )
        missing_by_series: dict[str, list[str]] = {}
        for series_uid, sop in not_here:
            missing_by_series.setdefault(series_uid, []).append(sop)
        total = sum(len(sops) for sops in by_series.values())
        tracker = ProgressTracker(progress, files_total=total)
        if present:
            tracker.add(len(present), sizes, skipped=True)
        if total and len(present) == total:
            return present
        fetched: list[StoragePath] = []
        if not present:  # nothing in place, or nothing listed (a study the search does not see yet, or none)
            return self._fetch_whole(study, series, dest, transfer_syntax, tracker)
        for series_uid, missing in missing_by_series.items():
            if len(missing) == len(by_series[series_uid]):
                fetched += self._fetch_whole(study, series_uid, dest, transfer_syntax, tracker)
                continue
            for sop in missing:
                fetched += self._retrieve_to(
                    resource_segments(study, series_uid, sop),
                    dest,
                    {"StudyInstanceUID": study, "SeriesInstanceUID": series_uid, "SOPInstanceUID": sop},
                    transfer_syntax,
                    tracker=tracker,
                )
        log.info("retrieve %s: %d files already complete, %d fetched", study, len(present), len(fetched))
        return present + fetched

    def stream_into(
        self,
        sink: InstanceSink,
        study_instance_uid: str,
        series_instance_uid: str | None = None,
        instances: list[tuple[str, str]] | None = None,
        transfer_syntax: str | None = defaults.TRANSFER_SYNTAX,
        tracker: ProgressTracker | None = None,
    ) -> list[Any]:
        """A study's or a series' instances (or just ``instances``, (series, SOP Instance UID) pairs, one
        request each) into ``sink`` as the responses arrive, fanned out where the server cannot retrieve at
        that level; what the sink returns of each."""
        if instances is not None:
            return self._fetch_instances(study_instance_uid, instances, sink, transfer_syntax, tracker, False)
        return self._fetch_whole(study_instance_uid, series_instance_uid, sink, transfer_syntax, tracker)

    def _fetch_whole(
        self,
        study: str,
        series: str | None,
        dest: InstanceSink,
        transfer_syntax: str | None,
        tracker: ProgressTracker | None,
        keep_existing: bool = False,
    ) -> list[Any]:
        """A whole study or series: in one WADO-RS response where the server retrieves at that level, else
        fanned out, instance by instance, from its series metadata (the profile says so, or the server shows
        it: a 400, 404, 405 or 501 on a study or series it holds)."""
        segments = resource_segments(study, series)
        expected = {"StudyInstanceUID": study, **({"SeriesInstanceUID": series} if series else {})}
        level = "series" if series else "study"
        if self.profile.series_retrieve if series else self.profile.study_retrieve:
            try:
                return self._retrieve_to(
                    segments, dest, expected, transfer_syntax, tracker=tracker, keep_existing=keep_existing
                )
            except DicomWebHTTPError as refused:
                if refused.status not in LISTING_UNSUPPORTED:
                    raise
                try:
                    instances = self.listing.instances_by_metadata(study, series)
                except (DicomWebHTTPError, DicomWebResponseError):
                    instances = []
                if not instances:
                    raise refused from None  # the server does not hold it
                log.info(
                    "%s: the server has no %s-level retrieve (HTTP %d); fetching its %d instances one by one",
                    resource_name(expected),
                    level,
                    refused.status,
                    len(instances),
                )
        else:
            instances = self.listing.instances_by_metadata(study, series)
        return self._fetch_instances(study, instances, dest, transfer_syntax, tracker, keep_existing)

    def _fetch_instances(
        self,
        study: str,
        instances: list[tuple[str, str]],
        dest: InstanceSink,
        transfer_syntax: str | None,
        tracker: ProgressTracker | None,
        keep_existing: bool,
    ) -> list[Any]:
        """Instances one request each, a few at once (as many as a study's series would be)."""
        kept: list[StoragePath] = []
        if keep_existing and isinstance(dest, InstanceDestination):
            kept, kept_bytes, instances = dest.partition(study, instances)
            if tracker is not None and kept:
                tracker.add(len(kept), kept_bytes, skipped=True)

        def fetch(instance: tuple[str, str]) -> list[Any]:
            series_uid, sop = instance
            return self._retrieve_to(
                resource_segments(study, series_uid, sop),
                dest,
                {"StudyInstanceUID": study, "SeriesInstanceUID": series_uid, "SOPInstanceUID": sop},
                transfer_syntax,
                tracker=tracker,
            )

        with ThreadPoolExecutor(max_workers=defaults.SERIES_CONCURRENCY, thread_name_prefix="wado") as pool:
            return kept + [path for paths in pool.map(fetch, instances) for path in paths]

    def retrieve_instance(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        dest_dir: Destination,
        transfer_syntax: str | None = defaults.TRANSFER_SYNTAX,
        single_part: bool = False,
    ) -> list[StoragePath]:
        """One instance, written under ``dest_dir``; a list holding its path.

        ``single_part`` asks for ``application/dicom`` instead of a multipart response (Google offers both
        for one instance; Orthanc only the multipart form).
        """
        segments = resource_segments(study_instance_uid, series_instance_uid, sop_instance_uid)
        expected = {
            "StudyInstanceUID": study_instance_uid,
            "SeriesInstanceUID": series_instance_uid,
            "SOPInstanceUID": sop_instance_uid,
        }
        accept = DICOM if single_part else None  # the transfer syntax is added by _retrieve_to
        return self._retrieve_to(
            segments, InstanceDestination.of(dest_dir), expected, transfer_syntax, accept
        )


def resource_name(expected: dict[str, str]) -> str:
    """``study 1.2``, ``series 1.2.3 of study 1.2``... for messages."""
    parts = [f"{word} {expected[key]}" for word, key in _RESOURCE_WORDS if key in expected]
    return " of ".join(reversed(parts))


_RESOURCE_WORDS = (
    ("study", "StudyInstanceUID"),
    ("series", "SeriesInstanceUID"),
    ("instance", "SOPInstanceUID"),
)


def named_not_found(exc: DicomWebNotFoundError, expected: dict[str, str]) -> DicomWebNotFoundError:
    """A 404 of a retrieve, its message naming what was asked for rather than only the route."""
    named = DicomWebNotFoundError(
        exc.status, method=exc.method, url=exc.url, server_message=exc.server_message
    )
    named.args = (f"{resource_name(expected)} was not found on the server ({exc})",)
    return named


def counted(tracker: ProgressTracker | None) -> Callable[[Any, int], None] | None:
    """An ``on_file`` callback that counts each file written in ``tracker``."""
    if tracker is None:
        return None

    def on_file(_path: Any, size: int) -> None:
        tracker.add(1, size)

    return on_file
