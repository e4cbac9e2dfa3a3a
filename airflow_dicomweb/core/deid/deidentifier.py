"""The de-identifier: PS3.15 Table E.1-1's action for every attribute (sequences included), private
attributes removed, keyed replacements for UIDs, the patient and dates, and the attributes that say how it was
done. Pixel data is never touched: the PixelData element leaves byte-identical.

An instance whose pixels may show identity (:mod:`.burned_in`), or in which an identity value of its input
is still found after the table was applied (:mod:`.residual`), is quarantined with its reason, never
released.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from typing import BinaryIO

from pydicom import dcmread
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    UID_dictionary,
)

from airflow_dicomweb.core.deid.burned_in import burned_in_reason
from airflow_dicomweb.core.deid.dates import shift_da, shift_dt
from airflow_dicomweb.core.deid.dummy_values import dummy_value
from airflow_dicomweb.core.deid.key import DeidentificationKey
from airflow_dicomweb.core.deid.mapping import DeidentificationMapping
from airflow_dicomweb.core.deid.options import BASIC_PROFILE_CODE, RetainOption, parse_retain
from airflow_dicomweb.core.deid.part10_writer import write_part10
from airflow_dicomweb.core.deid.residual import (
    identity_matcher,
    identity_values,
    residual_identity,
    where_left,
)
from airflow_dicomweb.core.deid.table import FREE_TEXT_IN_CONTENT, ProfileTable, profile_table
from airflow_dicomweb.core.dicom.instance_header import InstanceHeader
from airflow_dicomweb.core.errors import DicomWebError

#: Written into DeidentificationMethod (LO: at most 64 characters).
METHOD = "PS3.15 E.1 Basic Profile, keyed replacements (airflow-dicomweb)"
#: The implementation that wrote the output (File Meta Information).
IMPLEMENTATION_CLASS_UID = "1.2.826.0.1.3680043.10.1532.2"
IMPLEMENTATION_VERSION = "AIRFLOW_DICOMWEB"

_PATIENT_NAME = 0x00100010
_PATIENT_ID = 0x00100020
_STRUCTURE_SEQUENCES = frozenset({0x0040A730})  # Content Sequence: its free text is replaced
_KEPT_UID_SUFFIXES = ("ClassUID", "SyntaxUID", "SchemeUID", "TemplateUID")
#: VRs whose element is replaced without being decoded first (one VR, not a sequence, not binary).
_PLAIN_VRS = frozenset(
    ("AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT")
)


class DeidentificationError(DicomWebError):
    """An input that cannot be de-identified (not DICOM, unreadable): names the input."""


@dataclass(frozen=True, slots=True)
class DeidentifiedInstance:
    """An instance de-identified: its Part 10 bytes, in order (the attributes, then the pixel data as read,
    never copied), and its new UIDs."""

    chunks: tuple[bytes | memoryview, ...]
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str

    @property
    def size(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)

    @property
    def data(self) -> bytes:
        """The Part 10 bytes in one piece (a copy)."""
        return b"".join(self.chunks)

    def header(self) -> InstanceHeader:
        """Its identity as a store sends it: the new UIDs, and its size."""
        return InstanceHeader(
            study_instance_uid=self.study_instance_uid,
            series_instance_uid=self.series_instance_uid,
            sop_instance_uid=self.sop_instance_uid,
            sop_class_uid=self.sop_class_uid,
            transfer_syntax_uid=self.transfer_syntax_uid,
            size=self.size,
        )


@dataclass(frozen=True, slots=True)
class Quarantined:
    """An instance not released, and why (its reason names attributes, never values)."""

    reason: str


class _Run:
    """The state of one instance's de-identification: its patient, the UIDs it replaced."""

    def __init__(self, patient: str, day_offset: int | None) -> None:
        self.patient = patient
        self.day_offset = day_offset
        self.replaced_uids: set[str] = set()


