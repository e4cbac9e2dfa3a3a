"""The DICOMweb client: one facade over the transactions of one service.

Each transaction is a class of its own package that receives what it uses
(:class:`~airflow_dicomweb.core.transactions.Transactions` wires them: a transport, the search, the server
profile). :class:`DicomWebApi` has one method per transaction
method, each a plain call of it, and needs only a ``transport`` attribute, so the Airflow hook reuses it as
it is. :class:`DicomWebClient` is the stand-alone client for use without Airflow. What only a Google DICOM
store does (import, export, de-identify, storage classes, metrics) is
:class:`~airflow_dicomweb.core.google_store.client.GoogleStoreApi`'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any

import requests

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.deid.deidentifier import Deidentifier
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.media_types import DICOM_JSON
from airflow_dicomweb.core.progress import ProgressCallback
from airflow_dicomweb.core.qido.query import FilterValue
from airflow_dicomweb.core.settings import DicomWebSettings
from airflow_dicomweb.core.storage.paths import Destination, StoragePath
from airflow_dicomweb.core.stow.inputs import Input
from airflow_dicomweb.core.stow.result import StoreResult
from airflow_dicomweb.core.transactions import Transactions


class DicomWebApi:
    """STOW-RS, QIDO-RS, WADO-RS, delete and long-running operations over ``self.transport``."""

    transport: Transport

    @cached_property
    def transactions(self) -> Transactions:
        """The transactions, made on first use over this object's transport and its server profile."""
        return Transactions.over(self.transport, self.transport.settings.profile)

    # store
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
        """Store DICOM files (paths, directories, ``**`` globs) and report the outcome of each; with a
        ``deidentifier``, each de-identified in memory as it is sent."""
        return self.transactions.store.store_instances(
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

    # store jpeg
    def store_jpeg_instances(
        self,
        jpeg_files: Iterable[Input] | Input,
        metadata: dict | list[dict],
        *,
        study_instance_uid: str | None = None,
        storage_class: str | None = None,
        method: str = "auto",
        concurrency: int = defaults.STORE_CONCURRENCY,
    ) -> StoreResult:
        """Make a DICOM instance of each JPEG with its metadata and store it; one outcome per JPEG."""
        return self.transactions.store_jpeg.store_jpeg_instances(
            jpeg_files,
            metadata,
            study_instance_uid=study_instance_uid,
            storage_class=storage_class,
            method=method,
            concurrency=concurrency,
        )

    # search
    def search_for_studies(
        self,
        filters: Mapping[str, FilterValue] | None = None,
        includefield: Iterable[str] | str | None = None,
        fuzzymatching: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict]:
        """Studies matching ``filters`` (keywords or tags to values), as DICOM JSON datasets."""
        return self.transactions.search.search_for_studies(
            filters, includefield, fuzzymatching, limit, offset
        )

    def search_for_series(
        self,
        study_instance_uid: str | None = None,
        filters: Mapping[str, FilterValue] | None = None,
        includefield: Iterable[str] | str | None = None,
        fuzzymatching: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict]:
        """Series matching ``filters``, within one study if ``study_instance_uid`` is given."""
        return self.transactions.search.search_for_series(
            study_instance_uid, filters, includefield, fuzzymatching, limit, offset
        )

    def search_for_instances(
        self,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        filters: Mapping[str, FilterValue] | None = None,
        includefield: Iterable[str] | str | None = None,
        fuzzymatching: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict]:
        """Instances matching ``filters``, within a study or a series if their UIDs are given."""
        return self.transactions.search.search_for_instances(
            study_instance_uid, series_instance_uid, filters, includefield, fuzzymatching, limit, offset
        )

    def iter_search(
        self,
        level: str,
        *,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        filters: Mapping[str, FilterValue] | None = None,
        includefield: Iterable[str] | str | None = None,
        fuzzymatching: bool = False,
        limit: int | None = None,
        offset: int = 0,
        page_size: int | None = None,
        whole_pages: bool = False,
    ) -> Iterator[dict]:
        """Matches one by one, fetching a page at a time. ``limit`` caps the total (None: all)."""
        return self.transactions.search.iter_search(
            level,
            study_instance_uid=study_instance_uid,
            series_instance_uid=series_instance_uid,
            filters=filters,
            includefield=includefield,
            fuzzymatching=fuzzymatching,
            limit=limit,
            offset=offset,
            page_size=page_size,
            whole_pages=whole_pages,
        )

    def search_url(
        self, level: str, study_instance_uid: str | None = None, series_instance_uid: str | None = None
    ) -> tuple[str, dict[str, str]]:
        """The resource URL of a search, and filters implied by UIDs that have no path of their own."""
        return self.transactions.search.search_url(level, study_instance_uid, series_instance_uid)

    # instances
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
        """Every instance of a study, written under ``dest_dir``; the paths of its files there."""
        return self.transactions.instances.retrieve_study(
            study_instance_uid,
            dest_dir,
            transfer_syntax,
            skip_existing=skip_existing,
            series_concurrency=series_concurrency,
            progress=progress,
        )

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
        """Every instance of a series, written under ``dest_dir``; the paths of its files there."""
        return self.transactions.instances.retrieve_series(
            study_instance_uid,
            series_instance_uid,
            dest_dir,
            transfer_syntax,
            skip_existing=skip_existing,
            progress=progress,
        )

    def retrieve_instance(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        dest_dir: Destination,
        transfer_syntax: str | None = defaults.TRANSFER_SYNTAX,
        single_part: bool = False,
    ) -> list[StoragePath]:
        """One instance, written under ``dest_dir``; a list holding its path."""
        return self.transactions.instances.retrieve_instance(
            study_instance_uid, series_instance_uid, sop_instance_uid, dest_dir, transfer_syntax, single_part
        )

    # metadata
    def retrieve_study_metadata(self, study_instance_uid: str, media_type: str = DICOM_JSON) -> list:
        """Metadata of every instance of a study: DICOM JSON datasets (bulk values as BulkDataURI), or one
        DICOM XML document per instance with ``media_type="application/dicom+xml"``."""
        return self.transactions.metadata.retrieve_study_metadata(study_instance_uid, media_type)

    def retrieve_series_metadata(
        self, study_instance_uid: str, series_instance_uid: str, media_type: str = DICOM_JSON
    ) -> list:
        """Metadata of every instance of a series (JSON datasets, or XML documents)."""
        return self.transactions.metadata.retrieve_series_metadata(
            study_instance_uid, series_instance_uid, media_type
        )

    def retrieve_instance_metadata(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        media_type: str = DICOM_JSON,
    ) -> dict | str:
        """Metadata of one instance: a DICOM JSON dataset, or a DICOM XML document."""
        return self.transactions.metadata.retrieve_instance_metadata(
            study_instance_uid, series_instance_uid, sop_instance_uid, media_type
        )

    # pixels
    def retrieve_instance_rendered(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        media_type: str = "image/png",
        viewport: tuple[int, int] | str | None = None,
        quality: int | None = None,
        frame_number: int | None = None,
        window: tuple[float, float, str] | str | None = None,
    ) -> bytes:
        """A consumer-ready image of an instance (or one frame of it): PNG or JPEG bytes."""
        return self.transactions.pixels.retrieve_instance_rendered(
            study_instance_uid,
            series_instance_uid,
            sop_instance_uid,
            media_type,
            viewport,
            quality,
            frame_number,
            window,
        )

    def retrieve_instance_frames(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        frame_numbers: Sequence[int] | int,
        transfer_syntax: str | None = None,
    ) -> list[bytes]:
        """Pixel data of the given frames (numbered from 1), one bytes value per frame, in order."""
        return self.transactions.pixels.retrieve_instance_frames(
            study_instance_uid, series_instance_uid, sop_instance_uid, frame_numbers, transfer_syntax
        )

    # bulkdata
    def retrieve_bulkdata(
        self,
        bulkdata_uri: str | None = None,
        *,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        tag_path: str | Sequence[str | int] | None = None,
        dest_path: Destination | None = None,
    ) -> bytes | StoragePath:
        """A bulk value, by its BulkDataURI (from metadata) or by instance and tag path."""
        return self.transactions.bulkdata.retrieve_bulkdata(
            bulkdata_uri,
            study_instance_uid=study_instance_uid,
            series_instance_uid=series_instance_uid,
            sop_instance_uid=sop_instance_uid,
            tag_path=tag_path,
            dest_path=dest_path,
        )

    # delete
    def delete_study(self, study_instance_uid: str) -> dict | None:
        """Delete a study; the long-running operation if the server started one, else None."""
        return self.transactions.delete.delete_study(study_instance_uid)

    def delete_series(self, study_instance_uid: str, series_instance_uid: str) -> dict | None:
        """Delete a series; the long-running operation if the server started one, else None."""
        return self.transactions.delete.delete_series(study_instance_uid, series_instance_uid)

    def delete_instance(
        self, study_instance_uid: str, series_instance_uid: str, sop_instance_uid: str
    ) -> dict | None:
        """Delete one instance; the operation if the server started one, else None."""
        return self.transactions.delete.delete_instance(
            study_instance_uid, series_instance_uid, sop_instance_uid
        )

    # operations
    def get_operation(self, name: str) -> dict:
        """The current state of a long-running operation (a name, or the URL the server gave)."""
        return self.transactions.operations.get_operation(name)

    def wait_for_operation(
        self,
        name: str | dict,
        timeout: float = defaults.OPERATION_TIMEOUT,
        poll_interval: float = defaults.OPERATION_POLL_INTERVAL,
        max_poll_interval: float = defaults.OPERATION_MAX_POLL_INTERVAL,
        raise_on_error: bool = True,
    ) -> dict:
        """Poll an operation until it is done; the finished operation."""
        return self.transactions.operations.wait_for_operation(
            name, timeout, poll_interval, max_poll_interval, raise_on_error
        )


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
