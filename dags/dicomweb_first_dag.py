"""The README's first DAG: store a folder of DICOM files, then retrieve every study it stored."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task

from airflow_dicomweb.operators.retrieve import DicomWebRetrieveOperator
from airflow_dicomweb.operators.store import DicomWebStoreOperator


@dag(
    schedule=None,
    start_date=datetime(2024, 1, 1),
    params={"incoming": Param("/data/incoming"), "export": Param("/data/export")},
    tags=["dicomweb", "example"],
)
def dicomweb_first_dag():
    stored = DicomWebStoreOperator(task_id="store", files=["{{ params.incoming }}"])

    @task
    def studies(summary: dict) -> list[str]:
        return summary["study_instance_uids"]

    DicomWebRetrieveOperator.partial(task_id="retrieve", dest_dir="{{ params.export }}").expand(
        study_instance_uid=studies(stored.output)
    )


dicomweb_first_dag()
