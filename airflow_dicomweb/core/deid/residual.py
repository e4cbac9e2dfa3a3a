"""The last check before an instance is released: none of the identity its input carried (the people it
names, the patient's IDs, the accession number, the UIDs replaced) may be left anywhere in its attributes,
whatever attribute a system put it in. A hit quarantines the instance, naming the attribute, never the value.

Pixel data is not searched: it is released byte-identical, and instances that may show text in their pixels
are held by :mod:`.burned_in`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset

#: Name parts shorter than this are not searched for (initials would match everywhere).
MIN_NAME_PART = 2
#: IDs shorter than this are not searched for ("1", "A").
MIN_ID = 3
_PIXEL_TAGS = (0x7FE00008, 0x7FE00009, 0x7FE00010)
_IDS = ("PatientID", "OtherPatientIDs", "AccessionNumber", "IssuerOfPatientID", "MedicalRecordLocator")
_TEXTS = ("PatientAddress", "PatientTelephoneNumbers", "InstitutionAddress")


@dataclass(frozen=True, slots=True)
class IdentityValues:
    """What an input says about identity: the words of the names it holds, its IDs, its UIDs."""

    words: frozenset[str]
    phrases: frozenset[str]


def identity_values(ds: Dataset) -> IdentityValues:
    """Every name part of every person named in ``ds`` (sequences included), and its IDs and addresses."""
    words: set[str] = set()
    phrases: set[str] = set()

    def visit(dataset: Dataset) -> None:
        for elem in dataset.iterall():
            if elem.VR == "PN" and elem.value:
                values = elem.value if elem.VM > 1 else [elem.value]
                for value in values:
                    for part in re.split(r"[\^=\s,.]+", str(value)):
                        if len(part) >= MIN_NAME_PART:
                            words.add(part)
            elif elem.keyword in _IDS and elem.value:
                values = elem.value if elem.VM > 1 else [elem.value]
                phrases.update(str(v).strip() for v in values if len(str(v).strip()) >= MIN_ID)
            elif elem.keyword in _TEXTS and elem.value:
                text = str(elem.value).strip()
                if len(text) >= MIN_ID:
                    phrases.add(text)

    visit(ds)
    return IdentityValues(frozenset(words), frozenset(phrases))


def _pattern(values: IdentityValues, uids: set[str]) -> re.Pattern[bytes] | None:
    alternatives = [re.escape(w.encode("utf-8", "replace")) for w in values.words | values.phrases]
    alternatives += [re.escape(u.encode("ascii", "replace")) for u in uids]
    if not alternatives:
        return None
    alternatives.sort(key=len, reverse=True)
    body = b"|".join(alternatives)
    return re.compile(rb"(?<![A-Za-z0-9.])(?:" + body + rb")(?![A-Za-z0-9])", re.IGNORECASE)


def residual_identity(ds: Dataset, values: IdentityValues, replaced_uids: set[str]) -> str:
    """Where in ``ds`` (de-identified) an identity value of its input is left, or ''.

    The attributes are encoded as they would be written (pixel data left out) and searched byte by byte;
    a hit is then placed in the first attribute holding it."""
    pattern = _pattern(values, replaced_uids)
    if pattern is None:
        return ""
    buffer = DicomBytesIO()
    buffer.is_little_endian = True
    buffer.is_implicit_VR = False
    held = {tag: ds.get_item(tag) for tag in _PIXEL_TAGS if tag in ds}
    for tag in held:
        del ds[tag]
    try:
        write_dataset(buffer, ds)
    finally:
        for tag, elem in held.items():
            ds[tag] = elem
    if pattern.search(buffer.getvalue()) is None:
        return ""
    for elem in ds.iterall():
        if elem.tag in _PIXEL_TAGS or elem.VR == "SQ":
            continue
        value = elem.value
        text = value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")
        if pattern.search(text):
            return f"identity of the input is left in {elem.tag} {elem.keyword or '(unnamed)'}"
    return "identity of the input is left in its encoded attributes"
