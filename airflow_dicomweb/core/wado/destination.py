"""Where a retrieve writes its instances: one file per instance, ``{study}/{series}/{sop}.dcm`` under a
local folder or an object-store prefix. :class:`InstanceDestination` knows what is complete there (files
appear only once whole), writes a response's parts into it, and removes what a killed retrieve left.

A part's file is named after its UIDs, so they are needed before its bytes go anywhere: they are read from
the part's first bytes (:mod:`~airflow_dicomweb.core.dicom.part10_uids`), checked as DICOM UIDs and against
what was asked for, and only then is the file opened, through the atomic writer of
:mod:`~airflow_dicomweb.core.storage.paths` (a temporary file renamed into place on this machine, an upload
committed at the end on an object store). An interrupted retrieve leaves nothing under a final name, and a
hostile part (a UID of ``../../x``) is refused before it names anything. A part whose first 64 KiB do not
give the UIDs (an unusual encoding) is written under a temporary name, read back with the full header
reader, then moved. Memory holds a part's first bytes at most.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from airflow_dicomweb.core.dicom.instance_header import NotAnInstanceError, read_instance_header
from airflow_dicomweb.core.dicom.part10_uids import HEAD_BYTES, PREAMBLE, read_uids, uids_in_memory
from airflow_dicomweb.core.errors import DicomWebResponseError, InvalidUIDError
from airflow_dicomweb.core.multipart.reader import MultipartEvent, PartEnd, PartStart
from airflow_dicomweb.core.storage.paths import (
    TEMP_PREFIX,
    TEMP_SUFFIX,
    AtomicWriter,
    Destination,
    StoragePath,
    as_path,
    exists,
    files,
    is_remote,
    local_name,
    move,
    remove,
)
from airflow_dicomweb.core.uids import validate_uid

log = logging.getLogger(__name__)
ACCEPTED_PART_TYPES = ("application/dicom", "")
UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")


def instance_location(dest: StoragePath, study: str, series: str, sop: str) -> StoragePath:
    """Where an instance is written (its UIDs already validated: digits and dots cannot leave ``dest``)."""
    return dest.joinpath(study, series, f"{sop}.dcm")


class InstanceDestination:
    """The destination of a retrieve, at ``location``."""

    def __init__(self, location: StoragePath) -> None:
        self.location = location
        #: The folder on this machine, or "" on an object store.
        self.local_folder = "" if is_remote(location) else local_name(location)

    @classmethod
    def of(cls, dest_dir: Destination) -> InstanceDestination:
        return cls(as_path(dest_dir))

    def __str__(self) -> str:
        return str(self.location)

    def holds_any(self, *uids: str) -> bool:
        """Whether a complete instance file of the study (or of its series, given both UIDs) is here."""
        if self.local_folder:
            folder = Path(self.local_folder).joinpath(*uids)
            return folder.is_dir() and next(folder.rglob("*.dcm"), None) is not None
        return any(found.name.endswith(".dcm") for found, _ in files(self.location.joinpath(*uids)))

    def partition(
        self, study: str, instances: Iterable[tuple[str, str]]
    ) -> tuple[list[StoragePath], int, list[tuple[str, str]]]:
        """Of ``instances`` (series, SOP Instance UID) of ``study``: the files complete here, their bytes in
        all, and the instances missing. One stat per instance on this machine, one listing on an object
        store."""
        complete = self._complete_lookup(study)
        present: list[StoragePath] = []
        present_bytes = 0
        missing: list[tuple[str, str]] = []
        for series, sop in instances:
            found = complete(series, sop)
            if found is None:
                missing.append((series, sop))
            else:
                present.append(found[0])
                present_bytes += found[1]
        return present, present_bytes, missing

    def _complete_lookup(self, study: str) -> Callable[[str, str], tuple[StoragePath, int] | None]:
        if self.local_folder:

            def on_disk(series: str, sop: str) -> tuple[StoragePath, int] | None:
                found = instance_location(self.location, study, series, sop)
                try:
                    return found, os.stat(local_name(found)).st_size
                except FileNotFoundError:
                    return None

            return on_disk
        listed = {str(found): (found, size) for found, size in files(self.location.joinpath(study))}

        def in_store(series: str, sop: str) -> tuple[StoragePath, int] | None:
            return listed.get(str(instance_location(self.location, study, series, sop)))

        return in_store

    def write(
        self,
        events: Iterable[MultipartEvent],
        *,
        source: str,
        expected: Mapping[str, str] | None = None,
        on_file: Callable[[StoragePath, int], None] | None = None,
        keep_existing: bool = False,
    ) -> list[StoragePath]:
        """Write every part of a WADO-RS response to its own file here; the files written, in order.

        ``expected`` maps StudyInstanceUID/SeriesInstanceUID/SOPInstanceUID to the values asked for: a part
        that does not match is refused. ``source`` (the request, without credentials) names the response in
        errors. ``on_file(location, size)`` is called as each file is complete. With ``keep_existing``, a
        part whose file is already in place (complete: files appear only whole) is not written again; the
        file in place is kept and counted.
        """
        dest = self.location
        written: list[StoragePath] = []
        part: _Part | None = None
        try:
            for event in events:
                if isinstance(event, PartStart):
                    check_part_type(event, source)
                    part = _Part(dest, event.index, source, expected or {}, keep_existing)
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

    def remove_stale_partials(self) -> int:
        """Delete the temporary files that a killed retrieve left here (on this machine); how many.

        Temporary names carry the writer's process id: only files whose writer is no longer running are
        removed, so a retrieve running beside this one into the same folder keeps its own.
        """
        if not self.local_folder or not os.path.isdir(self.local_folder):
            return 0
        count = 0
        for path in Path(self.local_folder).rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
            pid = path.name[len(TEMP_PREFIX) :].split("-", 1)[0]
            if pid.isdigit() and _alive(int(pid)):
                continue
            path.unlink(missing_ok=True)
            count += 1
        return count


def check_part_type(event: PartStart, source: str) -> None:
    """A part of an instance retrieve must be application/dicom (or say nothing); else a clear error."""
    media_type = event.content_type.split(";", 1)[0].strip().lower()
    if media_type not in ACCEPTED_PART_TYPES:
        raise DicomWebResponseError(
            f"{source}: part {event.index} is {event.content_type!r}, not application/dicom"
        )


class _Part:
    """One part on its way into its file."""

    def __init__(
        self, dest: StoragePath, index: int, source: str, expected: Mapping[str, str], keep_existing: bool
    ) -> None:
        self.dest, self.index, self.source, self.expected = dest, index, source, expected
        self.keep_existing = keep_existing
        self.head = bytearray()
        self.writer: AtomicWriter | _Kept | None = None
        self.temp: StoragePath | None = None

    def feed(self, data: memoryview) -> None:
        if self.writer is not None:
            self.writer.write(data)
            return
        if self.head:  # the part began with fewer bytes than its UIDs need: join them
            self.head += data
            data = memoryview(self.head)
        start = bytes(data[:HEAD_BYTES])  # at most 64 KiB copied; the rest is written from the reader's view
        uids = read_uids(start) if len(start) > PREAMBLE + 4 else None
        if uids is not None:
            self._open(checked_uids(uids, self.index, self.source, self.expected))
        elif len(start) >= HEAD_BYTES:  # no UIDs in the first bytes: a temporary name, read back at the end
            self.temp = self.dest.joinpath(f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}{TEMP_SUFFIX}")
            self.writer = AtomicWriter(self.temp)
        elif not self.head:
            self.head = bytearray(data)  # held until more comes: the reader may reuse its buffer
            return
        else:
            return
        assert self.writer is not None
        self.writer.write(data)
        self.head = bytearray()

    def _open(self, uids: Mapping[str, str]) -> AtomicWriter | _Kept:
        target = _target(self.dest, uids)
        self.writer = _Kept(target) if self.keep_existing and exists(target) else AtomicWriter(target)
        return self.writer

    def finish(self) -> StoragePath:
        writer = self.writer
        if writer is None:  # a part smaller than the first bytes read: parse it from memory
            uids = read_uids(bytes(self.head)) or uids_in_memory(bytes(self.head))
            writer = self._open(checked_uids(uids, self.index, self.source, self.expected))
            writer.write(self.head)
        written = writer.commit()
        if self.temp is None:
            log.debug("wrote %s", written)
            return written
        try:
            found = checked_uids(header_uids(self.temp), self.index, self.source, self.expected)
        except DicomWebResponseError:
            remove(self.temp)
            raise
        target = _target(self.dest, found)
        move(self.temp, target)
        return target

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.discard()
        if self.temp is not None:
            remove(self.temp)


class _Kept:
    """Stands for the writer of a part whose file is already in place: its bytes are dropped."""

    def __init__(self, target: StoragePath) -> None:
        self.target = target

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def commit(self) -> StoragePath:
        return self.target

    def discard(self) -> None:
        pass


def _target(dest: StoragePath, uids: Mapping[str, str]) -> StoragePath:
    return instance_location(
        dest, uids["StudyInstanceUID"], uids["SeriesInstanceUID"], uids["SOPInstanceUID"]
    )


def header_uids(location: StoragePath) -> dict[str, str]:
    """The three UIDs of a written instance, read with the full header reader (the slow path)."""
    try:
        header = read_instance_header(location)
    except NotAnInstanceError as exc:
        return {"error": str(exc)}
    return {
        "StudyInstanceUID": header.study_instance_uid,
        "SeriesInstanceUID": header.series_instance_uid,
        "SOPInstanceUID": header.sop_instance_uid,
    }


def checked_uids(
    found: Mapping[str, str], index: int, source: str, expected: Mapping[str, str]
) -> Mapping[str, str]:
    """A part's UIDs once each is a valid UID and the ones asked for match; else the error naming the part."""
    if "error" in found:
        raise DicomWebResponseError(
            f"{source}: part {index} is not a usable DICOM instance: {found['error']}"
        )
    try:
        for keyword in UID_KEYWORDS:
            validate_uid(found.get(keyword), keyword)
    except InvalidUIDError as exc:
        raise DicomWebResponseError(f"{source}: part {index} is not a usable DICOM instance: {exc}") from None
    for keyword, want in expected.items():
        if found[keyword] != want:
            raise DicomWebResponseError(
                f"{source}: part {index} has {keyword} {found[keyword]}, but {want} was asked for"
            )
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
