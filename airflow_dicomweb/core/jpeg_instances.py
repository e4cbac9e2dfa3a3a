"""DICOM instances from JSON metadata and JPEG images.

Two ways to the same instance:

* Google's form (PS3.18 STOW-RS with metadata and bulk data): a ``multipart/related;
  type="application/dicom+json"`` request whose first part is the DICOM JSON metadata and whose next part
  is the JPEG, ``Content-Type: image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50``, identified by a
  ``Content-Location`` equal to the metadata's PixelData BulkDataURI.
* A Part 10 file built here with pydicom (encapsulated JPEG Baseline pixel data), stored with plain STOW,
  for servers that refuse the metadata form (Orthanc answers 415).

The image pixel attributes (Rows, Columns, SamplesPerPixel, bits) are read from the JPEG itself.
"""

from __future__ import annotations

import copy
import io
import struct
from dataclasses import dataclass

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate

from airflow_dicomweb.core.errors import InvalidUIDError
from airflow_dicomweb.core.uids import validate_uid

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
IMPLEMENTATION_CLASS_UID = "1.2.826.0.1.3680043.10.1532.2"
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
REQUIRED_UIDS = {
    "0020000D": "StudyInstanceUID",
    "0020000E": "SeriesInstanceUID",
    "00080018": "SOPInstanceUID",
}


class JpegInstanceError(ValueError):
    """The JPEG or its metadata cannot make a DICOM instance; the message says why."""


@dataclass(frozen=True)
class JpegInfo:
    rows: int
    columns: int
    components: int
    precision: int


def read_jpeg_info(data: bytes) -> JpegInfo:
    """Frame size and components from a baseline JPEG's SOF0 header; anything else is refused."""
    if data[:2] != b"\xff\xd8":
        raise JpegInstanceError("not a JPEG file (no SOI marker)")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise JpegInstanceError(f"corrupt JPEG: expected a marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF_MARKERS:
            if marker != 0xC0:
                raise JpegInstanceError(
                    f"JPEG process SOF{marker - 0xC0} is not baseline (only JPEG Baseline, SOF0, is supported)"
                )
            if pos + 10 > len(data):
                break
            precision, rows, columns, components = struct.unpack(">BHHB", data[pos + 4 : pos + 10])
            if precision != 8 or components not in (1, 3) or not rows or not columns:
                raise JpegInstanceError(
                    f"JPEG of {components} components, {precision} bits, {columns}x{rows}: "
                    "baseline needs 8 bits and 1 or 3 components"
                )
            return JpegInfo(rows=rows, columns=columns, components=components, precision=precision)
        if marker == 0xDA:  # start of scan before any frame header
            break
        pos += 2 + length
    raise JpegInstanceError("corrupt or truncated JPEG: no frame header (SOF0) found")


def _value(dataset: dict, tag: str):
    element = dataset.get(tag)
    if isinstance(element, dict) and element.get("Value"):
        return element["Value"][0]
    return None


def instance_metadata(metadata: dict, info: JpegInfo, bulkdata_uri: str) -> dict:
    """The DICOM JSON of the instance: the given metadata plus the pixel attributes of the JPEG.

    The Study, Series and SOP Instance UIDs must be present and valid; the SOP Class defaults to Secondary
    Capture. Rows or Columns given in the metadata must match the JPEG.
    """
    if not isinstance(metadata, dict):
        raise JpegInstanceError("metadata must be one DICOM JSON dataset (an object keyed by tags)")
    out = copy.deepcopy(metadata)
    for tag, keyword in REQUIRED_UIDS.items():
        try:
            validate_uid(_value(out, tag), keyword)
        except InvalidUIDError as exc:
            raise JpegInstanceError(f"metadata: {exc}") from None
    if _value(out, "00080016") is None:
        out["00080016"] = {"vr": "UI", "Value": [SECONDARY_CAPTURE]}
    try:
        validate_uid(_value(out, "00080016"), "SOPClassUID")
    except InvalidUIDError as exc:
        raise JpegInstanceError(f"metadata: {exc}") from None
    for tag, keyword, actual in (("00280010", "Rows", info.rows), ("00280011", "Columns", info.columns)):
        given = _value(out, tag)
        if given is not None and int(given) != actual:
            raise JpegInstanceError(f"metadata says {keyword} {given}, but the JPEG has {actual}")
    color = info.components == 3
    pixel = {
        "00280002": ("US", info.components),
        "00280004": ("CS", "YBR_FULL_422" if color else "MONOCHROME2"),
        "00280010": ("US", info.rows),
        "00280011": ("US", info.columns),
        "00280100": ("US", 8),
        "00280101": ("US", 8),
        "00280102": ("US", 7),
        "00280103": ("US", 0),
    }
    if color:
        pixel["00280006"] = ("US", 0)
    for tag, (vr, value) in pixel.items():
        out[tag] = {"vr": vr, "Value": [value]}
    out["7FE00010"] = {"vr": "OB", "BulkDataURI": bulkdata_uri}
    return out


def sop_instance_uid(metadata: dict) -> str:
    return str(_value(metadata, "00080018"))


def build_part10(metadata: dict, jpeg: bytes) -> bytes:
    """A DICOM Part 10 file (JPEG Baseline, encapsulated) from the instance's JSON and the JPEG bytes."""
    plain = {k: v for k, v in metadata.items() if k != "7FE00010" and not k.startswith("0002")}
    ds = Dataset.from_json(plain)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = JPEG_BASELINE
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    ds.file_meta = meta
    ds.PixelData = encapsulate([jpeg])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
