"""Event-driven: a watcher announces every study on the DICOMweb server once it is complete, and this DAG
runs for it.

``DicomWebStudyArrivalTrigger`` runs in the triggerer inside an ``AssetWatcher``: it polls the server's
arrivals (by default every 60 s; QIDO-RS over the studies dated from yesterday on, or the change feed of a
server that has one), and fires one event per study once no new instance of it has arrived for
``settle_seconds`` (60 by default), and again if it grows later. Each event becomes an asset event on the
watched asset, with the study's UID, its instance count, whether it is an update, and its main attributes
(no patient identifiers) in its payload. Its cursor is kept in Airflow's asset state store, so a restarted
triggerer announces what arrived while it was down and nothing twice (see the README's guarantees).

This DAG writes each announced study's metadata to the arrivals folder. The watcher's connection, poll
interval and settle time can be set by environment variables, read when the DAG is parsed.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import Asset, AssetWatcher, dag, task

from airflow_dicomweb.operators.metadata import DicomWebRetrieveMetadataOperator
from airflow_dicomweb.triggers.study_arrival import DicomWebStudyArrivalTrigger

CONN_ID = os.environ.get("DICOMWEB_ARRIVALS_CONN_ID", "dicomweb_default")
DATA = os.environ.get("DICOMWEB_DATA_DIR", "/opt/airflow/data")

#: What the watcher announces: a signal asset named for it. The store's ``dicomweb://`` asset is where tasks
#: record what they stored (``dicomweb_store``); an asset with a watcher is declared in one DAG only, since
#: Airflow keeps an asset's watchers only as the DAGs that declare it say.
NEW_STUDIES = Asset(
    name="dicomweb_new_studies",
    watchers=[
        AssetWatcher(
            name="dicomweb_study_arrivals",
            trigger=DicomWebStudyArrivalTrigger(
                dicomweb_conn_id=CONN_ID,
                poll_interval=float(os.environ.get("DICOMWEB_ARRIVALS_POLL_SECONDS", "60")),
                settle_seconds=float(os.environ.get("DICOMWEB_ARRIVALS_SETTLE_SECONDS", "60")),
                lookback_days=1,
            ),
        )
    ],
)


@dag(
    dag_id="dicomweb_study_arrival",
    schedule=[NEW_STUDIES],
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["dicomweb", "example", "assets"],
)
def dicomweb_study_arrival():
    @task
    def new_studies(triggering_asset_events=None) -> list[str]:
        """The studies announced by the watcher events that triggered this run (several may be batched)."""
        uids = []
        for events in (triggering_asset_events or {}).values():
            for event in events:
                payload = (event.extra or {}).get("payload") or {}
                if payload.get("study_instance_uid"):
                    uids.append(payload["study_instance_uid"])
                    print(
                        f"{'grown' if payload.get('update') else 'new'} study {payload['study_instance_uid']}"
                        f" ({payload.get('NumberOfStudyRelatedInstances')} instances): {payload}"
                    )
        return sorted(set(uids))

    DicomWebRetrieveMetadataOperator.partial(
        task_id="arrival_metadata",
        dicomweb_conn_id=CONN_ID,
        output_path=DATA + "/arrivals/{study_instance_uid}.json",
    ).expand(study_instance_uid=new_studies())


dicomweb_study_arrival()
