"""QIDO-RS: search for studies, series and instances (PS3.18 section 10.6), page by page.

With ``limit=None`` every match is returned. Servers cap their pages, often silently (Google at 5,000 or
50,000, Azure at 200, HealthImaging and tiny_pacs at 10,000, dcm4chee with a ``Warning`` header) and none
says how many results remain, so a page shorter than asked proves nothing: the next offset is asked until a
page comes back empty. Once a short page has been followed by more results, its length is the server's cap,
and a page shorter than that cap is the last one; a server profile that states its server's cap
(``page_cap``) saves even that. A search therefore costs at most one request more than its pages.

A server that ignores ``offset`` answers the same page again. After a page shorter than asked, that page is
taken as the whole answer, with a warning in the log: a server that ignores ``limit`` and ``offset``, as
OHIF's static-wado, answers everything at once, and no client can get more from one that does not. After a
full page the rest cannot be had, and :class:`DicomWebPaginationError` says how many results were seen,
rather than looping or losing results silently. More results than a ``limit`` asked are never handed over.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airflow_dicomweb.core.dicom.json_model import (
    SERIES_INSTANCE_UID,
    SOP_INSTANCE_UID,
    STUDY_INSTANCE_UID,
    first_value,
)
from airflow_dicomweb.core.errors import DicomWebConnectionError, DicomWebPaginationError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.media_types import DICOM_JSON
from airflow_dicomweb.core.qido.json_stream import iter_json_array
from airflow_dicomweb.core.qido.query import FilterValue, build_query
from airflow_dicomweb.core.servers.profile import ServerProfile
from airflow_dicomweb.core.uids import validate_uid

LEVELS = ("studies", "series", "instances")
#: The attribute that identifies a result at each level.
KEY_TAG = {"studies": STUDY_INSTANCE_UID, "series": SERIES_INSTANCE_UID, "instances": SOP_INSTANCE_UID}
_MORE_RESULTS_RE = re.compile(r"more|additional", re.IGNORECASE)
log = logging.getLogger(__name__)


def _key(level: str, item: dict) -> str:
    value = first_value(item, KEY_TAG[level])
    if value is not None:
        return str(value)
    return json.dumps(item, sort_keys=True)


class Search:
    """The search transactions (QIDO-RS) of one service: over its ``transport``, within what its server
    ``profile`` says of pages."""

    def __init__(self, transport: Transport, profile: ServerProfile) -> None:
        self.transport = transport
        self.profile = profile

    def search_for_studies(
        self,
        filters: Mapping[str, FilterValue] | None = None,
        includefield: Iterable[str] | str | None = None,
        fuzzymatching: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict]:
        """Studies matching ``filters`` (keywords or tags to values), as DICOM JSON datasets."""
        return list(
            self.iter_search(
                "studies",
                filters=filters,
                includefield=includefield,
                fuzzymatching=fuzzymatching,
                limit=limit,
                offset=offset,
                whole_pages=True,
            )
        )

    def search_for_series(
        self,
        study_instance_uid: str | None = None,
        filters: Mapping[str, FilterValue] | None = None,
        includefield: Iterable[str] | str | None = None,
        fuzzymatching: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict]:
        """Series matching ``filters``, within one study if ``study_instance_uid`` is given."""
        return list(
            self.iter_search(
                "series",
                study_instance_uid=study_instance_uid,
                filters=filters,
                includefield=includefield,
                fuzzymatching=fuzzymatching,
                limit=limit,
                offset=offset,
                whole_pages=True,
            )
        )

    def search_for_instances(
        self,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        filters: Mapping[str, FilterValue] | None = None,
        includefield: Iterable[str] | str | None = None,
        fuzzymatching: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict]:
        """Instances matching ``filters``, within a study or a series if their UIDs are given."""
        return list(
            self.iter_search(
                "instances",
                study_instance_uid=study_instance_uid,
                series_instance_uid=series_instance_uid,
                filters=filters,
                includefield=includefield,
                fuzzymatching=fuzzymatching,
                limit=limit,
                offset=offset,
                whole_pages=True,
            )
        )

    def search_url(
        self, level: str, study_instance_uid: str | None = None, series_instance_uid: str | None = None
    ) -> tuple[str, dict[str, str]]:
        """The resource URL of a search, and filters implied by UIDs that have no path of their own."""
        if level not in LEVELS:
            raise ValueError(f"search level must be one of {', '.join(LEVELS)}, got {level!r}")
        extra: dict[str, str] = {}
        segments: list[str] = []
        if study_instance_uid is not None and level != "studies":
            segments += ["studies", validate_uid(study_instance_uid, "study_instance_uid")]
        elif study_instance_uid is not None:
            extra["StudyInstanceUID"] = validate_uid(study_instance_uid, "study_instance_uid")
        if series_instance_uid is not None:
            validate_uid(series_instance_uid, "series_instance_uid")
            if level == "instances" and segments:
                segments += ["series", series_instance_uid]
            else:
                extra["SeriesInstanceUID"] = series_instance_uid
        return self.transport.url(*segments, level), extra

    def iter_search(
        self,
        level: str,
        *,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        filters: Mapping[str, FilterValue] | None = None,
        includefield: Iterable[str] | str | None = None,
        fuzzymatching: bool = False,
        limit: int | None = None,
        offset: int = 0,
        page_size: int | None = None,
        whole_pages: bool = False,
    ) -> Iterator[dict]:
        """Matches one by one, fetching a page at a time. ``limit`` caps the total (None: all).

        Each page is parsed as it arrives and its results handed over one by one, so a consumer that
        writes them out (the search operator's ``output_path``, the command line) holds one result at a
        time, whatever the page size. ``whole_pages`` reads each page whole within ``max_response_mib``
        first, as the ``search_for_*`` lists do: a list holds every result anyway, and a page over the cap is
        then refused before any of it becomes Python objects (about ten times the JSON's size)."""
        url, implied = self.search_url(level, study_instance_uid, series_instance_uid)
        merged = {**implied, **(filters or {})}
        if (limit is not None and limit < 0) or offset < 0:
            raise ValueError("limit and offset must not be negative")
        cap = self.profile.page_size_max[level]
        page_size = min(page_size or cap, cap)
        if not self.profile.honours_offset:
            yield from self._one_answer(url, merged, includefield, fuzzymatching, limit, offset, whole_pages)
            return
        remaining = limit
        seen = 0
        previous: _Page | None = None
        server_cap = self.profile.page_cap  # else learned when a short page is followed by more results
        while remaining is None or remaining > 0:
            ask = page_size if remaining is None else min(page_size, remaining)
            query = build_query(
                merged,
                includefield,
                fuzzymatching,
                ask,
                offset,
                bool(self.transport.settings.caret_as_wildcard),
            )
            page = _Page(ask)
            for item in self._stream_page(url, query, page, whole_pages):
                if not page.count:
                    page.first_key = _key(level, item)
                    if previous is not None and page.first_key == previous.first_key:
                        if previous.short:  # the server answered everything at once, ignoring offset
                            log.warning(
                                "GET %s: the server ignores 'offset', so its first answer (%d results, fewer "
                                "than the %d asked) is taken as every match; no other page can be had",
                                self.transport.redact(url),
                                previous.count,
                                previous.asked,
                            )
                            return
                        raise DicomWebPaginationError(
                            f"GET {self.transport.redact(url)}: the page at offset {offset} starts as the "
                            f"previous page did; the server seems to ignore 'offset', so the search cannot "
                            f"be completed: {seen} results were seen, and more may exist (stopped instead "
                            "of looping or returning a partial answer)"
                        )
                    if previous is not None and previous.short:
                        server_cap = previous.count  # the short page was cut by the server, not the end
                page.count += 1
                yield item
                if remaining is not None and page.count >= remaining:
                    return  # the server sent more than asked (it ignores limit): never hand over more
            if not page.count:
                return
            seen += page.count
            offset += page.count
            if remaining is not None:
                remaining -= page.count
            if server_cap is not None and page.count < min(ask, server_cap) and not page.more_said:
                return  # shorter than the server's own cap: nothing more
            previous = page

    def _one_answer(
        self,
        url: str,
        filters: Mapping[str, FilterValue],
        includefield: Iterable[str] | str | None,
        fuzzymatching: bool,
        limit: int | None,
        offset: int,
        whole: bool,
    ) -> Iterator[dict]:
        """A server whose profile says it ignores ``offset`` answers every match at once: one request, with
        ``offset`` and ``limit`` applied here."""
        query = build_query(
            filters, includefield, fuzzymatching, None, 0, bool(self.transport.settings.caret_as_wildcard)
        )
        for index, item in enumerate(self._stream_page(url, query, _Page(0), whole)):
            if limit is not None and index >= offset + limit:
                return
            if index >= offset:
                yield item

    def _stream_page(self, url: str, query: str, page: _Page, whole: bool) -> Iterator[dict]:
        """One page's results, parsed as they arrive (unless ``whole``). A response cut short is asked
        again and the results already given are skipped, under the retry policy."""
        given = 0
        failures = 0
        what = f"GET {self.transport.redact(url)}"
        if whole:
            reply = self.transport.request(
                "GET", url, query=query, headers={"Accept": DICOM_JSON}, ok=(200, 204)
            )
            page.more_said = bool(_MORE_RESULTS_RE.search(reply.headers.get("Warning", "")))
            yield from iter_json_array([reply.content] if reply.status_code != 204 else [], what)
            return

        def open_page() -> tuple[Any, Iterator[dict]]:
            response = self.transport.send(
                "GET", url, query=query, headers={"Accept": DICOM_JSON}, ok=(200, 204)
            )
            try:
                page.more_said = bool(_MORE_RESULTS_RE.search(response.headers.get("Warning", "")))
                chunks = self.transport.body(
                    response, max_bytes=self.transport.limits.max_bytes, binary=False
                )
                items = iter_json_array(chunks if response.status_code != 204 else iter(()), what)
                for _ in range(given):  # what this page already gave, before it was cut
                    next(items)
            except BaseException:
                response.close()
                raise
            return response, items

        while True:
            response, items = self.transport.retry(open_page)
            try:
                for item in items:
                    given += 1
                    yield item
                return
            except DicomWebConnectionError:
                failures += 1
                if failures >= self.transport.settings.retry.max_attempts:
                    raise
            finally:
                response.close()


class _Page:
    """What iter_search keeps of a page while its results stream by."""

    def __init__(self, asked: int) -> None:
        self.asked = asked
        self.count = 0
        self.first_key = ""
        self.more_said = False

    @property
    def short(self) -> bool:
        """Fewer results than asked, and no ``Warning`` that more exist."""
        return self.count < self.asked and not self.more_said
