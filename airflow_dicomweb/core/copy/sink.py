"""The sink of a copy: the parts of a source's responses (WADO-RS, or C-GET's instances one by one), as they
arrive, into batches the destination's sender stores (STOW-RS requests: :mod:`.stow_batches`; C-STORE:
:mod:`.c_store_batches`).

Each part is held in memory until it ends (as the response's chunks, one copy), its UIDs and transfer syntax
read from its first bytes, checked against what was asked for, and added to a batch; a batch is sent when it
reaches the files or bytes of one request. A batch holds one of a few slots from its first byte until the
destination has answered it, and a response waits for a slot before it is read on (back-pressure through TCP
to the source): memory stays within that many batches (of one instance, where an instance is larger than a
batch), whatever the study's size. An instance larger than ``max_instance_bytes`` is not held: it is named
as failed and the rest goes on.

Parts are claimed by SOP Instance UID: a response retried after being cut short sends only what the first
attempt had not, and an instance the destination holds already (the pre-check) is counted, not sent.

With a de-identifier, each instance of a batch is de-identified in memory on the sender's thread just before
the batch is sent (nothing identified is written anywhere); ``held`` and every outcome then speak of the
destination's UIDs, the ones the key gives, and an instance held back is ``quarantined`` with its reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_dicomweb.core.deid.deidentifier import DeidentificationError, Deidentifier, Quarantined
from airflow_dicomweb.core.dicom.instance_header import InstanceHeader
from airflow_dicomweb.core.dicom.part10_uids import HEAD_BYTES, read_uids, uids_in_memory
from airflow_dicomweb.core.errors import DicomWebResponseError
from airflow_dicomweb.core.multipart.reader import MultipartEvent, PartEnd, PartStart
from airflow_dicomweb.core.progress import ProgressTracker
from airflow_dicomweb.core.stow.request import StowItem, failed_outcome, instance_outcome
from airflow_dicomweb.core.stow.result import InstanceOutcome, Status
from airflow_dicomweb.core.wado.destination import check_part_type, checked_uids

log = logging.getLogger(__name__)


def instance_name(study: str, series: str, sop: str) -> str:
    """How an instance is named in a copy's report: its resource path, the same on both sides."""
    return f"studies/{study}/series/{series}/instances/{sop}"


def batch_is_full(files: int, size: int, *, batch_files: int, batch_bytes: int) -> bool:
    """Whether a copy's batch of ``files`` instances, ``size`` bytes in all, is sent now: it has reached the
    files or the bytes of one request (the instance that reaches them goes with it)."""
    return files >= batch_files or size >= batch_bytes


@dataclass(frozen=True, slots=True)
class ReadyInstance:
    """An instance read whole, checked, and ready to be sent: its bytes as the response's chunks."""

    item: StowItem
    header: InstanceHeader
    chunks: tuple[bytes | memoryview, ...]


class BatchSender(Protocol):
    """How a destination stores a batch (see :mod:`.stow_batches`, :mod:`.c_store_batches`)."""

    def refusal(self, header: InstanceHeader) -> str:
        """Why this destination would not take the instance (its size, its transfer syntax), or ''."""
        ...

    def __call__(self, batch: list[ReadyInstance]) -> list[tuple[int, InstanceOutcome]]:
        """Store ``batch``; every instance's outcome, by its item's index. Raises nothing it can report."""
        ...


