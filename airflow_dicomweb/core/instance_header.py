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
    _check_not_truncated(ds, path, size)
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


DEFLATED = "1.2.840.10008.1.2.1.99"
#: The Sequence Delimitation Item (FFFE,E0DD) with length 0, in both byte orders.
SEQUENCE_DELIMITERS = (b"\xfe\xff\xdd\xe0\x00\x00\x00\x00", b"\xff\xfe\xe0\xdd\x00\x00\x00\x00")


def _check_not_truncated(ds: pydicom.Dataset, path: Path, size: int) -> None:
    """Raise if the file was cut short.

    pydicom stops quietly where a file ends, and defers large values without reading them, so the check is
    made here on the last top-level element: with a defined length it must end exactly where the file
    ends (past the end, its value was cut; short of it, the header of a following element was cut); with
    an undefined length (encapsulated pixel data, a sequence) the file must end with the Sequence
    Delimitation Item. Deflated files are not checked: their offsets are those of the inflated stream.
    """
    meta = getattr(ds, "file_meta", None)
    if str(getattr(meta, "TransferSyntaxUID", "")) == DEFLATED:
        return
    positioned = []
    for element in ds._dict.values():  # raw elements keep their offset without loading their value
        position = getattr(element, "value_tell", None)
        if position is None:
            position = getattr(element, "file_tell", None)
        if position is not None:
            positioned.append((position, element))
    if not positioned:
        return
    position, last = max(positioned, key=lambda pair: pair[0])
    length = getattr(last, "length", None)
    if length is not None and length != UNDEFINED_LENGTH:
        end = position + length
        if end != size:
            raise NotAnInstanceError(
                f"truncated DICOM file: its last element ends at byte {end} but the file has {size} bytes"
            )
        return
    undefined = length == UNDEFINED_LENGTH or getattr(
        getattr(last, "value", None), "is_undefined_length", False
    )
    if undefined:
        with open(path, "rb") as handle:
            handle.seek(max(0, size - 8))
            if handle.read(8) not in SEQUENCE_DELIMITERS:
                raise NotAnInstanceError(
                    "truncated DICOM file: its last element has an undefined length but the file does not "
                    "end with a sequence delimiter"
                )
