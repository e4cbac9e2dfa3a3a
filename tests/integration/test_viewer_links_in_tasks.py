"""Viewer links from real tasks against the real Orthanc: the store, search, retrieve and transfer operators
save the first study's link for their extra link, and a study-arrival event carries it."""

from __future__ import annotations

import asyncio
import textwrap

import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.operators.retrieve import DicomWebRetrieveOperator
from airflow_dicomweb.operators.search import DicomWebSearchOperator
from airflow_dicomweb.operators.store import DicomWebStoreOperator
from airflow_dicomweb.operators.viewer_link import StudyViewerLink
from tests.connections import orthanc_connection
from tests.dag_process import run_dag_script
from tests.dicom_factory import make_series
from tests.integration.test_study_arrivals import MemoryStateStore, today, wait_for_writes, watcher

OHIF = "https://viewer.example/viewer?StudyInstanceUIDs={study}"


@pytest.fixture
def viewer_conn(clean_orthanc, monkeypatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_DICOMWEB_VIEWED", orthanc_connection(clean_orthanc, viewer_url=OHIF))
    return "dicomweb_viewed"


def test_store_search_and_retrieve_save_the_study_link(viewer_conn, tmp_path):
    study = generate_uid()
    make_series(tmp_path / "in", 2, study_uid=study)
    expected = OHIF.format(study=study)
    for op in (
        DicomWebStoreOperator(task_id="store", files=[str(tmp_path / "in")], dicomweb_conn_id=viewer_conn),
        DicomWebSearchOperator(
            task_id="search",
            level="studies",
            filters={"StudyInstanceUID": study},
            dicomweb_conn_id=viewer_conn,
        ),
        DicomWebRetrieveOperator(
            task_id="retrieve",
            study_instance_uid=study,
            dest_dir=str(tmp_path / "out"),
            dicomweb_conn_id=viewer_conn,
        ),
    ):
        op.execute({})
        assert StudyViewerLink().get_link(op, ti_key=None) == expected, op.task_id
        assert [type(link).__name__ for link in op.operator_extra_links] == ["StudyViewerLink"]


def test_a_study_arrival_event_carries_its_viewer_link(viewer_conn, hook, tmp_path):
    store = MemoryStateStore()

    async def scenario():
        agen = watcher(viewer_conn, store).run()
        first = asyncio.ensure_future(agen.__anext__())
        await asyncio.wait_for(wait_for_writes(store, 1), 20)  # the baseline is kept
        uid = generate_uid()
        files = make_series(tmp_path / uid, 1, study_uid=uid, study_date=today())
        await asyncio.to_thread(hook.store_instances, files)
        event = await asyncio.wait_for(first, 30)
        await agen.aclose()
        return uid, event.payload

    uid, payload = asyncio.run(scenario())
    assert payload["study_instance_uid"] == uid
    assert payload["viewer_url"] == OHIF.format(study=uid)


PROBE = textwrap.dedent(
    """
    import os
    from datetime import datetime

    from airflow.sdk import DAG

    from airflow_dicomweb.operators.store import DicomWebStoreOperator

    with DAG("viewer_link_probe", schedule=None, start_date=datetime(2024, 1, 1), catchup=False) as probe:
        DicomWebStoreOperator(task_id="store", files=[os.environ["PROBE_SOURCE"]], dicomweb_conn_id="dicomweb_viewed")

    if __name__ == "__main__":
        from airflow.dag_processing.dagbag import DagBag
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        run = DagBag(dag_folder=__file__).dags["viewer_link_probe"].test()
        print("STATE", run.state)
        with create_session() as session:
            for row in session.query(XComModel).filter(XComModel.run_id == run.run_id):
                print("XCOM", row.key, XComModel.deserialize_value(row))
    """
)


def test_airflow_stores_the_link_the_ui_shows_after_a_real_run(airflow_db, viewer_conn, tmp_path):
    """Run by Airflow (dag.test, in a process of its own): the worker asks the operator for its link as the
    task ends and stores it as the ``_link_StudyViewerLink`` XCom that the UI reads; nothing is looked up
    and not found on the way."""
    study = generate_uid()
    make_series(tmp_path / "in", 1, study_uid=study)
    done = run_dag_script(tmp_path, PROBE, {"PROBE_SOURCE": str(tmp_path / "in")})
    out = done.stdout + done.stderr
    assert "STATE success" in out, out[-3000:]
    assert f"XCOM _link_StudyViewerLink {OHIF.format(study=study)}" in out
    assert "XCom not found" not in out
