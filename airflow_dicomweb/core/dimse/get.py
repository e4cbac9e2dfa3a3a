"""C-GET (PS3.4 C.4.3) of a study, series or instance into a destination: ``{study}/{series}/{sop}.dcm``
under a folder or an object-store prefix, as a WADO-RS retrieve writes them.

The peer sends each instance back on the same association as a C-STORE sub-operation. pynetdicom writes
each to a temporary file as it arrives (``STORE_RECV_CHUNKED_DATASET``: memory does not grow with it); its
UIDs are checked against what was asked for, and it is copied into place through the atomic writer. Only
then is the sub-operation answered Success: an instance that could not be written is answered with a
failure, and named. The final answer's sub-operation counts are reported as the peer gave them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pynetdicom import _config, evt
from pynetdicom.presentation import build_context, build_role
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet  # type: ignore[attr-defined]

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.dicom.instance_header import (
    InstanceHeader,
)
from airflow_dicomweb.core.dimse.association import associated
from airflow_dicomweb.core.dimse.find import find
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.dimse.retrieval import (
    GetResult,
    SizeCap,
    expected_uids,
    instance_taker,
    read_answers,
    retrieve_identifier,
)
from airflow_dicomweb.core.errors import (
    DimseAssociationError,
    DimseError,
    DimseNotFoundError,
)
from airflow_dicomweb.core.progress import ProgressCallback, ProgressTracker
from airflow_dicomweb.core.storage.paths import AtomicWriter, Destination, StoragePath, as_path, open_read
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
    return get_into(
        peer,
        write_into(dest_dir, progress),
        study_instance_uid,
        series_instance_uid,
        sop_instance_uid,
        sop_classes=sop_classes,
    )


def write_into(
    dest_dir: Destination, progress: ProgressCallback | None = None
) -> Callable[[Path, InstanceHeader], StoragePath]:
    """What takes each instance a C-GET or C-MOVE brings: a copy of its temporary file into place under
    ``dest_dir`` (``{study}/{series}/{sop}.dcm``), through the atomic writer."""
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

    return write


def get_into(
    peer: DimsePeer,
    take: Callable[[Path, InstanceHeader], Any],
    study_instance_uid: str,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    *,
    sop_classes: list[str] | None = None,
    max_instance_bytes: int = defaults.DIMSE_MAX_INSTANCE_MIB * 1024 * 1024,
) -> GetResult:
    """C-GET of a study, series or instance, each instance handed to ``take(temporary file, header)`` once
    its UIDs are checked against what was asked for, and answered Success once ``take`` returned (what it
    returns is kept in ``paths``); an instance ``take`` raised on is answered with a failure and named."""
    expected, level = expected_uids(study_instance_uid, series_instance_uid, sop_instance_uid)
    classes = sop_classes or _storage_classes(peer, expected)
    result = GetResult()
    cap = SizeCap(max_instance_bytes, f"C-GET from {peer.name}")
    on_store = instance_taker(peer, expected, take, result, "C-GET", cap)

    identifier = retrieve_identifier(expected, level)
    model = StudyRootQueryRetrieveInformationModelGet
    contexts = [build_context(model), *storage_contexts(classes)]
    roles = [build_role(c, scp_role=True) for c in classes[:MAX_STORAGE_CLASSES]]
    handlers = [(evt.EVT_C_STORE, on_store), (evt.EVT_DATA_RECV, cap.on_data)]
    with associated(peer, contexts, roles=roles, handlers=handlers) as assoc:
        return read_answers(peer, assoc.send_c_get(identifier, model), result, "C-GET", level, expected)


def storage_contexts(classes: list[str]) -> list:
    """A context per storage class and transfer syntax, so that the peer finds the one each instance is
    stored in and sends it as it is (one context with many syntaxes would have it pick one, and re-encode
    the rest); fewer syntaxes per class where there are many classes, within PS3.8's 128 contexts."""
    per_class = max(1, MAX_STORAGE_CLASSES // max(1, len(classes)))
    syntaxes = TRANSFER_SYNTAXES[:per_class] if per_class < len(TRANSFER_SYNTAXES) else TRANSFER_SYNTAXES
    if len(syntaxes) == 1:  # many classes: one context each, with every syntax
        return [build_context(c, TRANSFER_SYNTAXES) for c in classes[:MAX_STORAGE_CLASSES]]
    return [build_context(c, [ts]) for c in classes for ts in syntaxes][:MAX_STORAGE_CLASSES]


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
