"""``DicomWebHook``: the Airflow connection turned into the DICOMweb core client.

The hook adds nothing to the transactions: it inherits them from
:class:`~airflow_dicomweb.core.client.DicomWebApi` and supplies their transport, built lazily from the
connection on first use (so constructing the hook, as at DAG parse time, does no I/O).
"""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.client import DicomWebApi, DicomWebClient
from airflow_dicomweb.core.errors import DicomWebError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.settings import DicomWebSettings
from airflow_dicomweb.hooks.aws_connection import credentials_from
from airflow_dicomweb.provider_config import connection_defaults


def settings_from_connection(conn: Any, extra_overrides: dict[str, Any] | None = None) -> DicomWebSettings:
    """Core settings from an Airflow ``Connection`` (host, login, password, port, schema, extra);
    ``extra_overrides`` win over the connection's extras (the command line's options do). An extra
    ``aws_conn_id`` makes that Airflow AWS connection the source of ``auth_type: aws``'s credentials. What
    the connection does not set, the ``[dicomweb]`` section of Airflow's configuration may
    (:mod:`airflow_dicomweb.provider_config`)."""
    extra = {**connection_defaults(), **conn.extra_dejson, **(extra_overrides or {})}
    aws_conn_id = extra.pop("aws_conn_id", None)
    settings = DicomWebSettings.from_connection_fields(
        host=conn.host,
        login=conn.login,
        password=conn.password,
        port=conn.port,
        schema=conn.schema,
        extra=extra,
    )
    if aws_conn_id:
        source = credentials_from(str(aws_conn_id), settings.auth_fields.get("region_name"))
        settings = dataclasses.replace(settings, auth_fields={**settings.auth_fields, "credentials": source})
    return settings


class DicomWebHook(BaseHook, DicomWebApi):
    """Store, search, retrieve and delete DICOM objects through a ``dicomweb`` connection.

    :param dicomweb_conn_id: the connection; its host is the DICOMweb service root.
    """

    conn_name_attr = "dicomweb_conn_id"
    default_conn_name = defaults.CONN_ID
    conn_type = "dicomweb"
    hook_name = "DICOMweb"

    def __init__(self, dicomweb_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dicomweb_conn_id = dicomweb_conn_id

    @cached_property
    def settings(self) -> DicomWebSettings:
        return settings_from_connection(self.get_connection(self.dicomweb_conn_id))

    @cached_property
    def transport(self) -> Transport:  # type: ignore[override]
        transport = Transport(self.settings)
        # Airflow masks the connection's password itself; derived forms (the Basic credential's base64,
        # Google access tokens as they are issued, header values) are registered with its masker too.
        transport.redactor.listen(mask_secret)
        return transport

    def get_conn(self) -> DicomWebClient:
        """A stand-alone core client sharing this hook's transport."""
        return DicomWebClient.from_transport(self.transport)

    def test_connection(self) -> tuple[bool, str]:
        """Ask for one study: proves the URL, the credentials and the DICOMweb service."""
        try:
            found = self.search_for_studies(limit=1)
        except DicomWebError as exc:
            return False, str(exc)
        except Exception as exc:
            return False, f"{type(exc).__name__}: {self.transport.redact(str(exc))}"
        return True, f"DICOMweb service answered ({len(found)} study returned for limit=1)"

    def close(self) -> None:
        if "transport" in self.__dict__:
            self.transport.close()
            del self.__dict__["transport"]
        self.__dict__.pop("transactions", None)  # made over the transport just closed
