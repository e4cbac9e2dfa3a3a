"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from airflow_dicomweb import __version__
from airflow_dicomweb.core import connection_fields
from airflow_dicomweb.core.dimse import connection as dimse_connection
from airflow_dicomweb.provider_config import provider_config


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
        "hooks": [
            {
                "integration-name": "DICOMweb",
                "python-modules": [
                    "airflow_dicomweb.hooks.dicomweb",
                    "airflow_dicomweb.hooks.google_store",
                    "airflow_dicomweb.hooks.dimse",
                    "airflow_dicomweb.hooks.deidentification",
                    "airflow_dicomweb.hooks.healthimaging",
                ],
            }
        ],
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
                    "airflow_dicomweb.operators.google_store",
                    "airflow_dicomweb.operators.dimse_find",
                    "airflow_dicomweb.operators.dimse_retrieve",
                    "airflow_dicomweb.operators.dimse_store",
                    "airflow_dicomweb.operators.deidentify",
                    "airflow_dicomweb.operators.quality_gate",
                    "airflow_dicomweb.operators.healthimaging_import",
                    "airflow_dicomweb.operators.azure_export",
                ],
            }
        ],
        "transfers": [
            {
                "source-integration-name": "DICOMweb",
                "target-integration-name": "DICOMweb",
                "python-module": "airflow_dicomweb.transfers.dicomweb_to_dicomweb",
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
                "python-modules": [
                    "airflow_dicomweb.triggers.operation",
                    "airflow_dicomweb.triggers.search",
                    "airflow_dicomweb.triggers.study_arrival",
                    "airflow_dicomweb.triggers.healthimaging_import",
                ],
            }
        ],
        "extra-links": [
            "airflow_dicomweb.operators.google_store_links.DicomStoreLink",
            "airflow_dicomweb.operators.google_store_links.DicomStoreOperationLogsLink",
            "airflow_dicomweb.operators.viewer_link.StudyViewerLink",
        ],
        "asset-uris": [
            {
                "schemes": ["dicomweb"],
                "handler": "airflow_dicomweb.assets.dicomweb.sanitize_uri",
                "factory": "airflow_dicomweb.assets.dicomweb.create_asset",
                "to_openlineage_converter": "airflow_dicomweb.assets.dicomweb.convert_asset_to_openlineage",
            }
        ],
        "config": provider_config(),
        "cli": ["airflow_dicomweb.airflow_cli.definition.get_dicomweb_cli_commands"],
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
                "conn-fields": {name: f.form() for name, f in connection_fields.table().items()},
            },
            {
                "connection-type": "dimse",
                "hook-class-name": "airflow_dicomweb.hooks.dimse.DimseHook",
                "hook-name": "DIMSE",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login"],
                    "relabeling": {"host": "Host", "port": "Port", "password": "TLS key passphrase"},
                    "placeholders": {"host": "pacs.example.org", "port": "104"},
                },
                "conn-fields": {f.name: f.form() for f in dimse_connection.FIELDS},
            },
            {
                "connection-type": "dicom_deid_key",
                "hook-class-name": "airflow_dicomweb.hooks.deidentification.DeidentificationHook",
                "hook-name": "DICOM de-identification key",
                "ui-field-behaviour": {
                    "hidden-fields": ["host", "schema", "login", "port", "extra"],
                    "relabeling": {"password": "De-identification key"},
                    "placeholders": {"password": "at least 16 bytes: secrets.token_urlsafe(32)"},
                },
            },
        ],
    }
