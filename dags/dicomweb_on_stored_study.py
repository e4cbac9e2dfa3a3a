"""Data-aware: runs when the ingest DAG has stored studies, and catalogues each one's metadata.

Scheduled on the ``dicomweb_stored_studies`` asset alias. The ingest's store task records one asset event
per study it stored, on that study's ``dicomweb://host/path/studies/<uid>`` asset, with the connection
id, the series, the instance count and the bytes as extras. This DAG reads those events, and writes each
study's metadata (WADO-RS) as JSON to the catalog folder, a local path or an object-store URL.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import AssetAlias, dag, task

from airflow_dicomweb.operators.metadata import DicomWebRetrieveMetadataOperator

DATA = os.environ.get("DICOMWEB_DATA_DIR", "/opt/airflow/data")
CATALOG = os.environ.get("DICOMWEB_CATALOG_DIR", f"{DATA}/catalog")


@dag(
    dag_id="dicomweb_on_stored_study",
    schedule=AssetAlias("dicomweb_stored_studies"),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["dicomweb", "example", "assets"],
)
def dicomweb_on_stored_study():
    @task
    def stored_studies(triggering_asset_events=None) -> list[dict]:
        """One entry per study announced by the events that triggered this run (several may be batched)."""
        studies: dict[str, dict] = {}
        for events in (triggering_asset_events or {}).values():
            for event in events:
                extra = event.extra or {}
                uid = extra.get("study_instance_uid")
                if uid and extra.get("operation") == "store":
                    studies[uid] = {"study_instance_uid": uid, "dicomweb_conn_id": extra["dicomweb_conn_id"]}
        print(f"{len(studies)} studies stored: {sorted(studies)}")
        return list(studies.values())

    DicomWebRetrieveMetadataOperator.partial(
        task_id="catalog_metadata",
        output_path=CATALOG + "/{study_instance_uid}.json",
    ).expand_kwargs(stored_studies())


dicomweb_on_stored_study()
