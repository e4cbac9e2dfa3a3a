"""What the push sources share: a cloud delivers one message per stored instance to a queue (an Azure Storage
queue, an SQS queue, a Pub/Sub subscription), and a poll receives them, settles each study on its
instances' event times (:mod:`.settling`), and acknowledges a message only once the event that covers it has
been handed over.

How a message lives:

- received with a visibility timeout (an ack deadline) of twice ``settle_seconds`` plus five minutes
  (``PUSH_VISIBILITY_MARGIN``), and
  held, by study, while the study settles. A message whose timeout runs out before its study settles comes
  back and is held again: it names the same instance at the same event time, so it delays nothing;
- once its study is judged (announced, or found not to match the watcher's filters), it is acknowledged at
  the start of the next poll, which the trigger makes only after it has handed the events over and kept
  the cursor;
- a message that is not an event of this service (malformed, another store, a UID that is not a UID, a
  deletion) is logged, skipped and acknowledged at once.

After a restart the held messages come back once their timeout runs out and are read again; the cursor
(each study's progress, in the asset state store) says which studies were already announced, so none is
announced twice, and a study that was settling is announced once complete. Without a state store, a study
that had been announced is announced again when its messages come back (at least once).

Each source is a module defining ``SOURCE``: a :class:`PushSource` that opens its :class:`Queue` and reads
one message (:meth:`PushSource.read`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.arrivals.event import announce_settled
from airflow_dicomweb.core.arrivals.settling import Ledger
from airflow_dicomweb.core.arrivals.source import ArrivalSource, Cursor, WatchOptions
from airflow_dicomweb.core.errors import DicomWebConnectionError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One message as received: its id, its body, and the queue's handle to acknowledge it."""

    message_id: str
    body: bytes
    handle: Any = field(repr=False, compare=False)


@dataclass(frozen=True)
class InstanceStored:
    """What a message says: an instance of this study was stored at ``at`` (seconds since the epoch)."""

    study_instance_uid: str
    at: float | None


class Queue(Protocol):
    """A cloud's queue, through its own client library."""

    #: The longest visibility timeout (ack deadline) the queue takes, in seconds.
    max_visibility: int
    #: What its client library raises when the queue cannot be read (told as DicomWebConnectionError).
    errors: tuple[type[BaseException], ...]

    def receive(self, max_messages: int, visibility_seconds: int) -> list[Delivery]:
        """Up to ``max_messages`` messages (fewer, or none, when the queue has no more now)."""
        ...

    def acknowledge(self, deliveries: Sequence[Delivery]) -> None:
        """Delete (acknowledge) the messages; one already gone is not an error."""
        ...

    def close(self) -> None: ...


@dataclass
class PushCursor:
    """Each study's progress, kept; and, in memory only, the messages held by study and those to
    acknowledge at the next poll."""

    kind: str
    ledger: Ledger = field(default_factory=Ledger)
    started: bool = False
    held: dict[str, dict[str, Delivery]] = field(default_factory=dict, repr=False)
    to_acknowledge: list[Delivery] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "kind": self.kind, "started": self.started, "ledger": self.ledger.to_json()}

    @classmethod
    def from_json(cls, data: Any, kind: str) -> PushCursor:
        """A cursor from its stored form; anything unreadable raises ValueError (the caller starts over)."""
        if not isinstance(data, dict) or data.get("version") != 1 or data.get("kind") != kind:
            raise ValueError(f"not a {kind} cursor: {str(data)[:100]!r}")
        return cls(kind, Ledger.from_json(data.get("ledger")), bool(data.get("started")))


class PushSource(ArrivalSource):
    """A source whose cloud pushes one message per stored instance to a queue."""

    def open_queue(self) -> Queue:
        raise NotImplementedError

    def read(self, delivery: Delivery) -> InstanceStored | None:
        """What the message says; None for a message to skip quietly (another event type); ValueError,
        naming the message, for one that is not what the source expects."""
        raise NotImplementedError

    def where(self) -> str:
        """The queue, for log lines (no secret)."""
        raise NotImplementedError

    def new_cursor(self) -> PushCursor:
        return PushCursor(self.name)

    def cursor_from_json(self, data: Any) -> PushCursor:
        return PushCursor.from_json(data, self.name)

    def baseline(self, cursor: Cursor, options: WatchOptions) -> str:
        return f"study-arrival watcher: reading {self.name} events from {self.where()}"

    def poll(
        self, cursor: Cursor, options: WatchOptions, now: dt.datetime
    ) -> tuple[list[dict[str, Any]], Cursor]:
        assert isinstance(cursor, PushCursor)
        at = now.timestamp()
        queue = self.open_queue()
        ledger = Ledger.from_json(cursor.ledger.to_json())
        held = {study: dict(messages) for study, messages in cursor.held.items()}
        try:
            queue.acknowledge(cursor.to_acknowledge)  # their events were handed over before this poll
            visibility = min(
                int(2 * options.settle_seconds) + defaults.PUSH_VISIBILITY_MARGIN, queue.max_visibility
            )
            skipped = self._receive(queue, ledger, held, at, visibility)
            queue.acknowledge(skipped)
        except queue.errors as exc:  # the cursor given is kept: what was received comes back later
            reason = self.client.transport.redact(f"{type(exc).__name__}: {exc}")[:400]
            raise DicomWebConnectionError(f"{self.name} {self.where()}: {reason}") from None
        finally:
            queue.close()
        new = announce_settled(
            ledger, self.client, at, options.settle_seconds, options.filters, options.event_attributes
        )
        judged = [study for study in held if study not in ledger.studies or not ledger.studies[study].pending]
        to_acknowledge = [message for study in judged for message in held.pop(study).values()]
        if options.lookback_days is not None:
            ledger.forget_before(at - options.lookback_days * 86400)
        return new, PushCursor(self.name, ledger, True, held, to_acknowledge)

    def _receive(
        self, queue: Queue, ledger: Ledger, held: dict[str, dict[str, Delivery]], at: float, visibility: int
    ) -> list[Delivery]:
        """Receive up to the poll's share, holding each message by study; the messages to skip."""
        skipped: list[Delivery] = []
        received = 0
        while received < defaults.PUSH_MAX_PER_POLL:
            if sum(len(m) for m in held.values()) >= defaults.PUSH_MAX_HELD:
                log.warning(
                    "%s: %d messages held while their studies settle; receiving more at a later poll",
                    self.where(),
                    defaults.PUSH_MAX_HELD,
                )
                break
            batch = queue.receive(defaults.PUSH_BATCH, visibility)
            if not batch:
                break
            received += len(batch)
            for delivery in batch:
                try:
                    stored = self.read(delivery)
                except ValueError as exc:
                    log.warning("%s: message %.80s skipped: %s", self.where(), delivery.message_id, exc)
                    stored = None
                if stored is None:
                    skipped.append(delivery)
                    continue
                seen_at = (
                    at if stored.at is None else min(stored.at, at)
                )  # a clock ahead delays, never hastens
                ledger.saw_instance(stored.study_instance_uid, seen_at)
                held.setdefault(stored.study_instance_uid, {})[delivery.message_id] = delivery
        return skipped
