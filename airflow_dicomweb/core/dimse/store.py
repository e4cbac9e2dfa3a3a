"""C-STORE (PS3.4 B.2) of files to a peer: presentation contexts proposed for exactly what is sent (each SOP
class in each transfer syntax the files carry), and every file ends with an outcome, as a STOW-RS store's
do. A file whose transfer syntax the peer refuses is a named failure, never re-encoded. Files are sent from
disk in PDU-sized chunks (pynetdicom's ``STORE_SEND_CHUNKED_DATASET``), so memory does not grow with them.
A sender waits on every PDU, so files go on up to the peer's ``max_associations`` at once."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable

from pynetdicom import _config
from pynetdicom.association import Association
from pynetdicom.presentation import build_context

from airflow_dicomweb.core.dicom.instance_header import (
    InstanceHeader,
    NotAnInstanceError,
    read_instance_header,
)
from airflow_dicomweb.core.dimse.association import associated
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.errors import DicomWebStorageError, DimseAssociationError
from airflow_dicomweb.core.progress import ProgressCallback, ProgressTracker
from airflow_dicomweb.core.storage.paths import StoragePath, is_remote, local_name
from airflow_dicomweb.core.stow.inputs import Input, expand_inputs
from airflow_dicomweb.core.stow.result import InstanceOutcome, Status, StoreResult

log = logging.getLogger(__name__)

#: The most presentation contexts one association may propose (PS3.8: context IDs are odd numbers 1-255).
MAX_CONTEXTS = 128
#: C-STORE statuses that mean stored, with a warning (PS3.4 Table B.2-1).
WARNINGS = {
    0xB000: "coercion of data elements",
    0xB006: "elements discarded",
    0xB007: "data set does not match SOP class",
}

_config.STORE_SEND_CHUNKED_DATASET = True  # a file is sent from disk as it is: exact contexts, no decoding


def status_meaning(status: int) -> str:
    if status & 0xFF00 == 0xA700:
        return "out of resources"
    if status & 0xFF00 == 0xA900:
        return "data set does not match SOP class"
    if status & 0xF000 == 0xC000:
        return "cannot understand"
    return "failure"


def store_files(
    peer: DimsePeer, files: Iterable[Input] | Input, *, progress: ProgressCallback | None = None
) -> StoreResult:
    """Send DICOM files (paths, folders, ``**`` globs on this machine) to ``peer``; the outcome of each."""
    found, problems = expand_inputs(files)
    outcomes: list[InstanceOutcome] = [
        InstanceOutcome(path=p.given, status=Status.FAILED, reason=p.reason) for p in problems
    ]
    tracker = ProgressTracker(progress, len(found))
    ready: list[tuple[StoragePath, InstanceHeader]] = []
    for item in found:
        try:
            if is_remote(item.location):
                raise DicomWebStorageError(f"{item.location}: C-STORE sends files of this machine only")
            ready.append((item.location, read_instance_header(item.location)))
        except (NotAnInstanceError, DicomWebStorageError, OSError) as exc:
            outcomes.append(
                InstanceOutcome(path=str(item.location), status=Status.FAILED, reason=f"not sent: {exc}")
            )
            tracker.add(1, 0)
    pairs = sorted({(h.sop_class_uid, h.transfer_syntax_uid) for _, h in ready})
    for start in range(0, len(pairs), MAX_CONTEXTS):
        group = set(pairs[start : start + MAX_CONTEXTS])
        batch = [(path, h) for path, h in ready if (h.sop_class_uid, h.transfer_syntax_uid) in group]
        outcomes += _send_group(peer, sorted(group), batch, tracker)
    result = StoreResult(outcomes)
    log.info("C-STORE to %s: %s", peer.name, result)
    return result


def _send_group(
    peer: DimsePeer,
    pairs: list[tuple[str, str]],
    files: list[tuple[StoragePath, InstanceHeader]],
    tracker: ProgressTracker,
) -> list[InstanceOutcome]:
    """Send ``files`` on up to ``peer.max_associations`` associations at once, each taking the next file
    when its last one is answered. An association the peer refuses, or loses, takes no more files; the
    others send the rest. Outcomes come back in the order of ``files``."""
    contexts = [build_context(sop_class, [syntax]) for sop_class, syntax in pairs]
    waiting: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(files)):
        waiting.put(index)
    outcomes: dict[int, InstanceOutcome] = {}
    refusals: list[str] = []

    def send_on(assoc: Association) -> None:
        accepted = {
            (str(cx.abstract_syntax), str(ts)) for cx in assoc.accepted_contexts for ts in cx.transfer_syntax
        }
        while assoc.is_established:
            try:
                index = waiting.get_nowait()
            except queue.Empty:
                return
            path, header = files[index]
            outcomes[index] = _send_one(peer, assoc, accepted, path, header)
            tracker.add(1, header.size)

    count = min(peer.max_associations, len(files))
    threads: list[threading.Thread] = []

    def ask_another() -> None:
        if len(threads) + 1 < count and not waiting.empty():
            thread = threading.Thread(target=another, name=f"c-store-{len(threads) + 1}", daemon=True)
            threads.append(thread)
            thread.start()

    def another() -> None:
        try:
            with associated(peer, contexts) as assoc:
                ask_another()
                send_on(assoc)
        except DimseAssociationError as exc:
            refusals.append(str(exc))

    # the first association is this thread's; each other one is asked for once the one before it was
    # accepted, and none after a refusal: a peer counting what it holds may refuse a whole burst
    try:
        another()
    finally:
        while threads:
            threads.pop(0).join()
    if refusals and outcomes:
        log.info("%s refused an association beyond the first, and those it took sent its files: %s",
                 peer.name, refusals[0])  # fmt: skip
    why = refusals[0] if refusals and not outcomes else f"the association with {peer.name} was lost"
    for index, (path, header) in enumerate(files):
        if index not in outcomes:
            outcomes[index] = _outcome(path, header, Status.FAILED, f"not sent: {why}")
    return [outcomes[index] for index in range(len(files))]


def _send_one(
    peer: DimsePeer,
    assoc: Association,
    accepted: set[tuple[str, str]],
    path: StoragePath,
    header: InstanceHeader,
) -> InstanceOutcome:
    if not assoc.is_established:
        return _outcome(path, header, Status.FAILED, f"not sent: the association with {peer.name} was lost")
    if (header.sop_class_uid, header.transfer_syntax_uid) not in accepted:
        return _outcome(
            path,
            header,
            Status.FAILED,
            f"not sent: {peer.name} accepts no presentation context for SOP class {header.sop_class_uid} in "
            f"transfer syntax {header.transfer_syntax_uid} (the file is sent as it is, never re-encoded)",
        )
    status = assoc.send_c_store(local_name(path))
    code = getattr(status, "Status", None)
    if code is None:
        return _outcome(
            path,
            header,
            Status.FAILED,
            f"{peer.name} sent no answer (the association was aborted or timed out)",
        )
    if code == 0x0000:
        return _outcome(path, header, Status.STORED)
    if code in WARNINGS:
        return _outcome(path, header, Status.STORED, f"stored with warning 0x{code:04X}: {WARNINGS[code]}")
    comment = f": {status.ErrorComment}" if "ErrorComment" in status else ""
    return _outcome(
        path,
        header,
        Status.FAILED,
        f"refused by {peer.name}: status 0x{code:04X} ({status_meaning(code)}){comment}",
    )


def _outcome(path: StoragePath, header: InstanceHeader, status: Status, reason: str = "") -> InstanceOutcome:
    return InstanceOutcome(
        path=str(path),
        status=status,
        sop_instance_uid=header.sop_instance_uid,
        study_instance_uid=header.study_instance_uid,
        series_instance_uid=header.series_instance_uid,
        reason=reason,
        size=header.size,
    )
