"""De-identification in DAG tasks against the real Orthanc: the store operator's ``deidentify=`` sends
de-identified bytes straight to the server (no identified copy written), a re-run sends nothing new, and
``DicomDeidentifyOperator`` writes files; the key comes from an Airflow connection and shows up nowhere."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_dicomweb.core.deid.key import DeidentificationKey
from airflow_dicomweb.operators.deidentify import DicomDeidentifyOperator
from airflow_dicomweb.operators.store import DicomWebStoreOperator
from tests.deid_corpus import PLANTED, make_planted_study

KEY = "operator-key-5f1e0c9a7b3d2e8f4a6c"


@pytest.fixture
def key_conn_id(monkeypatch) -> str:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SITE_DEID_KEY", json.dumps({"conn_type": "dicom_deid_key", "password": KEY})
    )
    return "site_deid_key"


def test_store_with_deidentify_sends_only_deidentified_bytes_and_reruns_send_nothing(
    orthanc_conn_id, clean_orthanc, key_conn_id, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    planted = make_planted_study(tmp_path / "in")
    before = {p: p.read_bytes() for p in planted.files}
    op = DicomWebStoreOperator(
        task_id="store",
        files=[str(planted.folder)],
        dicomweb_conn_id=orthanc_conn_id,
        deidentify={"key_conn_id": key_conn_id, "mapping_path": str(tmp_path / "secure" / "mapping.json")},
    )
    result = op.execute({})
    assert (result["stored"], result["quarantined"], result["failed"]) == (5, 2, 0)
    key = DeidentificationKey(KEY)
    assert result["study_instance_uids"] == [key.uid(planted.uids["study"])]
    expected = {key.uid(planted.uids[name]) for name in ("ct1", "ct2", "ct3", "sr", "jpeg")}
    assert clean_orthanc.sop_instance_uids() == expected
    for sop in expected:
        stored = clean_orthanc.instance_bytes(sop).upper()
        assert [v for v in PLANTED if v.upper().encode() in stored] == []
        assert planted.uids["study"].encode() not in stored
    assert {p: p.read_bytes() for p in planted.files} == before  # the inputs are untouched
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file() and p.parent != planted.folder) == [
        "mapping.json"
    ]  # no identified (or de-identified) copy written anywhere
    told = json.dumps(result) + caplog.text
    assert KEY not in told and "SMITHERSON" not in told.upper().replace("SMITHERSON_", "")

    again = DicomWebStoreOperator(
        task_id="store_again",
        files=[str(planted.folder)],
        dicomweb_conn_id=orthanc_conn_id,
        deidentify=key_conn_id,
    ).execute({})
    assert (again["stored"], again["already_present"], again["quarantined"]) == (0, 5, 2)
    assert clean_orthanc.sop_instance_uids() == expected


def test_deidentify_operator_writes_files_a_report_and_returns_a_bounded_summary(
    key_conn_id, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    planted = make_planted_study(tmp_path / "in")
    (planted.folder / "junk.dcm").write_bytes(b"junk")
    op = DicomDeidentifyOperator(
        task_id="deid",
        source=str(planted.folder),
        output_path=str(tmp_path / "out"),
        key_conn_id=key_conn_id,
        retain=["dates-modified"],
        report_path=str(tmp_path / "report.jsonl"),
        fail_on_error=False,
    )
    result = op.execute({})
    assert (result["deidentified"], result["quarantined"], result["failed"]) == (5, 2, 1)
    assert result["study_instance_uids"] == [DeidentificationKey(KEY).uid(planted.uids["study"])]
    reasons = {r["source"].rsplit("/", 1)[-1]: r["reason"] for r in result["not_released"]}
    assert "BurnedInAnnotation is YES" in reasons["SMITHERSON_SC.dcm"] and "junk.dcm" in reasons["junk.dcm"]
    assert len((tmp_path / "report.jsonl").read_text().splitlines()) == 8
    assert len(list((tmp_path / "out").rglob("*.dcm"))) == 5
    assert KEY not in caplog.text + json.dumps(result)

    from airflow.sdk.exceptions import AirflowException

    strict = DicomDeidentifyOperator(
        task_id="deid_strict",
        source=str(planted.folder),
        output_path=str(tmp_path / "out2"),
        key_conn_id=key_conn_id,
    )
    with pytest.raises(AirflowException, match=r"1 of 8 inputs were not de-identified:\n.*junk\.dcm"):
        strict.execute({})


def test_a_missing_or_short_key_fails_the_task_without_showing_it(monkeypatch, tmp_path):
    from airflow.sdk.exceptions import AirflowException

    monkeypatch.setenv(
        "AIRFLOW_CONN_WEAK_KEY", json.dumps({"conn_type": "dicom_deid_key", "password": "weak-key"})
    )
    monkeypatch.setenv("AIRFLOW_CONN_NO_KEY", json.dumps({"conn_type": "dicom_deid_key"}))
    planted = make_planted_study(tmp_path / "in")
    for conn, message in (("weak_key", "too short"), ("no_key", "has no password")):
        op = DicomDeidentifyOperator(
            task_id="d", source=str(planted.folder), output_path=str(tmp_path / "out"), key_conn_id=conn
        )
        with pytest.raises(AirflowException, match=message) as caught:
            op.execute({})
        assert "weak-key" not in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_copy_with_deidentify_between_two_archives_is_verified_and_a_rerun_sends_nothing(
    clean_orthanc, clean_orthanc_dest, key_conn_id, monkeypatch, tmp_path
):
    """Orthanc to Orthanc through DicomWebTransferOperator(deidentify=...): the destination holds only
    de-identified instances with the keyed UIDs, verified by them; the report and the summary name the
    destination's studies only; a re-run sends nothing new."""
    from airflow_dicomweb.transfers.dicomweb_to_dicomweb import DicomWebTransferOperator
    from tests.connections import orthanc_connection
    from tests.integration.test_copy import orthanc_client

    monkeypatch.setenv("AIRFLOW_CONN_DICOMWEB_SITE", orthanc_connection(clean_orthanc))
    monkeypatch.setenv(
        "AIRFLOW_CONN_DICOMWEB_RESEARCH", orthanc_connection(clean_orthanc_dest, server="orthanc")
    )
    planted = make_planted_study(tmp_path / "in")
    with orthanc_client(clean_orthanc) as client:
        assert client.store_instances(planted.files).ok
    op = DicomWebTransferOperator(
        task_id="copy",
        source_conn_id="dicomweb_site",
        dest_conn_id="dicomweb_research",
        study_instance_uids=[planted.uids["study"]],
        report_path=str(tmp_path / "report.json"),
        deidentify={"key_conn_id": key_conn_id, "retain": ["dates-modified"]},
    )
    summary = op.execute({})
    key = DeidentificationKey(KEY)
    new_study = key.uid(planted.uids["study"])
    assert (summary["copied"], summary["quarantined"], summary["failed"], summary["ok"]) == (5, 2, 0, True)
    assert summary["studies_detail"][0]["study_instance_uid"] == new_study
    assert summary["studies_detail"][0]["verification"] == "verified"
    expected = {key.uid(planted.uids[n]) for n in ("ct1", "ct2", "ct3", "sr", "jpeg")}
    assert clean_orthanc_dest.sop_instance_uids() == expected
    for sop in expected:
        stored = clean_orthanc_dest.instance_bytes(sop).upper()
        assert [v for v in PLANTED if v.upper().encode() in stored] == []
    told = json.dumps(summary) + (tmp_path / "report.json").read_text()
    assert planted.uids["study"] not in told and planted.uids["ct1"] not in told and KEY not in told
    lineage = op.get_openlineage_facets_on_complete(None)
    assert planted.uids["study"] not in json.dumps([d.name for d in lineage.inputs + lineage.outputs])

    again = DicomWebTransferOperator(
        task_id="copy_again",
        source_conn_id="dicomweb_site",
        dest_conn_id="dicomweb_research",
        study_instance_uids=[planted.uids["study"]],
        deidentify={"key_conn_id": key_conn_id, "retain": ["dates-modified"]},
    ).execute({})
    assert (again["copied"], again["already_present"], again["quarantined"]) == (0, 5, 2)


