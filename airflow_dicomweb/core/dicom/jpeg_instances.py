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
import json
import struct
from dataclasses import dataclass

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import UID

from airflow_dicomweb.core.dicom.json_model import (
    SERIES_INSTANCE_UID,
    SOP_CLASS_UID,
    SOP_INSTANCE_UID,
    STUDY_INSTANCE_UID,
    first_value,
)
from airflow_dicomweb.core.errors import InvalidUIDError
from airflow_dicomweb.core.uids import validate_uid

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
IMPLEMENTATION_CLASS_UID = "1.2.826.0.1.3680043.10.1532.2"
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
REQUIRED_UIDS = {
    STUDY_INSTANCE_UID: "StudyInstanceUID",
    SERIES_INSTANCE_UID: "SeriesInstanceUID",
    SOP_INSTANCE_UID: "SOPInstanceUID",
}


class JpegInstanceError(ValueError):
    """The JPEG or its metadata cannot make a DICOM instance; the message says why."""


@dataclass(frozen=True)
class JpegInfo:
    rows: int
    columns: int
    components: int
    precision: int
    #: (horizontal, vertical) sampling factors of each component, from the SOF header
    sampling: tuple[tuple[int, int], ...] = ((1, 1),)
    #: the colour space of a 3-component JPEG: "RGB" (no colour transform) or "YCbCr"
    color_space: str = "YCbCr"

    @property
    def photometric_interpretation(self) -> str:
        """MONOCHROME2 for one component; RGB when the JPEG has no colour transform; else YBR_FULL_422.

        YBR_FULL_422 holds for any YCbCr JPEG Baseline, subsampled or not (4:4:4): it is what dciodvfy and
        highdicom's SCImage accept for this transfer syntax, and YBR_FULL is refused by both. What decides is
        the colour transform (APP14/JFIF markers, component ids), not the sampling factors.
        """
        if self.components == 1:
            return "MONOCHROME2"
        return "RGB" if self.color_space == "RGB" else "YBR_FULL_422"


def _color_space(app_markers: dict[int, bytes], component_ids: bytes) -> str:
    """The colour space of a 3-component JPEG, as libjpeg decides it: an Adobe APP14 marker's transform flag
    (0: none, RGB), else JFIF (YCbCr), else component ids 'R', 'G', 'B' (RGB), else YCbCr."""
    adobe = app_markers.get(0xEE, b"")
    if adobe.startswith(b"Adobe") and len(adobe) >= 12:
        return "RGB" if adobe[11] == 0 else "YCbCr"
    if app_markers.get(0xE0, b"").startswith(b"JFIF"):
        return "YCbCr"
    return "RGB" if component_ids == b"RGB" else "YCbCr"


def read_jpeg_info(data: bytes) -> JpegInfo:
    """Frame size, components, sampling and colour space from a baseline JPEG's headers (SOF0, APP0,
    APP14); anything but JPEG Baseline is refused."""
    if data[:2] != b"\xff\xd8":
        raise JpegInstanceError("not a JPEG file (no SOI marker)")
    pos = 2
    app_markers: dict[int, bytes] = {}
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
        if 0xE0 <= marker <= 0xEF and marker not in app_markers:
            app_markers[marker] = data[pos + 4 : pos + 2 + length]
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
            specs = data[pos + 10 : pos + 10 + 3 * components]
            if len(specs) < 3 * components:
                break
            sampling = tuple((specs[i + 1] >> 4, specs[i + 1] & 0x0F) for i in range(0, len(specs), 3))
            ids = bytes(specs[i] for i in range(0, len(specs), 3))
            return JpegInfo(
                rows=rows,
                columns=columns,
                components=components,
                precision=precision,
                sampling=sampling,
                color_space=_color_space(app_markers, ids) if components == 3 else "MONOCHROME",
            )
        if marker == 0xDA:  # start of scan before any frame header
            break
        pos += 2 + length
    raise JpegInstanceError("corrupt or truncated JPEG: no frame header (SOF0) found")


