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
WANTED = {0x0020000D: "StudyInstanceUID", 0x0020000E: "SeriesInstanceUID", 0x00080018: "SOPInstanceUID"}
LAST_WANTED = 0x0020000E
UNDEFINED = 0xFFFFFFFF


def _text(value: bytes) -> str:
    return value.rstrip(b"\x00 ").decode("ascii", errors="replace")


def read_uids(head: bytes) -> dict[str, str] | None:
    """StudyInstanceUID, SeriesInstanceUID and SOPInstanceUID from the start of a Part 10 file, or None."""
    if len(head) < PREAMBLE + 4 or head[PREAMBLE : PREAMBLE + 4] != b"DICM":
        return None
    pos = PREAMBLE + 4
    transfer_syntax = None
    # File Meta Information: always Explicit VR Little Endian, group 0002.
    while pos + 8 <= len(head):
        group, element = struct.unpack_from("<HH", head, pos)
        if group != 0x0002:
            break
        vr = head[pos + 4 : pos + 6]
        if vr in LONG_VRS:
            (length,) = struct.unpack_from("<I", head, pos + 8)
            start = pos + 12
        else:
            (length,) = struct.unpack_from("<H", head, pos + 6)
            start = pos + 8
        if length == UNDEFINED or start + length > len(head):
            return None
        if element == 0x0010:
            transfer_syntax = _text(head[start : start + length])
        pos = start + length
    if transfer_syntax is None or transfer_syntax in (EXPLICIT_BE, DEFLATED):
        return None
    implicit = transfer_syntax == IMPLICIT_LE
    found: dict[str, str] = {}
    while pos + 8 <= len(head):
        group, element = struct.unpack_from("<HH", head, pos)
        tag = (group << 16) | element
        if tag > LAST_WANTED:
            break
        if implicit:
            (length,) = struct.unpack_from("<I", head, pos + 4)
            start = pos + 8
        else:
            vr = head[pos + 4 : pos + 6]
            if vr in LONG_VRS:
                if pos + 12 > len(head):
                    return None
                (length,) = struct.unpack_from("<I", head, pos + 8)
                start = pos + 12
            else:
                (length,) = struct.unpack_from("<H", head, pos + 6)
                start = pos + 8
        if length == UNDEFINED or start + length > len(head):
            return None
        if tag in WANTED:
            found[WANTED[tag]] = _text(head[start : start + length])
        pos = start + length
    return found if len(found) == len(WANTED) else None
