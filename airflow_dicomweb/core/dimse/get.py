"""C-GET (PS3.4 C.4.3) of a study, series or instance into a destination: ``{study}/{series}/{sop}.dcm``
under a folder or an object-store prefix, as a WADO-RS retrieve writes them.

The peer sends each instance back on the same association as a C-STORE sub-operation. pynetdicom writes
each to a temporary file as it arrives (``STORE_RECV_CHUNKED_DATASET``: memory does not grow with it); its
UIDs are checked against what was asked for, and it is copied into place through the atomic writer. Only
then is the sub-operation answered Success: an instance that could not be written is answered with a
failure, and named. The final answer's sub-operation counts are reported as the peer gave them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import _config, evt
from pynetdicom.presentation import build_context, build_role
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet  # type: ignore[attr-defined]

from airflow_dicomweb.core.dicom.instance_header import (
    InstanceHeader,
    NotAnInstanceError,
    read_instance_header,
)
from airflow_dicomweb.core.dimse.association import associated
from airflow_dicomweb.core.dimse.find import find
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.errors import (
    DicomWebError,
    DimseAssociationError,
    DimseError,
    DimseNotFoundError,
    DimseStatusError,
)
from airflow_dicomweb.core.progress import ProgressCallback, ProgressTracker
from airflow_dicomweb.core.storage.paths import AtomicWriter, Destination, StoragePath, as_path, open_read
from airflow_dicomweb.core.uids import validate_uid
from airflow_dicomweb.core.wado.destination import instance_location

log = logging.getLogger(__name__)

_config.STORE_RECV_CHUNKED_DATASET = True  # each received instance goes to a file as it arrives
#: The most storage SOP classes one C-GET association proposes (with the query model, within PS3.8's 128).
MAX_STORAGE_CLASSES = 127
#: Transfer syntaxes offered for every storage class, the common ones first: the instances come back as the
#: peer holds them.
TRANSFER_SYNTAXES = [
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.2",
]
OUT_OF_RESOURCES = 0xA700
PENDING = (0xFF00, 0xFF01)


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


def get(
    peer: DimsePeer,
    dest_dir: Destination,
    study_instance_uid: str,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    *,
    sop_classes: list[str] | None = None,
    progress: ProgressCallback | None = None,
) -> GetResult:
    """Every instance of a study (or series, or one instance) from ``peer``, written under ``dest_dir``.

    ``sop_classes`` are the storage SOP classes to accept; by default a C-FIND asks the peer which ones the
    study holds (a peer that answers no C-FIND gets the common storage classes proposed)."""
    dest = as_path(dest_dir)
    tracker = ProgressTracker(progress)

    def write(temp: Path, header: InstanceHeader) -> StoragePath:
        target = instance_location(
            dest, header.study_instance_uid, header.series_instance_uid, header.sop_instance_uid
        )
        with open_read(as_path(str(temp))) as source, AtomicWriter(target) as out:
            while block := source.read(1 << 20):
                out.write(block)
        tracker.add(1, header.size)
        return target

    return get_into(
        peer, write, study_instance_uid, series_instance_uid, sop_instance_uid, sop_classes=sop_classes
    )


def get_into(
    peer: DimsePeer,
    take: Callable[[Path, InstanceHeader], Any],
    study_instance_uid: str,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    *,
    sop_classes: list[str] | None = None,
) -> GetResult:
    """C-GET of a study, series or instance, each instance handed to ``take(temporary file, header)`` once
    its UIDs are checked against what was asked for, and answered Success once ``take`` returned (what it
    returns is kept in ``paths``); an instance ``take`` raised on is answered with a failure and named."""
    expected = {"StudyInstanceUID": validate_uid(study_instance_uid, "study_instance_uid")}
    if series_instance_uid is not None:
        expected["SeriesInstanceUID"] = validate_uid(series_instance_uid, "series_instance_uid")
    if sop_instance_uid is not None:
        expected["SOPInstanceUID"] = validate_uid(sop_instance_uid, "sop_instance_uid")
    level = "IMAGE" if sop_instance_uid else "SERIES" if series_instance_uid else "STUDY"
    classes = sop_classes or _storage_classes(peer, expected)
    result = GetResult()
    lock = threading.Lock()

    def on_store(event: Any) -> int:
        """One instance of the C-GET: taken, then Success; or a failure status, and named."""
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
            log.warning("C-GET from %s: an instance was not taken: %s", peer.name, exc)
            return OUT_OF_RESOURCES
        with lock:
            result.paths.append(taken)
        return 0x0000

    identifier = Dataset()
    identifier.QueryRetrieveLevel = level
    for key, value in expected.items():
        setattr(identifier, key, value)
    model = StudyRootQueryRetrieveInformationModelGet
    contexts = [build_context(model), *storage_contexts(classes)]
    roles = [build_role(c, scp_role=True) for c in classes[:MAX_STORAGE_CLASSES]]
    with associated(peer, contexts, roles=roles, handlers=[(evt.EVT_C_STORE, on_store)]) as assoc:
        final = None
        for status, answer in assoc.send_c_get(identifier, model):
            code = getattr(status, "Status", None)
            if code is None:
                raise DimseError(
                    f"{peer.name} sent no answer to C-GET (the association was aborted or timed out)"
                )
            final = status
            if code in PENDING:
                continue
            _counts(result, status, answer)
            if code not in (0x0000, 0xB000, 0xFE00) and not result.paths:
                raise DimseStatusError(
                    f"{peer.name} answered C-GET of {level.lower()} {expected} with status 0x{code:04X}"
                    + (f" ({status.ErrorComment})" if "ErrorComment" in status else ""),
                    status=code,
                )
        if final is None:
            raise DimseError(f"{peer.name} sent no final answer to C-GET")
    if not result.paths and not result.completed and not result.failures and not result.failed:
        raise DimseNotFoundError(
            f"{peer.name} holds nothing of {level.lower()} {expected} (C-GET brought no instance)"
        )
    log.info(
        "C-GET from %s: %d taken, %d completed, %d failed, %d warning",
        peer.name, len(result.paths), result.completed, result.failed, result.warning,
    )  # fmt: skip
    return result


def storage_contexts(classes: list[str]) -> list:
    """A context per storage class and transfer syntax, so that the peer finds the one each instance is
    stored in and sends it as it is (one context with many syntaxes would have it pick one, and re-encode
    the rest); fewer syntaxes per class where there are many classes, within PS3.8's 128 contexts."""
    per_class = max(1, MAX_STORAGE_CLASSES // max(1, len(classes)))
    syntaxes = TRANSFER_SYNTAXES[:per_class] if per_class < len(TRANSFER_SYNTAXES) else TRANSFER_SYNTAXES
    if len(syntaxes) == 1:  # many classes: one context each, with every syntax
        return [build_context(c, TRANSFER_SYNTAXES) for c in classes[:MAX_STORAGE_CLASSES]]
    return [build_context(c, [ts]) for c in classes for ts in syntaxes][:MAX_STORAGE_CLASSES]


def _counts(result: GetResult, status: Dataset, answer: Dataset | None) -> None:
    result.completed = int(status.get("NumberOfCompletedSuboperations", 0) or 0)
    result.failed = int(status.get("NumberOfFailedSuboperations", 0) or 0)
    result.warning = int(status.get("NumberOfWarningSuboperations", 0) or 0)
    failed_uids = answer.get("FailedSOPInstanceUIDList") if answer is not None else None
    if failed_uids:
        uids = failed_uids if isinstance(failed_uids, list) else str(failed_uids).split("\\")
        result.failures += [f"the peer could not send instance {uid}" for uid in uids]


def _storage_classes(peer: DimsePeer, expected: dict[str, str]) -> list[str]:
    """The storage SOP classes of what is asked for, by C-FIND; the common ones if the peer answers none.
    :class:`DimseNotFoundError` if its C-FIND finds nothing of it."""
    from pynetdicom import StoragePresentationContexts

    try:
        found = {
            str(item.get("00080016", {}).get("Value", [""])[0])
            for item in find(
                peer,
                "instances",
                study_instance_uid=expected["StudyInstanceUID"],
                series_instance_uid=expected.get("SeriesInstanceUID"),
                filters={"SOPInstanceUID": expected["SOPInstanceUID"]}
                if "SOPInstanceUID" in expected
                else None,
            )
        }
    except DimseAssociationError:
        raise
    except DimseError as exc:
        log.info("%s answered no C-FIND (%s): proposing the common storage classes", peer.name, exc)
        return [str(cx.abstract_syntax) for cx in StoragePresentationContexts]
    if not found:
        level = (
            "instance"
            if "SOPInstanceUID" in expected
            else "series"
            if "SeriesInstanceUID" in expected
            else "study"
        )
        raise DimseNotFoundError(f"{peer.name} holds nothing of {level} {expected} (its C-FIND finds none)")
    return sorted(found - {""}) or [str(cx.abstract_syntax) for cx in StoragePresentationContexts]
