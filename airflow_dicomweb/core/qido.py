"""QIDO-RS: search for studies, series and instances (PS3.18 section 10.6), page by page.

With ``limit=None`` every match is returned: pages are asked with ``limit``/``offset`` until a short or
empty page (or a 204), since servers do not say whether more results exist (dcm4chee's ``Warning`` header
is honoured when present). A server that ignores ``offset`` answers the same page again; that is detected
and raised instead of looping forever.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airflow_dicomweb.core.errors import DicomWebConnectionError, DicomWebPaginationError
from airflow_dicomweb.core.json_array_stream import iter_json_array
from airflow_dicomweb.core.media_types import DICOM_JSON
from airflow_dicomweb.core.query import PAGE_SIZE_MAX, FilterValue, build_query
from airflow_dicomweb.core.transport import Transport
from airflow_dicomweb.core.uids import validate_uid

LEVELS = ("studies", "series", "instances")
#: The attribute that identifies a result at each level.
KEY_TAG = {"studies": "0020000D", "series": "0020000E", "instances": "00080018"}
_MORE_RESULTS_RE = re.compile(r"more|additional", re.IGNORECASE)


def _key(level: str, item: dict) -> str:
    element = item.get(KEY_TAG[level])
    if isinstance(element, dict) and element.get("Value"):
        return str(element["Value"][0])
    return json.dumps(item, sort_keys=True)


class QidoMixin:
    """The search transactions. Needs ``self.transport``."""

    transport: Transport

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
        cap = PAGE_SIZE_MAX[level]
        page_size = min(page_size or cap, cap)
        remaining = limit
        previous_keys: list[str] | None = None
        while remaining is None or remaining > 0:
            ask = page_size if remaining is None else min(page_size, remaining)
            query = build_query(
                merged, includefield, fuzzymatching, ask, offset, self.transport.settings.caret_as_wildcard
            )
            page = _Page()
            for item in self._stream_page(url, query, page, whole_pages):
                key = _key(level, item) if page.count < _KEYS_KEPT else ""
                if not page.count and previous_keys and key == previous_keys[0]:
                    raise DicomWebPaginationError(
                        f"GET {self.transport.redact(url)}: the page at offset {offset} starts as the previous "
                        "page did; the server seems to ignore 'offset' (stopped instead of looping)"
                    )
                if key:
                    page.keys.append(key)
                page.count += 1
                yield item
            previous_keys = page.keys
            if remaining is not None:
                remaining -= page.count
            if not page.count or (page.count < ask and not page.more_said):
                return
            offset += page.count

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


#: How many result keys of a page are kept (a page that starts as the previous one did is a server ignoring
#: ``offset``).
_KEYS_KEPT = 1000


class _Page:
    """What iter_search keeps of a page while its results stream by."""

    def __init__(self) -> None:
        self.count = 0
        self.keys: list[str] = []
        self.more_said = False
