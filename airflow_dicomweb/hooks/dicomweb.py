"""``DicomWebHook``: the Airflow connection turned into the DICOMweb core client.

The hook inherits the transactions from :class:`~airflow_dicomweb.core.client.DicomWebApi` and supplies
their transport, built lazily from the connection on first use (so constructing the hook, as at DAG parse
time, does no I/O). Its store, retrieves and copy also tell Airflow's hook lineage collector what they read
and wrote (:mod:`airflow_dicomweb.hooks.lineage`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.client import DicomWebApi, DicomWebClient
from airflow_dicomweb.core.copy.copy import copy_studies
from airflow_dicomweb.core.copy.report import CopyReport
from airflow_dicomweb.core.deid.deidentifier import Deidentifier
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.errors import DicomWebError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.progress import ProgressCallback
from airflow_dicomweb.core.qido.query import FilterValue
from airflow_dicomweb.core.settings import DicomWebSettings
from airflow_dicomweb.core.storage.paths import Destination, StoragePath
from airflow_dicomweb.core.stow.inputs import Input
from airflow_dicomweb.core.stow.result import StoreResult
from airflow_dicomweb.hooks.aws_connection import credentials_from
from airflow_dicomweb.hooks.lineage import (
    note_files_read,
    note_files_written,
    note_service_read,
    note_studies_read,
    note_studies_written,
)
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

    # --- with hook-level lineage (hooks/lineage.py): what TaskFlow code calling these reads and writes ---
    def store_instances(
        self,
        files: Iterable[Input] | Input,
        study_instance_uid: str | None = None,
        *,
        skip_existing: bool = defaults.STORE_SKIP_EXISTING,
        concurrency: int = defaults.STORE_CONCURRENCY,
        batch_files: int = defaults.STORE_BATCH_FILES,
        batch_bytes: int = defaults.STORE_BATCH_BYTES,
        storage_class: str | None = None,
        extra_headers: dict[str, str] | None = None,
        progress: ProgressCallback | None = None,
        deidentifier: Deidentifier | None = None,
    ) -> StoreResult:
        """Store files (see :meth:`DicomWebClient.store_instances`); the inputs given and the studies now
        holding them go to the hook lineage collector."""
        result = super().store_instances(
            files,
            study_instance_uid,
            skip_existing=skip_existing,
            concurrency=concurrency,
            batch_files=batch_files,
            batch_bytes=batch_bytes,
            storage_class=storage_class,
            extra_headers=extra_headers,
            progress=progress,
            deidentifier=deidentifier,
        )
        given = [files] if isinstance(files, str | os.PathLike) or not isinstance(files, Iterable) else files
        note_files_read(self, given)
        note_studies_written(self, self.settings.base_url, result.study_instance_uids)
        return result

    def retrieve_study(
        self,
        study_instance_uid: str,
        dest_dir: Destination,
        transfer_syntax: str | None = defaults.TRANSFER_SYNTAX,
        *,
        skip_existing: bool = defaults.RETRIEVE_SKIP_EXISTING,
        series_concurrency: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[StoragePath]:
        """Retrieve a study into ``dest_dir``; the study and the folder go to the hook lineage collector."""
        paths = super().retrieve_study(
            study_instance_uid,
            dest_dir,
            transfer_syntax,
            skip_existing=skip_existing,
            series_concurrency=series_concurrency,
            progress=progress,
        )
        note_studies_read(self, self.settings.base_url, [study_instance_uid])
        note_files_written(self, [dest_dir])
        return paths

    def retrieve_series(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        dest_dir: Destination,
        transfer_syntax: str | None = defaults.TRANSFER_SYNTAX,
        *,
        skip_existing: bool = defaults.RETRIEVE_SKIP_EXISTING,
        progress: ProgressCallback | None = None,
    ) -> list[StoragePath]:
        """Retrieve a series into ``dest_dir``; its study and the folder go to the hook lineage collector."""
        paths = super().retrieve_series(
            study_instance_uid,
            series_instance_uid,
            dest_dir,
            transfer_syntax,
            skip_existing=skip_existing,
            progress=progress,
        )
        note_studies_read(self, self.settings.base_url, [study_instance_uid])
        note_files_written(self, [dest_dir])
        return paths

    def copy_studies_to(
        self,
        dest: DicomWebHook | DimsePeer,
        study_instance_uids: Iterable[str] | None = None,
        filters: Mapping[str, FilterValue] | None = None,
        *,
        verify: bool = defaults.COPY_VERIFY,
        streams: int = defaults.COPY_STREAMS,
        concurrency: int = defaults.COPY_CONCURRENCY,
        max_instance_mib: int = defaults.COPY_MAX_INSTANCE_MIB,
        progress: ProgressCallback | None = None,
        deidentifier: Deidentifier | None = None,
    ) -> CopyReport:
        """Copy studies from this hook's service to ``dest`` (see
        :func:`~airflow_dicomweb.core.copy.copy.copy_studies`); the studies on both sides go to the hook
        lineage collector (with a de-identifier, the source's service as a whole: studies on both sides
        would be a mapping)."""
        report = copy_studies(
            self,
            dest,
            study_instance_uids,
            filters,
            verify=verify,
            streams=streams,
            concurrency=concurrency,
            max_instance_mib=max_instance_mib,
            progress=progress,
            deidentifier=deidentifier,
        )
        copied = [s.study_instance_uid for s in report.studies if not s.error]
        if deidentifier is None:
            note_studies_read(self, self.settings.base_url, copied)
        else:
            note_service_read(self, self.settings.base_url)
        if isinstance(dest, DicomWebHook):
            note_studies_written(dest, dest.settings.base_url, [s for s in copied])
        return report

    def close(self) -> None:
        if "transport" in self.__dict__:
            self.transport.close()
            del self.__dict__["transport"]
        self.__dict__.pop("transactions", None)  # made over the transport just closed
