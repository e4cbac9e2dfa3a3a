"""STOW-RS: store instances (PS3.18 section 10.5), streamed from disk, in parallel batches.

Each file is checked before it is sent (a Part 10 instance with valid UIDs, of the target study if one is
given); a file that fails the check is reported and the rest go on. Files are sent in batches of several
instances per request over pooled keep-alive connections, by a few threads at once. Every file ends with
one outcome: stored, already present, or failed with the HTTP status, FailureReason and server message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.deid.deidentifier import (
    DeidentificationError,
    Deidentifier,
    Quarantined,
)
from airflow_dicomweb.core.dicom.instance_header import (
    InstanceHeader,
    NotAnInstanceError,
    read_instance_header,
)
from airflow_dicomweb.core.errors import DicomWebConnectionError, DicomWebStorageError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.media_types import DICOM
from airflow_dicomweb.core.multipart.writer import BodyPart, MultipartBody
from airflow_dicomweb.core.progress import ProgressCallback, ProgressTracker
from airflow_dicomweb.core.qido.search import Search
from airflow_dicomweb.core.servers.profile import ServerProfile
from airflow_dicomweb.core.storage.paths import StoragePath, as_path, is_remote, read_bytes, size
from airflow_dicomweb.core.stow.inputs import Input, InputProblem, expand_inputs
from airflow_dicomweb.core.stow.pre_check import PreCheck
from airflow_dicomweb.core.stow.request import (
    StowItem,
    failed_outcome,
    instance_outcome,
    log_failure,
    send_stow,
    stow_headers,
    stow_url,
)
from airflow_dicomweb.core.stow.result import InstanceOutcome, Status, StoreResult
from airflow_dicomweb.core.uids import validate_uid

log = logging.getLogger(__name__)

#: Files read at once (the store's threads share them) before the pre-check.
INSPECT_WINDOW = 1024


def input_problem_outcomes(problems: list[InputProblem]) -> list[InstanceOutcome]:
    """Failed outcomes, with their reasons, of the inputs that named no file."""
    for p in problems:
        log.warning("store input %s: %s", p.given, p.reason)
    return [InstanceOutcome(path=p.given, status=Status.FAILED, reason=p.reason) for p in problems]


def _batches(items: list[StowItem], max_files: int, max_bytes: int) -> Iterator[list[StowItem]]:
    batch: list[StowItem] = []
    size = 0
    for item in items:
        if batch and (len(batch) >= max_files or size + item.size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item.size
    if batch:
        yield batch


class Store:
    """The store transaction (STOW-RS) of one service: over its ``transport``, asking ``search`` which
    instances the server holds already, in requests no larger than its server ``profile`` takes."""

    def __init__(self, transport: Transport, search: Search, profile: ServerProfile) -> None:
        self.transport = transport
        self.search = search
        self.profile = profile

    def store_instances(
        self,
        files: Iterable[Input] | Input,
        study_instance_uid: str | None = None,
        *,
        skip_existing: bool = defaults.STORE_SKIP_EXISTING,
        concurrency: int = defaults.STORE_CONCURRENCY,
        batch_files: int = defaults.STORE_BATCH_FILES,
        batch_bytes: int = defaults.STORE_BATCH_BYTES,
        storage_class: str | None = None,
        extra_headers: dict[str, str] | None = None,
        progress: ProgressCallback | None = None,
        deidentifier: Deidentifier | None = None,
    ) -> StoreResult:
        """Store DICOM files (paths, directories, ``**`` globs) and report the outcome of each.

        ``study_instance_uid`` posts to ``/studies/{uid}``: every file must belong to that study.
        ``skip_existing`` (the default) first asks the server (see :mod:`.pre_check`: by lists of SOP
        Instance UIDs where the server profile says it matches them, else one search per series;
        ``concurrency`` at once) which of the files' instances it already holds, and reports those as
        already present without sending them:
        servers differ on duplicates (Orthanc answers 200 as if it stored them, Google 409), and a re-run
        must never report a file as newly stored when it was already there.
        ``storage_class`` (Google: STANDARD, NEARLINE, COLDLINE, ARCHIVE) is sent as ``Storage-Class``.
        ``deidentifier`` de-identifies each file in memory as it is sent (no identified copy is written
        anywhere): the pre-check asks for the instances' new UIDs, so a re-run with the same key sends
        nothing new; an instance the de-identifier holds back is reported quarantined, with its reason.
        The call raises only for bad arguments; everything that goes wrong with a file or a request is
        reported in the returned :class:`StoreResult` (see :meth:`StoreResult.failed`).
        """
        if study_instance_uid is not None:
            validate_uid(study_instance_uid, "study_instance_uid")
        headers = stow_headers(storage_class, extra_headers)
        if concurrency < 1 or batch_files < 1 or batch_bytes < 1:
            raise ValueError("concurrency, batch_files and batch_bytes must be at least 1")
        if self.profile.stow_max_bytes is not None:
            batch_bytes = min(batch_bytes, self.profile.stow_max_bytes)
        if self.profile.stow_concurrency is not None:
            concurrency = min(concurrency, self.profile.stow_concurrency)
        paths, problems = expand_inputs(files)
        outcomes: list[InstanceOutcome | None] = [None] * len(paths)
        result_head = input_problem_outcomes(problems)

        items: list[StowItem] = []
        for index, found in enumerate(paths):
            try:
                length = found.size if found.size is not None else size(found.location)
                items.append(StowItem(index, found.location, length))
            except OSError as exc:
                outcomes[index] = log_failure(
                    log,
                    failed_outcome(
                        StowItem(index, found.location, 0), None, f"cannot read file: {exc.strerror or exc}"
                    ),
                )
        target = study_instance_uid
        if target is not None and deidentifier is not None:
            target = deidentifier.new_uid(target)
        url = stow_url(self.transport, target)
        state = _StoreState(
            ProgressTracker(progress, len(paths), sum(i.size for i in items)),
            study_instance_uid,
            deidentifier,
        )

        cap = self.profile.stow_max_bytes
        for item in [i for i in items if cap is not None and i.size > cap]:
            outcomes[item.index] = log_failure(
                log,
                failed_outcome(
                    item,
                    None,
                    f"not sent: {item.size:,} bytes, more than one request to this server may hold "
                    f"({cap:,} bytes, server profile {self.profile.name})",
                ),
            )
            state.tracker.add(1, item.size)
        items = [i for i in items if cap is None or i.size <= cap]

        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="stow") as pool:
            if skip_existing:
                items = self._skip_existing(items, state, outcomes, pool)

            def run(batch: list[StowItem]) -> None:
                for index, outcome in self._store_batch(batch, url, headers, state):
                    outcomes[index] = log_failure(log, outcome)
                state.tracker.add(len(batch), sum(i.size for i in batch))

            pending: set[Future] = set()
            for batch in _batches(items, batch_files, batch_bytes):
                if not skip_existing and _on_this_machine(batch):
                    batch = self._inspect(batch, state, outcomes, pool)  # read here, as the pre-check does
                    if not batch:
                        continue
                if len(pending) >= 2 * concurrency:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for f in done:
                        f.result()
                pending.add(pool.submit(run, batch))
            for f in pending:
                f.result()
        result = StoreResult(result_head + [o for o in outcomes if o is not None])
        log.info("store to %s: %s", self.transport.redact(url), result)
        return result

    def _skip_existing(
        self,
        items: list[StowItem],
        state: _StoreState,
        outcomes: list[InstanceOutcome | None],
        pool: ThreadPoolExecutor,
    ) -> list[StowItem]:
        """Inspect every file, then drop (as already present) those whose instance the server holds."""
        remaining = self._inspect(items, state, outcomes, pool)
        held = PreCheck(self.search, pool).held([item.header for item in remaining if item.header])
        to_send = []
        for item in remaining:
            header = item.header
            assert header is not None
            if header.sop_instance_uid in held:
                outcomes[item.index] = instance_outcome(
                    item,
                    header,
                    Status.ALREADY_PRESENT,
                    reason="already on the server (found by search before sending)",
                )
                state.tracker.add(1, item.size, skipped=True)
            else:
                to_send.append(item)
        return to_send

    @staticmethod
    def _inspect(
        items: list[StowItem],
        state: _StoreState,
        outcomes: list[InstanceOutcome | None],
        pool: ThreadPoolExecutor,
    ) -> list[StowItem]:
        """The items that may be sent, each with its header; the others get their outcome.

        Headers of files on this machine are read in the calling thread: reading one is Python work that
        holds the GIL, so threads would only contend for it (a third more CPU, and slower), while the pool's
        threads send with the GIL released. Objects on a store wait on the network: the pool reads them.
        A window at a time: a future per file, all at once, would cost about 1 KB a file.
        """
        inspected: list[StowItem] = []
        for start in range(0, len(items), INSPECT_WINDOW):
            window = items[start : start + INSPECT_WINDOW]
            read = map if _on_this_machine(window) else pool.map
            for item, (header, outcome) in zip(window, read(state.inspect, window), strict=True):
                if outcome is not None:
                    outcomes[item.index] = log_failure(log, outcome)
                    state.tracker.add(1, item.size)
                elif header is not None:
                    inspected.append(replace(item, header=header))
        return inspected

    def _store_batch(
        self, batch: list[StowItem], url: str, headers: dict[str, str], state: _StoreState
    ) -> list[tuple[int, InstanceOutcome]]:
        results: list[tuple[int, InstanceOutcome]] = []
        to_send: list[tuple[StowItem, InstanceHeader]] = []
        for item in batch:
            header, outcome = (item.header, None) if item.header else state.inspect(item)
            if outcome is not None:
                results.append((item.index, outcome))
            elif header is not None:
                to_send.append((item, header))
        if not to_send:
            return results
        if state.unreachable:  # another batch found the server gone, after every retry: not tried again
            return results + [
                (item.index, failed_outcome(item, header, f"not sent: {state.unreachable}"))
                for item, header in to_send
            ]
        if state.deidentifier is not None:
            parts, to_send = self._deidentified(to_send, state.deidentifier, results)
            if not to_send:
                return results
        else:
            parts = [
                BodyPart(content_type=DICOM, source=as_path(item.path), size=item.size) for item, _ in to_send
            ]
        body = MultipartBody(parts, part_type=DICOM)
        try:
            return results + send_stow(
                self.transport,
                self.profile,
                url,
                headers,
                body,
                to_send,
                raise_unreachable=True,
                confirm=self.search,
            )
        except DicomWebConnectionError as exc:
            state.unreachable = f"the server could not be reached ({exc})"
            return results + [
                (item.index, failed_outcome(item, header, f"request failed: {exc}"))
                for item, header in to_send
            ]

    @staticmethod
    def _deidentified(
        to_send: list[tuple[StowItem, InstanceHeader]],
        deidentifier: Deidentifier,
        results: list[tuple[int, InstanceOutcome]],
    ) -> tuple[list[BodyPart], list[tuple[StowItem, InstanceHeader]]]:
        """The batch's files de-identified in memory: their parts and (item, new header); an instance held
        back or unreadable gets its outcome in ``results``."""
        parts: list[BodyPart] = []
        sent: list[tuple[StowItem, InstanceHeader]] = []
        for item, header in to_send:
            try:
                made = deidentifier.deidentify_bytes(
                    read_bytes(as_path(item.path), defaults.DEID_MAX_INSTANCE_MIB * 1024 * 1024),
                    source=str(item.path),
                )
            except (DeidentificationError, DicomWebStorageError) as exc:
                results.append((item.index, failed_outcome(item, header, f"not de-identified: {exc}")))
                continue
            if isinstance(made, Quarantined):
                results.append(
                    (item.index, instance_outcome(item, header, Status.QUARANTINED, reason=made.reason))
                )
                continue
            new = made.header()
            parts.append(BodyPart(content_type=DICOM, chunks=made.chunks, size=made.size))
            sent.append((item, new))
        return parts, sent


def _on_this_machine(items: list[StowItem]) -> bool:
    """Whether every item is a file of this machine (none an object on a store)."""
    return not any(is_remote(as_path(item.path)) for item in items)


class _StoreState:
    """Shared by a store's worker threads: the target study, SOP Instance UIDs claimed, and progress."""

    def __init__(
        self, tracker: ProgressTracker, study_instance_uid: str | None, deidentifier: Deidentifier | None
    ) -> None:
        self._lock = threading.Lock()
        #: when set, files are de-identified as they are sent; headers carry their new UIDs
        self.deidentifier = deidentifier
        self._claimed: dict[str, StoragePath] = {}
        self.tracker = tracker
        self.study_instance_uid = study_instance_uid
        #: why the server is taken for gone: a request failed to reach it after every retry, so the
        #: batches after it are not sent (the store ends within one retry budget, not one per batch)
        self.unreachable = ""

    def claim(self, sop_instance_uid: str, path: StoragePath) -> StoragePath | None:
        """None if this is the first file with this SOP Instance UID, else the path that came first."""
        with self._lock:
            first = self._claimed.get(sop_instance_uid)
            if first is None:
                self._claimed[sop_instance_uid] = path
            return first

    def inspect(self, item: StowItem) -> tuple[InstanceHeader | None, InstanceOutcome | None]:
        """The file's header if it may be sent, else the outcome that ends it here."""
        try:
            header = read_instance_header(item.path)
        except NotAnInstanceError as exc:
            return None, failed_outcome(item, None, f"not stored: {exc}")
        except DicomWebStorageError as exc:
            return None, failed_outcome(item, None, f"cannot read: {exc}")
        except OSError as exc:
            return None, failed_outcome(item, None, f"cannot read file: {exc.strerror or exc}")
        target = self.study_instance_uid
        if target and header.study_instance_uid != target:
            return header, failed_outcome(
                item,
                header,
                f"belongs to study {header.study_instance_uid}, not to the target study {target}",
            )
        first = self.claim(header.sop_instance_uid, as_path(item.path))
        if self.deidentifier is not None:
            header = deidentified_header(header, self.deidentifier)
        if first is not None:
            return header, instance_outcome(
                item, header, Status.ALREADY_PRESENT, reason=f"same SOP Instance UID as {first}, sent once"
            )
        return header, None


def deidentified_header(header: InstanceHeader, deidentifier: Deidentifier) -> InstanceHeader:
    """The header an instance will have once de-identified: its UIDs as the key replaces them (what the
    pre-check asks the server for), before the file is read whole."""
    return replace(
        header,
        study_instance_uid=deidentifier.new_uid(header.study_instance_uid),
        series_instance_uid=deidentifier.new_uid(header.series_instance_uid),
        sop_instance_uid=deidentifier.new_uid(header.sop_instance_uid),
    )
