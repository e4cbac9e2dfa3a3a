"""The DICOMweb client: every transaction of the core over one transport.

:class:`DicomWebApi` gathers the transactions (store, search, retrieve, delete) and needs only a
``transport`` attribute, so the Airflow hook reuses it as it is. :class:`DicomWebClient` is the stand-alone
client for use without Airflow.
"""

from __future__ import annotations

from typing import Any

import requests

from airflow_dicomweb.core.delete import DeleteMixin
from airflow_dicomweb.core.qido import QidoMixin
from airflow_dicomweb.core.settings import DicomWebSettings
from airflow_dicomweb.core.stow import StowMixin
from airflow_dicomweb.core.stow_jpeg import StowJpegMixin
from airflow_dicomweb.core.transport import Transport
from airflow_dicomweb.core.wado import WadoMixin


class DicomWebApi(StowMixin, StowJpegMixin, QidoMixin, WadoMixin, DeleteMixin):
    """STOW-RS, QIDO-RS, WADO-RS and delete over ``self.transport``."""

    transport: Transport


class DicomWebClient(DicomWebApi):
    """A DICOMweb client for one service root.

    >>> client = DicomWebClient.from_url("http://127.0.0.1:8042/dicom-web", login="orthanc", password="...")
    >>> client.search_for_studies({"PatientName": "DOE*"})
    """

    def __init__(self, settings: DicomWebSettings, session: requests.Session | None = None) -> None:
        self.transport = Transport(settings, session)

    @classmethod
    def from_url(
        cls, base_url: str, *, login: str | None = None, password: str | None = None, **extra: Any
    ) -> DicomWebClient:
        """A client from a service root URL, credentials and connection extras (``auth_type``...)."""
        return cls(
            DicomWebSettings.from_connection_fields(
                host=base_url, login=login, password=password, extra=extra
            )
        )

    @classmethod
    def from_transport(cls, transport: Transport) -> DicomWebClient:
        """A client over an existing transport (sharing its session and connection pool)."""
        client = cls.__new__(cls)
        client.transport = transport
        return client

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> DicomWebClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
