"""Parsing of STOW-RS responses (PS3.18 section 10.5.3) in DICOM JSON and DICOM XML.

The response is a dataset with a ReferencedSOPSequence (instances stored, with their RetrieveURL and an
optional WarningReason) and a FailedSOPSequence (instances refused, with their FailureReason). Google adds
a FailureDetail text in a private attribute. Both encodings are read into the same :class:`StowResponse`.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from airflow_dicomweb.core.errors import DicomWebResponseError
from airflow_dicomweb.core.media_types import parse_content_type

RETRIEVE_URL = "00081190"
FAILED_SOP_SEQUENCE = "00081198"
REFERENCED_SOP_SEQUENCE = "00081199"
REFERENCED_SOP_CLASS_UID = "00081150"
REFERENCED_SOP_INSTANCE_UID = "00081155"
WARNING_REASON = "00081196"
FAILURE_REASON = "00081197"
# Google's FailureDetail: (0009,1097) in JSON, (0009,0097) in XML, per its conformance statement.
FAILURE_DETAIL_TAGS = ("00091097", "00090097")

#: FailureReason and WarningReason codes (PS3.4 Annex B.2.3, PS3.18 Table 10.5.3-1 and I.2-1).
REASON_MEANINGS: dict[int, str] = {
    0x0107: "Warning: attribute list error",
    0x0110: "Processing failure",
    0x0111: "Duplicate SOP Instance",
    0x0112: "No such object instance",
    0x0117: "Invalid object instance",
    0x0119: "Class-instance conflict",
    0x0122: "Referenced SOP Class not supported",
    0x0124: "Not authorized",
    0x0212: "Missing attribute value",
    0xA700: "Refused: out of resources",
    0xA900: "Error: data set does not match SOP Class",
    0xB000: "Coercion of data elements",
    0xB006: "Elements discarded",
    0xB007: "Data set does not match SOP Class",
    0xC000: "Error: cannot understand",
    0xC122: "Referenced Transfer Syntax not supported",
}


def reason_meaning(code: int | None) -> str:
    """The meaning of a FailureReason or WarningReason code, by range where not listed exactly."""
    if code is None:
        return ""
    if code in REASON_MEANINGS:
        return REASON_MEANINGS[code]
    if 0xA700 <= code <= 0xA7FF:
        return "Refused: out of resources"
    if 0xA900 <= code <= 0xA9FF:
        return "Error: data set does not match SOP Class"
    if 0xC000 <= code <= 0xCFFF:
        return "Error: cannot understand"
    return f"unknown reason 0x{code:04X}"


@dataclass(frozen=True)
class ReferencedInstance:
    sop_instance_uid: str
    sop_class_uid: str = ""
    retrieve_url: str = ""
    warning_reason: int | None = None


@dataclass(frozen=True)
class FailedInstance:
    sop_instance_uid: str
    sop_class_uid: str = ""
    failure_reason: int | None = None
    failure_detail: str = ""

    @property
    def already_exists(self) -> bool:
        """Whether the failure says the instance is already stored (a duplicate, not an error).

        0x0111 is "Duplicate SOP Instance". Google answers 0x0110 (272, "Processing failure") with a
        FailureDetail saying the instance already exists; Orthanc answers the same 272 for an instance
        posted to another study, so the detail text decides.
        """
        return self.is_duplicate(frozenset())

    def is_duplicate(self, server_reasons: frozenset[int]) -> bool:
        """:attr:`already_exists`, or a FailureReason by which this server (its profile) says so."""
        if self.failure_reason == 0x0111 or self.failure_reason in server_reasons:
            return True
        return self.failure_reason == 0x0110 and "already exist" in self.failure_detail.lower()


@dataclass
class StowResponse:
    """What a STOW-RS response says, keyed by SOP Instance UID."""

    retrieve_url: str = ""
    referenced: dict[str, ReferencedInstance] = field(default_factory=dict)
    failed: dict[str, FailedInstance] = field(default_factory=dict)


def parse_stow_response(body: bytes, content_type: str | None) -> StowResponse:
    """Parse a STOW-RS response body. An empty body gives an empty :class:`StowResponse`.

    The encoding is taken from the Content-Type, or sniffed when the header is missing (Orthanc sends
    error bodies without one).
    """
    text = body.strip()
    if not text:
        return StowResponse()
    media_type, _ = parse_content_type(content_type)
    is_xml = "xml" in media_type or (not media_type and text[:1] == b"<")
    try:
        return _parse_xml(text) if is_xml else _parse_json(text)
    except (ValueError, ET.ParseError, KeyError, TypeError, AttributeError) as exc:
        raise DicomWebResponseError(
            f"unreadable STOW-RS response ({media_type or 'no Content-Type'}): {exc}; "
            f"body starts {text[:200]!r}"
        ) from None


# --- DICOM JSON (PS3.18 Annex F) ---


def _json_values(dataset: dict, tag: str) -> list:
    element = dataset.get(tag)
    if not isinstance(element, dict):
        return []
    values = element.get("Value")
    return values if isinstance(values, list) else []


def _json_first(dataset: dict, tag: str, default: Any = None) -> Any:
    values = _json_values(dataset, tag)
    return values[0] if values else default


def _parse_json(text: bytes) -> StowResponse:
    data = json.loads(text)
    if isinstance(data, list):  # some servers wrap the dataset in an array
        data = data[0] if data else {}
    if not isinstance(data, dict):
        raise ValueError("expected a DICOM JSON object")
    out = StowResponse(retrieve_url=str(_json_first(data, RETRIEVE_URL, "")))
    for item in _json_values(data, REFERENCED_SOP_SEQUENCE):
        uid = _json_first(item, REFERENCED_SOP_INSTANCE_UID)
        if uid:
            warning = _json_first(item, WARNING_REASON)
            out.referenced[str(uid)] = ReferencedInstance(
                sop_instance_uid=str(uid),
                sop_class_uid=str(_json_first(item, REFERENCED_SOP_CLASS_UID, "")),
                retrieve_url=str(_json_first(item, RETRIEVE_URL, "")),
                warning_reason=int(warning) if warning is not None else None,
            )
    for item in _json_values(data, FAILED_SOP_SEQUENCE):
        uid = _json_first(item, REFERENCED_SOP_INSTANCE_UID)
        if uid:
            reason = _json_first(item, FAILURE_REASON)
            detail = next((_json_first(item, t) for t in FAILURE_DETAIL_TAGS if _json_first(item, t)), "")
            out.failed[str(uid)] = FailedInstance(
                sop_instance_uid=str(uid),
                sop_class_uid=str(_json_first(item, REFERENCED_SOP_CLASS_UID, "")),
                failure_reason=int(reason) if reason is not None else None,
                failure_detail=str(detail or ""),
            )
    return out


# --- DICOM XML, the Native DICOM Model (PS3.19 Annex A) ---


def _xml_attr(parent: ET.Element, tag: str) -> ET.Element | None:
    for child in parent:
        if _local(child.tag) == "DicomAttribute" and child.get("tag", "").upper() == tag.upper():
            return child
    return None


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _xml_first(parent: ET.Element, tag: str, default: Any = None) -> Any:
    attr = _xml_attr(parent, tag)
    if attr is None:
        return default
    for child in attr:
        if _local(child.tag) == "Value":
            return (child.text or "").strip()
    return default


def _xml_items(parent: ET.Element, tag: str) -> list[ET.Element]:
    attr = _xml_attr(parent, tag)
    if attr is None:
        return []
    return [child for child in attr if _local(child.tag) == "Item"]


def _parse_xml(text: bytes) -> StowResponse:
    root = ET.fromstring(text)
    if _local(root.tag) != "NativeDicomModel":
        raise ValueError(f"root element is {_local(root.tag)!r}, not NativeDicomModel")
    out = StowResponse(retrieve_url=_xml_first(root, RETRIEVE_URL, ""))
    for item in _xml_items(root, REFERENCED_SOP_SEQUENCE):
        uid = _xml_first(item, REFERENCED_SOP_INSTANCE_UID)
        if uid:
            warning = _xml_first(item, WARNING_REASON)
            out.referenced[uid] = ReferencedInstance(
                sop_instance_uid=uid,
                sop_class_uid=_xml_first(item, REFERENCED_SOP_CLASS_UID, ""),
                retrieve_url=_xml_first(item, RETRIEVE_URL, ""),
                warning_reason=int(warning) if warning else None,
            )
    for item in _xml_items(root, FAILED_SOP_SEQUENCE):
        uid = _xml_first(item, REFERENCED_SOP_INSTANCE_UID)
        if uid:
            reason = _xml_first(item, FAILURE_REASON)
            detail = next((_xml_first(item, t) for t in FAILURE_DETAIL_TAGS if _xml_first(item, t)), "")
            out.failed[uid] = FailedInstance(
                sop_instance_uid=uid,
                sop_class_uid=_xml_first(item, REFERENCED_SOP_CLASS_UID, ""),
                failure_reason=int(reason) if reason else None,
                failure_detail=detail or "",
            )
    return out
