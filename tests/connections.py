"""Connections of the test servers, as ``AIRFLOW_CONN_*`` JSON, and the pydicom sample files the suite uses."""

from __future__ import annotations

import json

SAMPLE_FILES = {
    "ct": "CT_small.dcm",  # uncompressed, 128x128
    "mr": "MR_small.dcm",  # uncompressed, 64x64
    "jpeg": "SC_jpeg_no_color_transform.dcm",  # JPEG baseline, 256x256 RGB
    "multiframe": "emri_small.dcm",  # 10 frames of 64x64, uncompressed
}

#: Fast retries for tests: the behaviour is the same, the waits are short.
FAST_RETRY_EXTRAS = {
    "max_retries": 4,
    "retry_initial_wait": 0.01,
    "retry_max_wait": 0.05,
    "retry_max_elapsed": 20,
}


def connection_json(host: str, **kwargs) -> str:
    return json.dumps({"conn_type": "dicomweb", "host": host, **kwargs})


def orthanc_connection(orthanc, **extra) -> str:
    """A ``dicomweb`` connection (as ``AIRFLOW_CONN_*`` JSON) to the test Orthanc, with fast retries."""
    return connection_json(
        orthanc.dicomweb_url,
        login=orthanc.username,
        password=orthanc.password,
        extra={**FAST_RETRY_EXTRAS, **extra},
    )


def google_connection(google, **extra) -> str:
    """A ``dicomweb`` connection with a service-account key, naming the store by its parts."""
    return connection_json(
        None,
        extra={
            "auth_type": "google",
            "keyfile_dict": json.dumps(google.service_account_key()),
            "api_root": google.url,
            "project": google.project,
            "location": google.location,
            "dataset": google.dataset,
            "dicom_store": google.dicom_store,
            **FAST_RETRY_EXTRAS,
            **extra,
        },
    )
