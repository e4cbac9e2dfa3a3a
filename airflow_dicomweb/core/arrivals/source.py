"""The one interface of a source of study arrivals: a cursor of what it has announced, kept as JSON in
Airflow's asset state store, and a poll that gives the studies settled since that cursor (:mod:`.settling`)
and the cursor after them. Each source is a module of this package that defines ``SOURCE``; its name is the trigger's ``source``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.arrivals.event import DEFAULT_EVENT_ATTRIBUTES
from airflow_dicomweb.core.connection_field import ConnectionField
from airflow_dicomweb.core.qido.query import FilterValue

if TYPE_CHECKING:
    from airflow_dicomweb.core.client import DicomWebApi


class Cursor(Protocol):
    """Where a source stands: whether a baseline was taken, and its stored form."""

    started: bool

    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class WatchOptions:
    """What a watcher asks of every poll, whatever its source."""

    filters: Mapping[str, FilterValue] = field(default_factory=dict)
    #: The search source's StudyDate window; how long the change feed remembers an announced study.
    lookback_days: int | None = defaults.ARRIVAL_LOOKBACK_DAYS
    announce_existing: bool = False
    event_attributes: tuple[str, ...] = DEFAULT_EVENT_ATTRIBUTES
    page_size: int | None = None
    #: A study is announced once no new instance of it has been seen for this long (0: at first sight).
    settle_seconds: float = defaults.ARRIVAL_SETTLE_SECONDS


class ArrivalSource:
    """A source of study arrivals over one client."""

    #: The trigger's ``source`` value (the module's name, with ``-`` for ``_``).
    name: ClassVar[str] = ""
    #: The connection extras it reads (a push source's queue), from ``settings.extras``; a secret among them
    #: is registered with the transport's redactor before it is used.
    fields: ClassVar[tuple[ConnectionField, ...]] = ()

    def __init__(self, client: DicomWebApi) -> None:
        self.client = client

    def new_cursor(self) -> Cursor:
        """The cursor of a watcher that has read nothing yet (its first poll takes the baseline)."""
        raise NotImplementedError

    def cursor_from_json(self, data: Any) -> Cursor:
        """A cursor from its stored form; ValueError if it is not this source's (the watcher starts over)."""
        raise NotImplementedError

    def poll(
        self, cursor: Cursor, options: WatchOptions, now: dt.datetime
    ) -> tuple[list[dict[str, Any]], Cursor]:
        """The studies that settled by ``now`` (UTC), each an event (:func:`.event.payload`), and the cursor
        after them (``cursor`` unchanged)."""
        raise NotImplementedError

    def baseline(self, cursor: Cursor, options: WatchOptions) -> str:
        """The log line of a baseline just taken."""
        raise NotImplementedError
