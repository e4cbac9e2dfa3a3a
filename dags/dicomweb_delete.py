"""Delete a study and wait on the server's long-running operation with a deferrable sensor.

The delete is made in the worker; the waiting happens in the triggerer, so no worker slot is held while
Google works. Servers without DICOMweb delete (Orthanc) make the delete task skip with that message, and
the rest of the run is skipped with it.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task

from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from airflow_dicomweb.operators.delete import DicomWebDeleteOperator
from airflow_dicomweb.sensors.operation import DicomWebOperationSensor


@dag(
    dag_id="dicomweb_delete",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["dicomweb", "example"],
    params={
        "study_instance_uid": Param(type="string", pattern=r"^[0-9]+(\.[0-9]+)*$"),
        "dicomweb_conn_id": Param("dicomweb_default", type="string"),
    },
)
def dicomweb_delete():
    delete = DicomWebDeleteOperator(
        task_id="delete_study",
        study_instance_uid="{{ params.study_instance_uid }}",
        wait_for_completion=False,  # the sensor below waits, in the triggerer
        on_unsupported="skip",
        dicomweb_conn_id="{{ params.dicomweb_conn_id }}",
    )
    wait = DicomWebOperationSensor(
        task_id="wait_for_delete",
        operation_name=delete.output,
        deferrable=True,
        poke_interval=5,
        timeout=3600,
        dicomweb_conn_id="{{ params.dicomweb_conn_id }}",
    )

    @task
    def confirm_gone(params: dict) -> str:
        hook = DicomWebHook(params["dicomweb_conn_id"])
        left = hook.search_for_studies({"StudyInstanceUID": params["study_instance_uid"]})
        if left:
            raise RuntimeError(f"study {params['study_instance_uid']} is still searchable after its delete")
        print(f"study {params['study_instance_uid']} is gone")
        return params["study_instance_uid"]

    wait >> confirm_gone()


dicomweb_delete()
