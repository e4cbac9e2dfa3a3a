"""JPEG to DICOM: JPEG images and a DICOM JSON metadata template become instances of one series.

Each image gets its own SOP Instance UID and InstanceNumber; Rows, Columns and the pixel attributes come
from the JPEG. Google's DICOM stores take the JSON+JPEG form directly; other servers get Part 10
instances built here. A search then checks the series holds every image.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import Param, dag

from airflow_dicomweb.operators.store_jpeg import DicomWebStoreJpegOperator
from airflow_dicomweb.sensors.search import DicomWebSearchSensor

DATA = os.environ.get("DICOMWEB_DATA_DIR", "/opt/airflow/data")


@dag(
    dag_id="dicomweb_jpeg_to_dicom",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["dicomweb", "example"],
    params={
        "jpeg_glob": Param(f"{DATA}/jpeg/*.jpg", type="string"),
        "metadata_file": Param(f"{DATA}/jpeg/metadata.json", type="string"),
        "dicomweb_conn_id": Param("dicomweb_default", type="string"),
    },
)
def dicomweb_jpeg_to_dicom():
    store = DicomWebStoreJpegOperator(
        task_id="store_jpeg",
        jpeg_files="{{ params.jpeg_glob }}",
        metadata="{{ params.metadata_file }}",
        dicomweb_conn_id="{{ params.dicomweb_conn_id }}",
    )
    DicomWebSearchSensor(
        task_id="series_complete",
        level="instances",
        study_instance_uid="{{ ti.xcom_pull(task_ids='store_jpeg')['study_instance_uids'][0] }}",
        min_count="{{ ti.xcom_pull(task_ids='store_jpeg')['stored'] + ti.xcom_pull(task_ids='store_jpeg')['already_present'] }}",
        mode="reschedule",
        poke_interval=5,
        timeout=600,
        dicomweb_conn_id="{{ params.dicomweb_conn_id }}",
    ).set_upstream(store)


dicomweb_jpeg_to_dicom()
