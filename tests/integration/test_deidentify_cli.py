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
