"""Which studies are new since the last look: a QIDO-RS poll over a StudyDate window, and its cursor.

DICOMweb servers cannot be asked for "studies created since": QIDO-RS matches attributes of the data,
not of its arrival. So a poll asks for the studies whose StudyDate lies in a window (``lookback_days``
before today, up to any future date), and compares the answer with the cursor: the UIDs already
announced, each with its StudyDate. A UID is announced once; it leaves the cursor when its StudyDate falls
out of the window, after which the server no longer returns it either.

What that implies, stated exactly (the README's Guarantees repeat it):

- A study is seen if its StudyDate is within the window while a poll runs. A study with no StudyDate,
  or older than the window when it arrives (a prior imported today), is never seen: widen the window,
  or poll without one (``lookback_days=None``: every poll lists every match).
- Each poll costs one QIDO-RS request per page of ``page_size`` studies in the window.
- The first poll with an empty cursor announces nothing unless ``announce_existing`` is true: what is
  already there is the baseline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_dicomweb.core.arrivals.event import DEFAULT_EVENT_ATTRIBUTES, Searches, summarize
from airflow_dicomweb.core.arrivals.source import ArrivalSource, Cursor, WatchOptions
from airflow_dicomweb.core.dicom.json_model import STUDY_INSTANCE_UID, first_value
from airflow_dicomweb.core.qido.query import FilterValue
from airflow_dicomweb.core.uids import is_valid_uid

_STUDY_DATE = "00080020"


@dataclass
class ArrivalCursor:
    """The studies already announced (UID → StudyDate, ``""`` if none), and whether a baseline was taken."""

    seen: dict[str, str] = field(default_factory=dict)
    started: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "started": self.started, "seen": dict(sorted(self.seen.items()))}

    @classmethod
    def from_json(cls, data: Any) -> ArrivalCursor:
        """A cursor from its stored form; anything unreadable raises ValueError (the caller starts over)."""
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError(f"not a study-arrival cursor: {str(data)[:100]!r}")
        seen = data.get("seen")
        if not isinstance(seen, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in seen.items()
        ):
            raise ValueError("a study-arrival cursor's 'seen' is not a map of UIDs to dates")
        return cls(seen=dict(seen), started=bool(data.get("started")))


def window_start(today: dt.date, lookback_days: int | None) -> str | None:
    """The first StudyDate of the window, as YYYYMMDD (None: no window)."""
    if lookback_days is None:
        return None
    if lookback_days < 0:
        raise ValueError(f"lookback_days must be 0 or more, not {lookback_days}")
    return (today - dt.timedelta(days=lookback_days)).strftime("%Y%m%d")


def poll_new_studies(
    qido: Searches,
    cursor: ArrivalCursor,
    *,
    today: dt.date,
    filters: Mapping[str, FilterValue] | None = None,
    lookback_days: int | None = 1,
    announce_existing: bool = False,
    event_attributes: Iterable[str] = DEFAULT_EVENT_ATTRIBUTES,
    page_size: int | None = None,
) -> tuple[list[dict[str, Any]], ArrivalCursor]:
    """One poll: the new studies (oldest StudyDate first), and the cursor that includes them.

    The given cursor is not changed, so the caller decides when the new one is kept.
    """
    attributes = list(dict.fromkeys(["StudyInstanceUID", *event_attributes]))
    asked = list(dict.fromkeys([*attributes, "StudyDate"]))
    query: dict[str, FilterValue] = dict(filters or {})
    start = window_start(today, lookback_days)
    if start is not None:
        if "StudyDate" in query or _STUDY_DATE in query:
            raise ValueError("the StudyDate filter is the watcher's window: set lookback_days instead")
        query["StudyDate"] = f"{start}-"
    # Only the UIDs of the window are kept, and the results of the studies not seen before: a window of a
    # hundred thousand studies holds their UIDs (about 100 bytes each), not their results (about 2 KB).
    current: set[str] = set()
    seen = dict(cursor.seen)
    new: list[dict[str, Any]] = []
    for item in qido.iter_search("studies", filters=query, includefield=asked, page_size=page_size):
        uid = first_value(item, STUDY_INSTANCE_UID)
        if not isinstance(uid, str) or not is_valid_uid(uid) or uid in current:
            continue
        current.add(uid)
        if uid in seen:
            continue
        date = first_value(item, _STUDY_DATE)
        seen[uid] = date if isinstance(date, str) else ""
        if cursor.started or announce_existing:
            new.append(summarize(item, attributes))
    if start is not None:  # out of the window: the server will not return them again
        seen = {uid: date for uid, date in seen.items() if uid in current or (date and date >= start)}
    new.sort(key=lambda s: (str(s.get("StudyDate", "")), str(s.get("StudyTime", "")), s["StudyInstanceUID"]))
    return new, ArrivalCursor(seen=seen, started=True)


class SearchSource(ArrivalSource):
    """Arrivals searched for with QIDO-RS over a StudyDate window (:func:`poll_new_studies`)."""

    name = "search"

    def new_cursor(self) -> ArrivalCursor:
        return ArrivalCursor()

    def cursor_from_json(self, data: Any) -> ArrivalCursor:
        return ArrivalCursor.from_json(data)

    def poll(
        self, cursor: Cursor, options: WatchOptions, today: dt.date
    ) -> tuple[list[dict[str, Any]], Cursor]:
        assert isinstance(cursor, ArrivalCursor)
        return poll_new_studies(
            self.client,
            cursor,
            today=today,
            filters=options.filters,
            lookback_days=options.lookback_days,
            announce_existing=options.announce_existing,
            event_attributes=options.event_attributes,
            page_size=options.page_size,
        )

    def baseline(self, cursor: Cursor, options: WatchOptions) -> str:
        assert isinstance(cursor, ArrivalCursor)
        announcing = ", announcing them" if options.announce_existing else ""
        return f"study-arrival watcher: baseline of {len(cursor.seen)} studies{announcing}"


SOURCE = SearchSource
