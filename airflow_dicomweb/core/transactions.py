"""The transactions of one service, each made with what it uses: the transport, the search, the server
profile. :class:`~airflow_dicomweb.core.client.DicomWebApi` calls them."""

from __future__ import annotations

from dataclasses import dataclass

from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.operations.delete import Delete
from airflow_dicomweb.core.operations.polling import Operations
from airflow_dicomweb.core.qido.search import Search
from airflow_dicomweb.core.servers.profile import ServerProfile
from airflow_dicomweb.core.stow.jpeg import StoreJpeg
from airflow_dicomweb.core.stow.store import Store
from airflow_dicomweb.core.wado.bulkdata import RetrieveBulkdata
from airflow_dicomweb.core.wado.instances import RetrieveInstances
from airflow_dicomweb.core.wado.metadata import RetrieveMetadata
from airflow_dicomweb.core.wado.pixels import RetrievePixels
from airflow_dicomweb.core.wado.response import WadoResponses


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
        )
