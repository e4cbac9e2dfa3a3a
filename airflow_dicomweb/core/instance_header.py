"""Reading the identity of a DICOM Part 10 file: its UIDs, SOP Class and Transfer Syntax.

Used before a store (to know which response item belongs to which file, and to refuse what is not a
storable instance) and after a retrieve (to name the written file). Bulk values are not read into memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from airflow_dicomweb.core.errors import InvalidUIDError
from airflow_dicomweb.core.uids import validate_uid

UNDEFINED_LENGTH = 0xFFFFFFFF


class NotAnInstanceError(ValueError):
    """The file is not a complete, storable DICOM Part 10 instance; the message says why."""


@dataclass(frozen=True)
class InstanceHeader:
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    size: int


def read_instance_header(path: str | os.PathLike) -> InstanceHeader:
    """The identity of the Part 10 file at ``path``; :class:`NotAnInstanceError` if it has none.

    Refused: an empty file, a file without the ``DICM`` prefix and File Meta Information, a file whose
    UIDs are missing or invalid, and a file cut short (a top-level value running past its end).
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise NotAnInstanceError("empty file")
    try:
        ds = pydicom.dcmread(path, defer_size=4096)
    except InvalidDicomError:
        raise NotAnInstanceError(
            "not a DICOM Part 10 file (no 'DICM' prefix after the 128-byte preamble)"
        ) from None
    except (EOFError, OSError) as exc:
        if isinstance(exc, PermissionError | FileNotFoundError | IsADirectoryError):
            raise
        raise NotAnInstanceError(f"truncated or unreadable DICOM file ({exc})") from None
    except Exception as exc:  # pydicom raises many kinds on malformed data
        raise NotAnInstanceError(f"malformed DICOM file ({type(exc).__name__}: {exc})") from None
    _check_not_truncated(ds, size)
    meta = getattr(ds, "file_meta", None)
    transfer_syntax = str(getattr(meta, "TransferSyntaxUID", "") or "")
    if not transfer_syntax:
        raise NotAnInstanceError("no Transfer Syntax UID in the File Meta Information")
    uids = {}
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"):
        value = str(ds.get(keyword, "") or "").strip("\0 ")
        if not value:
            raise NotAnInstanceError(f"no {keyword}")
        try:
            uids[keyword] = validate_uid(value, keyword)
        except InvalidUIDError as exc:
            raise NotAnInstanceError(str(exc)) from None
    return InstanceHeader(
        study_instance_uid=uids["StudyInstanceUID"],
        series_instance_uid=uids["SeriesInstanceUID"],
        sop_instance_uid=uids["SOPInstanceUID"],
        sop_class_uid=uids["SOPClassUID"],
        transfer_syntax_uid=transfer_syntax,
        size=size,
    )


def _check_not_truncated(ds: pydicom.Dataset, size: int) -> None:
    """Raise if a deferred top-level value ends past the end of the file (the file was cut short)."""
    last_end = 0
    for raw in ds._dict.values():  # raw elements keep their offset without loading the value
        tell = getattr(raw, "value_tell", None)
        length = getattr(raw, "length", None)
        if tell is None or length is None or length == UNDEFINED_LENGTH:
            continue
        last_end = max(last_end, tell + length)
    if last_end > size:
        raise NotAnInstanceError(
            f"truncated DICOM file: data runs to byte {last_end} but the file has {size}"
        )
