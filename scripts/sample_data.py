"""Sample data to try the `dicomweb` command and the DAGs on: one CT study of synthetic instances (512x512,
16-bit, about 0.5 MB each) in a folder, plus a file named like DICOM that is not, to show how a bad file
is reported.

    .venv/bin/python scripts/sample_data.py DIR [--count N] [--series S]

Each run makes a new study (new UIDs); existing files are left alone.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def instance(study: str, series: str, number: int, rng: random.Random) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "TEST^PATIENT", "PID-0001", "", ""
    ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "20240115", "101500", f"ACC{study[-6:]}"
    ds.StudyID, ds.ReferringPhysicianName, ds.Modality, ds.SeriesNumber = "1", "", "CT", 1
    ds.InstanceNumber = number
    ds.Rows = ds.Columns = 512
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = rng.randbytes(512 * 512 * 2)
    return ds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dir", type=Path)
    parser.add_argument("--count", type=int, default=100, help="instances (100)")
    parser.add_argument("--series", type=int, default=1, help="series they are spread over (1)")
    args = parser.parse_args()
    study = generate_uid()
    series = [generate_uid() for _ in range(max(1, args.series))]
    rng = random.Random(study)
    args.dir.mkdir(parents=True, exist_ok=True)
    for n in range(args.count):
        ds = instance(study, series[n % len(series)], n + 1, rng)
        ds.save_as(args.dir / f"{study[-6:]}-{n + 1:05d}.dcm", enforce_file_format=True)
    (args.dir / "notes.dcm").write_text("This file is named like DICOM but is not.\n")
    print(f"{args.count} instances of study {study} and notes.dcm (not DICOM) in {args.dir}")


if __name__ == "__main__":
    main()
