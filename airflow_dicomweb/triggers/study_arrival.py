"""``DicomWebStudyArrivalTrigger``: an event trigger for ``AssetWatcher`` that announces each study once it is
complete (settled), and again when it grows."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_dicomweb.core import arrivals, defaults
from airflow_dicomweb.core.arrivals.event import DEFAULT_EVENT_ATTRIBUTES
from airflow_dicomweb.core.arrivals.search import search_snapshot
from airflow_dicomweb.core.arrivals.source import Cursor, WatchOptions
from airflow_dicomweb.core.arrivals.watch import WatchPoll, poll_once, settle_shared
from airflow_dicomweb.core.errors import DicomWebError
from airflow_dicomweb.provider_config import configured
from airflow_dicomweb.triggers.base import connected

_CURSOR_KEY_PREFIX = "dicomweb-study-arrivals"
#: Where arrivals are read: ``auto`` (the source the server profile names), or a source of
#: :mod:`airflow_dicomweb.core.arrivals` (``search``, ``change-feed``, ``orthanc-changes``,
#: ``azure-event-grid``, ``aws-eventbridge``, ``google-pubsub``).
SOURCES = (arrivals.AUTO, *arrivals.names())


class DicomWebStudyArrivalTrigger(BaseEventTrigger):
    """Poll the server's arrivals every ``poll_interval`` seconds and fire one event per study once it has
    settled: no new instance of it for ``settle_seconds``.

    Use it in an ``AssetWatcher``; each event becomes an asset event whose extra ``payload`` holds the
    study's ``StudyInstanceUID``, ``NumberOfStudyRelatedInstances`` (the count when announced), ``update``
    (``False`` the first time; ``True`` when a study announced before grew and settled again) and the
    ``event_attributes`` (by default no patient identifiers). A study that does not change is not announced
    twice.

    - ``settle_seconds``: how long a study must go without a new instance before it is announced (default
      ``[dicomweb] settle_seconds``, 60; ``0``: at first sight). A source's own stability signal (Orthanc's ``StableStudy``) may delay the
      announcement, never hasten it.

    - ``filters``: QIDO-RS matching keys (``{"ModalitiesInStudy": "CT"}``...), as in the search operator.
    - ``lookback_days``: the StudyDate window (today minus this, onwards). ``None``: no window, every poll
      lists all matching studies.
    - ``announce_existing``: on the very first poll, announce the studies already there (default: they are
      the baseline).
    - ``source``: ``auto`` (default) is the source the server profile names: Azure's change feed
      (``server: azure``) and Orthanc's ``/changes`` (``server: orthanc``), exact and with no date window
      (``lookback_days`` is then how long an announced study is remembered), QIDO-RS searches elsewhere;
      ``search``, ``change-feed`` or ``orthanc-changes`` insists on one; ``azure-event-grid``,
      ``aws-eventbridge`` and ``google-pubsub`` read the events a cloud pushes to a queue (set up in the
      connection's extras). Watchers with ``source="search"`` on one connection, window and interval
      share one poll (:meth:`shared_stream_key`).

    The cursor (where the source stands, and each study's progress) is kept in Airflow's asset state
    store when the triggerer provides one (Airflow 3.3+, one watched asset), so a restart neither loses
    the studies that arrived meanwhile (within the window) nor announces old ones again. The cursor of a
    poll is saved at the start of the next, once its events have reached the database: a triggerer killed
    in between announces that poll's studies again (at least once, never lost). Without a state store,
    the cursor lives in memory and a restart takes a new baseline. A failing poll is logged and retried
    at the next interval: a watcher does not stop on a server outage.
    """

    def __init__(
        self,
        dicomweb_conn_id: str = defaults.CONN_ID,
        filters: dict[str, Any] | None = None,
        poll_interval: float = defaults.ARRIVAL_POLL_INTERVAL,
        lookback_days: int | None = defaults.ARRIVAL_LOOKBACK_DAYS,
        announce_existing: bool = False,
        event_attributes: list[str] | None = None,
        page_size: int | None = None,
        source: str = "auto",
        settle_seconds: float | None = None,
    ) -> None:
        super().__init__()
        if settle_seconds is None:  # [dicomweb] settle_seconds, else the core's default
            settle_seconds = configured("settle_seconds")
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, not {poll_interval}")
        if lookback_days is not None and lookback_days < 0:
            raise ValueError(f"lookback_days must be 0 or more, not {lookback_days}")
        if settle_seconds < 0:
            raise ValueError(f"settle_seconds must be 0 or more, not {settle_seconds}")
        self.dicomweb_conn_id = dicomweb_conn_id
        self.filters = dict(filters or {})
        self.poll_interval = poll_interval
        self.lookback_days = lookback_days
        self.announce_existing = announce_existing
        self.event_attributes = list(event_attributes or DEFAULT_EVENT_ATTRIBUTES)
        self.page_size = page_size
        self.source = source
        self.settle_seconds = settle_seconds
        self._memory: Cursor | dict[str, Any] | None = None
        self._warned = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "dicomweb_conn_id": self.dicomweb_conn_id,
                "filters": self.filters,
                "poll_interval": self.poll_interval,
                "lookback_days": self.lookback_days,
                "announce_existing": self.announce_existing,
                "event_attributes": self.event_attributes,
                "page_size": self.page_size,
                "source": self.source,
                "settle_seconds": self.settle_seconds,
            },
        )

    @property
    def cursor_key(self) -> str:
        """The state-store key: one per connection, filters and window, so that changing them starts anew."""
        identity = json.dumps(
            [self.dicomweb_conn_id, self.filters, self.lookback_days]
            + ([self.source] if self.source != "auto" else []),
            sort_keys=True,
            default=str,
        )
        return f"{_CURSOR_KEY_PREFIX}:{hashlib.sha256(identity.encode()).hexdigest()[:32]}"

    def _warn_once(self, message: str) -> None:
        if not self._warned:
            self.log.warning(message)
            self._warned = True

    async def load_cursor(self) -> Cursor | dict[str, Any] | None:
        """The stored cursor, as stored (its source reads it at the first poll); None if there is none (the
        first poll takes a baseline)."""
        store = getattr(self, "asset_state_store", None)
        if store is None:
            self._warn_once("no asset state store: the study-arrival cursor is kept in memory only")
            return self._memory
        try:
            data = await store.aget(self.cursor_key, default=None)
        except ValueError:
            self._warn_once(
                "the asset state store needs one watched asset: the cursor is kept in memory only"
            )
            return self._memory
        return data if data is None or isinstance(data, dict) else {"unreadable": str(data)[:100]}

    async def save_cursor(self, cursor: Cursor) -> None:
        self._memory = cursor
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return
        try:
            await store.aset(self.cursor_key, cursor.to_json())
        except ValueError:
            self._warn_once(
                "the asset state store needs one watched asset: the cursor is kept in memory only"
            )

    def _options(self) -> WatchOptions:
        return WatchOptions(
            filters=self.filters,
            lookback_days=self.lookback_days,
            announce_existing=self.announce_existing,
            event_attributes=tuple(self.event_attributes),
            page_size=self.page_size,
            settle_seconds=self.settle_seconds,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        async def polls(cursor: Cursor | dict[str, Any] | None) -> WatchPoll:
            async with connected(self.dicomweb_conn_id) as client:
                return await asyncio.to_thread(poll_once, client, self.source, self._options(), cursor)

        async for event in self._announce(polls, None):
            yield event

    # --- one poll shared by every watcher of a server (Airflow 3.3's shared streams) -----------------

    def shared_stream_key(self) -> Hashable | None:
        """Watchers with ``source="search"`` on one connection, window and interval share one poll of the
        window (the snapshot of every study in it, with its instance count); each settles and filters its
        own studies from it, searching only for the ones that settled. The other sources keep a poll each
        (their place in a feed or queue is each watcher's own)."""
        if self.source != "search":
            return None
        return (
            _CURSOR_KEY_PREFIX,
            self.dicomweb_conn_id,
            self.lookback_days,
            self.page_size,
            self.poll_interval,
        )

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        """The shared poll: a snapshot of the window every ``poll_interval`` seconds, for ever (a failing poll
        is logged and tried again)."""
        trigger = cls(**kwargs)
        while True:
            now = dt.datetime.now(dt.UTC)
            try:
                async with connected(trigger.dicomweb_conn_id) as client:
                    snapshot = await asyncio.to_thread(
                        search_snapshot,
                        client,
                        now=now,
                        lookback_days=trigger.lookback_days,
                        page_size=trigger.page_size,
                    )
            except DicomWebError as exc:
                trigger.log.warning(
                    "shared study-arrival poll failed (next in %g s): %s", trigger.poll_interval, exc
                )
            else:
                yield {"at": now.isoformat(), "studies": {uid: list(v) for uid, v in snapshot.items()}}
            await asyncio.sleep(trigger.poll_interval)

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        async def shares(cursor: Cursor | dict[str, Any] | None) -> WatchPoll:
            raw = await anext(shared_stream)
            snapshot = {uid: (int(v[0]), str(v[1])) for uid, v in raw["studies"].items()}
            now = dt.datetime.fromisoformat(raw["at"])
            async with connected(self.dicomweb_conn_id) as client:
                return await asyncio.to_thread(settle_shared, client, self._options(), cursor, snapshot, now)

        async for event in self._announce(shares, 0):
            yield event

    async def _viewer_link(self, study_instance_uid: str) -> str | None:
        """The study's link in the connection's viewer (``viewer_url``, or the server's default), or None."""
        if not hasattr(self, "_viewer_settings"):
            async with connected(self.dicomweb_conn_id) as client:
                self._viewer_settings = client.transport.settings
        try:
            return self._viewer_settings.viewer_link(study_instance_uid)
        except DicomWebError:
            return None

    async def _announce(
        self, next_poll: Callable[[Cursor | dict[str, Any] | None], Awaitable[WatchPoll]], pause: float | None
    ) -> AsyncIterator[TriggerEvent]:
        """Each poll's announcements as events; the cursor of a poll that announced is kept at the start of
        the next, once its events have been handed over; a failing poll is logged and the next one tried
        (after ``poll_interval``, or at once with ``pause=0`` when the polls are paced by a shared stream)."""
        cursor = await self.load_cursor()
        pending: Cursor | None = None
        while True:
            if pending is not None:  # the previous poll's events have been handed over by now
                await self.save_cursor(pending)
                cursor, pending = pending, None
            try:
                polled = await next_poll(cursor)
            except DicomWebError as exc:
                self.log.warning("study-arrival poll failed (next in %g s): %s", self.poll_interval, exc)
            else:
                new, after = polled.announcements, polled.cursor
                if polled.unreadable:
                    self.log.warning(
                        "stored study-arrival cursor unreadable (%s): took a new baseline", polled.unreadable
                    )
                if polled.baseline:
                    self.log.info("%s", polled.baseline)
                for study in new:
                    self.log.info(
                        "%s study %s: %d instances, settled",
                        "grown" if study["update"] else "new",
                        study["StudyInstanceUID"],
                        study["NumberOfStudyRelatedInstances"],
                    )
                    link = await self._viewer_link(study["StudyInstanceUID"])
                    extra = {"viewer_url": link} if link else {}
                    yield TriggerEvent({"study_instance_uid": study["StudyInstanceUID"], **study, **extra})
                if new:
                    pending = after
                else:  # nothing announced (a baseline, or no news): keep it at once
                    await self.save_cursor(after)
                    cursor = after
            await asyncio.sleep(self.poll_interval if pause is None else pause)
