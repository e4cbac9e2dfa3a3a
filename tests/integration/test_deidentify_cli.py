"""``dicomweb deidentify`` as a user runs it (a subprocess, no service): the report's lines, the exit codes, the
mapping written only where named, the key shown nowhere."""

from __future__ import annotations

import json
from pathlib import Path

from tests.deid_corpus import PLANTED, make_planted_study
from tests.integration.test_cli import dicomweb

KEY = "cli-key-0123456789-abcdefghijklmnop"


def test_deidentify_writes_outputs_a_report_and_the_mapping_where_named(tmp_path):
    planted = make_planted_study(tmp_path / "in")
    (tmp_path / "site.key").write_text(KEY + "\n")
    code, out, err = dicomweb(
        "deidentify",
        str(planted.folder),
        "--output",
        str(tmp_path / "out"),
        "--key-file",
        str(tmp_path / "site.key"),
        "--report",
        str(tmp_path / "report.jsonl"),
        "--mapping",
        str(tmp_path / "mapping.json"),
        "--retain",
        "dates-modified",
    )
    assert code == 0, err
    lines = [json.loads(line) for line in (tmp_path / "report.jsonl").read_text().splitlines()]
    assert len(lines) == len(planted.files)
    outcomes = {Path(line["source"]).name: line for line in lines}
    assert {n for n, line in outcomes.items() if line["outcome"] == "quarantined"} == {
        p.name for p in planted.quarantined
    }
    for line in lines:
        if line["outcome"] == "deidentified":
            assert Path(line["output"]).is_file() and line["reason"] == ""
        else:
            assert line["output"] is None and line["reason"]
    assert "5 de-identified, 2 quarantined, 0 failed" in err
    mapping = json.loads((tmp_path / "mapping.json").read_text())
    assert mapping["patients"][0]["pseudonym"].startswith("P")
    told = out + err + (tmp_path / "report.jsonl").read_text().replace(str(planted.folder), "")
    assert KEY not in told and KEY not in (tmp_path / "mapping.json").read_text()
    assert not any(value.upper() in told.upper().replace("SMITHERSON_", "") for value in PLANTED)


def test_deidentify_exit_codes(tmp_path):
    planted = make_planted_study(tmp_path / "in")
    (planted.folder / "readme.txt").write_text("not DICOM")
    (tmp_path / "site.key").write_text(KEY)
    base = ["deidentify", str(planted.folder), "--output", str(tmp_path / "out")]
    code, _, err = dicomweb(*base, "--key-file", str(tmp_path / "site.key"))
    assert code == 1 and "failed: " in err and "readme.txt" in err
    code, _, err = dicomweb(*base, "--key-file", str(tmp_path / "site.key"), "--retain", "pixels")
    assert code == 2 and "invalid choice: 'pixels'" in err
    code, _, err = dicomweb(*base)
    assert code == 2 and "--key-file" in err
    (tmp_path / "short.key").write_text("too-short")
    code, _, err = dicomweb(*base, "--key-file", str(tmp_path / "short.key"))
    assert code == 2 and "too short" in err and "too-short" not in err
    assert all(p.suffix == ".dcm" for p in (tmp_path / "out").rglob("*") if p.is_file())


def test_store_and_copy_deidentify_on_the_way_and_a_rerun_sends_nothing(
    clean_orthanc, clean_orthanc_dest, tmp_path
):
    """``store --deidentify`` into one Orthanc, then ``copy --deidentify`` of the (identified) source study to
    another: both hold only de-identified instances with the keyed UIDs; second runs send nothing."""
    from airflow_dicomweb.core.deid.key import DeidentificationKey
    from tests.integration.test_copy import orthanc_client

    planted = make_planted_study(tmp_path / "in")
    (tmp_path / "site.key").write_text(KEY)
    store = [
        "--user", clean_orthanc.username, clean_orthanc.dicomweb_url, "store", str(planted.folder),
        "--deidentify", str(tmp_path / "site.key"), "--retain", "patient-characteristics", "-v",
    ]  # fmt: skip
    code, out, err = dicomweb(*store, password=clean_orthanc.password)
    assert code == 0, err
    assert "5 stored, 0 already present, 0 failed, 2 quarantined, in 1 studies" in out
    assert err.count("quarantined: ") == 2 and "BurnedInAnnotation is YES" in err
    key = DeidentificationKey(KEY)
    expected = {key.uid(planted.uids[n]) for n in ("ct1", "ct2", "ct3", "sr", "jpeg")}
    assert clean_orthanc.sop_instance_uids() == expected
    code, out, err = dicomweb(*store, password=clean_orthanc.password)
    assert code == 0 and "0 stored, 5 already present, 0 failed, 2 quarantined" in out

    clean_orthanc.wipe()
    with orthanc_client(clean_orthanc) as client:
        assert client.store_instances(planted.files).ok
    copy = [
        "--user", clean_orthanc.username, clean_orthanc.dicomweb_url, "copy", clean_orthanc_dest.dicomweb_url,
        planted.uids["study"], "--to-user", clean_orthanc_dest.username, "--deidentify", str(tmp_path / "site.key"),
    ]  # fmt: skip
    env = {"DICOMWEB_TO_PASSWORD": clean_orthanc_dest.password}
    code, out, err = dicomweb(*copy, password=clean_orthanc.password, env=env)
    assert code == 0, err
    assert "5 instances copied" in out and "2 quarantined" in out
    assert clean_orthanc_dest.sop_instance_uids() == expected
    code, out, err = dicomweb(*copy, password=clean_orthanc.password, env=env)
    assert code == 0 and "0 instances copied, 5 already present" in out
    code, _, err = dicomweb(*copy[:-2], "--retain", "uids", password=clean_orthanc.password, env=env)
    assert code == 2 and "--retain goes with --deidentify" in err
