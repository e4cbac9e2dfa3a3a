"""A de-identified instance written as a Part 10 file, in chunks: the preamble (zeroed), the File Meta
Information and the attributes in one chunk, which the residual search reads, then each pixel data element
as its header and its value as read, never copied. The attributes still as read are written from their
bytes, and so are the ASCII strings the profile puts in (UIDs, dummies, pseudonyms, emptied values); pydicom
writes the rest.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from io import BytesIO

from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import dcmwrite, write_data_element, write_dataset
from pydicom.multival import MultiValue
from pydicom.tag import SequenceDelimiterTag

from airflow_dicomweb.core.deid.residual import PIXEL_TAGS


def write_part10(ds: Dataset) -> tuple[tuple[bytes | memoryview, ...], bool]:
    """``ds`` as a Part 10 file with a zeroed preamble, in chunks: the preamble, File Meta Information and
    attributes first (what the residual search reads), then each pixel data element as read, its value
    never copied. True when the first chunk may be searched as written (False: one chunk, deflated or with
    attributes after the pixel data, such as retired (7FE0,0020)).

    The File Meta Information is the one :meth:`.Deidentifier._rebuild_meta` made: written here, as pydicom
    would with its group length and version added (:func:`file_meta_bytes`), not copied and validated first
    as ``dcmwrite`` does."""
    ds.preamble = b"\x00" * 128  # the preamble may hold anything (a TIFF header, a name)
    syntax = ds.file_meta.TransferSyntaxUID
    held = [(tag, ds.get_item(tag)) for tag in PIXEL_TAGS if tag in ds]
    after = bool(held) and max(map(int, ds.keys())) > max(int(tag) for tag, _ in held)
    if syntax.is_deflated or after:  # one piece, in tag order: searched as encoded apart
        whole = BytesIO()
        dcmwrite(whole, ds, enforce_file_format=True)
        return (whole.getvalue(),), False
    for tag, _ in held:
        del ds[tag]
    try:
        out = DicomBytesIO()
        out.write(ds.preamble + b"DICM" + file_meta_bytes(ds.file_meta))
        out.is_little_endian = syntax.is_little_endian
        out.is_implicit_VR = syntax.is_implicit_VR
        _write_attributes(out, ds)
        chunks: list[bytes | memoryview] = [out.getvalue()]
        for _, elem in held:
            chunks += _element_chunks(elem, syntax.is_little_endian, syntax.is_implicit_VR, ds)
    finally:
        for tag, elem in held:
            ds[tag] = elem
    return tuple(chunks), True


#: The File Meta Information's elements a de-identified instance carries, in tag order, with their VRs.
_META = (
    (0x00020002, "UI", "MediaStorageSOPClassUID"),
    (0x00020003, "UI", "MediaStorageSOPInstanceUID"),
    (0x00020010, "UI", "TransferSyntaxUID"),
    (0x00020012, "UI", "ImplementationClassUID"),
    (0x00020013, "SH", "ImplementationVersionName"),
)


def file_meta_bytes(meta: Dataset) -> bytes:
    """The File Meta Information (PS3.10 7.1) of ``meta``'s five values, explicit VR little endian: its group
    length, version 00 01, then the values padded to even lengths (UIDs with NUL, text with a space). A
    missing value is refused, as pydicom refuses it."""
    body = [struct.pack("<HH2s2xL", 0x0002, 0x0001, b"OB", 2), b"\x00\x01"]
    for tag, vr, keyword in _META:
        value = str(meta.get(keyword) or "")
        if not value:
            raise ValueError(f"the File Meta Information has no {keyword}")
        encoded = value.encode("ascii")
        if len(encoded) % 2:
            encoded += b"\x00" if vr == "UI" else b" "
        body.append(_SHORT_HEADER.pack(tag >> 16, tag & 0xFFFF, vr.encode("ascii"), len(encoded)))
        body.append(encoded)
    content = b"".join(body)
    return struct.pack("<HH2sHL", 0x0002, 0x0000, b"UL", 4, len(content)) + content


def _write_attributes(
    out: DicomBytesIO, ds: Dataset, parent_charset: str | list[str] = default_encoding
) -> None:
    """``ds``'s attributes, in tag order, as pydicom's ``write_dataset`` writes them; the elements still as
    read (most of them: the table keeps them) are written here from their bytes, header and value, without
    pydicom's per-element work, and so are the items of a decoded sequence (:func:`_write_sequence`).
    Anything else (a decoded element, an undefined length, big endian, a data set to re-encode) is
    pydicom's to write."""
    encoding = (out.is_implicit_VR, out.is_little_endian)
    if (
        not out.is_little_endian
        or encoding != ds.original_encoding
        or ds.original_character_set != ds._character_set
    ):
        write_dataset(out, ds, parent_charset)
        return
    charset = ds.get("SpecificCharacterSet", parent_charset)
    implicit = out.is_implicit_VR
    write = out.write
    for tag in sorted(ds.keys()):
        number = int(tag)
        if not number & 0xFFFF and number >> 16 > 6:
            continue  # retired group lengths are not written (PS3.5 7.2)
        elem: DataElement | RawDataElement = ds.get_item(tag)  # typed DataElement; raw when not yet decoded
        if isinstance(elem, RawDataElement):
            value = elem.value
            if (
                isinstance(value, bytes)
                and elem.length != 0xFFFFFFFF
                and _write_element(write, number, elem.VR, value, implicit)
            ):
                continue
        elif elem.VR == "SQ":
            _write_sequence(out, elem, charset)
            continue
        else:
            encoded = _ascii_value(elem, charset)
            if encoded is not None and _write_element(write, number, elem.VR, encoded, implicit):
                continue
        write_data_element(out, elem, charset)


