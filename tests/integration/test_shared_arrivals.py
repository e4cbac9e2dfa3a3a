"""Several watchers of one server share one poll (Airflow 3.3's shared streams, driven by Airflow's own
SharedStreamManager, as the triggerer drives it): each gets its own studies, settled, filtered by its own
filters, from one search of the window per interval. Against the real Orthanc behind a front that counts
the searches."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from urllib.parse import parse_qsl

from airflow.triggers.shared_stream import SharedStreamManager
from pydicom.uid import generate_uid

from airflow_dicomweb.triggers.study_arrival import DicomWebStudyArrivalTrigger
from tests.connections import orthanc_connection
from tests.dicom_factory import make_series
from tests.emulators.orthanc_front import OrthancFront
from tests.integration.test_study_arrivals import MemoryStateStore

TODAY = time.strftime("%Y%m%d", time.gmtime())


def counting_front(orthanc, counts: Counter):
    def count(request):
        if request.method == "GET" and request.path.endswith("/studies"):
            query = dict(parse_qsl(request.query))
            if "offset" not in query:  # a search's first page (the search reads on until a page is empty)
                counts["snapshot" if "StudyInstanceUID" not in query else "study"] += 1
        return None

    return OrthancFront(orthanc, count, prefix="/dicom-web")


def test_five_watchers_share_one_poll_and_each_gets_its_own_settled_studies(
    clean_orthanc, monkeypatch, tmp_path
):
    counts: Counter = Counter()
    with counting_front(clean_orthanc, counts) as front:
        monkeypatch.setenv(
            "AIRFLOW_CONN_DICOMWEB_SHARED",
            orthanc_connection(clean_orthanc).replace(clean_orthanc.dicomweb_url, front.dicomweb_url),
        )
        filters = [
            {"ModalitiesInStudy": "CT"},
            {"ModalitiesInStudy": "MR"},
            {},
            {},
            {"ModalitiesInStudy": "US"},
        ]
        triggers = []
        for n, f in enumerate(filters):
            trigger = DicomWebStudyArrivalTrigger(
                dicomweb_conn_id="dicomweb_shared",
                filters=f,
                poll_interval=0.3,
                settle_seconds=1.5,
                source="search",
            )
            trigger.asset_state_store = MemoryStateStore()
            triggers.append((n, trigger))
        keys = {t.shared_stream_key() for _, t in triggers}
        assert len(keys) == 1 and None not in keys

        def store(study: str, modality: str, count: int) -> None:
            files = make_series(
                tmp_path / generate_uid(), count, study_uid=study, study_date=TODAY, modality=modality
            )
            from airflow_dicomweb.core.client import DicomWebClient

            with DicomWebClient.from_url(
                clean_orthanc.dicomweb_url, login=clean_orthanc.username, password=clean_orthanc.password
            ) as client:
                assert client.store_instances(files).ok

        ct, mr = generate_uid(), generate_uid()

        async def scenario():
            manager = SharedStreamManager()
            [key] = keys
            got: dict[int, list] = {n: [] for n, _ in triggers}

            async def consume(n, trigger):
                async for event in trigger.filter_shared_stream(
                    manager.subscribe(trigger_id=n, trigger=trigger, key=key)
                ):
                    got[n].append(
                        (event.payload["StudyInstanceUID"], event.payload["NumberOfStudyRelatedInstances"])
                    )

            tasks = [asyncio.create_task(consume(n, t)) for n, t in triggers]
            await asyncio.sleep(1.0)  # baselines taken
            for _ in range(2):
                await asyncio.to_thread(store, ct, "CT", 2)
                await asyncio.to_thread(store, mr, "MR", 1)
                await asyncio.sleep(0.5)
            await asyncio.sleep(4)
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for n, _ in triggers:
                await manager.unsubscribe(n, key)
            await manager.stop_all()
            return got

        started = time.monotonic()
        got = asyncio.run(scenario())
        elapsed = time.monotonic() - started
    assert got[0] == [(ct, 4)] and got[1] == [(mr, 2)] and got[4] == []
    assert sorted(got[2]) == sorted([(ct, 4), (mr, 2)]) == sorted(got[3])
    # one search of the window per interval for all five, not five
    polls = elapsed / 0.3
    assert counts["snapshot"] <= polls + 2, counts
    # a search per settled study per watcher that judges it (5 watchers x 2 studies)
    assert counts["study"] == 10, counts
