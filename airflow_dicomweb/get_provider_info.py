"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from airflow_dicomweb import __version__


def get_provider_info() -> dict:
    return {
        "package-name": "airflow-dicomweb",
        "name": "DICOMweb",
        "description": "Store (STOW-RS), search (QIDO-RS), retrieve (WADO-RS) and delete DICOM objects "
        "through DICOMweb: Google Cloud Healthcare API, Orthanc, dcm4chee, Azure DICOM service.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "DICOMweb",
                "external-doc-url": "https://www.dicomstandard.org/using/dicomweb",
                "tags": ["protocol"],
            }
        ],
        "hooks": [{"integration-name": "DICOMweb", "python-modules": ["airflow_dicomweb.hooks.dicomweb"]}],
        "operators": [
            {
                "integration-name": "DICOMweb",
                "python-modules": [
                    "airflow_dicomweb.operators.store",
                    "airflow_dicomweb.operators.store_jpeg",
                    "airflow_dicomweb.operators.search",
                    "airflow_dicomweb.operators.retrieve",
                    "airflow_dicomweb.operators.metadata",
                    "airflow_dicomweb.operators.rendered",
                    "airflow_dicomweb.operators.bulkdata",
                    "airflow_dicomweb.operators.delete",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "DICOMweb",
                "python-modules": ["airflow_dicomweb.sensors.operation", "airflow_dicomweb.sensors.search"],
            }
        ],
        "triggers": [
            {
                "integration-name": "DICOMweb",
                "python-modules": ["airflow_dicomweb.triggers.operation", "airflow_dicomweb.triggers.search"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "dicomweb",
                "hook-class-name": "airflow_dicomweb.hooks.dicomweb.DicomWebHook",
                "hook-name": "DICOMweb",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "Service root URL",
                        "login": "Username",
                        "password": "Password or token",
                    },
                    "placeholders": {
                        "host": "http://127.0.0.1:8042/dicom-web or https://healthcare.googleapis.com/v1/"
                        "projects/P/locations/L/datasets/D/dicomStores/S/dicomWeb",
                        "login": "for HTTP Basic",
                        "password": "Basic password, or the bearer token",
                    },
                },
                "conn-fields": {
                    "auth_type": {
                        "label": "Authentication",
                        "description": "none, basic (login/password), bearer (token in password) or google "
                        "(service account or Application Default Credentials). Default: basic when a login "
                        "is set, else none.",
                        "schema": {
                            "type": ["string", "null"],
                            "enum": ["none", "basic", "bearer", "google", None],
                        },
                    },
                    "timeout": {
                        "label": "Timeout (seconds)",
                        "description": "Read timeout of each request; connect timeout is at most 10 s.",
                        "schema": {"type": ["number", "null"], "default": 300},
                    },
                    "verify": {
                        "label": "Verify TLS",
                        "description": "true, false, or the path of a CA bundle.",
                        "schema": {"type": ["string", "null"], "default": "true"},
                    },
                    "headers": {
                        "label": "Extra headers",
                        "description": "JSON object of extra request headers.",
                        "schema": {"type": ["string", "null"], "format": "json"},
                    },
                    "max_retries": {
                        "label": "Retries",
                        "description": "Retries of a failed request (connection errors, 408, 429, 5xx).",
                        "schema": {"type": ["integer", "null"], "default": 5},
                    },
                    "caret_as_wildcard": {
                        "label": "Send ^ as ? in searches",
                        "description": "For servers that do not percent-decode queries (Orthanc): person-name "
                        "separators are sent as the one-character wildcard.",
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                    "key_path": {
                        "label": "Google key file path",
                        "description": "Path of a service-account JSON key (auth_type google).",
                        "schema": {"type": ["string", "null"]},
                    },
                    "keyfile_dict": {
                        "label": "Google key JSON",
                        "description": "The service-account JSON key itself (auth_type google).",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "scope": {
                        "label": "Google scopes",
                        "description": "Comma-separated OAuth scopes; default cloud-platform.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "impersonation_chain": {
                        "label": "Google impersonation chain",
                        "description": "A service account to impersonate, or a comma-separated chain.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "project": {"label": "Google project", "schema": {"type": ["string", "null"]}},
                    "location": {"label": "Google location", "schema": {"type": ["string", "null"]}},
                    "dataset": {"label": "Google dataset", "schema": {"type": ["string", "null"]}},
                    "dicom_store": {"label": "Google DICOM store", "schema": {"type": ["string", "null"]}},
                    "api_version": {
                        "label": "Google API version",
                        "schema": {"type": ["string", "null"], "enum": ["v1", "v1beta1", None]},
                    },
                },
            }
        ],
    }