def test_the_release_dag_stores_deidentified_studies_into_orthanc_and_google_and_a_rerun_sends_nothing(
    dagbag, clean_orthanc_dest, google, key_conn_id, monkeypatch, tmp_path
):
    from tests.connections import google_connection, orthanc_connection
    from tests.integration.test_dags import states

    monkeypatch.setenv("AIRFLOW_CONN_DICOMWEB_TEACHING", orthanc_connection(clean_orthanc_dest))
    monkeypatch.setenv("AIRFLOW_CONN_DICOMWEB_PARTNER", google_connection(google))
    planted = make_planted_study(tmp_path / "landing")
    conf = {
        "landing": str(planted.folder),
        "quarantine": str(tmp_path / "quarantine"),
        "key_conn_id": key_conn_id,
        "retain": ["dates-modified"],
        "destinations": ["dicomweb_teaching", "dicomweb_partner"],
    }
    dag = dagbag.dags["dicomweb_deidentified_release"]
    run = dag.test(run_conf=conf)
    assert str(run.state) == "success", states(run)
    assert states(run)["nothing_to_release"] == "skipped"
    key = DeidentificationKey(KEY)
    expected = {key.uid(planted.uids[n]) for n in ("ct1", "ct2", "ct3", "sr", "jpeg")}
    assert clean_orthanc_dest.sop_instance_uids() == expected
    assert (
        google.orthanc.sop_instance_uids() == expected
    )  # the emulator's store is backed by the other Orthanc
    for server in (clean_orthanc_dest, google.orthanc):
        for sop in expected:
            stored = server.instance_bytes(sop).upper()
            assert [v for v in PLANTED if v.upper().encode() in stored] == []
    assert not (tmp_path / "quarantine").exists()  # the gate found nothing to hold

    rerun = dag.test(run_conf=conf)
    assert str(rerun.state) == "success", states(rerun)
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.run_id == rerun.run_id).all()
        [totals] = [r.value for r in rows if r.task_id == "summarize" and r.key == "return_value"]
    totals = json.loads(totals) if isinstance(totals, str) else totals
    assert (totals["stored"], totals["already_present"], totals["quarantined"]) == (0, 10, 4)


def test_the_docs_example_builds_its_tasks_in_a_dag():
    """docs/deidentification.md's DAG code runs as written (constructors do no I/O)."""
    from pathlib import Path

    from airflow.sdk import DAG

    text = (Path(__file__).resolve().parents[2] / "docs" / "deidentification.md").read_text()
    code = text.split("## In DAGs", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    with DAG("docs_example", schedule=None) as dag:
        exec(compile(code, "docs/deidentification.md", "exec"), {})
    assert sorted(dag.task_ids) == ["deidentify", "gate", "release", "research_copy"]
