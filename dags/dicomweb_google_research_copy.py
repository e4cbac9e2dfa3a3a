"""A research copy of a Google DICOM store: de-identify it into a new store, then check the copy with a
search (studies there, and no patient name left).

The destination store must not exist yet; Google creates it in the same dataset. What is removed is the
``config``'s say (Google's ``DeidentifyConfig``); see the provider's docs for what de-identification does
and does not remove.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from airflow.sdk import Param, dag, task

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.google_store.resource import GoogleStore
from airflow_dicomweb.hooks.google_store import GoogleDicomStoreHook
from airflow_dicomweb.operators.google_store import DicomStoreDeidentifyOperator

#: Google's basic profile: attributes that identify the patient are removed or replaced, UIDs replaced.
DEFAULT_CONFIG = {"dicom": {"filterProfile": "DEIDENTIFY_TAG_CONTENTS"}}


@dag(
    dag_id="dicomweb_google_research_copy",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["dicomweb", "google", "example"],
    render_template_as_native_obj=True,
    params={
        "destination_store": Param("research-copy", type="string", pattern=r"^[A-Za-z0-9_.-]+$"),
        "config": Param(DEFAULT_CONFIG, type="object"),
        "dicomweb_conn_id": Param("dicomweb_default", type="string"),
    },
)
def dicomweb_google_research_copy():
    copy = DicomStoreDeidentifyOperator(
        task_id="deidentify",
        destination_store="{{ params.destination_store }}",
        config="{{ params.config }}",
        deferrable=True,
        poll_interval=10,
        dicomweb_conn_id="{{ params.dicomweb_conn_id }}",
    )

    @task
    def check_copy(deidentified: dict, params: dict | None = None) -> int:
        assert params is not None
        hook = GoogleDicomStoreHook(params["dicomweb_conn_id"])
        store = GoogleStore.from_service_root(hook.settings.base_url)
        root = store.service_root_of(params["destination_store"])
        with DicomWebClient(dataclasses.replace(hook.settings, base_url=root)) as client:
            studies = client.search_for_studies(includefield=["PatientName"])
        named = [s for s in studies if (s.get("00100010") or {}).get("Value")]
        print(f"{len(studies)} studies in {deidentified['destination']}; {len(named)} with a patient name")
        if not studies or named:
            raise RuntimeError(f"the copy has {len(studies)} studies, {len(named)} still naming a patient")
        return len(studies)

    check_copy(copy.output)


dicomweb_google_research_copy()
