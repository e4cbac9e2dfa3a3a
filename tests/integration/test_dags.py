"""The example DAGs in dags/, each run end to end with dag.test() against the real Orthanc (and the Google
emulator for the delete)."""

import io
import json
import os
import shutil
from pathlib import Path

import pydicom
import pytest
from PIL import Image
from pydicom.uid import generate_uid

from tests.conftest import DAGS_FOLDER
from tests.connections import google_connection, orthanc_connection
from tests.dicom_factory import make_series


def states(dagrun) -> dict[str, str]:
    return {
        ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
        for ti in dagrun.get_task_instances()
    }


def test_every_dag_imports_without_errors_or_connection_lookups(dagbag, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    for name in [k for k in os.environ if k.startswith("AIRFLOW_CONN_")]:
        monkeypatch.delenv(name)  # parsing must not need any connection
    bag = DagBag(dag_folder=DAGS_FOLDER)
    assert bag.import_errors == {}
    assert sorted(bag.dags) == [
        "dicomweb_deidentified_release",
        "dicomweb_delete",
        "dicomweb_export",
        "dicomweb_first_dag",
        "dicomweb_google_bulk_ingest",
        "dicomweb_google_research_copy",
        "dicomweb_ingest",
        "dicomweb_jpeg_to_dicom",
        "dicomweb_migration",
        "dicomweb_on_stored_study",
        "dicomweb_review_release",
        "dicomweb_sharded_ingest",
        "dicomweb_study_arrival",
    ]
    watched = bag.dags["dicomweb_study_arrival"].timetable.asset_condition
    (asset,) = watched.objects
    assert asset.watchers[0].trigger.serialize()[0].endswith("DicomWebStudyArrivalTrigger")


def test_the_readmes_first_dag_is_the_file_and_stores_then_retrieves(
    dagbag, clean_orthanc, monkeypatch, tmp_path
):
    source = (Path(DAGS_FOLDER) / "dicomweb_first_dag.py").read_text()
    readme = (Path(DAGS_FOLDER).parent / "README.md").read_text()
    shown = readme.split("```python\n# dags/dicomweb_first_dag.py\n", 1)[1].split("```", 1)[0]
    assert shown.strip() in source
    monkeypatch.setenv("AIRFLOW_CONN_DICOMWEB_DEFAULT", orthanc_connection(clean_orthanc))
    uids = [generate_uid(), generate_uid()]
    for n, uid in enumerate(uids):
        make_series(tmp_path / "incoming" / str(n), 2, study_uid=uid, rows=16, columns=16)
    run = dagbag.dags["dicomweb_first_dag"].test(
        run_conf={"incoming": str(tmp_path / "incoming"), "export": str(tmp_path / "export")}
    )
    assert str(run.state) == "success", states(run)
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == sorted(uids)
    assert len(list((tmp_path / "export").rglob("*.dcm"))) == 4


def test_ingest_stores_checks_and_moves_and_a_rerun_stores_nothing_twice(
    dagbag, orthanc_conn_id, clean_orthanc, samples, tmp_path
):
    landing, done, quarantine = tmp_path / "landing", tmp_path / "done", tmp_path / "quarantine"
    (landing / "modality-a").mkdir(parents=True)
    for key in ("ct", "mr", "jpeg"):
        shutil.copy(samples[key], landing / "modality-a" / f"{key}.dcm")
    make_series(landing / "modality-b", 5)
    (landing / "notes.txt").write_text("not DICOM")
    (landing / "truncated.dcm").write_bytes(Path(samples["ct"]).read_bytes()[:3000])
    for path in landing.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    conf = {
        "landing_dir": str(landing),
        "done_dir": str(done),
        "quarantine_dir": str(quarantine),
        "dicomweb_conn_id": orthanc_conn_id,
    }

    run = dagbag.dags["dicomweb_ingest"].test(run_conf=conf)
    assert str(run.state) == "success", states(run)
    assert clean_orthanc.count_instances() == 8
    assert sorted(p.relative_to(done).as_posix() for p in done.rglob("*.dcm")) == sorted(
        ["modality-a/ct.dcm", "modality-a/jpeg.dcm", "modality-a/mr.dcm"]
        + [f"modality-b/{p.name}" for p in (done / "modality-b").iterdir()]
    )
    assert len(list((done / "modality-b").iterdir())) == 5
    assert "not a DICOM Part 10 file" in (quarantine / "notes.txt.reason.txt").read_text()
    assert "truncated" in (quarantine / "truncated.dcm.reason.txt").read_text()
    assert [p for p in landing.rglob("*") if p.is_file()] == []
    # one asset event per stored study, on the one asset of the store, each study its partition key
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    store_asset = dagbag.dags["dicomweb_ingest"].get_task("store").outlets[0]
    with create_session() as session:
        events = [e for e in session.query(AssetEvent).all() if e.source_run_id == run.run_id]
        keys = sorted(e.partition_key for e in events)
        uris = {e.asset.uri for e in events}
        extras = [e.extra for e in events]
        per_study = (
            session.query(AssetModel).filter(AssetModel.uri.like(f"{store_asset.uri}/studies/%")).count()
        )
        stores = session.query(AssetModel).filter(AssetModel.uri == store_asset.uri).count()
    stored = sorted(
        {str(pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID) for p in done.rglob("*.dcm")}
    )
    assert keys == stored
    assert uris == {store_asset.uri}
    assert all(
        e["operation"] == "store" and e["instances"] == 8 and e["studies"] == len(stored) for e in extras
    )
    assert (stores, per_study) == (1, 0), "one asset for the whole store, not one per study"

    # The same files arrive again: found on the server, not sent, moved to done all the same.
    shutil.copytree(done / "modality-b", landing / "again")
    for path in landing.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    rerun = dagbag.dags["dicomweb_ingest"].test(run_conf=conf)
    assert str(rerun.state) == "success", states(rerun)
    assert clean_orthanc.count_instances() == 8
    assert len(list((done / "again").iterdir())) == 5


def test_a_thousand_studies_stored_add_one_asset_and_a_thousand_partitioned_events(
    dagbag, orthanc_conn_id, clean_orthanc, tmp_path
):
    """The ingest's store task records its events on the store's one asset: 1,000 one-instance studies make
    1,000 events, each with its study as the partition key, and not one asset more than the store's."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    landing = tmp_path / "landing"
    studies = set()
    for n in range(1000):
        [path] = make_series(landing / f"{n // 100}", 1, rows=4, columns=4)
        studies.add(str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID))
    for path in landing.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    conf = {
        "landing_dir": str(landing),
        "done_dir": str(tmp_path / "done"),
        "quarantine_dir": str(tmp_path / "quarantine"),
        "dicomweb_conn_id": orthanc_conn_id,
    }
    run = dagbag.dags["dicomweb_ingest"].test(run_conf=conf)
    assert str(run.state) == "success", states(run)
    with create_session() as session:
        events = session.query(AssetEvent).filter(AssetEvent.source_run_id == run.run_id).all()
        keys = sorted(e.partition_key for e in events)
        asset_ids = {e.asset_id for e in events}
        per_study = session.query(AssetModel).filter(AssetModel.uri.like("dicomweb://%/studies/%")).count()
    assert clean_orthanc.count_instances() == 1000
    assert keys == sorted(studies)
    assert len(asset_ids) == 1 and per_study == 0, f"{len(asset_ids)} assets, {per_study} of them per study"


def test_sharded_ingest_maps_bounded_shards_and_a_rerun_sends_nothing(
    dagbag, orthanc_conn_id, clean_orthanc, tmp_path
):
    """25 one-instance studies in shards of 10: 3 mapped store tasks, each reading its own manifest; each
    shard's XCom holds counts and at most 10 UIDs of each kind, whatever it stored. A second run finds
    everything on the server and sends nothing. A file that is not DICOM fails the run, named."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    landing = tmp_path / "archive"
    for n in range(25):
        make_series(landing / f"{n % 3}", 1, rows=8, columns=8)
    for path in landing.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    conf = {
        "landing_dir": str(landing),
        "work_dir": str(tmp_path / "work"),
        "shard_size": 10,
        "dicomweb_conn_id": orthanc_conn_id,
    }
    dag = dagbag.dags["dicomweb_sharded_ingest"]
    run = dag.test(run_conf=conf)
    assert str(run.state) == "success", states(run)
    assert states(run) == {
        "plan_shards": "success",
        **{f"store_shard[{n}]": "success" for n in range(3)},
        "summarize": "success",
    }
    assert clean_orthanc.count_instances() == 25
    manifests = sorted((tmp_path / "work").rglob("shard-*.txt"))
    assert [len(m.read_text().split()) for m in manifests] == [10, 10, 5]

    def xcoms(dagrun) -> dict[str, object]:
        with create_session() as session:
            rows = session.query(XComModel).filter(XComModel.run_id == dagrun.run_id).all()
            return {f"{r.task_id}[{r.map_index}]": r.value for r in rows if r.key == "return_value"}

    values = xcoms(run)
    shard = values["store_shard[0]"]
    shard = json.loads(shard) if isinstance(shard, str) else shard
    assert shard["stored"] == 10 and len(shard["study_instance_uids"]) == 10
    assert len(shard["sop_instance_uids"]) == 10 and "outcomes" not in shard
    totals = values["summarize[-1]"]
    totals = json.loads(totals) if isinstance(totals, str) else totals
    assert totals == {"shards": 3, "stored": 25, "already_present": 0, "failed": 0}

    (landing / "1" / "notes.txt").write_text("not DICOM")
    os.utime(landing / "1" / "notes.txt", (1_000_000_000, 1_000_000_000))
    rerun = dag.test(run_conf=conf)
    assert str(rerun.state) == "failed"
    assert states(rerun)["summarize"] == "failed"
    assert all(v == "success" for k, v in states(rerun).items() if k.startswith("store_shard"))
    totals = [json.loads(t) if isinstance(t, str) else t for t in [xcoms(rerun).get("summarize[-1]")]]
    assert totals == [None]  # summarize failed: no value
    counts = [xcoms(rerun)[f"store_shard[{n}]"] for n in range(3)]
    counts = [json.loads(c) if isinstance(c, str) else c for c in counts]
    assert sum(c["already_present"] for c in counts) == 25 and sum(c["stored"] for c in counts) == 0
    assert sum(c["failed"] for c in counts) == 1
    assert clean_orthanc.count_instances() == 25


def test_export_maps_one_task_per_study_with_metadata_and_preview(dagbag, hook, orthanc_conn_id, tmp_path):
    wanted = [generate_uid(), generate_uid()]
    for n, uid in enumerate(wanted):
        make_series(tmp_path / "src" / str(n), 3, study_uid=uid, study_date="20240115", rows=64, columns=64)
    make_series(tmp_path / "src" / "other", 2, study_date="20240116")
    assert hook.store_instances([tmp_path / "src"]).ok
    export = tmp_path / "export"

    run = dagbag.dags["dicomweb_export"].test(
        run_conf={"study_date": "20240115", "export_dir": str(export), "dicomweb_conn_id": orthanc_conn_id}
    )
    assert str(run.state) == "success", states(run)
    assert {k for k in states(run) if k.startswith("retrieve_study[")} == {
        "retrieve_study[0]",
        "retrieve_study[1]",
    }
    assert sorted(p.name for p in (export / "dicom").iterdir()) == sorted(wanted)
    assert len(list((export / "dicom").rglob("*.dcm"))) == 6
    for uid in wanted:
        assert len(json.loads((export / "metadata" / f"{uid}.json").read_text())) == 3
        assert Image.open(export / "previews" / f"{uid}.png").size == (256, 256)


def test_delete_on_orthanc_reports_that_the_server_cannot_delete(dagbag, hook, orthanc_conn_id, tmp_path):
    uid = generate_uid()
    assert hook.store_instances(make_series(tmp_path, 1, study_uid=uid)).ok
    run = dagbag.dags["dicomweb_delete"].test(
        run_conf={"study_instance_uid": uid, "dicomweb_conn_id": orthanc_conn_id}
    )
    assert states(run) == {"delete_study": "skipped", "wait_for_delete": "skipped", "confirm_gone": "skipped"}
    assert hook.search_for_studies({"StudyInstanceUID": uid})  # nothing was deleted


def test_delete_on_google_waits_on_the_operation_in_the_trigger(
    dagbag, google, clean_orthanc, monkeypatch, tmp_path
):
    from airflow_dicomweb.hooks.dicomweb import DicomWebHook

    monkeypatch.setenv("AIRFLOW_CONN_DICOMWEB_GOOGLE_DAG", google_connection(google))
    uid = generate_uid()
    assert DicomWebHook("dicomweb_google_dag").store_instances(make_series(tmp_path, 3, study_uid=uid)).ok
    google.operation_delay = 1.0
    run = dagbag.dags["dicomweb_delete"].test(
        run_conf={"study_instance_uid": uid, "dicomweb_conn_id": "dicomweb_google_dag"}
    )
    assert states(run) == {"delete_study": "success", "wait_for_delete": "success", "confirm_gone": "success"}
    assert clean_orthanc.count_instances() == 0


@pytest.mark.parametrize("server", ["orthanc", "google"])
def test_jpeg_to_dicom(dagbag, server, orthanc_conn_id, google, clean_orthanc, monkeypatch, tmp_path):
    conn_id = orthanc_conn_id
    if server == "google":
        monkeypatch.setenv("AIRFLOW_CONN_DICOMWEB_GOOGLE_JPEG", google_connection(google))
        conn_id = "dicomweb_google_jpeg"
    jpegs = tmp_path / "jpeg"
    jpegs.mkdir()
    for n in range(3):
        buf = io.BytesIO()
        Image.new("RGB", (40, 30), (n * 60, 20, 200)).save(buf, "JPEG")
        (jpegs / f"photo{n}.jpg").write_bytes(buf.getvalue())
    (jpegs / "metadata.json").write_text(
        json.dumps(
            {
                "0020000D": {"vr": "UI", "Value": [generate_uid()]},
                "0020000E": {"vr": "UI", "Value": [generate_uid()]},
                "00100010": {"vr": "PN", "Value": [{"Alphabetic": "PHOTO^PATIENT"}]},
                "00080060": {"vr": "CS", "Value": ["XC"]},
            }
        )
    )
    run = dagbag.dags["dicomweb_jpeg_to_dicom"].test(
        run_conf={
            "jpeg_glob": str(jpegs / "*.jpg"),
            "metadata_file": str(jpegs / "metadata.json"),
            "dicomweb_conn_id": conn_id,
        }
    )
    assert states(run) == {"store_jpeg": "success", "series_complete": "success"}
    assert clean_orthanc.count_instances() == 3
