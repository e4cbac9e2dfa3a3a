"""The last check before an instance is released: none of the identity its input carried (the people it
names, the patient's IDs, the accession number, the UIDs replaced) may be left anywhere in its attributes,
whatever attribute a system put it in. A hit quarantines the instance, naming the attribute, never the value.

Pixel data is not searched: it is released byte-identical, and instances that may show text in their pixels
are held by :mod:`.burned_in`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.multival import MultiValue

#: Name parts shorter than this are not searched for (initials would match everywhere).
MIN_NAME_PART = 2
#: IDs shorter than this are not searched for ("1", "A").
MIN_ID = 3
#: Float, double float and integer pixel data: never searched (released byte-identical).
PIXEL_TAGS = (0x7FE00008, 0x7FE00009, 0x7FE00010)
_IDS = ("PatientID", "OtherPatientIDs", "AccessionNumber", "IssuerOfPatientID", "MedicalRecordLocator")
_TEXTS = ("PatientAddress", "PatientTelephoneNumbers", "InstitutionAddress")
#: The tags of the IDs and addresses searched for as whole phrases.
_PHRASE_TAGS = frozenset(tag_for_keyword(keyword) for keyword in (*_IDS, *_TEXTS))
_NAME_SEPARATORS = re.compile(r"[\^=\s,.]+")


@dataclass(frozen=True, slots=True)
class IdentityValues:
    """What an input says about identity: the words of the names it holds, its IDs, its UIDs."""

    words: frozenset[str]
    phrases: frozenset[str]


def identity_values(ds: Dataset) -> IdentityValues:
    """Every name part of every person named in ``ds`` (sequences included), and its IDs and addresses.

    Only the elements that can hold them are decoded (person names, IDs, addresses, and sequences to walk
    into); the rest stay as read, which keeps writing the output as fast as copying it."""
    words: set[str] = set()
    phrases: set[str] = set()

    def values_of(elem: DataElement) -> list[str]:
        value = elem.value
        if value is None or value == "":
            return []
        return [str(v) for v in value] if isinstance(value, list | tuple | MultiValue) else [str(value)]

    def visit(dataset: Dataset) -> None:
        for tag in list(dataset.keys()):
            raw = dataset.get_item(tag)
            vr = (raw.VR if raw is not None else None) or _dictionary_vr(tag)
            if vr == "SQ":
                for item in dataset[tag].value or []:
                    visit(item)
            elif vr == "PN":
                for value in values_of(dataset[tag]):
                    words.update(p for p in _NAME_SEPARATORS.split(value) if len(p) >= MIN_NAME_PART)
            elif tag in _PHRASE_TAGS:
                phrases.update(v.strip() for v in values_of(dataset[tag]) if len(v.strip()) >= MIN_ID)

    visit(ds)
    return IdentityValues(frozenset(words), frozenset(phrases))


def _dictionary_vr(tag: int) -> str:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


class IdentityMatcher:
    """Finds any identity value in bytes as a whole word, in any (ASCII) case: not preceded by a letter, a
    digit or a dot (a UID's next component) and not followed by a letter or a digit.

    Each value is looked for on its own with ``bytes.find`` in the upper-cased bytes: one instance's values
    differ from the next one's (its UIDs), so a regular expression of them would be compiled once per instance,
    which costs more than the search itself."""

    def __init__(self, values: list[bytes]) -> None:
        self.values = sorted({v.upper() for v in values if v}, key=len, reverse=True)

    def search(self, data: bytes | bytearray | memoryview) -> bool:
        """Whether ``data`` holds a value as a whole word."""
        text = bytes(data).upper()
        end = len(text)
        for value in self.values:
            size = len(value)
            at = text.find(value)
            while at >= 0:
                after = at + size
                if (at == 0 or text[at - 1] not in _WORD_BEFORE) and (
                    after == end or text[after] not in _WORD_AFTER
                ):
                    return True
                at = text.find(value, at + 1)
        return False


#: The bytes a match may not be preceded by (a letter, a digit, a dot) or followed by (a letter, a digit):
#: upper case only, as the bytes searched are upper-cased first.
_WORD_AFTER = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_WORD_BEFORE = _WORD_AFTER | {ord(".")}


def identity_matcher(values: IdentityValues, replaced_uids: set[str]) -> IdentityMatcher | None:
    """A matcher of every identity value (whole words, any case), or None when there is none."""
    encoded = [w.encode("utf-8", "replace") for w in values.words | values.phrases]
    encoded += [u.encode("ascii", "replace") for u in replaced_uids]
    if not any(encoded):
        return None
    return IdentityMatcher(encoded)


def where_left(ds: Dataset, matcher: IdentityMatcher) -> str:
    """The reason naming the first attribute of ``ds`` that holds an identity value."""
    for elem in ds.iterall():
        if elem.tag in PIXEL_TAGS or elem.VR == "SQ":
            continue
        value = elem.value
        text = value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")
        if matcher.search(text):
            return f"identity of the input is left in {elem.tag} {elem.keyword or '(unnamed)'}"
    return "identity of the input is left in its encoded attributes"


def residual_identity(ds: Dataset, values: IdentityValues, replaced_uids: set[str]) -> str:
    """Where in ``ds`` (de-identified) an identity value of its input is left, or ''.

    The attributes are encoded as they would be written (pixel data left out) and searched byte by byte;
    a hit is then placed in the first attribute holding it. (:meth:`Deidentifier.deidentify_bytes` searches
    the bytes it writes instead, and encodes nothing twice.)"""
    matcher = identity_matcher(values, replaced_uids)
    if matcher is None:
        return ""
    buffer = DicomBytesIO()
    buffer.is_little_endian = True
    buffer.is_implicit_VR = False
    held = {tag: ds.get_item(tag) for tag in PIXEL_TAGS if tag in ds}
    for tag in held:
        del ds[tag]
    try:
        write_dataset(buffer, ds)
    finally:
        for tag, elem in held.items():
            ds[tag] = elem
    if not matcher.search(buffer.getvalue()):
        return ""
    return where_left(ds, matcher)
