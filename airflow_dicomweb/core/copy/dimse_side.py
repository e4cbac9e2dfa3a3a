"""A DIMSE peer as a side of a copy: C-FIND selects and lists, C-GET (or C-MOVE, where the peer names a
``move_port``) streams each instance into the sink as it arrives, C-STORE stores. A peer that answers no C-FIND (dcmtk's storescp) cannot be listed: every
instance is sent to it, and the report says nothing could be verified."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from airflow_dicomweb.core.copy.c_store_batches import CStoreBatches
from airflow_dicomweb.core.copy.sink import CopySink
from airflow_dicomweb.core.dicom.instance_header import InstanceHeader
from airflow_dicomweb.core.dicom.json_model import (
    SERIES_INSTANCE_UID,
    SOP_INSTANCE_UID,
    STUDY_INSTANCE_UID,
    first_value,
)
from airflow_dicomweb.core.dimse.find import find
from airflow_dicomweb.core.dimse.move import retrieve_into
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.errors import DimseAssociationError, DimseError
from airflow_dicomweb.core.media_types import DICOM
from airflow_dicomweb.core.multipart.reader import MultipartEvent, PartEnd, PartStart
from airflow_dicomweb.core.qido.query import FilterValue
from airflow_dicomweb.core.uids import validate_uid

CHUNK = 1 << 20


class DimseSide:
    def __init__(self, peer: DimsePeer) -> None:
        self.peer = peer
        self.name = f"dimse://{peer.name}"
        self.key = f"dimse://{peer.called_aet}@{peer.host.lower()}:{peer.port}"
        #: One association at a time: many DIMSE peers (dcmtk's storescp) serve one association at once.
        self.concurrency: int | None = 1
        self.batch_bytes: int | None = None

    def select(
        self, study_instance_uids: Iterable[str] | None, filters: Mapping[str, FilterValue] | None
    ) -> list[str]:
        if (study_instance_uids is None) == (filters is None):
            raise ValueError("name the studies to copy: study UIDs or search filters (one of the two)")
        if study_instance_uids is not None:
            given = [study_instance_uids] if isinstance(study_instance_uids, str) else study_instance_uids
            return list(dict.fromkeys(validate_uid(uid.strip(), "StudyInstanceUID") for uid in given))
        return list(
            dict.fromkeys(
                validate_uid(first_value(item, STUDY_INSTANCE_UID), "StudyInstanceUID in a C-FIND answer")
                for item in find(self.peer, "studies", filters=filters)
            )
        )

    def listing(self, study: str) -> dict[str, list[str]] | None:
        try:
            by_series: dict[str, list[str]] = {}
            for item in find(self.peer, "instances", study_instance_uid=study):
                series = validate_uid(
                    first_value(item, SERIES_INSTANCE_UID), "SeriesInstanceUID in a C-FIND answer"
                )
                sop = validate_uid(first_value(item, SOP_INSTANCE_UID), "SOPInstanceUID in a C-FIND answer")
                by_series.setdefault(series, []).append(sop)
            return by_series
        except DimseAssociationError:
            raise
        except DimseError:
            return None  # a peer that answers no C-FIND

    def stream_into(
        self, sink: CopySink, study: str, series: str | None, instances: list[tuple[str, str]] | None
    ) -> None:
        source = f"C-GET from {self.peer.name}"

        def take(temp: Path, header: InstanceHeader) -> str:
            sink.write(_events(temp), source=source)
            return header.sop_instance_uid

        if instances is None:
            retrieve_into(self.peer, take, study, series)
            return
        for series_uid, sop in instances:
            retrieve_into(self.peer, take, study, series_uid, sop)

    def batches(self, study: str) -> CStoreBatches:
        return CStoreBatches(self.peer)


def _events(temp: Path) -> Iterable[MultipartEvent]:
    """One received instance as the events of a one-part response."""
    yield PartStart(0, {"content-type": DICOM})
    size = 0
    with open(temp, "rb") as source:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            yield memoryview(chunk)
    yield PartEnd(0, size)
