"""Writing retrieved instances to disk: ``dest/<StudyUID>/<SeriesUID>/<SOPInstanceUID>.dcm``.

Each part is written to a temporary file in the destination, its UIDs are read from the written bytes and
validated as DICOM UIDs, and only then is it renamed into place. An interrupted retrieve leaves no partial
file under a final name, and a hostile part (a UID of ``../../x``) is refused before it names anything.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from airflow_dicomweb.core.errors import DicomWebResponseError, InvalidUIDError
from airflow_dicomweb.core.instance_header import NotAnInstanceError, read_instance_header
from airflow_dicomweb.core.multipart_reader import MultipartEvent, PartEnd, PartStart
from airflow_dicomweb.core.part10_uids import HEAD_BYTES, read_uids
from airflow_dicomweb.core.storage import Location
from airflow_dicomweb.core.uids import validate_uid

log = logging.getLogger(__name__)
TEMP_PREFIX = ".dicomweb-"
TEMP_SUFFIX = ".partial"
ACCEPTED_PART_TYPES = ("application/dicom", "")


def check_part_type(event: PartStart, source: str) -> None:
    """A part of an instance retrieve must be application/dicom (or say nothing); else a clear error."""
    media_type = event.content_type.split(";", 1)[0].strip().lower()
    if media_type not in ACCEPTED_PART_TYPES:
        raise DicomWebResponseError(
            f"{source}: part {event.index} is {event.content_type!r}, not application/dicom"
        )


UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")


def instance_path(dest_dir: Path, study: str, series: str, sop: str) -> Path:
    """Where an instance is written (UIDs must already be validated)."""
    return dest_dir / study / series / f"{sop}.dcm"


def write_instances(
    events: Iterable[MultipartEvent],
    dest_dir: str | os.PathLike[str] | Location,
    *,
    source: str,
    expected: Mapping[str, str] | None = None,
    on_file: Callable[[Any, int], None] | None = None,
    keep_existing: bool = False,
) -> list[Any]:
    """Write every part of a WADO-RS response to its own file; the paths written, in order.

    ``expected`` maps StudyInstanceUID/SeriesInstanceUID/SOPInstanceUID to the values asked for: a part
    that does not match is refused. ``source`` (the request, without credentials) names the response in
    errors. ``on_file(path, size)`` is called as each file is renamed into place. With ``keep_existing``, a
    part whose file is already in place (complete: files are only renamed into place whole) is not written
    again; the file in place is kept and counted. On this machine the paths are :class:`~pathlib.Path`; on an
    object store, :class:`~airflow_dicomweb.core.storage.Location` (written by
    :func:`~airflow_dicomweb.core.instance_objects.write_instance_objects`).
    """
    if isinstance(dest_dir, Location) and not dest_dir.is_local:
        from airflow_dicomweb.core.instance_objects import write_instance_objects

        return write_instance_objects(
            events,
            dest_dir,
            source=source,
            expected=expected or {},
            on_file=on_file,
            keep_existing=keep_existing,
        )
    root = Path(dest_dir.path if isinstance(dest_dir, Location) else dest_dir)
    root.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    made_dirs: set[Path] = set()
    handle = None
    temp: Path | None = None
    head = bytearray()
    try:
        for event in events:
            if isinstance(event, PartStart):
                check_part_type(event, source)
                temp = root / f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}{TEMP_SUFFIX}"
                handle = open(temp, "wb", buffering=0)  # noqa: SIM115 - closed at PartEnd or below
                head.clear()
            elif isinstance(event, PartEnd):
                assert handle is not None and temp is not None
                handle.close()
                handle = None
                written.append(
                    _finalize(
                        temp, bytes(head), root, event.index, source, expected or {}, made_dirs, keep_existing
                    )
                )
                temp = None
                if on_file is not None:
                    on_file(written[-1], event.size)
            else:
                assert handle is not None
                if len(head) < HEAD_BYTES:
                    head += event[: HEAD_BYTES - len(head)]
                handle.write(event)
    finally:
        if handle is not None:
            handle.close()
        if temp is not None:
            temp.unlink(missing_ok=True)
    return written


def _finalize(
    temp: Path,
    head: bytes,
    root: Path,
    index: int,
    source: str,
    expected: Mapping[str, str],
    made_dirs: set[Path],
    keep_existing: bool = False,
) -> Path:
    """Validate the part's UIDs (from its first bytes, or from the file) and rename it into place (or, with
    ``keep_existing``, drop it where its file is already in place)."""
    try:
        found = checked_uids(read_uids(head) or header_uids(Location(str(temp))), index, source, expected)
    except DicomWebResponseError:
        temp.unlink(missing_ok=True)
        raise
    # Validated UIDs are digits and dots only: the path cannot leave ``root``.
    target = instance_path(
        root, found["StudyInstanceUID"], found["SeriesInstanceUID"], found["SOPInstanceUID"]
    )
    if keep_existing and target.is_file():
        temp.unlink(missing_ok=True)
        return target
    if target.parent not in made_dirs:
        target.parent.mkdir(parents=True, exist_ok=True)
        made_dirs.add(target.parent)
    os.replace(temp, target)
    log.debug("wrote %s", target)
    return target


def header_uids(location: Location) -> dict[str, str]:
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
    found: dict[str, str], index: int, source: str, expected: Mapping[str, str]
) -> dict[str, str]:
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


def remove_stale_partials(dest_dir: str | os.PathLike) -> int:
    """Delete the temporary files that a killed retrieve left in ``dest_dir``; how many were removed.

    Temporary names carry the writer's process id: only files whose writer is no longer running are
    removed, so a retrieve running beside this one into the same folder keeps its own.
    """
    count = 0
    for path in Path(dest_dir).glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        pid = path.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            continue
        path.unlink(missing_ok=True)
        count += 1
    return count


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
