"""Data-aware, one run per study: catalogues the metadata of each study the ingest DAG stored.

Scheduled with a ``PartitionedAssetTimetable`` on the DICOM store's asset (``dicomweb_store``, one asset for
the whole store). The ingest's store task records one event on that asset per study it stored, with the
study's UID as the event's partition key, so this DAG runs once per study, the UID being the run's
``partition_key``. The event's extra says which connection stored it. The study's metadata (WADO-RS) is
written as JSON to the catalog folder, a local path or an object-store URL.

The study-arrival watcher's events on the same asset carry no partition key: they run
``dicomweb_study_arrival``, not this DAG.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import PartitionedAssetTimetable, dag, task

from airflow_dicomweb.assets.dicomweb import create_asset
from airflow_dicomweb.operators.metadata import DicomWebRetrieveMetadataOperator

DATA = os.environ.get("DICOMWEB_DATA_DIR", "/opt/airflow/data")
CATALOG = os.environ.get("DICOMWEB_CATALOG_DIR", f"{DATA}/catalog")
STORE = create_asset(
    service_root=os.environ.get("DICOMWEB_ORTHANC_URL", "http://orthanc:8042/dicom-web"),
    name="dicomweb_store",
)


@dag(
    dag_id="dicomweb_on_stored_study",
    schedule=PartitionedAssetTimetable(assets=STORE),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["dicomweb", "example", "assets"],
)
def dicomweb_on_stored_study():
    @task
    def stored_through(dag_run=None, triggering_asset_events=None) -> str:
        """The connection that stored this run's study (its partition key)."""
        study = dag_run.partition_key
        conn_ids = {
            (event.extra or {}).get("dicomweb_conn_id")
            for events in (triggering_asset_events or {}).values()
            for event in events
            if (event.extra or {}).get("operation") == "store"
        }
        conn_ids.discard(None)
        conn_id = min(conn_ids) if conn_ids else "dicomweb_default"
        print(f"study {study}, stored through {conn_id}")
        return conn_id

    DicomWebRetrieveMetadataOperator(
        task_id="catalog_metadata",
        study_instance_uid="{{ dag_run.partition_key }}",
        dicomweb_conn_id=stored_through(),
        output_path=CATALOG + "/{study_instance_uid}.json",
    )


dicomweb_on_stored_study()
