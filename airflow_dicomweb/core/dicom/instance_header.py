"""Reading the identity of a DICOM Part 10 file: its UIDs, SOP Class and Transfer Syntax.

Used before a store (to know which response item belongs to which file, and to refuse what is not a
storable instance) and after a retrieve (to name the written file). The file's top-level elements are
walked once with pydicom's element reader (``pydicom.filereader.data_element_generator``): small values are
read, large ones are skipped without being loaded, and the last element's extent tells whether the file was
cut short. Files that walk cannot read (deflated, or encoded other than their Transfer Syntax says) are read
with ``dcmread`` instead, without the truncation check.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import BinaryIO

import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.filereader import data_element_generator, read_preamble
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ImplicitVRLittleEndian

from airflow_dicomweb.core.errors import InvalidUIDError
from airflow_dicomweb.core.storage.paths import Destination, StoragePath, as_path, open_read, size
from airflow_dicomweb.core.uids import validate_uid

UNDEFINED_LENGTH = 0xFFFFFFFF
#: Values larger than this are skipped, not read: only the UIDs are wanted.
DEFER_SIZE = 4096
UID_TAGS = {
    0x0020000D: "StudyInstanceUID",
    0x0020000E: "SeriesInstanceUID",
    0x00080018: "SOPInstanceUID",
    0x00080016: "SOPClassUID",
}
TRANSFER_SYNTAX_TAG = 0x00020010
#: The Sequence Delimitation Item (FFFE,E0DD) with length 0, in both byte orders.
SEQUENCE_DELIMITERS = (b"\xfe\xff\xdd\xe0\x00\x00\x00\x00", b"\xff\xfe\xe0\xdd\x00\x00\x00\x00")


class NotAnInstanceError(ValueError):
    """The file is not a complete, storable DICOM Part 10 instance; the message says why."""


@dataclass(frozen=True, slots=True)
class InstanceHeader:
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    size: int


class _NeedsFullReader(Exception):
    """The walk cannot read this file; dcmread can."""


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    return str(value or "").strip("\0 ")


def read_instance_header(path: Destination) -> InstanceHeader:
    """The identity of the Part 10 file at ``path``; :class:`NotAnInstanceError` if it has none.

    Refused: an empty file, a file without the ``DICM`` prefix and File Meta Information, a file whose
    UIDs are missing or invalid, and a file cut short (a top-level value running past its end, or an
    undefined-length value without its closing delimiter).
    """
    location = as_path(path)
    length = size(location)
    if length == 0:
        raise NotAnInstanceError("empty file")
    try:
        transfer_syntax, values = _walk(location, length)
    except _NeedsFullReader:
        transfer_syntax, values = _read_with_dcmread(location)
    except InvalidDicomError:
        raise NotAnInstanceError(
            "not a DICOM Part 10 file (no 'DICM' prefix after the 128-byte preamble)"
        ) from None
    except (EOFError, OSError) as exc:
        if isinstance(exc, PermissionError | FileNotFoundError | IsADirectoryError):
            raise
        raise NotAnInstanceError(f"truncated or unreadable DICOM file ({exc})") from None
    if not transfer_syntax:
        raise NotAnInstanceError("no Transfer Syntax UID in the File Meta Information")
    uids = {}
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"):
        value = values.get(keyword, "")
        if not value:
            raise NotAnInstanceError(f"no {keyword}")
        try:
            uids[keyword] = validate_uid(value, keyword)
        except InvalidUIDError as exc:
            raise NotAnInstanceError(str(exc)) from None
    return InstanceHeader(
        # Interned: a store of a hundred thousand instances of one study holds one copy of what they share
        study_instance_uid=sys.intern(uids["StudyInstanceUID"]),
        series_instance_uid=sys.intern(uids["SeriesInstanceUID"]),
        sop_instance_uid=uids["SOPInstanceUID"],
        sop_class_uid=sys.intern(uids["SOPClassUID"]),
        transfer_syntax_uid=sys.intern(transfer_syntax),
        size=length,
    )


def _walk(location: StoragePath, size: int) -> tuple[str, dict[str, str]]:
    """Transfer Syntax and UIDs in one pass over the top-level elements; raises if the file was cut short."""
    with open_read(location) as fp:
        read_preamble(fp, force=False)
        transfer_syntax = ""
        for element in data_element_generator(
            fp, False, True, stop_when=lambda tag, vr, length: tag.group != 2, defer_size=DEFER_SIZE
        ):
            if element.tag == TRANSFER_SYNTAX_TAG:
                transfer_syntax = _text(element.value)
        if not transfer_syntax:
            return "", {}
        if transfer_syntax == DeflatedExplicitVRLittleEndian:
            raise _NeedsFullReader
        values: dict[str, str] = {}
        last = None
        try:
            for element in data_element_generator(
                fp,
                transfer_syntax == ImplicitVRLittleEndian,
                transfer_syntax != ExplicitVRBigEndian,
                defer_size=DEFER_SIZE,
            ):
                if element.tag in UID_TAGS:
                    values[UID_TAGS[element.tag]] = _text(element.value)
                last = element
        except (EOFError, OSError):
            raise
        except Exception:
            raise _NeedsFullReader from None
        if last is not None:
            _check_not_truncated(last, fp, size)
    return transfer_syntax, values


def _check_not_truncated(last: object, fp: BinaryIO, size: int) -> None:
    """Raise if the file was cut short, from the extent of its last top-level element.

    With a defined length the element must end exactly where the file ends (past the end, its value was cut;
    short of it, the header of a following element was cut); with an undefined length (encapsulated pixel
    data, a sequence) the file must end with the Sequence Delimitation Item.
    """
    length = getattr(last, "length", None)
    position = getattr(last, "value_tell", None)
    if position is None or length is None:
        return
    if length != UNDEFINED_LENGTH:
        end = position + length
        if end != size:
            raise NotAnInstanceError(
                f"truncated DICOM file: its last element ends at byte {end} but the file has {size} bytes"
            )
        return
    fp.seek(max(0, size - 8))
    if fp.read(8) not in SEQUENCE_DELIMITERS:
        raise NotAnInstanceError(
            "truncated DICOM file: its last element has an undefined length but the file does not "
            "end with a sequence delimiter"
        )


def _read_with_dcmread(location: StoragePath) -> tuple[str, dict[str, str]]:
    try:
        with open_read(location) as fp:
            ds = pydicom.dcmread(fp, defer_size=DEFER_SIZE)
    except (InvalidDicomError, EOFError, OSError):
        raise
    except Exception as exc:  # pydicom raises many kinds on malformed data
        raise NotAnInstanceError(f"malformed DICOM file ({type(exc).__name__}: {exc})") from None
    meta = getattr(ds, "file_meta", None)
    values = {keyword: _text(ds.get(keyword, "")) for keyword in UID_TAGS.values()}
    return _text(getattr(meta, "TransferSyntaxUID", "")), values
