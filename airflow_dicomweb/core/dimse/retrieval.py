"""What C-GET and C-MOVE share (PS3.4 C.4.2, C.4.3): the identifier of what is retrieved, the handling of
each instance received (its UIDs checked against what was asked for, handed on, and only then answered
Success), and the result with the peer's sub-operation counts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from airflow_dicomweb.core.dicom.instance_header import (
    InstanceHeader,
    NotAnInstanceError,
    read_instance_header,
)
from airflow_dicomweb.core.dimse.association import no_answer
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.errors import DicomWebError, DimseError, DimseNotFoundError, DimseStatusError
from airflow_dicomweb.core.uids import validate_uid

log = logging.getLogger(__name__)

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
PENDING = (0xFF00, 0xFF01)
#: Final statuses after which what arrived is kept: success, some sub-operations failed, cancelled.
KEPT = (0x0000, 0xB000, 0xFE00)


@dataclass
class GetResult:
    """What a C-GET brought: the files written, and the sub-operation counts of the peer's last answer."""

    paths: list[Any] = field(default_factory=list)
    completed: int = 0
    failed: int = 0
    warning: int = 0
    #: Instances that could not be taken here, each with its reason, and the peer's own failed list.
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.failures)

    def count(self, status: Dataset, answer: Dataset | None) -> None:
        """The sub-operation counts of the peer's final answer, and the instances it could not send."""
        self.completed = int(status.get("NumberOfCompletedSuboperations", 0) or 0)
        self.failed = int(status.get("NumberOfFailedSuboperations", 0) or 0)
        self.warning = int(status.get("NumberOfWarningSuboperations", 0) or 0)
        failed_uids = answer.get("FailedSOPInstanceUIDList") if answer is not None else None
        if failed_uids:
            uids = failed_uids if isinstance(failed_uids, list) else str(failed_uids).split("\\")
            self.failures += [f"the peer could not send instance {uid}" for uid in uids]


def expected_uids(study: str, series: str | None, sop: str | None) -> tuple[dict[str, str], str]:
    """The UIDs a retrieve asks for, validated, and its Query/Retrieve Level."""
    expected = {"StudyInstanceUID": validate_uid(study, "study_instance_uid")}
    if series is not None:
        expected["SeriesInstanceUID"] = validate_uid(series, "series_instance_uid")
    if sop is not None:
        expected["SOPInstanceUID"] = validate_uid(sop, "sop_instance_uid")
    return expected, "IMAGE" if sop else "SERIES" if series else "STUDY"


def retrieve_identifier(expected: dict[str, str], level: str) -> Dataset:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = level
    for key, value in expected.items():
        setattr(identifier, key, value)
    return identifier


class SizeCap:
    """Counts what each association receives toward one instance (``EVT_DATA_RECV``): past ``max_bytes`` the
    association is aborted, so a peer sending without end fills no disk. Reset as each instance ends."""

    def __init__(self, max_bytes: int, what: str) -> None:
        self.max_bytes = max_bytes
        self.what = what
        self._received: dict[int, int] = {}
        self._lock = threading.Lock()

    def on_data(self, event: Any) -> None:
        key = id(event.assoc)
        with self._lock:
            total = self._received.get(key, 0) + len(event.data)
            self._received[key] = total
        if total > self.max_bytes:
            log.warning(
                "%s: %s sent more than %d bytes for one instance; association aborted",
                self.what, str(event.assoc.requestor.ae_title).strip(), self.max_bytes,
            )  # fmt: skip
            event.assoc.abort()

    def reset(self, assoc: Any) -> None:
        with self._lock:
            self._received.pop(id(assoc), None)


def instance_taker(
    peer: DimsePeer,
    expected: dict[str, str],
    take: Callable[[Path, InstanceHeader], Any],
    result: GetResult,
    what: str,
    cap: SizeCap | None = None,
) -> Callable[[Any], int]:
    """An ``EVT_C_STORE`` handler: each instance (a temporary file) checked against ``expected``, handed to
    ``take``, and answered Success once ``take`` returned; otherwise answered with a failure, and named."""
    lock = threading.Lock()

    def on_store(event: Any) -> int:
        if cap is not None:
            cap.reset(event.assoc)
        temp = Path(event.dataset_path)
        try:
            header = read_instance_header(temp)
            found = {
                "StudyInstanceUID": header.study_instance_uid,
                "SeriesInstanceUID": header.series_instance_uid,
                "SOPInstanceUID": header.sop_instance_uid,
            }
            for key, want in expected.items():
                if found[key] != want:
                    raise DimseError(f"it has {key} {found[key]}, but {want} was asked for")
            taken = take(temp, header)
        except (DicomWebError, NotAnInstanceError, OSError) as exc:
            with lock:
                result.failures.append(f"an instance from {peer.name} was not taken: {exc}")
            log.warning("%s from %s: an instance was not taken: %s", what, peer.name, exc)
            return OUT_OF_RESOURCES
        with lock:
            result.paths.append(taken)
        return SUCCESS

    return on_store


def read_answers(
    peer: DimsePeer,
    answers: Iterable[tuple[Dataset, Dataset | None]],
    result: GetResult,
    request: str,
    level: str,
    expected: dict[str, str],
    refusals: Mapping[int, str] | None = None,
) -> GetResult:
    """A C-GET's or C-MOVE's answers read to the end: the final one's counts into ``result``. An answer
    missing, a failure status with nothing taken (or one of ``refusals``, with its words), or nothing of what
    was asked for at all is raised, naming the peer; otherwise ``result``, logged."""
    final = None
    for status, answer in answers:
        code = getattr(status, "Status", None)
        if code is None:
            raise DimseError(no_answer(peer, request))
        final = status
        if code in PENDING:
            continue
        result.count(status, answer)
        if refusals and code in refusals:
            raise DimseStatusError(refusals[code], status=code)
        if code not in KEPT and not result.paths:
            raise DimseStatusError(
                f"{peer.name} answered {request} of {level.lower()} {expected} with status 0x{code:04X}"
                + (f" ({status.ErrorComment})" if "ErrorComment" in status else ""),
                status=code,
            )
    if final is None:
        raise DimseError(f"{peer.name} sent no final answer to {request}")
    if not result.paths and not result.completed and not result.failures and not result.failed:
        raise DimseNotFoundError(
            f"{peer.name} holds nothing of {level.lower()} {expected} ({request} brought no instance)"
        )
    log.info(
        "%s from %s: %d taken, %d completed, %d failed, %d warning",
        request, peer.name, len(result.paths), result.completed, result.failed, result.warning,
    )  # fmt: skip
    return result
