"""Which studies arrived and settled since the last look: a QIDO-RS poll over a StudyDate window, and its
cursor.

DICOMweb servers cannot be asked for "studies created since": QIDO-RS matches attributes of the data,
not of its arrival. So a poll asks for the studies whose StudyDate lies in a window (``lookback_days``
before today, up to any future date), and compares the answer with the cursor: the UIDs of the window, each with its StudyDate and its progress (the
instance count and when it last changed, :mod:`.settling`). A study is announced once its count has not
changed for ``settle_seconds``, and again only if it grows and settles again; it leaves the cursor when its
StudyDate falls out of the window, after which the server no longer returns it either.

What that implies, stated exactly (the README's Guarantees repeat it):

- A study is seen if its StudyDate is within the window while a poll runs. A study with no StudyDate,
  or older than the window when it arrives (a prior imported today), is never seen: widen the window,
  or poll without one (``lookback_days=None``: every poll lists every match).
- Each poll costs one QIDO-RS request per page of ``page_size`` studies in the window (and, on a server
  that leaves NumberOfStudyRelatedInstances out, one instance-level search per study).
- The first poll with an empty cursor announces nothing unless ``announce_existing`` is true: what is
  already there is the baseline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.arrivals.event import (
    DEFAULT_EVENT_ATTRIBUTES,
    Searches,
    announce_settled,
    instance_count,
    payload,
    summarize,
)
from airflow_dicomweb.core.arrivals.settling import Ledger
from airflow_dicomweb.core.arrivals.source import ArrivalSource, Cursor, WatchOptions
from airflow_dicomweb.core.dicom.json_model import STUDY_INSTANCE_UID, first_value
from airflow_dicomweb.core.qido.query import FilterValue
from airflow_dicomweb.core.uids import is_valid_uid

_STUDY_DATE = "00080020"


@dataclass
class ArrivalCursor:
    """The studies in the window (UID → StudyDate, ``""`` if none), their progress (:class:`Ledger`), and
    whether a baseline was taken."""

    seen: dict[str, str] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    started: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 2,
            "started": self.started,
            "seen": dict(sorted(self.seen.items())),
            "ledger": self.ledger.to_json(),
        }

    @classmethod
    def from_json(cls, data: Any) -> ArrivalCursor:
        """A cursor from its stored form; anything unreadable raises ValueError (the caller starts over)."""
        if not isinstance(data, dict) or data.get("version") != 2:
            raise ValueError(f"not a study-arrival cursor: {str(data)[:100]!r}")
        seen = data.get("seen")
        if not isinstance(seen, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in seen.items()
        ):
            raise ValueError("a study-arrival cursor's 'seen' is not a map of UIDs to dates")
        return cls(dict(seen), Ledger.from_json(data.get("ledger")), bool(data.get("started")))


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
    now: dt.datetime,
    filters: Mapping[str, FilterValue] | None = None,
    lookback_days: int | None = defaults.ARRIVAL_LOOKBACK_DAYS,
    announce_existing: bool = False,
    event_attributes: Iterable[str] = DEFAULT_EVENT_ATTRIBUTES,
    page_size: int | None = None,
    settle_seconds: float = defaults.ARRIVAL_SETTLE_SECONDS,
) -> tuple[list[dict[str, Any]], ArrivalCursor]:
    """One poll: the studies that settled (oldest StudyDate first), and the cursor after them.

    A study's instance count is its NumberOfStudyRelatedInstances (an instance-level count where the server
    leaves it out); a count that changed restarts the study's settle clock. The given cursor is not
    changed, so the caller decides when the new one is kept.
    """
    attributes = list(dict.fromkeys(["StudyInstanceUID", *event_attributes]))
    asked = list(dict.fromkeys([*attributes, "StudyDate", "NumberOfStudyRelatedInstances"]))
    query: dict[str, FilterValue] = dict(filters or {})
    start = window_start(now.date(), lookback_days)
    if start is not None:
        if "StudyDate" in query or _STUDY_DATE in query:
            raise ValueError("the StudyDate filter is the watcher's window: set lookback_days instead")
        query["StudyDate"] = f"{start}-"
    at = now.timestamp()
    baseline = not cursor.started and not announce_existing
    ledger = Ledger.from_json(cursor.ledger.to_json())
    seen = dict(cursor.seen)
    # Only the UIDs of the window are kept, and the results of the studies still settling: a window of a
    # hundred thousand studies holds their UIDs and counts (about 150 bytes each), not their results.
    current: set[str] = set()
    summaries: dict[str, dict[str, Any]] = {}
    for item in qido.iter_search("studies", filters=query, includefield=asked, page_size=page_size):
        uid = first_value(item, STUDY_INSTANCE_UID)
        if not isinstance(uid, str) or not is_valid_uid(uid) or uid in current:
            continue
        current.add(uid)
        count = instance_count(qido, item, uid)
        if baseline:
            ledger.known(uid, count, at)
        else:
            ledger.saw_count(uid, count, at)
        if uid not in seen:
            date = first_value(item, _STUDY_DATE)
            seen[uid] = date if isinstance(date, str) else ""
        if ledger.studies[uid].pending:
            summaries[uid] = summarize(item, attributes)
    new: list[dict[str, Any]] = []
    for uid in ledger.due(at, settle_seconds):
        summary = summaries.get(uid)  # None: the study is gone from the answer
        announcement = ledger.judge(uid, ledger.studies[uid].count if summary is not None else None)
        if summary is not None and announcement is not None:
            new.append(payload(summary, announcement))
    if start is not None:  # out of the window: the server will not return them again
        seen = {uid: date for uid, date in seen.items() if uid in current or (date and date >= start)}
        ledger.studies = {uid: p for uid, p in ledger.studies.items() if uid in seen}
    new.sort(key=lambda s: (str(s.get("StudyDate", "")), str(s.get("StudyTime", "")), s["StudyInstanceUID"]))
    return new, ArrivalCursor(seen=seen, ledger=ledger, started=True)


#: What one shared poll reads for every watcher of a server: each study of the window, with its instance
#: count and StudyDate (``""`` if none).
Snapshot = dict[str, tuple[int, str]]


def search_snapshot(
    qido: Searches, *, now: dt.datetime, lookback_days: int | None, page_size: int | None = None
) -> Snapshot:
    """Every study of the StudyDate window, with no filter: one poll that several watchers share."""
    query: dict[str, FilterValue] = {}
    start = window_start(now.date(), lookback_days)
    if start is not None:
        query["StudyDate"] = f"{start}-"
    asked = ["StudyInstanceUID", "StudyDate", "NumberOfStudyRelatedInstances"]
    snapshot: Snapshot = {}
    for item in qido.iter_search("studies", filters=query, includefield=asked, page_size=page_size):
        uid = first_value(item, STUDY_INSTANCE_UID)
        if isinstance(uid, str) and is_valid_uid(uid) and uid not in snapshot:
            date = first_value(item, _STUDY_DATE)
            snapshot[uid] = (instance_count(qido, item, uid), date if isinstance(date, str) else "")
    return snapshot


def settle_snapshot(
    qido: Searches,
    cursor: ArrivalCursor,
    snapshot: Mapping[str, tuple[int, str]],
    *,
    now: dt.datetime,
    filters: Mapping[str, FilterValue] | None = None,
    lookback_days: int | None = defaults.ARRIVAL_LOOKBACK_DAYS,
    announce_existing: bool = False,
    event_attributes: Iterable[str] = DEFAULT_EVENT_ATTRIBUTES,
    settle_seconds: float = defaults.ARRIVAL_SETTLE_SECONDS,
) -> tuple[list[dict[str, Any]], ArrivalCursor]:
    """One watcher's share of a shared poll: its studies that settled, judged with its ``filters`` by a
    search of each settled study (the snapshot has every study of the window), and its cursor after them."""
    at = now.timestamp()
    baseline = not cursor.started and not announce_existing
    ledger = Ledger.from_json(cursor.ledger.to_json())
    seen = dict(cursor.seen)
    for uid, (count, date) in snapshot.items():
        if baseline:
            ledger.known(uid, count, at)
        else:
            ledger.saw_count(uid, count, at)
        seen.setdefault(uid, date)
    for uid in ledger.studies.keys() - snapshot.keys():  # gone from the window or the server
        if ledger.studies[uid].pending:
            ledger.judge(uid, None)
    new = announce_settled(ledger, qido, at, settle_seconds, filters, event_attributes)
    start = window_start(now.date(), lookback_days)
    if start is not None:
        seen = {uid: date for uid, date in seen.items() if uid in snapshot or (date and date >= start)}
        ledger.studies = {uid: p for uid, p in ledger.studies.items() if uid in seen}
    new.sort(key=lambda s: (str(s.get("StudyDate", "")), str(s.get("StudyTime", "")), s["StudyInstanceUID"]))
    return new, ArrivalCursor(seen=seen, ledger=ledger, started=True)


class SearchSource(ArrivalSource):
    """Arrivals searched for with QIDO-RS over a StudyDate window (:func:`poll_new_studies`)."""

    name = "search"

    def new_cursor(self) -> ArrivalCursor:
        return ArrivalCursor()

    def cursor_from_json(self, data: Any) -> ArrivalCursor:
        return ArrivalCursor.from_json(data)

    def poll(
        self, cursor: Cursor, options: WatchOptions, now: dt.datetime
    ) -> tuple[list[dict[str, Any]], Cursor]:
        assert isinstance(cursor, ArrivalCursor)
        return poll_new_studies(
            self.client,
            cursor,
            now=now,
            filters=options.filters,
            lookback_days=options.lookback_days,
            announce_existing=options.announce_existing,
            event_attributes=options.event_attributes,
            page_size=options.page_size,
            settle_seconds=options.settle_seconds,
        )

    def baseline(self, cursor: Cursor, options: WatchOptions) -> str:
        assert isinstance(cursor, ArrivalCursor)
        announcing = ", announcing them" if options.announce_existing else ""
        return f"study-arrival watcher: baseline of {len(cursor.seen)} studies{announcing}"


SOURCE = SearchSource
