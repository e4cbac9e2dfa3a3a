"""The de-identifier (PS3.15 Annex E, Basic Profile and options) on a study with identifiers planted where
real files carry them (tests/deid_corpus.py): nothing identifying left in any output byte, references kept
consistent, pixel data byte-identical, output as valid as its input by dciodvfy, keyed and repeatable, the
key kept secret."""

from __future__ import annotations

import datetime as dt
import json
import logging
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from airflow_dicomweb.core.deid.deidentifier import DeidentificationError, Deidentifier
from airflow_dicomweb.core.deid.files import deidentify_files, summary, write_report
from airflow_dicomweb.core.deid.key import DeidentificationKey
from airflow_dicomweb.core.deid.mapping import DeidentificationMapping
from airflow_dicomweb.core.errors import DicomWebConfigError
from airflow_dicomweb.core.uids import validate_uid
from tests.dciodvfy import dciodvfy_errors
from tests.deid_corpus import PATIENT_ID, PLANTED, PlantedStudy, make_planted_study

KEY_TEXT = "k3y-0f-the-s1te-never-shown-anywhere"


@pytest.fixture
def planted(tmp_path) -> PlantedStudy:
    return make_planted_study(tmp_path / "in")


def run(planted: PlantedStudy, out: Path, retain=None, key: str = KEY_TEXT, mapping=None):
    deidentifier = Deidentifier(DeidentificationKey(key), retain, mapping=mapping)
    outcomes = deidentify_files(deidentifier, [planted.folder], out)
    by_name = {Path(o.source).name: o for o in outcomes}
    return outcomes, by_name


def outputs(out: Path) -> dict[str, Dataset]:
    """The de-identified instances by their (new) SOP Instance UID."""
    found = {}
    for path in out.rglob("*.dcm"):
        ds = dcmread(path)
        found[str(ds.SOPInstanceUID)] = ds
    return found


def test_no_planted_identifier_survives_in_any_output_byte(planted, tmp_path):
    _, by_name = run(planted, tmp_path / "out")
    released = [p.name for p in planted.released]
    assert sorted(n for n, o in by_name.items() if o.outcome == "deidentified") == sorted(released)
    files = list((tmp_path / "out").rglob("*"))
    assert len([f for f in files if f.is_file()]) == len(released)
    for path in files:
        text = (path.name if path.is_dir() else path.read_bytes().decode("latin-1") + path.name).upper()
        left = [value for value in PLANTED if value.upper() in text]
        left += [name for name, uid in planted.uids.items() if uid in text]
        assert left == [], f"{path.name} still holds {left}"


def test_references_stay_consistent_and_new_uids_are_valid(planted, tmp_path):
    run(planted, tmp_path / "out")
    found = outputs(tmp_path / "out")
    key = DeidentificationKey(KEY_TEXT)
    new = {name: key.uid(uid) for name, uid in planted.uids.items()}
    assert {new["ct1"], new["ct2"], new["ct3"], new["sr"], new["jpeg"]} == set(found)
    cts = [found[new[f"ct{n}"]] for n in (1, 2, 3)]
    assert {str(ds.StudyInstanceUID) for ds in found.values()} == {new["study"]}
    assert {str(ds.SeriesInstanceUID) for ds in cts} == {new["series"]}
    assert {str(ds.FrameOfReferenceUID) for ds in cts} == {new["frame"]}
    for ds in cts[1:]:
        assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID == new["ct1"]
    sr = found[new["sr"]]
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == new["study"]
    assert evidence.ReferencedSeriesSequence[0].SeriesInstanceUID == new["series"]
    assert [
        r.ReferencedSOPInstanceUID for r in evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence
    ] == [
        new["ct1"],
        new["ct2"],
        new["ct3"],
    ]
    assert new["ct1"] == sr.ContentSequence[3].UID
    for ds in found.values():
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        for uid in (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID):
            validate_uid(str(uid))
            assert len(str(uid)) <= 64
            assert not any(len(part) > 1 and part.startswith("0") for part in str(uid).split("."))


def test_pixel_data_is_byte_identical(planted, tmp_path):
    run(planted, tmp_path / "out")
    found = outputs(tmp_path / "out")
    key = DeidentificationKey(KEY_TEXT)
    for name in ("ct1", "ct2", "jpeg"):
        source = next(
            dcmread(p) for p in planted.released if str(dcmread(p).SOPInstanceUID) == planted.uids[name]
        )
        output = found[key.uid(planted.uids[name])]
        assert output.file_meta.TransferSyntaxUID == source.file_meta.TransferSyntaxUID
        assert output["PixelData"].value == source["PixelData"].value
        assert output["PixelData"].VR == source["PixelData"].VR


