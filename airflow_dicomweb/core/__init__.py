"""The DICOMweb core: an HTTP client for DICOM PS3.18 services that imports nothing from Airflow.

Start with :class:`~airflow_dicomweb.core.client.DicomWebClient`; the Airflow hook exposes the same methods.
The public names below are loaded on first use, so importing a small module of the core (its defaults, say)
does not load all of it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from airflow_dicomweb.core.storage.paths import StoragePath
    from airflow_dicomweb.core.stow.result import InstanceOutcome, StoreResult

#: public name -> the module that defines it
_PUBLIC = {
    "DicomWebApi": "client",
    "DicomWebClient": "client",
    "DicomWebAuthError": "errors",
    "DicomWebConfigError": "errors",
    "DicomWebConnectionError": "errors",
    "DicomWebDeleteNotSupportedError": "errors",
    "DicomWebError": "errors",
    "DicomWebHTTPError": "errors",
    "DicomWebOperationError": "errors",
    "DicomWebOperationTimeoutError": "errors",
    "DicomWebPaginationError": "errors",
    "DicomWebResponseError": "errors",
    "DicomWebStorageError": "errors",
    "InvalidUIDError": "errors",
    "DicomWebSettings": "settings",
    "StoragePath": "storage.paths",
    "InstanceOutcome": "stow.result",
    "StoreResult": "stow.result",
}


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)


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
    "StoragePath",
    "StoreResult",
]
