"""The DICOMweb client: one facade over the transactions of one service.

Each transaction is a class of its own package that receives what it uses (:class:`Transactions` wires
them: a transport, the search, the server profile). :class:`DicomWebApi` exposes their methods under the
names the provider has always had, and needs only a ``transport`` attribute, so the Airflow hook reuses it
as it is. :class:`DicomWebClient` is the stand-alone client for use without Airflow.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Concatenate, ParamSpec, TypeVar

import requests

from airflow_dicomweb.core.google_store.bulk import StoreBulkOperations
from airflow_dicomweb.core.google_store.metrics import StoreMetrics
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.operations.delete import Delete
from airflow_dicomweb.core.operations.polling import Operations
from airflow_dicomweb.core.qido.search import Search
from airflow_dicomweb.core.servers.profile import ServerProfile
from airflow_dicomweb.core.settings import DicomWebSettings
from airflow_dicomweb.core.stow.jpeg import StoreJpeg
from airflow_dicomweb.core.stow.store import Store
from airflow_dicomweb.core.wado.bulkdata import RetrieveBulkdata
from airflow_dicomweb.core.wado.instances import RetrieveInstances
from airflow_dicomweb.core.wado.metadata import RetrieveMetadata
from airflow_dicomweb.core.wado.pixels import RetrievePixels
from airflow_dicomweb.core.wado.response import WadoResponses

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Transactions:
    """The transactions of one service, each given what it uses."""

    search: Search
    store: Store
    store_jpeg: StoreJpeg
    instances: RetrieveInstances
    metadata: RetrieveMetadata
    pixels: RetrievePixels
    bulkdata: RetrieveBulkdata
    delete: Delete
    operations: Operations
    store_bulk: StoreBulkOperations
    store_metrics: StoreMetrics

    @classmethod
    def over(cls, transport: Transport, profile: ServerProfile) -> Transactions:
        search = Search(transport, profile)
        responses = WadoResponses(transport)
        metadata = RetrieveMetadata(transport, responses)
        return cls(
            search=search,
            store=Store(transport, search, profile),
            store_jpeg=StoreJpeg(transport, profile),
            instances=RetrieveInstances(transport, responses, search, metadata, profile),
            metadata=metadata,
            pixels=RetrievePixels(transport, responses),
            bulkdata=RetrieveBulkdata(transport, responses, metadata),
            delete=Delete(transport),
            operations=Operations(transport, profile),
            store_bulk=StoreBulkOperations(transport),
            store_metrics=StoreMetrics(transport),
        )


def _delegate(
    transaction: str, method: Callable[Concatenate[Any, P], R]
) -> Callable[Concatenate[DicomWebApi, P], R]:
    """A facade method that calls ``method`` on the named transaction, with its signature and docstring."""

    @functools.wraps(method)
    def call(self: DicomWebApi, *args: P.args, **kwargs: P.kwargs) -> R:
        return method(getattr(self.transactions, transaction), *args, **kwargs)

    return call


class DicomWebApi:
    """STOW-RS, QIDO-RS, WADO-RS, delete and long-running operations over ``self.transport``."""

    transport: Transport

    @cached_property
    def transactions(self) -> Transactions:
        """The transactions, made on first use over this object's transport and its server profile."""
        return Transactions.over(self.transport, self.transport.settings.profile)

    # store
    store_instances = _delegate("store", Store.store_instances)
    store_jpeg_instances = _delegate("store_jpeg", StoreJpeg.store_jpeg_instances)
    # search
    search_for_studies = _delegate("search", Search.search_for_studies)
    search_for_series = _delegate("search", Search.search_for_series)
    search_for_instances = _delegate("search", Search.search_for_instances)
    iter_search = _delegate("search", Search.iter_search)
    search_url = _delegate("search", Search.search_url)
    # retrieve
    retrieve_study = _delegate("instances", RetrieveInstances.retrieve_study)
    retrieve_series = _delegate("instances", RetrieveInstances.retrieve_series)
    retrieve_instance = _delegate("instances", RetrieveInstances.retrieve_instance)
    retrieve_study_metadata = _delegate("metadata", RetrieveMetadata.retrieve_study_metadata)
    retrieve_series_metadata = _delegate("metadata", RetrieveMetadata.retrieve_series_metadata)
    retrieve_instance_metadata = _delegate("metadata", RetrieveMetadata.retrieve_instance_metadata)
    retrieve_instance_rendered = _delegate("pixels", RetrievePixels.retrieve_instance_rendered)
    retrieve_instance_frames = _delegate("pixels", RetrievePixels.retrieve_instance_frames)
    retrieve_bulkdata = _delegate("bulkdata", RetrieveBulkdata.retrieve_bulkdata)
    # delete and operations
    delete_study = _delegate("delete", Delete.delete_study)
    delete_series = _delegate("delete", Delete.delete_series)
    delete_instance = _delegate("delete", Delete.delete_instance)
    get_operation = _delegate("operations", Operations.get_operation)
    wait_for_operation = _delegate("operations", Operations.wait_for_operation)
    # a Google DICOM store's own operations and metrics
    import_dicom = _delegate("store_bulk", StoreBulkOperations.import_dicom)
    export_dicom = _delegate("store_bulk", StoreBulkOperations.export_dicom)
    deidentify_store = _delegate("store_bulk", StoreBulkOperations.deidentify_store)
    set_storage_class = _delegate("store_bulk", StoreBulkOperations.set_storage_class)
    store_metrics = _delegate("store_metrics", StoreMetrics.store_metrics)
    study_metrics = _delegate("store_metrics", StoreMetrics.study_metrics)
    series_metrics = _delegate("store_metrics", StoreMetrics.series_metrics)


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
