"""Writing retrieved instances to an object store: ``dest/<StudyUID>/<SeriesUID>/<SOPInstanceUID>.dcm``.

Each part is streamed into its final object, which appears only when the part is complete (an upload
committed at the part's end; see :mod:`.storage`). The object's name needs the part's UIDs before its
bytes go anywhere: they are read from its first bytes (:mod:`.part10_uids`), checked as UIDs and against
what was asked for, and only then is the upload opened. A part whose first 64 KiB do not give them (an
unusual encoding) is written under a temporary name, read back with the full header reader, then moved.
Nothing is staged on local disk; memory holds a part's first bytes at most.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterable, Mapping

from airflow_dicomweb.core.errors import DicomWebResponseError
from airflow_dicomweb.core.instance_files import check_part_type, checked_uids, header_uids
from airflow_dicomweb.core.instance_header import NotAnInstanceError
from airflow_dicomweb.core.multipart_reader import MultipartEvent, PartEnd, PartStart
from airflow_dicomweb.core.part10_uids import HEAD_BYTES, PREAMBLE, read_uids
from airflow_dicomweb.core.storage import AtomicWriter, Location


def instance_location(dest: Location, uids: Mapping[str, str]) -> Location:
    """Where an instance goes (its UIDs already validated: digits and dots cannot leave ``dest``)."""
    return dest.join(uids["StudyInstanceUID"], uids["SeriesInstanceUID"], f"{uids['SOPInstanceUID']}.dcm")


class _Part:
    """One part on its way into an object."""

    def __init__(
        self, dest: Location, index: int, source: str, expected: Mapping[str, str], keep_existing: bool
    ) -> None:
        self.dest, self.index, self.source, self.expected = dest, index, source, expected
        self.keep_existing = keep_existing
        self.head = bytearray()
        self.writer: AtomicWriter | _KeptObject | None = None
        self.target: Location | None = None
        self.temp: Location | None = None

    def feed(self, data: memoryview) -> None:
        if self.writer is not None:
            self.writer.write(data)
            return
        self.head += data
        uids = read_uids(bytes(self.head)) if len(self.head) > PREAMBLE + 4 else None
        if uids is not None:
            self._open(checked_uids(uids, self.index, self.source, self.expected))
        elif len(self.head) >= HEAD_BYTES:
            self.temp = self.dest.join(f".dicomweb-{uuid.uuid4().hex}.partial")
            self.writer = self.temp.writer()
            self.writer.write(self.head)

    def _open(self, uids: dict[str, str]) -> None:
        self.target = instance_location(self.dest, uids)
        if self.keep_existing and self.target.exists():  # committed objects are whole: keep it
            self.writer = _KeptObject(self.target)
            return
        self.writer = self.target.writer()
        self.writer.write(self.head)

    def finish(self) -> Location:
        if self.writer is None:  # a part smaller than the first bytes read: parse it from memory
            uids = read_uids(bytes(self.head)) or _uids_in_memory(bytes(self.head))
            self._open(checked_uids(uids, self.index, self.source, self.expected))
        assert self.writer is not None
        written = self.writer.commit()
        if self.temp is None:
            return written
        try:
            uids = checked_uids(header_uids(self.temp), self.index, self.source, self.expected)
        except DicomWebResponseError:
            self.temp.remove()
            raise
        self.target = instance_location(self.dest, uids)
        self.temp.move_to(self.target)
        return self.target

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.discard()
        if self.temp is not None:
            self.temp.remove()


class _KeptObject:
    """Stands for the writer of a part whose object is already in place: its bytes are dropped."""

    def __init__(self, target: Location) -> None:
        self.target = target

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def commit(self) -> Location:
        return self.target

    def discard(self) -> None:
        pass


def _uids_in_memory(data: bytes) -> dict[str, str]:
    import pydicom

    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    except Exception as exc:  # pydicom raises many kinds on malformed data
        return {"error": str(NotAnInstanceError(f"not a DICOM Part 10 instance ({type(exc).__name__})"))}
    return {
        k: str(ds.get(k, "")).strip("\0 ")
        for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
    }


def write_instance_objects(
    events: Iterable[MultipartEvent],
    dest: Location,
    *,
    source: str,
    expected: Mapping[str, str],
    on_file: Callable[[Location, int], None] | None = None,
    keep_existing: bool = False,
) -> list[Location]:
    """Stream every part of a WADO-RS response into its own object; the objects written, in order (with
    ``keep_existing``, a part whose object already exists is dropped and the object kept)."""
    written: list[Location] = []
    part: _Part | None = None
    try:
        for event in events:
            if isinstance(event, PartStart):
                check_part_type(event, source)
                part = _Part(dest, event.index, source, expected, keep_existing)
            elif isinstance(event, PartEnd):
                assert part is not None
                written.append(part.finish())
                part = None
                if on_file is not None:
                    on_file(written[-1], event.size)
            else:
                assert part is not None
                part.feed(event)
    finally:
        if part is not None:
            part.discard()
    return written
