"""Synthetic DICOM instances made with pydicom, for tests and benchmarks."""

from __future__ import annotations

import datetime as dt
import os
import random
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

IMPLEMENTATION_UID = "1.2.826.0.1.3680043.10.1532.1"


def make_instance(
    path: str | os.PathLike,
    *,
    study_uid: str,
    series_uid: str,
    sop_uid: str | None = None,
    instance_number: int = 1,
    rows: int = 64,
    columns: int = 64,
    frames: int = 1,
    patient_name: str = "TEST^PATIENT",
    patient_id: str = "PID-0001",
    study_date: str = "20240115",
    modality: str = "CT",
    seed: int | None = None,
    attributes: dict | None = None,
) -> Path:
    """Write a CT-like instance of random 16-bit pixels; returns its path."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid or generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.StudyDate = study_date
    ds.StudyTime = "101500"
    ds.SeriesDate = study_date
    ds.ContentDate = study_date
    ds.Modality = modality
    ds.StudyID = "1"
    ds.AccessionNumber = "ACC" + study_uid[-6:]
    ds.SeriesNumber = 1
    ds.InstanceNumber = instance_number
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.Rows = rows
    ds.Columns = columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = random.Random(seed).randbytes(2 * rows * columns * frames)
    for keyword, value in (attributes or {}).items():
        setattr(ds, keyword, value)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def make_series(
    directory: str | os.PathLike,
    count: int,
    *,
    study_uid: str | None = None,
    series_uid: str | None = None,
    **kwargs,
) -> list[Path]:
    """``count`` instances of one series (new UIDs unless given) under ``directory``."""
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    directory = Path(directory)
    return [
        make_instance(
            directory / f"{series_uid[-8:]}-{i:05d}.dcm",
            study_uid=study_uid,
            series_uid=series_uid,
            instance_number=i + 1,
            seed=i,
            **kwargs,
        )
        for i in range(count)
    ]


def days_ago(days: int) -> str:
    return (dt.date.today() - dt.timedelta(days=days)).strftime("%Y%m%d")
