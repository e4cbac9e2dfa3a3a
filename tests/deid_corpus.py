"""A study with identifiers planted where real files carry them, for the de-identification tests and the
side-by-side comparison (benchmarks/deidentify_compare.py).

One patient, one study: a CT series of three instances (one referring to another, a shared Frame of Reference,
a private block, an overlay with comments, curve data, a preamble and File Meta Information that name the
scanner), a JPEG 2000 instance made from a real file of pydicom's test data, a Basic Text SR naming people in
its text and referring to the CT instances, and two instances whose pixels may show text (US without
BurnedInAnnotation, SC declaring it). ``PLANTED`` lists every identifying value; no output byte may hold one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    UltrasoundImageStorage,
    generate_uid,
)

BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"

PATIENT_NAME = "SMITHERSON^JOHANNA"
PATIENT_ID = "MRN-884213"
#: Every identifying value planted; none may be found, in any case, in any output byte.
PLANTED = [
    "SMITHERSON",
    "JOHANNA",
    PATIENT_ID,
    "ALT-55102",  # Other Patient IDs
    "19610317",  # birth date
    "ELMWOOD",  # the patient's address
    "555-0142-889",  # the patient's telephone
    "ACC99177",  # accession number
    "BARTHOLOMEW",  # institution
    "PORTSMOUTH",  # institution address
    "HOLLOWAY",  # referring physician, verifying observer
    "KOWALCZYK",  # performing physician, a PNAME item of the SR
    "RENATA",  # operator
    "CTROOM5",  # station name, the sender's AE title
    "SN-4477120",  # device serial number
    "RP-66120",  # requested procedure ID
    "SPS-33102",  # scheduled procedure step ID
    "20240115",  # study date
    "20240116",  # a date in the SR's content
    "ACME-RESEARCH",  # private creator
]


@dataclass
class PlantedStudy:
    """The files written, the UIDs they hold, and which are expected to be quarantined."""

    folder: Path
    released: list[Path] = field(default_factory=list)
    quarantined: list[Path] = field(default_factory=list)
    uids: dict[str, str] = field(default_factory=dict)

    @property
    def files(self) -> list[Path]:
        return self.released + self.quarantined


def _meta(ds: Dataset, sop_class: str, syntax: str = ExplicitVRLittleEndian) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = syntax
    meta.ImplementationClassUID = "1.2.826.0.1.3680043.10.1532.1"
    meta.SourceApplicationEntityTitle = "CTROOM5"
    ds.file_meta = meta
    ds.preamble = b"SCANNER CTROOM5 PATIENT SMITHERSON".ljust(128, b"\x00")


def _patient(ds: Dataset, study: str) -> None:
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.IssuerOfPatientID = "HOSPITAL"
    ds.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = Sequence([Dataset()])
    ds.OtherPatientIDsSequence[0].PatientID = "ALT-55102"
    ds.OtherPatientIDsSequence[0].IssuerOfPatientID = "LEGACY"
    ds.OtherPatientIDsSequence[0].TypeOfPatientID = "TEXT"
    ds.PatientBirthDate = "19610317"
    ds.PatientSex = "F"
    ds.PatientAge = "062Y"
    ds.PatientAddress = "1428 ELMWOOD AVENUE"
    ds.PatientTelephoneNumbers = "555-0142-889"
    ds.StudyInstanceUID = study
    ds.StudyDate = "20240115"
    ds.StudyTime = "101500"
    ds.StudyID = "ST1"
    ds.AccessionNumber = "ACC99177"
    ds.ReferringPhysicianName = "HOLLOWAY^MARGARET"
    ds.StudyDescription = "CT CHEST for SMITHERSON"
    ds.InstitutionName = "SAINT BARTHOLOMEW CLINIC"
    ds.InstitutionAddress = "77 HARBOR ROAD PORTSMOUTH"
    ds.StationName = "CTROOM5"
    ds.DeviceSerialNumber = "SN-4477120"
    ds.Manufacturer = "ACME"
    ds.OperatorsName = "TECHNOLOGIST^RENATA"
    ds.PerformingPhysicianName = "KOWALCZYK^PIOTR"
    request = Dataset()
    request.RequestedProcedureID = "RP-66120"
    request.ScheduledProcedureStepID = "SPS-33102"
    request.RequestedProcedureDescription = "CT for JOHANNA SMITHERSON"
    ds.RequestAttributesSequence = Sequence([request])
    ds.add_new(0x00090010, "LO", "ACME-RESEARCH")
    ds.add_new(0x00091001, "LO", "SMITHERSON JOHANNA MRN-884213")
    ds.add_new(0x00091002, "OB", b"SMITHERSON\x00\x01")


def _ct(path: Path, study: str, series: str, frame: str, sop: str, number: int, refer_to: str | None) -> None:
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop
    _patient(ds, study)
    ds.SeriesInstanceUID = series
    ds.FrameOfReferenceUID = frame
    ds.PositionReferenceIndicator = ""
    ds.Modality = "CT"
    ds.SeriesNumber = 1
    ds.SeriesDate = "20240115"
    ds.SeriesDescription = "Johanna axial"
    ds.Laterality = ""
    ds.ProtocolName = "SMITHERSON protocol"
    ds.ImageComments = "called Mrs Smitherson at 555-0142-889"
    ds.AcquisitionDateTime = "20240115103000"
    ds.ContentDate = "20240115"
    ds.ContentTime = "103000"
    ds.InstanceNumber = number
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.BurnedInAnnotation = "NO"
    ds.ImagePositionPatient = [0, 0, float(number * 5)]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SliceThickness = 5
    ds.PixelSpacing = [0.5, 0.5]
    ds.KVP = 120
    ds.AcquisitionNumber = 1
    ds.PatientPosition = "HFS"
    ds.Rows = ds.Columns = 16
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.PixelData = random.Random(number).randbytes(2 * 16 * 16)
    ds.add_new(0x60000010, "US", 16)  # an overlay, its comment naming the patient
    ds.add_new(0x60000011, "US", 16)
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60003000, "OW", b"\x00" * 32)
    ds.add_new(0x60004000, "LT", "marked by SMITHERSON's nurse")
    ds.add_new(0x50002500, "LO", "curve of SMITHERSON")  # curve data (retired)
    if refer_to:
        reference = Dataset()
        reference.ReferencedSOPClassUID = CTImageStorage
        reference.ReferencedSOPInstanceUID = refer_to
        ds.ReferencedImageSequence = Sequence([reference])
    _meta(ds, CTImageStorage)
    ds.save_as(path, enforce_file_format=True)


def _content(kind: str, name: str, **values) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = kind
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator, concept.CodeMeaning = name
    item.ConceptNameCodeSequence = Sequence([concept])
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def _sr(path: Path, study: str, ct_series: str, ct_sops: list[str]) -> str:
    ds = Dataset()
    ds.SOPClassUID = BASIC_TEXT_SR
    ds.SOPInstanceUID = generate_uid()
    _patient(ds, study)
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "SR"
    ds.SeriesNumber = 2
    ds.InstanceNumber = 1
    ds.ContentDate = "20240116"
    ds.ContentTime = "090000"
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "VERIFIED"
    observer = Dataset()
    observer.VerifyingObserverName = "HOLLOWAY^MARGARET"
    observer.VerifyingOrganization = "SAINT BARTHOLOMEW CLINIC"
    observer.VerificationDateTime = "20240116091500"
    observer.VerifyingObserverIdentificationCodeSequence = Sequence()
    ds.VerifyingObserverSequence = Sequence([observer])
    title = Dataset()
    title.CodeValue, title.CodingSchemeDesignator, title.CodeMeaning = (
        "18748-4",
        "LN",
        "Diagnostic Imaging Report",
    )
    ds.ConceptNameCodeSequence = Sequence([title])
    ds.ContentSequence = Sequence(
        [
            _content(
                "TEXT",
                ("121071", "DCM", "Finding"),
                TextValue="Dr HOLLOWAY reviewed SMITHERSON JOHANNA, MRN-884213: no acute finding",
            ),
            _content("PNAME", ("121008", "DCM", "Person Observer Name"), PersonName="KOWALCZYK^PIOTR"),
            _content("DATE", ("111060", "DCM", "Study Date"), Date="20240116"),
            _content("UIDREF", ("121232", "DCM", "Source image for segmentation"), UID=ct_sops[0]),
        ]
    )
    evidence_series = Dataset()
    evidence_series.SeriesInstanceUID = ct_series
    evidence_series.ReferencedSOPSequence = Sequence()
    for sop in ct_sops:
        ref = Dataset()
        ref.ReferencedSOPClassUID = CTImageStorage
        ref.ReferencedSOPInstanceUID = sop
        evidence_series.ReferencedSOPSequence.append(ref)
    evidence = Dataset()
    evidence.StudyInstanceUID = study
    evidence.ReferencedSeriesSequence = Sequence([evidence_series])
    ds.CurrentRequestedProcedureEvidenceSequence = Sequence([evidence])
    ds.PerformedProcedureCodeSequence = Sequence()
    ds.ReferencedPerformedProcedureStepSequence = Sequence()
    _meta(ds, BASIC_TEXT_SR)
    ds.save_as(path, enforce_file_format=True)
    return str(ds.SOPInstanceUID)


def _image(path: Path, study: str, sop_class: str, modality: str, burned_in: str | None) -> None:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    _patient(ds, study)
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = modality
    ds.SeriesNumber = 3
    ds.InstanceNumber = 1
    if burned_in is not None:
        ds.BurnedInAnnotation = burned_in
    ds.Rows = ds.Columns = 8
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(64)
    _meta(ds, sop_class)
    ds.save_as(path, enforce_file_format=True)


def _jpeg(path: Path, study: str) -> str:
    """pydicom's JPEG 2000 test file, made one of this patient's: its encapsulated frames untouched."""
    ds = dcmread(get_testdata_file("JPEG2000.dcm"))
    syntax = ds.file_meta.TransferSyntaxUID
    ds.SOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    _patient(ds, study)
    ds.BurnedInAnnotation = "NO"
    ds.Laterality = ""
    _meta(ds, ds.SOPClassUID, syntax)
    ds.save_as(path, enforce_file_format=True)
    return str(ds.SOPInstanceUID)


def make_planted_study(folder: Path) -> PlantedStudy:
    """Write the study into ``folder`` (file names name the patient, as some exports do)."""
    folder.mkdir(parents=True, exist_ok=True)
    study = generate_uid()
    series = generate_uid()
    frame = generate_uid()
    sops = [generate_uid() for _ in range(3)]
    planted = PlantedStudy(folder, uids={"study": study, "series": series, "frame": frame})
    for number, sop in enumerate(sops, start=1):
        path = folder / f"SMITHERSON_CT_{number}.dcm"
        _ct(path, study, series, frame, sop, number, refer_to=sops[0] if number > 1 else None)
        planted.released.append(path)
        planted.uids[f"ct{number}"] = sop
    planted.uids["sr"] = _sr(folder / "SMITHERSON_SR.dcm", study, series, sops)
    planted.released.append(folder / "SMITHERSON_SR.dcm")
    planted.uids["jpeg"] = _jpeg(folder / "SMITHERSON_J2K.dcm", study)
    planted.released.append(folder / "SMITHERSON_J2K.dcm")
    _image(folder / "SMITHERSON_US.dcm", study, UltrasoundImageStorage, "US", None)
    _image(folder / "SMITHERSON_SC.dcm", study, SecondaryCaptureImageStorage, "OT", "YES")
    planted.quarantined += [folder / "SMITHERSON_US.dcm", folder / "SMITHERSON_SC.dcm"]
    return planted
