"""Export: the studies of a day are searched, then each is retrieved by its own mapped task, with its
metadata and a rendered preview.

The filter comes from the run: ``study_date`` (YYYYMMDD) if given, else the run's logical date. Retrieves
resume: a retried task fetches only the files it does not have yet.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import Param, dag, task

from airflow_dicomweb.operators.metadata import DicomWebRetrieveMetadataOperator
from airflow_dicomweb.operators.rendered import DicomWebRetrieveRenderedOperator
from airflow_dicomweb.operators.retrieve import DicomWebRetrieveOperator
from airflow_dicomweb.operators.search import DicomWebSearchOperator

DATA = os.environ.get("DICOMWEB_DATA_DIR", "/opt/airflow/data")


def study_uid(study: dict) -> str:
    return study["0020000D"]["Value"][0]


@dag(
    dag_id="dicomweb_export",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["dicomweb", "example"],
    params={
        "study_date": Param("", type="string", description="YYYYMMDD or a range; empty: the logical date"),
        "patient_name": Param("*", type="string"),
        "export_dir": Param(f"{DATA}/export", type="string"),
        "dicomweb_conn_id": Param("dicomweb_default", type="string"),
    },
)
def dicomweb_export():
    search = DicomWebSearchOperator(
        task_id="search_studies",
        level="studies",
        filters={
            "StudyDate": "{{ params.study_date or ds_nodash }}",
            "PatientName": "{{ params.patient_name }}",
        },
        max_xcom_results=1024,  # one mapped task per study: Airflow maps at most 1024 by default
        dicomweb_conn_id="{{ params.dicomweb_conn_id }}",
    )
    uids = search.output.map(study_uid)
    common = {"dicomweb_conn_id": "{{ params.dicomweb_conn_id }}"}
    retrieved = DicomWebRetrieveOperator.partial(
        task_id="retrieve_study", dest_dir="{{ params.export_dir }}/dicom", **common
    ).expand(study_instance_uid=uids)
    metadata = DicomWebRetrieveMetadataOperator.partial(
        task_id="metadata", output_path="{{ params.export_dir }}/metadata/{study_instance_uid}.json", **common
    ).expand(study_instance_uid=uids)
    previews = DicomWebRetrieveRenderedOperator.partial(
        task_id="preview",
        output_path="{{ params.export_dir }}/previews/{study_instance_uid}.png",
        viewport=(256, 256),
        **common,
    ).expand(study_instance_uid=uids)

    @task
    def report(retrieved: list[dict], metadata: list[str], previews: list[str]) -> dict:
        files = sum(retrieved[i]["count"] for i in range(len(retrieved)))  # by index: a lazy XCom sequence
        print(
            f"exported {len(retrieved)} studies: {files} files, {len(metadata)} metadata files, "
            f"{len(previews)} previews"
        )
        return {"studies": len(retrieved), "files": files}

    report(retrieved.output, metadata.output, previews.output)


dicomweb_export()