def test_what_the_profile_adds_and_removes(planted, tmp_path):
    run(planted, tmp_path / "out")
    ct = outputs(tmp_path / "out")[DeidentificationKey(KEY_TEXT).uid(planted.uids["ct1"])]
    assert ct.PatientIdentityRemoved == "YES"
    assert [item.CodeValue for item in ct.DeidentificationMethodCodeSequence] == ["113100"]
    assert ct.LongitudinalTemporalInformationModified == "REMOVED"
    assert not any(tag.is_private for tag in list(ct.keys()))
    assert not any(0x5000 <= tag.group <= 0x60FF for tag in list(ct.keys()))  # curves and overlays
    assert ct.PatientID == ct.PatientName.family_name
    assert ct.PatientBirthDate == "" and ct.StudyDate == "" and ct.AccessionNumber == ""
    assert "DeviceSerialNumber" in ct and ct.DeviceSerialNumber == "REMOVED"  # X/Z/D: a dummy, never missing
    assert "RequestAttributesSequence" not in ct and "StudyDescription" not in ct
    assert ct.preamble == b"\x00" * 128
    assert "SourceApplicationEntityTitle" not in ct.file_meta


def test_output_is_as_valid_as_its_input(planted, tmp_path):
    """dciodvfy: no error in an output that its input did not have."""
    _, by_name = run(planted, tmp_path / "out")
    for path in planted.released:
        before = set(dciodvfy_errors(path))
        after = set(dciodvfy_errors(Path(by_name[path.name].output)))
        assert after <= before, f"{path.name}: new errors {after - before}"


def test_pixels_that_may_show_identity_are_quarantined(planted, tmp_path):
    _, by_name = run(planted, tmp_path / "out")
    us, sc = by_name["SMITHERSON_US.dcm"], by_name["SMITHERSON_SC.dcm"]
    assert us.outcome == sc.outcome == "quarantined"
    assert us.output is None and sc.output is None
    assert "modality US without BurnedInAnnotation" in us.reason
    assert "BurnedInAnnotation is YES" in sc.reason
    assert "Clean Pixel Data" in us.reason


def test_identity_left_in_an_attribute_the_table_misses_is_quarantined(tmp_path):
    planted = make_planted_study(tmp_path / "in")
    ds = dcmread(planted.released[0])
    ds.Manufacturer = "SMITHERSON MEDICAL"  # not in Table E.1-1: kept by the profile
    ds.save_as(planted.released[0])
    _, by_name = run(planted, tmp_path / "out")
    held = by_name[planted.released[0].name]
    assert held.outcome == "quarantined"
    assert "(0008,0070) Manufacturer" in held.reason
    assert "SMITHERSON" not in held.reason.upper()


def test_the_same_key_gives_the_same_bytes_and_another_key_other_uids(planted, tmp_path):
    run(planted, tmp_path / "a")
    run(planted, tmp_path / "b")
    run(planted, tmp_path / "c", key="another-key-of-another-site-entirely")
    a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*.dcm")}
    b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*.dcm")}
    assert a == b
    c = outputs(tmp_path / "c")
    assert not set(c) & set(outputs(tmp_path / "a"))
    assert {ds.PatientID for ds in c.values()} != {ds.PatientID for ds in outputs(tmp_path / "a").values()}


def test_one_patient_one_pseudonym_across_studies(tmp_path):
    first = make_planted_study(tmp_path / "one")
    second = make_planted_study(tmp_path / "two")
    run(first, tmp_path / "out1")
    run(second, tmp_path / "out2")
    ids = {ds.PatientID for ds in outputs(tmp_path / "out1").values()}
    ids |= {ds.PatientID for ds in outputs(tmp_path / "out2").values()}
    assert len(ids) == 1
    studies = {ds.StudyInstanceUID for ds in outputs(tmp_path / "out1").values()}
    assert studies.isdisjoint({ds.StudyInstanceUID for ds in outputs(tmp_path / "out2").values()})


def test_dates_modified_keeps_intervals_and_moves_every_date(planted, tmp_path):
    run(planted, tmp_path / "out", retain=["dates-modified"])
    found = outputs(tmp_path / "out")
    key = DeidentificationKey(KEY_TEXT)
    ct, sr = found[key.uid(planted.uids["ct1"])], found[key.uid(planted.uids["sr"])]
    study = dt.datetime.strptime(ct.StudyDate, "%Y%m%d")
    content = dt.datetime.strptime(sr.ContentDate, "%Y%m%d")
    assert (content - study).days == 1  # 2024-01-15 to 2024-01-16, kept
    assert study < dt.datetime(2024, 1, 15)
    assert ct.AcquisitionDateTime.endswith("103000") and ct.AcquisitionDateTime[:8] == ct.StudyDate
    assert ct.LongitudinalTemporalInformationModified == "MODIFIED"
    assert [i.CodeValue for i in ct.DeidentificationMethodCodeSequence] == ["113100", "113107"]
    for path in (tmp_path / "out").rglob("*.dcm"):
        assert b"20240115" not in path.read_bytes() and b"20240116" not in path.read_bytes()