class Deidentifier:
    """De-identifies instances with ``key``; ``retain`` names the options kept (:mod:`.options`);
    ``mapping``, when given, records every original and its replacement."""

    def __init__(
        self,
        key: DeidentificationKey,
        retain: Iterable[str | RetainOption] | str | None = None,
        *,
        mapping: DeidentificationMapping | None = None,
    ) -> None:
        self.key = key
        self.retain = parse_retain(retain)
        self.mapping = mapping
        self.table: ProfileTable = profile_table()
        self._actions: dict[tuple[int, bool], str] = {}

    def __repr__(self) -> str:
        return f"Deidentifier(retain={sorted(o.value for o in self.retain)})"

    # --- instances -------------------------------------------------------------------------------------
    def deidentify_bytes(self, data: bytes, *, source: str) -> DeidentifiedInstance | Quarantined:
        """``data`` (a Part 10 file) de-identified, or quarantined; a :class:`DeidentificationError` naming
        ``source`` when it is not DICOM."""
        return self.deidentify_stream(BytesIO(data), source=source)

    def deidentify_stream(self, stream: BinaryIO, *, source: str) -> DeidentifiedInstance | Quarantined:
        """The Part 10 file ``stream`` reads (seekable, bounded by its caller), de-identified, as
        :meth:`deidentify_bytes` does; read by pydicom as it goes, so its pixel data is copied once."""
        try:
            preamble = stream.read(132)
            stream.seek(0)
            ds = dcmread(stream, force=preamble[128:132] != b"DICM")
            if "SOPInstanceUID" not in ds or "StudyInstanceUID" not in ds:
                raise DeidentificationError(f"{source}: not a DICOM instance (no SOP or Study Instance UID)")
            reason = burned_in_reason(ds)
            if reason:
                return Quarantined(reason)
            identity = identity_values(ds)
            replaced = self._apply_profile(ds)
            written, searchable = write_part10(ds)
            if not searchable:  # written in one piece (deflated, or attributes after the pixel data)
                left = residual_identity(ds, identity, replaced)
                if left:
                    return Quarantined(left)
            else:
                matcher = identity_matcher(identity, replaced)
                if matcher is not None and matcher.search(written[0]):
                    return Quarantined(where_left(ds, matcher))
        except DeidentificationError:
            raise
        except InvalidDicomError as exc:  # says what is missing, never a value
            raise DeidentificationError(f"{source}: not a DICOM file ({exc})") from None
        except Exception as exc:  # a malformed or hostile file: this input fails, by name, and no other
            # The library's message may quote a value (a name): only its kind is told.
            raise DeidentificationError(
                f"{source}: a DICOM instance that cannot be read and written whole ({type(exc).__name__})"
            ) from None
        return DeidentifiedInstance(
            chunks=written,
            study_instance_uid=str(ds.StudyInstanceUID),
            series_instance_uid=str(ds.get("SeriesInstanceUID", "")),
            sop_instance_uid=str(ds.SOPInstanceUID),
            sop_class_uid=str(ds.get("SOPClassUID", "")),
            transfer_syntax_uid=str(ds.file_meta.TransferSyntaxUID),
        )

    def deidentify_dataset(self, ds: Dataset) -> str:
        """De-identify ``ds`` in place; '' when it may be released, else the reason it is quarantined."""
        reason = burned_in_reason(ds)
        if reason:
            return reason
        identity = identity_values(ds)
        replaced = self._apply_profile(ds)
        return residual_identity(ds, identity, replaced)

    def _apply_profile(self, ds: Dataset) -> set[str]:
        """The table's actions, the attributes that say so, new File Meta Information; the UIDs replaced."""
        run = self._start(ds)
        self._clean(ds, run, in_content=False)
        self._mark(ds)
        self._rebuild_meta(ds)
        return run.replaced_uids

    def new_uid(self, original: str) -> str:
        """The UID that replaces ``original`` (itself under ``uids``): the same everywhere, with this key."""
        if RetainOption.UIDS in self.retain:
            return original
        replacement = self.key.uid(original)
        if self.mapping is not None:
            self.mapping.uid(original, replacement)
        return replacement

    # --- the walk ---------------------------------------------------------------------------------------
    def _start(self, ds: Dataset) -> _Run:
        patient_id = str(ds.get("PatientID", "") or "").strip()
        issuer = str(ds.get("IssuerOfPatientID", "") or "").strip()
        name = str(ds.get("PatientName", "") or "").strip()
        basis = (
            f"id:{issuer}\\{patient_id}" if patient_id else f"name:{name}\\{ds.get('PatientBirthDate', '')}"
        )
        dates = RetainOption.DATES_MODIFIED in self.retain
        run = _Run(self.key.pseudonym(basis), self.key.day_offset(basis) if dates else None)
        if self.mapping is not None:
            self.mapping.patient(patient_id, name, run.patient, run.day_offset)
        return run

    def _clean(self, ds: Dataset, run: _Run, *, in_content: bool) -> None:
        self._drop_overlays(ds)
        for tag in list(ds.keys()):
            number = int(tag)  # plain int arithmetic: BaseTag's own comparisons cost a Python call each
            group = number >> 16
            if group & 1 or not number & 0xFFFF or group == 0xFFFC or group == 0xFFFA:
                del ds[tag]  # private, group lengths, trailing padding, digital signatures
                continue
            if number == _PATIENT_ID:
                ds[tag] = DataElement(tag, "LO", run.patient)
                continue
            if number == _PATIENT_NAME:
                ds[tag] = DataElement(
                    tag, "PN", run.patient + "^"
                )  # a family name: the pseudonym (PS3.5 6.2.1)
                continue
            action = self._action(tag, in_content)
            self._apply(ds, tag, action, run, in_content=in_content)

    def _action(self, tag: int, in_content: bool) -> str:
        """The table's action for ``tag`` with this de-identifier's options (worked out once per tag)."""
        key = (tag, in_content)
        action = self._actions.get(key)
        if action is None:
            row = self.table.row(tag)
            if row is not None:
                action = row.action(self.retain)
            elif in_content and tag in FREE_TEXT_IN_CONTENT:
                action = "D"
            else:
                action = "K"
            self._actions[key] = action
        return action

    def _apply(self, ds: Dataset, tag: int, action: str, run: _Run, *, in_content: bool) -> None:
        if action == "X":
            del ds[tag]
            return
        raw = ds.get_item(tag)
        vr = (raw.VR if raw is not None else None) or _vr(tag)
        if action == "K" and vr not in ("SQ", "UI"):
            return  # untouched, never even decoded (pixel data among them)
        if raw is not None and raw.is_raw and vr in _PLAIN_VRS and (vr == "UI" or action != "U"):
            # replaced without decoding what it held: nothing of it is needed, but for the UIDs
            if vr == "UI" and action in ("U", "D", "C", "K"):
                originals = _raw_uids(raw.value)
                if action == "K" and _is_kept_uid(tag, originals):
                    return
                ds[tag] = DataElement(tag, "UI", self._uids(originals, run))
            elif action == "Z":
                ds[tag] = DataElement(tag, vr, None)
            elif action == "D":
                ds[tag] = DataElement(tag, vr, dummy_value(vr))
            elif action == "C":
                self._shift(ds, tag, vr, run)
            return
        elem = ds[tag]
        vr = elem.VR
        if vr == "SQ":
            if action == "Z":
                elem.value = Sequence()
                return
            inside = in_content or tag in _STRUCTURE_SEQUENCES
            for item in elem.value:
                self._clean(item, run, in_content=inside)
            return
        if action == "Z":
            elem.value = None
        elif action == "U" or (vr == "UI" and action in ("D", "C")):
            elem.value = self._uids(elem.value, run)
        elif action == "K":  # a UI the table does not list
            if not _is_kept_uid(tag, elem.value):
                elem.value = self._uids(elem.value, run)
        elif action == "C":
            self._shift(ds, tag, vr, run)
        else:  # D
            elem.value = dummy_value(vr)

    def _uids(self, value: object, run: _Run) -> object:
        if value is None or value == "":
            return value
        values = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
        replaced = []
        for original in values:
            text = str(original).strip().rstrip("\x00")
            new = self.new_uid(text)
            if new != text:
                run.replaced_uids.add(text)
            replaced.append(new)
        return replaced if len(replaced) > 1 else replaced[0]

    def _shift(self, ds: Dataset, tag: int, vr: str, run: _Run) -> None:
        """Action C of ``dates-modified``: dates moved by the patient's offset; times kept. A value that is
        not a full date is emptied rather than kept."""
        elem = ds[tag]
        if vr not in ("DA", "DT") or run.day_offset is None or not elem.value:
            return
        shift = shift_da if vr == "DA" else shift_dt
        values = list(elem.value) if elem.VM > 1 else [elem.value]
        moved = [shift(str(v), run.day_offset) for v in values]
        if any(m is None for m in moved):
            elem.value = None
            return
        elem.value = moved if len(moved) > 1 else moved[0]

    def _drop_overlays(self, ds: Dataset) -> None:
        """Overlay data and comments are removed (X); the rest of an overlay's group goes with them, so no
        overlay is left without its data."""
        groups = {g for g in (int(tag) >> 16 for tag in ds.keys()) if 0x6000 <= g <= 0x60FF and g % 2 == 0}  # noqa: SIM118
        for group in groups:
            row = self.table.row((group << 16) | 0x3000)
            if row is not None and row.action(self.retain) == "X":
                for tag in [t for t in ds.keys() if t.group == group]:  # noqa: SIM118
                    del ds[tag]

    # --- what is added ----------------------------------------------------------------------------------
    def _mark(self, ds: Dataset) -> None:
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = METHOD
        codes = [BASIC_PROFILE_CODE, *sorted(option.code for option in self.retain)]
        items = []
        for value, meaning in codes:
            item = Dataset()
            item.CodeValue = value
            item.CodingSchemeDesignator = "DCM"
            item.CodeMeaning = meaning
            items.append(item)
        ds.DeidentificationMethodCodeSequence = Sequence(items)
        dates = RetainOption.DATES_MODIFIED in self.retain
        ds.LongitudinalTemporalInformationModified = "MODIFIED" if dates else "REMOVED"

    def _rebuild_meta(self, ds: Dataset) -> None:
        """File Meta Information anew: the instance's own UIDs, this implementation, nothing of the sender
        (its AE titles and private information go)."""
        old = getattr(ds, "file_meta", None) or FileMetaDataset()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.get("SOPClassUID", old.get("MediaStorageSOPClassUID", ""))
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = old.get("TransferSyntaxUID") or _syntax_read(ds)
        meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
        meta.ImplementationVersionName = IMPLEMENTATION_VERSION
        ds.file_meta = meta


def _syntax_read(ds: Dataset) -> UID:
    """The transfer syntax a data set without File Meta Information was read in (a bare data set)."""
    implicit, little = ds.original_encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _raw_uids(value: bytes | None) -> list[str] | str:
    """The UIDs of an undecoded UI value, as pydicom would decode them (padding stripped)."""
    if not value:
        return ""
    uids = [v.strip(" \x00") for v in value.decode("ascii", "replace").split("\\")]
    return uids if len(uids) > 1 else uids[0]


def _vr(tag: int) -> str:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


def _is_kept_uid(tag: int, value: object) -> bool:
    """Whether a UI the table does not list is kept: a class, syntax or scheme UID, or one the standard
    registers. Any other (an instance's UID in an attribute the table misses) is replaced like a listed one."""
    keyword = keyword_for_tag(tag)
    if keyword.endswith(_KEPT_UID_SUFFIXES):
        return True
    values = value if isinstance(value, list | tuple) else [value]
    return all(str(v) in UID_dictionary for v in values if v)
