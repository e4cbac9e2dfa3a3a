"""The three UIDs of a DICOM Part 10 instance, read from its first bytes without a full parse.

A retrieve names each file after its Study, Series and SOP Instance UIDs, which sit near the start of
every instance. Walking the elements of the first few KiB in the common transfer syntaxes (Explicit and
Implicit VR Little Endian, and the compressed syntaxes, whose datasets are Explicit VR Little Endian) costs
microseconds where a pydicom parse costs about half a millisecond. Anything unusual (big endian, deflate,
a sequence of undefined length before the UIDs, a header longer than the bytes given) answers None, and
the caller falls back to pydicom.
"""

from __future__ import annotations

import struct

PREAMBLE = 128
HEAD_BYTES = 64 * 1024
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
WANTED = {
    0x00080016: "SOPClassUID",
    0x00080018: "SOPInstanceUID",
    0x0020000D: "StudyInstanceUID",
    0x0020000E: "SeriesInstanceUID",
}
LAST_WANTED = 0x0020000E
UNDEFINED = 0xFFFFFFFF


def _text(value: bytes) -> str:
    return value.rstrip(b"\x00 ").decode("ascii", errors="replace")


_TAG = struct.Struct("<HH")
_LONG = struct.Struct("<I")
_SHORT = struct.Struct("<H")


def _element(head: bytes, pos: int, implicit: bool) -> tuple[int, int, int] | None:
    """(tag, value start, value length) of the element at ``pos``, or None if it cannot be read whole."""
    size = len(head)
    if pos + 8 > size:
        return None
    group, element = _TAG.unpack_from(head, pos)
    if implicit:
        length = _LONG.unpack_from(head, pos + 4)[0]
        start = pos + 8
    elif head[pos + 4 : pos + 6] in LONG_VRS:
        if pos + 12 > size:
            return None
        length = _LONG.unpack_from(head, pos + 8)[0]
        start = pos + 12
    else:
        length = _SHORT.unpack_from(head, pos + 6)[0]
        start = pos + 8
    if length == UNDEFINED or start + length > size:
        return None
    return (group << 16) | element, start, length


def read_uids(head: bytes) -> dict[str, str] | None:
    """StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID, SOPClassUID and TransferSyntaxUID from the start
    of a Part 10 file, or None."""
    if len(head) < PREAMBLE + 4 or head[PREAMBLE : PREAMBLE + 4] != b"DICM":
        return None
    pos = PREAMBLE + 4
    transfer_syntax = None
    # File Meta Information: group 0002, always Explicit VR Little Endian.
    while pos + 4 <= len(head) and _SHORT.unpack_from(head, pos)[0] == 0x0002:
        found = _element(head, pos, implicit=False)
        if found is None:
            return None
        tag, start, length = found
        if tag == 0x00020010:
            transfer_syntax = _text(head[start : start + length])
        pos = start + length
    if transfer_syntax is None or transfer_syntax in (EXPLICIT_BE, DEFLATED):
        return None
    implicit = transfer_syntax == IMPLICIT_LE
    uids: dict[str, str] = {"TransferSyntaxUID": transfer_syntax}
    while len(uids) <= len(WANTED):
        found = _element(head, pos, implicit)
        if found is None:
            return None
        tag, start, length = found
        if tag > LAST_WANTED:
            return None
        if tag in WANTED:
            uids[WANTED[tag]] = _text(head[start : start + length])
        pos = start + length
    return uids


def uids_in_memory(data: bytes) -> dict[str, str]:
    """The same UIDs as :func:`read_uids`, of a whole instance in memory read with pydicom (the slow path,
    for any encoding); ``{"error": why}`` if it is not a DICOM Part 10 instance."""
    import io

    import pydicom

    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    except Exception as exc:  # pydicom raises many kinds on malformed data
        return {"error": f"not a DICOM Part 10 instance ({type(exc).__name__})"}
    found = {k: str(ds.get(k, "")).strip("\0 ") for k in WANTED.values()}
    found["TransferSyntaxUID"] = str(ds.file_meta.get("TransferSyntaxUID", "")).strip("\0 ")
    return found