class CopySink:
    """Takes one study's instances from the source's responses and has ``send`` store them, a batch at a
    time; ``held`` are the SOP Instance UIDs the destination holds already. At most ``in_flight`` batches
    are held at once (being read, or sent on ``pool``). ``deidentifier`` de-identifies each instance before
    it is sent; ``held`` then holds the destination's (new) UIDs."""

    def __init__(
        self,
        send: BatchSender,
        *,
        held: set[str],
        pool: ThreadPoolExecutor,
        in_flight: int,
        batch_files: int,
        batch_bytes: int,
        max_instance_bytes: int,
        tracker: ProgressTracker | None = None,
        deidentifier: Deidentifier | None = None,
    ) -> None:
        self.send = send
        self.deidentifier = deidentifier
        self.held = held
        self.pool = pool
        self.batch_files = batch_files
        self.batch_bytes = batch_bytes
        self.max_instance_bytes = max_instance_bytes
        self.tracker = tracker
        self._slots = threading.BoundedSemaphore(in_flight)
        self._lock = threading.Lock()
        self._claimed: set[str] = set()
        self._futures: list[Future] = []
        self._count = 0
        #: Every instance this sink was given, with what became of it.
        self.outcomes: dict[str, InstanceOutcome] = {}
        #: Parts that could not be named (no usable UIDs): their failures.
        self.unnamed: list[InstanceOutcome] = []

    def write(
        self,
        events: Iterable[MultipartEvent],
        *,
        source: str,
        expected: Mapping[str, str] | None = None,
        on_file: Callable[[Any, int], None] | None = None,
        keep_existing: bool = False,
    ) -> list[str]:
        """Take every part of one response; the SOP Instance UIDs taken (sent, or counted as held).

        A batch takes one of the sink's slots from its first byte until the destination answered it: while
        every slot is taken, this response is not read on (back-pressure through TCP to the source)."""
        taken: list[str] = []
        batch: list[ReadyInstance] = []
        chunks: list[bytes] = []
        head = b""
        size = 0
        index = 0
        slot = False
        try:
            for event in events:
                if isinstance(event, PartStart):
                    check_part_type(event, source)
                    if not slot:
                        self._slots.acquire()
                        slot = True
                    chunks, head, size, index = [], b"", 0, event.index
                elif isinstance(event, PartEnd):
                    ready = self._part(index, chunks, head, size, source, expected or {})
                    chunks, head = [], b""
                    if ready is None:
                        continue
                    taken.append(ready.header.sop_instance_uid)
                    if on_file is not None:
                        on_file(ready.header.sop_instance_uid, size)
                    batch.append(ready)
                    if batch_is_full(
                        len(batch),
                        sum(r.item.size for r in batch),
                        batch_files=self.batch_files,
                        batch_bytes=self.batch_bytes,
                    ):
                        self._submit(batch)  # the slot goes with the batch
                        batch, slot = [], False
                else:
                    if len(head) < HEAD_BYTES:
                        head += bytes(event[: HEAD_BYTES - len(head)])
                    size += len(event)
                    if size <= self.max_instance_bytes:
                        chunks.append(bytes(event))  # the reader reuses its buffer: one copy, kept until sent
                    elif chunks:
                        chunks = []  # too large to hold: named as failed at its end
        finally:
            if batch:  # complete instances are sent even when the response was cut after them
                self._submit(batch)
            elif slot:
                self._slots.release()
        return taken

    def _part(
        self,
        index: int,
        chunks: list[bytes],
        head: bytes,
        size: int,
        source: str,
        expected: Mapping[str, str],
    ) -> ReadyInstance | None:
        """A complete part ready to send, or None once its outcome is recorded (or it was taken before)."""
        found = read_uids(head) or (
            uids_in_memory(b"".join(chunks)) if chunks else {"error": "its header could not be read"}
        )
        try:
            uids = checked_uids(found, index, source, expected)
        except DicomWebResponseError as exc:
            with self._lock:
                self.unnamed.append(
                    InstanceOutcome(path=f"{source} part {index}", status=Status.FAILED, reason=str(exc))
                )
            return None
        sop = uids["SOPInstanceUID"]
        header = InstanceHeader(
            study_instance_uid=uids["StudyInstanceUID"],
            series_instance_uid=uids["SeriesInstanceUID"],
            sop_instance_uid=sop,
            sop_class_uid=uids.get("SOPClassUID", ""),
            transfer_syntax_uid=uids.get("TransferSyntaxUID", ""),
            size=size,
        )
        with self._lock:
            if sop in self._claimed:  # a retried response: this one was taken by the attempt before
                return None
            self._claimed.add(sop)
            self._count += 1
            item = StowItem(
                self._count,
                instance_name(
                    self.dest_uid(header.study_instance_uid),
                    self.dest_uid(header.series_instance_uid),
                    self.dest_uid(sop),
                ),
                size,
            )
        if self.dest_uid(sop) in self.held:
            self._record(
                instance_outcome(
                    item, header, Status.ALREADY_PRESENT, reason="already at the destination (pre-check)"
                )
            )
            if self.tracker is not None:
                self.tracker.add(1, size, skipped=True)
            return None
        refusal = self._refusal(header)
        if refusal:
            self._record(failed_outcome(item, header, refusal))
            return None
        return ReadyInstance(item, header, tuple(chunks))

    def dest_uid(self, uid: str) -> str:
        """The UID an instance, series or study of the source has at the destination."""
        return uid if self.deidentifier is None else self.deidentifier.new_uid(uid)

    def _refusal(self, header: InstanceHeader) -> str:
        """Why this instance is not sent, or ''."""
        if header.size > self.max_instance_bytes:
            return (
                f"not copied: {header.size:,} bytes, more than one instance held in memory may be "
                f"({self.max_instance_bytes:,} bytes: raise max_instance_mib to copy it)"
            )
        return self.send.refusal(header)

    def _submit(self, batch: list[ReadyInstance]) -> None:
        """Send ``batch`` on the pool; it holds a slot, released once the destination answered."""
        try:
            future = self.pool.submit(self._send, batch)
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self._futures.append(future)

    def _deidentified(self, batch: list[ReadyInstance]) -> list[ReadyInstance]:
        """``batch`` de-identified in memory; what is held back or cannot be read gets its outcome here."""
        assert self.deidentifier is not None
        ready: list[ReadyInstance] = []
        for instance in batch:
            source = instance.item.path
            header = instance.header
            renamed = InstanceHeader(
                study_instance_uid=self.dest_uid(header.study_instance_uid),
                series_instance_uid=self.dest_uid(header.series_instance_uid),
                sop_instance_uid=self.dest_uid(header.sop_instance_uid),
                sop_class_uid=header.sop_class_uid,
                transfer_syntax_uid=header.transfer_syntax_uid,
                size=header.size,
            )
            try:
                made = self.deidentifier.deidentify_bytes(b"".join(instance.chunks), source=str(source))
            except DeidentificationError as exc:
                self._record(failed_outcome(instance.item, renamed, f"not de-identified: {exc}"))
                continue
            if isinstance(made, Quarantined):
                self._record(instance_outcome(instance.item, renamed, Status.QUARANTINED, reason=made.reason))
                continue
            new = made.header()
            ready.append(ReadyInstance(StowItem(instance.item.index, source, made.size), new, made.chunks))
        return ready

    def _send(self, batch: list[ReadyInstance]) -> None:
        try:
            if self.deidentifier is not None:
                held_back = len(batch)
                batch = self._deidentified(batch)
                if self.tracker is not None and len(batch) < held_back:
                    self.tracker.add(held_back - len(batch), 0)
                if not batch:
                    return
            sent = [(r.item, r.header) for r in batch]
            try:
                results = self.send(batch)
            except Exception as exc:  # every instance must end with an outcome
                results = [
                    (item.index, failed_outcome(item, header, f"not stored: {exc}")) for item, header in sent
                ]
            del batch[:]  # the bytes go with the batch
            by_index = dict(results)
            for item, _ in sent:
                outcome = by_index[item.index]
                self._record(outcome)
                if self.tracker is not None:
                    self.tracker.add(1, item.size, skipped=outcome.status is Status.ALREADY_PRESENT)
        finally:
            self._slots.release()

    def _record(self, outcome: InstanceOutcome) -> None:
        if outcome.status is Status.FAILED:
            log.warning("copy %s: %s", outcome.path, outcome.reason)
        with self._lock:
            self.outcomes[outcome.sop_instance_uid or outcome.path] = outcome

    def finish(self) -> None:
        """Wait until every request sent has its answer."""
        while True:
            with self._lock:
                pending, self._futures = self._futures, []
            if not pending:
                return
            for future in pending:
                future.result()
