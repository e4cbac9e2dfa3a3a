"""Viewer links from real tasks against the real Orthanc: the store, search, retrieve and transfer operators
save the first study's link for their extra link, and a study-arrival event carries it."""

from __future__ import annotations

import asyncio

import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.operators.retrieve import DicomWebRetrieveOperator
from airflow_dicomweb.operators.search import DicomWebSearchOperator
from airflow_dicomweb.operators.store import DicomWebStoreOperator
from tests.connections import orthanc_connection
from tests.dicom_factory import make_series
from tests.integration.test_study_arrivals import MemoryStateStore, today, wait_for_writes, watcher

OHIF = "https://viewer.example/viewer?StudyInstanceUIDs={study}"


class TaskInstance:
    def __init__(self) -> None:
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


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
        ti = TaskInstance()
        op.execute({"ti": ti})
        assert ti.pushed.get("dicomweb_viewer_link") == expected, op.task_id
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
