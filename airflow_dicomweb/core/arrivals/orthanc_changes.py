"""Which studies arrived and settled, read from Orthanc's REST ``/changes`` feed (exact, no StudyDate window).

Every instance Orthanc stores is a ``NewInstance`` change, so a reader that keeps the sequence number it
stopped at (``since``) sees each arrival once, a study dated 1999 and stored today included. Each instance
counts toward its study's progress (:mod:`.settling`) at the time the poll reads it; ``StableStudy`` (Orthanc's
own signal, ``StableAge`` seconds after a study's last instance) marks it stable. A study is announced once
both hold: no new instance for ``settle_seconds``, and Orthanc called it stable since its newest instance
(``settle_seconds=0``: at first sight, without waiting for Orthanc). The event's attributes and count come
from a QIDO-RS search that applies the watcher's ``filters``.

The first poll (empty cursor) starts after the newest change: what is there already is the baseline, unless
``announce_existing`` asks to read the feed from its start. One poll reads at most ``max_entries`` changes
and makes one request per new instance (its study) besides the changes themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.arrivals.event import DEFAULT_EVENT_ATTRIBUTES, Searches, announce_settled
from airflow_dicomweb.core.arrivals.settling import Ledger
from airflow_dicomweb.core.arrivals.source import ArrivalSource, Cursor, WatchOptions
from airflow_dicomweb.core.change_feed.orthanc import NEW_INSTANCE, OrthancChanges
from airflow_dicomweb.core.qido.query import FilterValue

KIND = "orthanc-changes"


@dataclass
class OrthancChangesCursor:
    """The sequence number of the last change read, each study's progress, and whether a baseline was taken."""

    since: int = 0
    ledger: Ledger = field(default_factory=Ledger)
    started: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "kind": KIND,
            "started": self.started,
            "since": self.since,
            "ledger": self.ledger.to_json(),
        }

    @classmethod
    def from_json(cls, data: Any) -> OrthancChangesCursor:
        """A cursor from its stored form; anything unreadable raises ValueError (the caller starts over)."""
        if not isinstance(data, dict) or data.get("version") != 1 or data.get("kind") != KIND:
            raise ValueError(f"not an orthanc-changes cursor: {str(data)[:100]!r}")
        since = data.get("since")
        if not isinstance(since, int) or isinstance(since, bool) or since < 0:
            raise ValueError("an orthanc-changes cursor's 'since' is not a sequence number")
        return cls(since, Ledger.from_json(data.get("ledger")), bool(data.get("started")))


def poll_orthanc_changes(
    changes: OrthancChanges,
    qido: Searches,
    cursor: OrthancChangesCursor,
    *,
    now: dt.datetime,
    filters: Mapping[str, FilterValue] | None = None,
    remember_days: int | None = defaults.ARRIVAL_LOOKBACK_DAYS,
    announce_existing: bool = False,
    event_attributes: Iterable[str] = DEFAULT_EVENT_ATTRIBUTES,
    max_entries: int = defaults.CHANGE_FEED_MAX_PER_POLL,
    settle_seconds: float = defaults.ARRIVAL_SETTLE_SECONDS,
) -> tuple[list[dict[str, Any]], OrthancChangesCursor]:
    """One poll: the studies that settled (in the order their last instance was read), and the cursor after
    them. The given cursor is not changed, so the caller decides when the new one is kept."""
    if remember_days is not None and remember_days < 0:
        raise ValueError(f"remember_days must be 0 or more, not {remember_days}")
    if not cursor.started and not announce_existing:
        return [], OrthancChangesCursor(since=changes.last(), started=True)
    at = now.timestamp()
    since = cursor.since
    ledger = Ledger.from_json(cursor.ledger.to_json())
    studies: dict[str, str | None] = {}  # Orthanc study or instance ID -> StudyInstanceUID, for this poll
    for change in changes.changes(since, max_entries):
        since = change.seq
        if change.resource_id not in studies:
            studies[change.resource_id] = changes.study_instance_uid(change)
        uid = studies[change.resource_id]
        if uid is None:
            continue
        if change.change_type == NEW_INSTANCE:
            ledger.saw_instance(uid, at)
        else:
            ledger.saw_stable(uid)
    new = announce_settled(
        ledger, qido, at, settle_seconds, filters, event_attributes, wait_for_stable=settle_seconds > 0
    )
    if remember_days is not None:
        ledger.forget_before(at - remember_days * 86400)
    return new, OrthancChangesCursor(since, ledger, started=True)


class OrthancChangesSource(ArrivalSource):
    """Arrivals read from Orthanc's ``/changes`` feed, exactly (:func:`poll_orthanc_changes`)."""

    name = KIND

    def new_cursor(self) -> OrthancChangesCursor:
        return OrthancChangesCursor()

    def cursor_from_json(self, data: Any) -> OrthancChangesCursor:
        return OrthancChangesCursor.from_json(data)

    def poll(
        self, cursor: Cursor, options: WatchOptions, now: dt.datetime
    ) -> tuple[list[dict[str, Any]], Cursor]:
        assert isinstance(cursor, OrthancChangesCursor)
        return poll_orthanc_changes(
            OrthancChanges(self.client.transport),
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
        assert isinstance(cursor, OrthancChangesCursor)
        announcing = ", announcing what is there" if options.announce_existing else ""
        return f"study-arrival watcher: baseline after Orthanc's change {cursor.since}{announcing}"


SOURCE = OrthancChangesSource