def _write_element(
    write: Callable[[bytes], object], number: int, vr: str | None, value: bytes, implicit: bool
) -> bool:
    """An element of defined length, its header and ``value`` (little endian, PS3.5 7.1); False, writing
    nothing, where its explicit VR cannot hold it (no VR, or a value longer than a 2-byte length)."""
    size = len(value)
    if implicit:
        write(_IMPLICIT_HEADER.pack(number >> 16, number & 0xFFFF, size))
    elif vr in _LONG_VRS:
        write(_LONG_HEADER.pack(number >> 16, number & 0xFFFF, vr.encode("ascii"), size))
    elif vr is not None and len(vr) == 2 and size <= 0xFFFF:
        write(_SHORT_HEADER.pack(number >> 16, number & 0xFFFF, vr.encode("ascii"), size))
    else:
        return False
    write(value)
    return True


#: VRs pydicom writes in its default encoding whatever the Specific Character Set, and those it encodes
#: with the Specific Character Set (its ``write_string``, ``write_UI`` and ``write_text``).
_DEFAULT_REPERTOIRE_VRS = frozenset(("AE", "AS", "CS", "DA", "DT", "TM", "UI", "UR"))
_CHARSET_VRS = frozenset(("LO", "LT", "SH", "ST", "UC", "UT"))
#: Python's names of the character sets (pydicom's) that write an ASCII string as its ASCII bytes: no
#: escape sequence before or after it.
_ASCII_AS_IS = frozenset(("iso8859", "latin_1", "UTF8", "ascii"))


def _ascii_value(elem: DataElement, charset: str | list[str]) -> bytes | None:
    """The value of a decoded string element as pydicom writes it, padded to an even length (UIDs with NUL,
    the rest with a space), when it is ASCII text (one string, or several); else None, for pydicom to write."""
    vr = elem.VR
    if vr not in _DEFAULT_REPERTOIRE_VRS and not (
        vr in _CHARSET_VRS and _keeps_ascii(charset if isinstance(charset, str) else tuple(charset))
    ):
        return None
    value = elem.value
    if value is None:
        return b""
    if isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple | MultiValue) and all(isinstance(v, str) for v in value):
        text = "\\".join(value)
    else:
        return None  # a date, a person's name, a number: pydicom's own formatting
    if not text.isascii():
        return None
    encoded = text.encode("ascii")
    if len(encoded) % 2:
        encoded += b"\x00" if vr == "UI" else b" "
    return encoded


