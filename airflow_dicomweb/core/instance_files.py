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

from airflow_dicomweb.core.errors import DicomWebResponseError
from airflow_dicomweb.core.instance_header import NotAnInstanceError, read_instance_header
from airflow_dicomweb.core.multipart_reader import MultipartEvent, PartEnd, PartStart

log = logging.getLogger(__name__)
TEMP_PREFIX = ".dicomweb-"
TEMP_SUFFIX = ".partial"
ACCEPTED_PART_TYPES = ("application/dicom", "")


def instance_path(dest_dir: Path, study: str, series: str, sop: str) -> Path:
    """Where an instance is written (UIDs must already be validated)."""
    return dest_dir / study / series / f"{sop}.dcm"


def write_instances(
    events: Iterable[MultipartEvent],
    dest_dir: str | os.PathLike,
    *,
    source: str,
    expected: Mapping[str, str] | None = None,
    on_file: Callable[[Path, int], None] | None = None,
) -> list[Path]:
    """Write every part of a WADO-RS response to its own file; the paths written, in order.

    ``expected`` maps StudyInstanceUID/SeriesInstanceUID/SOPInstanceUID to the values asked for: a part
    that does not match is refused. ``source`` (the request, without credentials) names the response in
    errors. ``on_file(path, size)`` is called as each file is renamed into place.
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    written: list[Path] = []
    handle = None
    temp: Path | None = None
    try:
        for event in events:
            if isinstance(event, PartStart):
                media_type = event.content_type.split(";", 1)[0].strip().lower()
                if media_type not in ACCEPTED_PART_TYPES:
                    raise DicomWebResponseError(
                        f"{source}: part {event.index} is {event.content_type!r}, not application/dicom"
                    )
                temp = dest / f"{TEMP_PREFIX}{uuid.uuid4().hex}{TEMP_SUFFIX}"
                handle = open(temp, "wb", buffering=0)  # noqa: SIM115 - closed at PartEnd or below
            elif isinstance(event, PartEnd):
                assert handle is not None and temp is not None
                handle.close()
                handle = None
                written.append(_finalize(temp, root, event.index, source, expected or {}))
                temp = None
                if on_file is not None:
                    on_file(written[-1], event.size)
            else:
                assert handle is not None
                handle.write(event)
    finally:
        if handle is not None:
            handle.close()
        if temp is not None:
            temp.unlink(missing_ok=True)
    return written


def _finalize(temp: Path, root: Path, index: int, source: str, expected: Mapping[str, str]) -> Path:
    try:
        header = read_instance_header(temp)
    except NotAnInstanceError as exc:
        temp.unlink(missing_ok=True)
        raise DicomWebResponseError(f"{source}: part {index} is not a usable DICOM instance: {exc}") from None
    found = {
        "StudyInstanceUID": header.study_instance_uid,
        "SeriesInstanceUID": header.series_instance_uid,
        "SOPInstanceUID": header.sop_instance_uid,
    }
    for keyword, want in expected.items():
        if found[keyword] != want:
            temp.unlink(missing_ok=True)
            raise DicomWebResponseError(
                f"{source}: part {index} has {keyword} {found[keyword]}, but {want} was asked for"
            )
    target = instance_path(
        root, header.study_instance_uid, header.series_instance_uid, header.sop_instance_uid
    )
    if root not in target.resolve().parents:  # cannot happen with validated UIDs; kept as a last guard
        temp.unlink(missing_ok=True)
        raise DicomWebResponseError(f"{source}: part {index} would be written outside {root}")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, target)
    log.debug("wrote %s", target)
    return target


def remove_partials(dest_dir: str | os.PathLike) -> int:
    """Delete temporary files left by an interrupted retrieve in ``dest_dir``; how many were removed."""
    count = 0
    for path in Path(dest_dir).glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        path.unlink(missing_ok=True)
        count += 1
    return count
