"""DicomWebTransferOperator and the dicomweb_migration DAG against two real Orthancs: a mapped copy per shard,
reconciled; a re-run moves nothing; a study the destination drops is named and fails the run."""

from __future__ import annotations

import json

import pytest
from pydicom.uid import generate_uid

from tests.connections import orthanc_connection
from tests.dicom_factory import make_series
from tests.integration.test_copy import orthanc_client
from tests.integration.test_dags import states


@pytest.fixture
def two_archives(clean_orthanc, clean_orthanc_dest, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DICOMWEB_SOURCE", orthanc_connection(clean_orthanc))
    monkeypatch.setenv(
        "AIRFLOW_CONN_DICOMWEB_ARCHIVE", orthanc_connection(clean_orthanc_dest, server="orthanc")
    )
    return clean_orthanc, clean_orthanc_dest


def seed(orthanc, tmp_path, studies: int, per_study: int = 2, **kw) -> list[str]:
    uids = [generate_uid() for _ in range(studies)]
    with orthanc_client(orthanc) as client:
        for n, uid in enumerate(uids):
            assert client.store_instances(make_series(tmp_path / str(n), per_study, study_uid=uid, **kw)).ok
    return uids


def test_the_operator_copies_reports_and_records_lineage(two_archives, tmp_path):
    from airflow.sdk.exceptions import AirflowException

    from airflow_dicomweb.transfers.dicomweb_to_dicomweb import DicomWebTransferOperator

    source, dest = two_archives
    uids = seed(source, tmp_path, 3)
    op = DicomWebTransferOperator(
        task_id="copy",
        source_conn_id="dicomweb_source",
        dest_conn_id="dicomweb_archive",
        study_instance_uids=uids,
        report_path=str(tmp_path / "report.json"),
    )
    summary = op.execute({})
    assert summary["ok"] and summary["copied"] == 6 and summary["studies"] == 3
    assert json.loads((tmp_path / "report.json").read_text())["studies"][0]["verification"] == "verified"
    assert dest.sop_instance_uids() == source.sop_instance_uids()
    lineage = op.get_openlineage_facets_on_complete(None)
    assert {d.name.rsplit("/", 1)[-1] for d in lineage.inputs} == set(uids)
    written = {d.name.rsplit("/", 1)[-1] for d in lineage.outputs if d.namespace.startswith("dicomweb://")}
    assert written == set(uids)
    assert ("file", str(tmp_path / "report.json")) in {(d.namespace, d.name) for d in lineage.outputs}
    assert {d.namespace for d in lineage.inputs} != {
        d.namespace for d in lineage.outputs if d.namespace != "file"
    }

    missing = generate_uid()
    with pytest.raises(AirflowException, match=f"study {missing}: not found on the source"):
        DicomWebTransferOperator(
            task_id="copy2", source_conn_id="dicomweb_source", dest_conn_id="dicomweb_archive",
            study_instance_uids=[missing, uids[0]],
        ).execute({})  # fmt: skip
    with pytest.raises(ValueError, match="name the studies to copy once"):
        DicomWebTransferOperator(task_id="c", source_conn_id="a", dest_conn_id="b")


def test_the_migration_maps_shards_reconciles_and_a_rerun_moves_nothing(dagbag, two_archives, tmp_path):
    source, dest = two_archives
    uids = seed(source, tmp_path, 7)
    conf = {
        "source_conn_id": "dicomweb_source",
        "dest_conn_id": "dicomweb_archive",
        "work_dir": str(tmp_path / "work"),
        "shard_size": 3,
    }
    dag = dagbag.dags["dicomweb_migration"]
    run = dag.test(run_conf=conf)
    assert str(run.state) == "success", states(run)
    assert states(run) == {
        "plan_shards": "success",
        **{f"copy_shard[{n}]": "success" for n in range(3)},
        "reconcile": "success",
    }
    assert dest.sop_instance_uids() == source.sop_instance_uids()
    [report] = (tmp_path / "work").rglob("report.json")
    totals = json.loads(report.read_text())
    assert (totals["studies"], totals["source_instances"], totals["destination_instances"]) == (7, 14, 14)
    assert totals["copied"] == 14 and totals["problems"] == 0

    # the destination loses one instance; the re-run copies exactly that one back
    lost = next(iter(dest.sop_instance_uids()))
    found = dest.rest("POST", "/tools/lookup", data=lost).json()
    dest.rest("DELETE", f"/instances/{found[0]['ID']}")
    rerun = dag.test(run_conf=conf)
    assert str(rerun.state) == "success", states(rerun)
    reports = sorted((tmp_path / "work").rglob("report.json"), key=lambda p: p.stat().st_mtime)
    again = json.loads(reports[-1].read_text())
    assert (again["copied"], again["already_present"]) == (1, 13)
    assert sorted(uids) == sorted(
        s["study_instance_uid"]
        for shard in sorted(reports[-1].parent.glob("shard-*.json"))
        for s in json.loads(shard.read_text())["studies"]
    )