@functools.lru_cache(maxsize=64)
def _keeps_ascii(charset: str | tuple[str, ...]) -> bool:
    """Whether the first character set of ``charset`` (the one pydicom encodes with first) writes ASCII as
    it is; worked out once per character set."""
    try:
        return convert_encodings(list(charset) if isinstance(charset, tuple) else charset)[0] in _ASCII_AS_IS
    except Exception:  # an unknown or malformed Specific Character Set: pydicom's to handle
        return False


def _write_sequence(out: DicomBytesIO, elem: DataElement, charset: str | list[str]) -> None:
    """A decoded sequence as pydicom's ``write_data_element`` writes it (PS3.5 7.5): its length and each
    item's defined, or undefined and delimited, as they were read; each item's attributes by
    :func:`_write_attributes`."""
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, out.is_implicit_VR
    for item in elem.value or ():
        body.write(_ITEM_TAG)
        if getattr(item, "is_undefined_length_sequence_item", False):
            body.write(_UNDEFINED)
            _write_attributes(body, item, charset)
            body.write(_ITEM_DELIMITER)
            continue
        inner = DicomBytesIO()
        inner.is_little_endian, inner.is_implicit_VR = True, out.is_implicit_VR
        _write_attributes(inner, item, charset)
        encoded = inner.getvalue()
        body.write(struct.pack("<L", len(encoded)))
        body.write(encoded)
    value = body.getvalue()
    number = int(elem.tag)
    undefined = elem.is_undefined_length
    size = 0xFFFFFFFF if undefined else len(value)
    if out.is_implicit_VR:
        out.write(_IMPLICIT_HEADER.pack(number >> 16, number & 0xFFFF, size))
    else:
        out.write(_LONG_HEADER.pack(number >> 16, number & 0xFFFF, b"SQ", size))
    out.write(value)
    if undefined:
        out.write(_SEQUENCE_DELIMITER)


_IMPLICIT_HEADER = struct.Struct("<HHL")
_LONG_HEADER = struct.Struct("<HH2s2xL")
_SHORT_HEADER = struct.Struct("<HH2sH")
#: An item's tag, an undefined length, and the delimiters of an item and a sequence, little endian.
_ITEM_TAG = struct.pack("<HH", 0xFFFE, 0xE000)
_UNDEFINED = struct.pack("<L", 0xFFFFFFFF)
_ITEM_DELIMITER = struct.pack("<HHL", 0xFFFE, 0xE00D, 0)
_SEQUENCE_DELIMITER = struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)

#: VRs whose length takes 4 bytes after 2 reserved ones in explicit VR (PS3.5 Table 7.1-1).
_LONG_VRS = frozenset(("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"))


def _element_chunks(
    elem: DataElement | RawDataElement, little: bool, implicit: bool, ds: Dataset
) -> list[bytes | memoryview]:
    """A pixel data element as its header and its value as read (PS3.5 7.1), or, when it was decoded or
    its VR is not known, as pydicom encodes it."""
    value = elem.value
    if not (
        isinstance(elem, RawDataElement) and isinstance(value, bytes) and (implicit or elem.VR in _LONG_VRS)
    ):
        buffer = DicomBytesIO()
        buffer.is_little_endian, buffer.is_implicit_VR = little, implicit
        write_data_element(buffer, elem, ds.get("SpecificCharacterSet", "iso8859"))
        return [buffer.getvalue()]
    undefined = elem.length == 0xFFFFFFFF
    header = DicomBytesIO()
    header.is_little_endian, header.is_implicit_VR = little, implicit
    header.write_tag(elem.tag)
    if not implicit:
        header.write(str(elem.VR).encode("ascii") + b"\x00\x00")
    header.write_UL(0xFFFFFFFF if undefined else len(value))
    chunks: list[bytes | memoryview] = [header.getvalue(), memoryview(value)]
    if undefined:  # encapsulated: its items, then the Sequence Delimitation Item (PS3.5 A.4)
        trailer = DicomBytesIO()
        trailer.is_little_endian, trailer.is_implicit_VR = little, implicit
        trailer.write_tag(SequenceDelimiterTag)
        trailer.write_UL(0)
        chunks.append(trailer.getvalue())
    return chunks