def test_retained_options_keep_what_they_name(planted, tmp_path):
    run(planted, tmp_path / "out", retain=["uids", "device-identity", "patient-characteristics"])
    found = outputs(tmp_path / "out")
    ct = found[planted.uids["ct1"]]  # UIDs kept
    assert ct.StudyInstanceUID == planted.uids["study"]
    assert ct.DeviceSerialNumber == "SN-4477120" and ct.StationName == "CTROOM5"
    assert ct.PatientSex == "F" and ct.PatientAge == "062Y"
    assert ct.PatientName != "SMITHERSON^JOHANNA" and "InstitutionName" in ct
    assert str(ct.InstitutionName) == "REMOVED"
    codes = [i.CodeValue for i in ct.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113108", "113109", "113110"]


def test_unknown_option_and_short_key_are_refused():
    with pytest.raises(DicomWebConfigError, match="unknown de-identification option 'clean-pixels'"):
        Deidentifier(DeidentificationKey(KEY_TEXT), ["clean-pixels"])
    with pytest.raises(DicomWebConfigError, match="too short") as caught:
        DeidentificationKey("short-key")
    assert "short-key" not in str(caught.value)


def test_bad_inputs_fail_by_name_and_the_rest_go_on(planted, tmp_path):
    (planted.folder / "notes.txt").write_text("not an image")
    (planted.folder / "cut.dcm").write_bytes(planted.released[0].read_bytes()[:700])
    outcomes, by_name = run(planted, tmp_path / "out")
    assert by_name["notes.txt"].outcome == "failed" and "notes.txt" in by_name["notes.txt"].reason
    assert by_name["cut.dcm"].outcome == "failed" and "cut.dcm" in by_name["cut.dcm"].reason
    assert "SMITHERSON" not in by_name["cut.dcm"].reason.upper()
    assert sum(o.outcome == "deidentified" for o in outcomes) == len(planted.released)
    with pytest.raises(DeidentificationError, match=r"memory\.dcm"):
        Deidentifier(DeidentificationKey(KEY_TEXT)).deidentify_bytes(b"\x00" * 10, source="memory.dcm")


def test_the_key_and_the_identity_stay_out_of_reports_logs_and_summaries(planted, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    mapping = DeidentificationMapping()
    outcomes, _ = run(planted, tmp_path / "out", mapping=mapping)
    write_report(outcomes, tmp_path / "report.jsonl")
    report = (tmp_path / "report.jsonl").read_text()
    lines = [json.loads(line) for line in report.splitlines()]
    assert {tuple(sorted(line)) for line in lines} == {("outcome", "output", "reason", "source")}
    told = report.replace(str(planted.folder), "") + json.dumps(summary(outcomes)) + caplog.text
    told += repr(Deidentifier(DeidentificationKey(KEY_TEXT))) + repr(DeidentificationKey(KEY_TEXT))
    for secret in (KEY_TEXT, "SMITHERSON", PATIENT_ID, "HOLLOWAY"):
        assert secret.upper() not in told.upper().replace("SMITHERSON_", "")
    for path in (tmp_path / "out").rglob("*.dcm"):
        assert KEY_TEXT.encode() not in path.read_bytes()
    mapping.write(tmp_path / "mapping.json")
    written = json.loads((tmp_path / "mapping.json").read_text())
    assert written["patients"][0]["patient_id"] == PATIENT_ID
    assert written["uids"][planted.uids["study"]] == DeidentificationKey(KEY_TEXT).uid(planted.uids["study"])
    assert KEY_TEXT not in (tmp_path / "mapping.json").read_text()


def test_a_deflated_instance_is_deidentified_and_searched_as_encoded_plainly(tmp_path):
    """Deflated attributes cannot be searched as written: they are searched encoded plainly instead."""
    from pydicom.data import get_testdata_file
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = dcmread(get_testdata_file("image_dfl.dcm"))
    assert ds.file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian
    ds.BurnedInAnnotation = "NO"
    ds.PatientName = "OKONKWO^ADAEZE"
    ds.save_as(tmp_path / "dfl.dcm")
    key = DeidentificationKey(KEY_TEXT)
    made = Deidentifier(key).deidentify_bytes((tmp_path / "dfl.dcm").read_bytes(), source="dfl.dcm")
    out = dcmread(BytesIO(made.data))  # type: ignore[union-attr]
    assert out.file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian
    assert out.PatientName != "OKONKWO^ADAEZE" and out.PatientIdentityRemoved == "YES"
    assert out.PixelData == ds.PixelData
    ds.Manufacturer = "OKONKWO IMAGING"  # kept by the table: found by the plain search
    ds.save_as(tmp_path / "dfl.dcm")
    held = Deidentifier(key).deidentify_bytes((tmp_path / "dfl.dcm").read_bytes(), source="dfl.dcm")
    assert "(0008,0070) Manufacturer" in held.reason  # type: ignore[union-attr]
