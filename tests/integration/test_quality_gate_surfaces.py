"""The quality gate as a user meets it: ``dicomweb check`` (files, and a study of the real Orthanc) and
``DicomQualityGateOperator`` whose result a branch reads."""

from __future__ import annotations

import json

from pydicom.uid import generate_uid

from airflow_dicomweb.operators.quality_gate import DicomQualityGateOperator
from tests.dicom_factory import make_instance
from tests.integration.test_cli import dicomweb
from tests.unit.test_quality_gate import series


def test_check_files_exit_codes_findings_and_quarantine(tmp_path):
    good = series(tmp_path / "in", range(1, 5))
    bad = series(tmp_path / "in", [1, 2, 4])
    code, out, err = dicomweb("check", str(tmp_path / "in"), "--quarantine", str(tmp_path / "held"))
    assert code == 1, err
    findings = [json.loads(line) for line in out.splitlines()]
    assert {f["check"] for f in findings} == {"series-completeness"}
    assert all(f["series_instance_uid"] for f in findings)
    assert sorted(p.name for p in (tmp_path / "held").glob("*.dcm")) == sorted(p.name for p in bad)
    code, out, err = dicomweb("check", str(tmp_path / "in"))
    assert code == 0 and out == "" and "7 instances checked" not in err and "4 instances checked" in err
    assert all(p.exists() for p in good)
    code, _, err = dicomweb("check", str(tmp_path / "in"), "--check", "spelling")
    assert code == 2 and "invalid choice" in err
    code, _, err = dicomweb("check")
    assert code == 2 and "give files to check, or --study" in err


def test_check_a_study_on_the_server_and_the_operator_result(clean_orthanc, orthanc_conn_id, hook, tmp_path):
    study = generate_uid()
    hook.store_instances(series(tmp_path / "s", [1, 2, 3, 5], study=study))
    make_instance(tmp_path / "p" / "x.dcm", study_uid=study, series_uid=generate_uid(), patient_id="OTHER-9")
    assert hook.store_instances([tmp_path / "p"]).ok
    code, out, err = dicomweb(
        "--user", clean_orthanc.username, clean_orthanc.dicomweb_url, "check", "--study", study,
        "--check", "series-completeness", "--check", "one-patient-per-study",
        password=clean_orthanc.password,
    )  # fmt: skip
    assert code == 1, err
    checks = sorted(json.loads(line)["check"] for line in out.splitlines())
    assert checks == ["one-patient-per-study", "series-completeness", "series-completeness"]
    assert "OTHER-9" not in out + err

    op = DicomQualityGateOperator(
        task_id="gate",
        study_instance_uid=study,
        dicomweb_conn_id=orthanc_conn_id,
        checks=["series-completeness", "one-patient-per-study", "pixel-data-decodes"],
    )
    result = op.execute({})
    assert result["passed"] is False and result["checked"] == 5 and result["quarantined"] == 5
    assert all("/" in s and study in s for s in result["quarantined_sources"])
    clean = DicomQualityGateOperator(
        task_id="gate2", source=str(tmp_path / "s"), checks=["pixel-data-decodes"]
    )
    assert clean.execute({})["passed"] is True
