"""Which studies arrived and settled, read from Azure's change feed rather than searched for.

The feed lists every instance created, in order, so a reader that keeps where it stopped sees each arrival
exactly once, whatever the study's StudyDate (a prior imported today included), with no date window. The
cursor holds:

- ``start_time``: the Timestamp of the last entry read, and ``read_at_start``, the Sequences already read at
  that very Timestamp. Each poll reads from ``start_time`` on and skips those, so no entry is read twice and
  none is skipped, even when several share a Timestamp.
- ``ledger``: each study's progress (:mod:`.settling`): the instances its create entries counted, and the
  Timestamp of the newest, which is the study's settle clock. A study is announced once no create entry
  of it is newer than ``settle_seconds``, after a QIDO-RS search that applies the watcher's ``filters``
  and gives the event's attributes and its instance count. A study that does not match the filters yet (its
  first instance is an SR, the filter asks for CT) is judged again when more of it arrives. An announced
  study leaves the ledger ``remember_days`` after its newest create entry (None: never), so instances added
  to it later than that announce it anew.

A malformed entry is logged and skipped (:class:`~airflow_dicomweb.core.change_feed.azure.ChangeFeed`). The
first poll (empty cursor) starts at the newest entry (``/changefeed/latest``): what is there already is the
baseline, unless ``announce_existing`` asks to read the feed from its start. One poll reads at most
``max_entries`` entries; the rest waits for the next poll.
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
    event_seconds,
)
from airflow_dicomweb.core.arrivals.settling import Ledger
from airflow_dicomweb.core.arrivals.source import ArrivalSource, Cursor, WatchOptions
from airflow_dicomweb.core.change_feed.azure import ChangeFeed
from airflow_dicomweb.core.qido.query import FilterValue

KIND = "change-feed"


@dataclass
class ChangeFeedCursor:
    start_time: str | None = None
    read_at_start: list[int] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    started: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 2,
            "kind": KIND,
            "started": self.started,
            "start_time": self.start_time,
            "read_at_start": sorted(self.read_at_start),
            "ledger": self.ledger.to_json(),
        }

    @classmethod
    def from_json(cls, data: Any) -> ChangeFeedCursor:
        """A cursor from its stored form; anything unreadable raises ValueError (the caller starts over)."""
        if not isinstance(data, dict) or data.get("version") != 2 or data.get("kind") != KIND:
            raise ValueError(f"not a change-feed cursor: {str(data)[:100]!r}")
        start = data.get("start_time")
        read = data.get("read_at_start")
        if start is not None and not isinstance(start, str):
            raise ValueError("a change-feed cursor's start_time is not a string")
        if not isinstance(read, list) or not all(isinstance(s, int) for s in read):
            raise ValueError("a change-feed cursor's read_at_start is not a list of sequences")
        return cls(start, list(read), Ledger.from_json(data.get("ledger")), bool(data.get("started")))


def poll_change_feed(
    feed: ChangeFeed,
    qido: Searches,
    cursor: ChangeFeedCursor,
    *,
    now: dt.datetime,
    filters: Mapping[str, FilterValue] | None = None,
    remember_days: int | None = defaults.ARRIVAL_LOOKBACK_DAYS,
    announce_existing: bool = False,
    event_attributes: Iterable[str] = DEFAULT_EVENT_ATTRIBUTES,
    max_entries: int = defaults.CHANGE_FEED_MAX_PER_POLL,
    settle_seconds: float = defaults.ARRIVAL_SETTLE_SECONDS,
) -> tuple[list[dict[str, Any]], ChangeFeedCursor]:
    """One poll: the studies that settled (in the order their last instance arrived), and the cursor after
    them.

    The given cursor is not changed, so the caller decides when the new one is kept.
    """
    if remember_days is not None and remember_days < 0:
        raise ValueError(f"remember_days must be 0 or more, not {remember_days}")
    if not cursor.started and not announce_existing:
        latest = feed.latest()
        baseline = ChangeFeedCursor(started=True)
        if latest is not None:
            baseline.start_time, baseline.read_at_start = latest.timestamp, [latest.sequence]
        return [], baseline
    start_time, read_at_start = cursor.start_time, set(cursor.read_at_start)
    ledger = Ledger.from_json(cursor.ledger.to_json())
    at = now.timestamp()
    for entry in feed.entries(start_time, max_entries):
        if entry.timestamp == start_time:
            if entry.sequence in read_at_start:
                continue
            read_at_start.add(entry.sequence)
        else:
            start_time, read_at_start = entry.timestamp, {entry.sequence}
        if entry.action == "create":  # a clock ahead of ours delays, never hastens
            ledger.saw_instance(entry.study_instance_uid, min(event_seconds(entry.timestamp), at))
    new = announce_settled(ledger, qido, at, settle_seconds, filters, event_attributes)
    if remember_days is not None and start_time:
        ledger.forget_before(event_seconds(start_time) - remember_days * 86400)
    return new, ChangeFeedCursor(start_time, sorted(read_at_start), ledger, started=True)


class ChangeFeedSource(ArrivalSource):
    """Arrivals read from Azure's change feed, exactly (:func:`poll_change_feed`)."""

    name = "change-feed"

    def new_cursor(self) -> ChangeFeedCursor:
        return ChangeFeedCursor()

    def cursor_from_json(self, data: Any) -> ChangeFeedCursor:
        return ChangeFeedCursor.from_json(data)

    def poll(
        self, cursor: Cursor, options: WatchOptions, now: dt.datetime
    ) -> tuple[list[dict[str, Any]], Cursor]:
        assert isinstance(cursor, ChangeFeedCursor)
        return poll_change_feed(
            ChangeFeed(self.client.transport),
            self.client,
            cursor,
            now=now,
            filters=options.filters,
            remember_days=options.lookback_days,
            announce_existing=options.announce_existing,
            event_attributes=options.event_attributes,
            settle_seconds=options.settle_seconds,
        )

    def baseline(self, cursor: Cursor, options: WatchOptions) -> str:
        assert isinstance(cursor, ChangeFeedCursor)
        where = f"entry of {cursor.start_time}" if cursor.start_time else "start (it is empty)"
        announcing = ", announcing what is there" if options.announce_existing else ""
        return f"study-arrival watcher: baseline at the change feed's {where}{announcing}"


SOURCE = ChangeFeedSource
