"""Reading Azure's change feed (DICOM service API v2).

``GET {service root}/changefeed?startTime=&offset=&limit=&includemetadata=false`` lists the changes at or
after ``startTime`` in order, ``offset`` entries skipped, at most ``limit`` (200) at a time; each entry has a
``Sequence``, the three UIDs, an ``Action`` (``create``, ``update``, ``delete``), a ``Timestamp`` and a
``State``. ``GET {service root}/changefeed/latest`` is the newest entry. The feed is immutable and ordered,
so a reader that keeps where it stopped misses nothing and reads nothing twice.

Entries are checked before use: one whose UID is not one, or whose timestamp is not ISO 8601, is logged with
the response named and skipped; the entries after it are read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.errors import DicomWebResponseError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.uids import is_valid_uid

log = logging.getLogger(__name__)
_TIMESTAMP = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?\Z")


@dataclass(frozen=True)
class ChangeFeedEntry:
    sequence: int
    action: str
    timestamp: str
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    state: str


def parse_entry(item: Any, where: str) -> ChangeFeedEntry:
    """One entry of the feed, checked; :class:`DicomWebResponseError` naming ``where`` if it is not one."""
    if not isinstance(item, dict):
        raise DicomWebResponseError(f"{where}: a change-feed entry is not an object: {str(item)[:120]!r}")
    sequence = item.get("Sequence")
    timestamp = item.get("Timestamp")
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
        raise DicomWebResponseError(f"{where}: a change-feed entry has no valid Sequence: {sequence!r}"[:300])
    if not isinstance(timestamp, str) or not _TIMESTAMP.match(timestamp):
        raise DicomWebResponseError(
            f"{where}: change-feed entry {sequence} has no ISO 8601 Timestamp: {str(timestamp)[:60]!r}"
        )
    found = [item.get(k) for k in ("StudyInstanceUid", "SeriesInstanceUid", "SopInstanceUid")]
    uids = [u for u in found if isinstance(u, str) and is_valid_uid(u)]
    if len(uids) != 3:
        raise DicomWebResponseError(
            f"{where}: change-feed entry {sequence} has an invalid UID: {[str(u)[:70] for u in found]!r}"
        )
    return ChangeFeedEntry(
        sequence=sequence,
        action=str(item.get("Action") or "")[:20].lower(),
        timestamp=timestamp,
        study_instance_uid=uids[0],
        series_instance_uid=uids[1],
        sop_instance_uid=uids[2],
        state=str(item.get("State") or "")[:20].lower(),
    )


class ChangeFeed:
    """The change feed of one service, read over ``transport``."""

    def __init__(self, transport: Transport, page: int = defaults.CHANGE_FEED_PAGE) -> None:
        self.transport = transport
        self.page = page

    def latest(self) -> ChangeFeedEntry | None:
        """The newest entry; None if the feed is empty."""
        url = self.transport.url("changefeed", "latest")
        reply = self.transport.request(
            "GET",
            url,
            query="includemetadata=false",
            headers={"Accept": "application/json"},
            ok=(200, 204, 404),
        )
        if reply.status_code != 200 or not reply.content.strip():
            return None
        return parse_entry(self._json(reply, url), f"GET {self.transport.redact(url)}")

    def entries(self, start_time: str | None, max_entries: int) -> Iterator[ChangeFeedEntry]:
        """The entries at or after ``start_time`` (all, if None), in order, at most ``max_entries``."""
        url = self.transport.url("changefeed")
        offset = 0
        while offset < max_entries:
            params: dict[str, str | int] = {
                "offset": offset,
                "limit": min(self.page, max_entries - offset),
                "includemetadata": "false",
            }
            if start_time:
                params["startTime"] = start_time
            reply = self.transport.request(
                "GET", url, query=urlencode(params), headers={"Accept": "application/json"}, ok=(200, 204)
            )
            body = self._json(reply, url) if reply.content.strip() else []
            if not isinstance(body, list):
                raise DicomWebResponseError(
                    f"GET {self.transport.redact(url)}: the change feed is not a list"
                )
            where = f"GET {self.transport.redact(url)} (offset {offset})"
            for item in body:
                try:
                    entry = parse_entry(item, where)
                except DicomWebResponseError as exc:  # one bad entry stops nothing
                    log.warning("change feed: entry skipped: %s", exc)
                    continue
                yield entry
            offset += len(body)
            if len(body) < params["limit"]:  # type: ignore[operator]
                return

    def _json(self, reply: Any, url: str) -> Any:
        try:
            return reply.json()
        except ValueError:
            raise DicomWebResponseError(
                f"GET {self.transport.redact(url)}: the change feed's answer is not JSON: {reply.content[:100]!r}"
            ) from None
