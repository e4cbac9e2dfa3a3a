"""One poll of a watcher, as the trigger and ``dicomweb watch`` both make it: the source chosen by name, the
stored cursor read back (an unreadable one starts a new baseline, said so), the poll, and the log line of a
baseline just taken; and one watcher's share of a poll several watchers share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_dicomweb.core import arrivals
from airflow_dicomweb.core.arrivals.source import ArrivalSource, Cursor, WatchOptions

if TYPE_CHECKING:
    from airflow_dicomweb.core.client import DicomWebApi


@dataclass(frozen=True)
class WatchPoll:
    """What one poll gave: the announcements, the cursor after them, and what to log."""

    announcements: list[dict[str, Any]]
    cursor: Cursor
    #: The log line of a baseline taken by this poll ("" if none).
    baseline: str
    #: Why a stored cursor could not be read ("" if it could, or there was none).
    unreadable: str


def _current(source: ArrivalSource, stored: Cursor | dict[str, Any] | None) -> tuple[Cursor, str]:
    """The cursor to poll from: ``stored`` read back by ``source`` (a new one if there is none, or if it
    cannot be read, with why)."""
    if isinstance(stored, dict):
        try:
            return source.cursor_from_json(stored), ""
        except ValueError as exc:
            return source.new_cursor(), str(exc)
    return (stored if stored is not None else source.new_cursor()), ""


def poll_once(
    client: DicomWebApi,
    source_name: str,
    options: WatchOptions,
    stored: Cursor | dict[str, Any] | None,
    now: dt.datetime | None = None,
) -> WatchPoll:
    """One poll of the source called ``source_name`` (``auto``: the server profile's) from ``stored`` (a
    cursor, its JSON form, or None for a first poll)."""
    source = arrivals.source_for(source_name, client)
    current, unreadable = _current(source, stored)
    new, after = source.poll(current, options, now or dt.datetime.now(dt.UTC))
    baseline = "" if current.started else source.baseline(after, options)
    return WatchPoll(new, after, baseline, unreadable)


def settle_shared(
    client: DicomWebApi,
    options: WatchOptions,
    stored: Cursor | dict[str, Any] | None,
    snapshot: Mapping[str, tuple[int, str]],
    now: dt.datetime,
) -> WatchPoll:
    """One watcher's share of a poll that several share (the ``search`` source only: its snapshot of the
    window, :func:`~.search.search_snapshot`)."""
    from airflow_dicomweb.core.arrivals.search import ArrivalCursor, SearchSource, settle_snapshot

    source = SearchSource(client)
    current, unreadable = _current(source, stored)
    assert isinstance(current, ArrivalCursor)
    new, after = settle_snapshot(
        client,
        current,
        snapshot,
        now=now,
        filters=options.filters,
        lookback_days=options.lookback_days,
        announce_existing=options.announce_existing,
        event_attributes=options.event_attributes,
        settle_seconds=options.settle_seconds,
    )
    baseline = "" if current.started else source.baseline(after, options)
    return WatchPoll(new, after, baseline, unreadable)
