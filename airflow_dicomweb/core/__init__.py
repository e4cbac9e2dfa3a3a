"""The DICOMweb core: an HTTP client for DICOM PS3.18 services that imports nothing from Airflow.

Start with :class:`~airflow_dicomweb.core.client.DicomWebClient`; the Airflow hook exposes the same methods.
"""

from airflow_dicomweb.core.client import DicomWebApi, DicomWebClient
from airflow_dicomweb.core.errors import (
    DicomWebAuthError,
    DicomWebConfigError,
    DicomWebConnectionError,
    DicomWebDeleteNotSupportedError,
    DicomWebError,
    DicomWebHTTPError,
    DicomWebOperationError,
    DicomWebOperationTimeoutError,
    DicomWebPaginationError,
    DicomWebResponseError,
    DicomWebStorageError,
    InvalidUIDError,
)
from airflow_dicomweb.core.settings import DicomWebSettings
from airflow_dicomweb.core.storage import Location
from airflow_dicomweb.core.store_result import InstanceOutcome, StoreResult

__all__ = [
    "DicomWebApi",
    "DicomWebAuthError",
    "DicomWebClient",
    "DicomWebConfigError",
    "DicomWebConnectionError",
    "DicomWebDeleteNotSupportedError",
    "DicomWebError",
    "DicomWebHTTPError",
    "DicomWebOperationError",
    "DicomWebOperationTimeoutError",
    "DicomWebPaginationError",
    "DicomWebResponseError",
    "DicomWebSettings",
    "DicomWebStorageError",
    "InstanceOutcome",
    "InvalidUIDError",
    "Location",
    "StoreResult",
]
