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

from airflow_dicomweb.core.errors import DicomWebPaginationError, DicomWebResponseError
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
    ) -> Iterator[dict]:
        """Matches one by one, fetching a page at a time. ``limit`` caps the total (None: all)."""
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
            response = self.transport.request(
                "GET", url, query=query, headers={"Accept": DICOM_JSON}, ok=(200, 204)
            )
            page = _parse_page(response.content, response.status_code, self.transport.redact(url))
            keys = [_key(level, item) for item in page]
            if page and previous_keys is not None and keys == previous_keys:
                raise DicomWebPaginationError(
                    f"GET {self.transport.redact(url)}: the page at offset {offset} repeats the previous page; "
                    "the server seems to ignore 'offset' (stopped instead of looping)"
                )
            previous_keys = keys
            yield from page
            if remaining is not None:
                remaining -= len(page)
            more_said = bool(_MORE_RESULTS_RE.search(response.headers.get("Warning", "")))
            if not page or (len(page) < ask and not more_said):
                return
            offset += len(page)


def _parse_page(body: bytes, status: int, url: str) -> list[dict]:
    if status == 204 or not body.strip():
        return []
    try:
        page = json.loads(body)
    except ValueError:
        raise DicomWebResponseError(
            f"GET {url}: QIDO-RS response is not JSON; it starts {body[:120]!r}", url=url
        ) from None
    if not isinstance(page, list) or not all(isinstance(item, dict) for item in page):
        raise DicomWebResponseError(f"GET {url}: QIDO-RS response is not a JSON array of datasets", url=url)
    return page