#: What a Secondary Capture Image needs that the user's metadata may leave out (PS3.3 A.8.1): Type 2
#: attributes present and empty, Type 1 ones with a default. Given values always win.
SC_DEFAULTS: dict[str, tuple[str, object]] = {
    "00100010": ("PN", None),  # PatientName (2)
    "00100020": ("LO", None),  # PatientID (2)
    "00100030": ("DA", None),  # PatientBirthDate (2)
    "00100040": ("CS", None),  # PatientSex (2)
    "00080020": ("DA", None),  # StudyDate (2)
    "00080030": ("TM", None),  # StudyTime (2)
    "00080090": ("PN", None),  # ReferringPhysicianName (2)
    "00200010": ("SH", None),  # StudyID (2)
    "00080050": ("SH", None),  # AccessionNumber (2)
    "00080060": ("CS", "OT"),  # Modality (1): "other" unless the metadata says (XC for photographs)
    "00200011": ("IS", None),  # SeriesNumber (2)
    "00200060": ("CS", None),  # Laterality (2C): empty means unknown
    "00080064": ("CS", "WSD"),  # ConversionType (1): made on a workstation
    "00200013": ("IS", None),  # InstanceNumber (2)
    "00200020": ("CS", None),  # PatientOrientation (2C): required when there is no Image Plane module
}


def _element(vr: str, value: object) -> dict:
    return {"vr": vr} if value is None else {"vr": vr, "Value": [value]}


def _has_non_ascii(dataset: object) -> bool:
    return any(ord(c) > 127 for c in json.dumps(dataset, ensure_ascii=False))


def instance_metadata(metadata: dict, info: JpegInfo, bulkdata_uri: str) -> dict:
    """The DICOM JSON of a conformant Secondary Capture Image: the given metadata, what the IOD requires
    that it leaves out (:data:`SC_DEFAULTS`), the pixel attributes of the JPEG, and the lossy compression
    it carries (JPEG Baseline, ISO 10918-1).

    The Study, Series and SOP Instance UIDs must be present and valid; the SOP Class defaults to Secondary
    Capture. Rows or Columns given in the metadata must match the JPEG.
    """
    if not isinstance(metadata, dict):
        raise JpegInstanceError("metadata must be one DICOM JSON dataset (an object keyed by tags)")
    out = copy.deepcopy(metadata)
    for tag, keyword in REQUIRED_UIDS.items():
        try:
            validate_uid(first_value(out, tag), keyword)
        except InvalidUIDError as exc:
            raise JpegInstanceError(f"metadata: {exc}") from None
    if first_value(out, SOP_CLASS_UID) is None:
        out["00080016"] = {"vr": "UI", "Value": [SECONDARY_CAPTURE]}
    try:
        validate_uid(first_value(out, SOP_CLASS_UID), "SOPClassUID")
    except InvalidUIDError as exc:
        raise JpegInstanceError(f"metadata: {exc}") from None
    for tag, keyword, actual in (("00280010", "Rows", info.rows), ("00280011", "Columns", info.columns)):
        given = first_value(out, tag)
        if given is not None and int(given) != actual:
            raise JpegInstanceError(f"metadata says {keyword} {given}, but the JPEG has {actual}")
    for tag, (vr, default) in SC_DEFAULTS.items():
        out.setdefault(tag, _element(vr, default))
    if "00080005" not in out and _has_non_ascii(out):
        out["00080005"] = {"vr": "CS", "Value": ["ISO_IR 192"]}  # SpecificCharacterSet: UTF-8
    color = info.components == 3
    pixel = {
        "00280002": ("US", info.components),
        "00280004": ("CS", info.photometric_interpretation),
        "00280010": ("US", info.rows),
        "00280011": ("US", info.columns),
        "00280100": ("US", 8),
        "00280101": ("US", 8),
        "00280102": ("US", 7),
        "00280103": ("US", 0),
    }
    if color:
        pixel["00280006"] = ("US", 0)
    pixel["00282110"] = ("CS", "01")  # LossyImageCompression: yes
    pixel["00282114"] = ("CS", "ISO_10918_1")  # LossyImageCompressionMethod: JPEG
    for tag, (vr, value) in pixel.items():
        out[tag] = {"vr": vr, "Value": [value]}
    out["7FE00010"] = {"vr": "OB", "BulkDataURI": bulkdata_uri}
    return out


def sop_instance_uid(metadata: dict) -> str:
    return str(first_value(metadata, SOP_INSTANCE_UID))


def build_part10(metadata: dict, jpeg: bytes) -> bytes:
    """A DICOM Part 10 file (JPEG Baseline, encapsulated) from the instance's JSON and the JPEG bytes."""
    plain = {k: v for k, v in metadata.items() if k != "7FE00010" and not k.startswith("0002")}
    ds = Dataset.from_json(plain)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(ds.SOPClassUID)
    meta.MediaStorageSOPInstanceUID = UID(ds.SOPInstanceUID)
    meta.TransferSyntaxUID = UID(JPEG_BASELINE)
    meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
    ds.file_meta = meta
    ds.PixelData = encapsulate([jpeg])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
