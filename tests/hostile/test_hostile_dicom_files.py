"""Hostile files handed to the de-identifier and the quality gate: each fails alone, named, within bounded
memory; nothing is written outside the output; identity hidden deep in sequences is still removed."""

from __future__ import annotations

import struct
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from airflow_dicomweb.core.deid.deidentifier import Deidentifier
from airflow_dicomweb.core.deid.files import deidentify_files
from airflow_dicomweb.core.deid.key import DeidentificationKey
from airflow_dicomweb.core.quality.gate import QualityGate
from tests.dicom_factory import make_instance

KEY = DeidentificationKey("hostile-files-key-0123456789abcdef")


def deidentify(tmp_path, files, **kw):
    outcomes = deidentify_files(Deidentifier(KEY, **kw), files, tmp_path / "out")
    return {Path(o.source).name: o for o in outcomes}


def test_a_length_larger_than_the_file_and_a_file_larger_than_the_cap_fail_alone(tmp_path):
    good = make_instance(tmp_path / "in" / "good.dcm", study_uid=generate_uid(), series_uid=generate_uid())
    data = bytearray(good.read_bytes())
    at = data.find(b"\x08\x00\x3e\x10")  # a text attribute's header: claim 4 GiB - 2 of value
    if at < 0:
        at = data.find(b"\x10\x00\x10\x00")  # PatientName
    data[at + 6 : at + 8] = struct.pack("<H", 0xFFFE)
    lying = tmp_path / "in" / "lying.dcm"
    lying.write_bytes(bytes(data[: at + 8]) + b"\x00" * 64)
    big = tmp_path / "in" / "big.dcm"
    big.write_bytes(good.read_bytes() + b"\x00" * (2 * 1024 * 1024))
    outcomes = {
        Path(o.source).name: o
        for o in deidentify_files(Deidentifier(KEY), [tmp_path / "in"], tmp_path / "out", max_instance_mib=1)
    }
    assert outcomes["good.dcm"].outcome == "deidentified"
    assert outcomes["lying.dcm"].outcome == "failed" and "lying.dcm" in outcomes["lying.dcm"].reason
    assert (
        outcomes["big.dcm"].outcome == "failed"
        and "larger than 1,048,576 bytes" in outcomes["big.dcm"].reason
    )


def test_identity_deep_in_nested_sequences_is_removed_and_absurd_nesting_fails_alone(tmp_path):
    path = make_instance(tmp_path / "in" / "nested.dcm", study_uid=generate_uid(), series_uid=generate_uid())
    ds = dcmread(path)
    inner = Dataset()
    inner.PerformingPhysicianName = "VANDERHOEVEN^ISOLDE"
    inner.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    for _ in range(6):  # six levels down, in sequences the table does not list
        outer = Dataset()
        outer.ReferencedSeriesSequence = Sequence([inner])
        inner = outer
    ds.ReferencedSeriesSequence = inner.ReferencedSeriesSequence
    ds.save_as(path)
    deep = make_instance(tmp_path / "in" / "deep.dcm", study_uid=generate_uid(), series_uid=generate_uid())
    ds = dcmread(deep)
    item = Dataset()
    for _ in range(3000):
        wrapper = Dataset()
        wrapper.ReferencedSeriesSequence = Sequence([item])
        item = wrapper
    ds.ReferencedSeriesSequence = item.ReferencedSeriesSequence
    try:
        ds.save_as(deep)
    except RecursionError:
        deep.unlink()
    outcomes = deidentify(tmp_path, [tmp_path / "in"])
    assert outcomes["nested.dcm"].outcome == "deidentified"
    written = Path(outcomes["nested.dcm"].output).read_bytes()
    assert b"VANDERHOEVEN" not in written and b"ISOLDE" not in written
    assert dcmread(path).SOPInstanceUID.encode() not in written
    if deep.exists():
        assert outcomes["deep.dcm"].outcome in ("failed", "deidentified")
        assert all(p.is_relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*"))


def test_uids_kept_as_they_came_never_name_a_path_outside_the_output(tmp_path):
    path = make_instance(tmp_path / "in" / "x.dcm", study_uid="1.2.3", series_uid="1.2.4")
    ds = dcmread(path)
    ds.StudyInstanceUID = "../../../escaped"
    ds.save_as(path)
    outcomes = deidentify(tmp_path, [tmp_path / "in"], retain=["uids"])
    assert outcomes["x.dcm"].outcome == "failed"
    assert "is not a DICOM UID" in outcomes["x.dcm"].reason
    assert [p for p in tmp_path.rglob("*escaped*")] == []


def test_the_gate_reads_hostile_files_as_findings(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "zero.dcm").write_bytes(b"")
    (tmp_path / "in" / "preamble-only.dcm").write_bytes(b"\x00" * 128 + b"DICM")
    make_instance(tmp_path / "in" / "ok.dcm", study_uid=generate_uid(), series_uid=generate_uid())
    result = QualityGate(["series-completeness", "one-patient-per-study"]).check_files([tmp_path / "in"])
    assert sorted(Path(s).name for s in result.quarantined) == ["preamble-only.dcm", "zero.dcm"]
    assert result.checked == 3
