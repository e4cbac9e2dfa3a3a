"""The quality gate on files: whole series pass; gaps, uneven slices, missing frames, two patients in a
study, pixel data that does not decode and names left in free text are found, named, and quarantined (the
instance, its series or its study); a quarantine folder receives the files with their reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.uid import generate_uid

from airflow_dicomweb.core.deid.deidentifier import Deidentifier
from airflow_dicomweb.core.deid.files import deidentify_files
from airflow_dicomweb.core.deid.key import DeidentificationKey
from airflow_dicomweb.core.errors import DicomWebConfigError
from airflow_dicomweb.core.quality.gate import QualityGate, quarantine_files
from tests.deid_corpus import PATIENT_NAME, make_planted_study
from tests.dicom_factory import make_instance

ORIENTATION = [1, 0, 0, 0, 1, 0]


def series(folder: Path, numbers, *, study: str | None = None, spacing=5.0, **kw) -> list[Path]:
    """A series of one instance per InstanceNumber, each at its slice position (``spacing`` apart)."""
    study = study or generate_uid()
    uid = generate_uid()
    return [
        make_instance(
            folder / f"{uid[-6:]}-{n}.dcm",
            study_uid=study,
            series_uid=uid,
            instance_number=n,
            rows=8,
            columns=8,
            seed=n,
            attributes={"ImagePositionPatient": [0, 0, n * spacing], "ImageOrientationPatient": ORIENTATION},
            **kw,
        )
        for n in numbers
    ]


def test_a_whole_series_passes(tmp_path):
    series(tmp_path, range(1, 8))
    result = QualityGate().check_files([tmp_path])
    assert result.passed and result.checked == 7 and not result.quarantined
    assert result.summary()["passed"] is True


def test_a_gap_is_found_by_number_and_by_spacing_and_quarantines_the_series(tmp_path):
    files = series(tmp_path, [1, 2, 3, 5, 6])
    other = series(tmp_path, range(1, 4))
    result = QualityGate(["series-completeness"]).check_files([tmp_path])
    reasons = [str(f) for f in result.findings]
    assert any("InstanceNumber gaps: 4 missing between 1 and 6" in r for r in reasons)
    assert any("inconsistent slice spacing: 10 mm after slice 3 of 5" in r for r in reasons)
    assert set(result.quarantined) == {str(f) for f in files}
    assert not {str(f) for f in other} & set(result.quarantined)


def test_missing_frames_and_two_patients_in_a_study(tmp_path):
    study = generate_uid()
    cut = make_instance(
        tmp_path / "cut.dcm", study_uid=study, series_uid=generate_uid(), frames=3, rows=8, columns=8
    )
    ds = dcmread(cut)
    ds.PixelData = ds.PixelData[: 2 * 8 * 8 * 2]  # two frames of three
    ds.save_as(cut)
    make_instance(tmp_path / "other.dcm", study_uid=study, series_uid=generate_uid(), patient_id="PID-0002")
    result = QualityGate(["series-completeness", "one-patient-per-study"]).check_files([tmp_path])
    reasons = [str(f) for f in result.findings]
    assert any("pixel data holds 256 bytes; NumberOfFrames 3 of 8x8 needs 384" in r for r in reasons)
    assert any("one-patient-per-study: study " + study + ": 2 different PatientIDs" in r for r in reasons)
    assert not any("PID-000" in r for r in reasons)  # IDs are never named
    assert set(result.quarantined) == {str(tmp_path / "cut.dcm"), str(tmp_path / "other.dcm")}


def test_pixel_data_that_does_not_decode(tmp_path):
    ds = dcmread(get_testdata_file("SC_jpeg_no_color_transform.dcm"))
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xe0" + b"\x00garbage" * 20 + b"\xff\xd9"])
    ds.save_as(tmp_path / "broken.dcm")
    dcmread(get_testdata_file("JPEG2000.dcm")).save_as(tmp_path / "fine.dcm")
    result = QualityGate(["pixel-data-decodes"]).check_files([tmp_path])
    assert [Path(s).name for s in result.quarantined] == ["broken.dcm"]
    assert "pixel data (1.2.840.10008.1.2.4.50) does not decode" in str(result.findings[0])


def test_names_left_in_free_text_before_and_after_deidentification(tmp_path):
    named = make_instance(
        tmp_path / "in" / "a.dcm",
        study_uid=generate_uid(),
        series_uid=generate_uid(),
        patient_name="QUIMBY^ROSALIND",
        attributes={"SeriesDescription": "head for Rosalind"},
    )
    result = QualityGate(["names-in-free-text"]).check_files([named])
    assert "a patient's name is in (0008,103E) SeriesDescription" in str(result.findings[0])
    assert "ROSALIND" not in json.dumps(result.summary()).upper()

    planted = make_planted_study(tmp_path / "planted")
    deidentify_files(
        Deidentifier(DeidentificationKey("gate-test-key-0123456789")), [planted.folder], tmp_path / "out"
    )
    clean = QualityGate(["names-in-free-text"], known_names=[PATIENT_NAME, "HOLLOWAY^MARGARET"])
    assert clean.check_files([tmp_path / "out"]).passed
    assert "SMITHERSON" not in repr(clean)
    identified = clean.check_files([planted.released[0]])
    assert not identified.passed  # the same gate finds the names in the input


def test_quarantine_moves_the_files_aside_with_their_reasons(tmp_path):
    bad = series(tmp_path / "in", [1, 2, 4])
    good = series(tmp_path / "in", [1, 2, 3])
    (tmp_path / "in" / "notes.txt").write_text("not DICOM")
    result = QualityGate(["series-completeness"]).check_files([tmp_path / "in"])
    assert any(f.check == "readable" and "notes.txt" in f.reason for f in result.findings)
    moved = quarantine_files(result, tmp_path / "quarantine")
    assert sorted(moved) == sorted([str(p) for p in bad] + [str(tmp_path / "in" / "notes.txt")])
    assert all(p.exists() for p in good) and not any(p.exists() for p in bad)
    lines = [
        json.loads(line) for line in (tmp_path / "quarantine" / "quarantine.jsonl").read_text().splitlines()
    ]
    assert len(lines) == 4 and all(line["reasons"] for line in lines)
    assert QualityGate(["series-completeness"]).check_files([tmp_path / "in"]).passed


def test_unknown_checks_and_missing_decoders_are_named(monkeypatch):
    with pytest.raises(DicomWebConfigError, match="unknown quality check 'spelling'"):
        QualityGate(["spelling"])
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "numpy" else real(name, *a)
    )
    with pytest.raises(DicomWebConfigError, match=r"airflow-dicomweb\[quality\]"):
        QualityGate()
    QualityGate(["series-completeness"])  # the other checks need no decoder
