"""``DimseHook``: C-ECHO, C-FIND, C-GET and C-STORE with the DIMSE peer of a ``dimse`` connection."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

from airflow_dicomweb.core.dimse.connection import peer_from_connection_fields
from airflow_dicomweb.core.dimse.echo import echo
from airflow_dicomweb.core.dimse.find import find
from airflow_dicomweb.core.dimse.get import write_into
from airflow_dicomweb.core.dimse.move import retrieve_into
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.dimse.retrieval import GetResult
from airflow_dicomweb.core.dimse.store import store_files
from airflow_dicomweb.core.errors import DicomWebError
from airflow_dicomweb.core.progress import ProgressCallback
from airflow_dicomweb.core.qido.query import FilterValue
from airflow_dicomweb.core.storage.paths import Destination
from airflow_dicomweb.core.stow.inputs import Input
from airflow_dicomweb.core.stow.result import StoreResult


class DimseHook(BaseHook):
    """The DIMSE peer of a ``dimse`` connection (host, port, the extra ``called_aet``, ...).

    :param dimse_conn_id: the connection.
    """

    conn_name_attr = "dimse_conn_id"
    default_conn_name = "dimse_default"
    conn_type = "dimse"
    hook_name = "DIMSE"

    def __init__(self, dimse_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dimse_conn_id = dimse_conn_id

    @cached_property
    def peer(self) -> DimsePeer:
        conn = self.get_connection(self.dimse_conn_id)
        return peer_from_connection_fields(conn.host, conn.port, conn.extra_dejson, conn.password)

    def get_conn(self) -> DimsePeer:
        return self.peer

    def test_connection(self) -> tuple[bool, str]:
        """A C-ECHO: proves the host, the port and both AE titles."""
        try:
            echo(self.peer)
        except DicomWebError as exc:
            return False, str(exc)
        return True, f"{self.peer.name} answered C-ECHO"

    def echo(self) -> None:
        echo(self.peer)

    def find(
        self,
        level: str,
        *,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        filters: Mapping[str, FilterValue] | None = None,
        includefield: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[dict]:
        """C-FIND; matches as DICOM JSON, as a QIDO-RS search answers."""
        return find(
            self.peer,
            level,
            study_instance_uid=study_instance_uid,
            series_instance_uid=series_instance_uid,
            filters=filters,
            includefield=includefield,
            limit=limit,
        )

    def retrieve(
        self,
        dest_dir: Destination,
        study_instance_uid: str,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> GetResult:
        """C-GET (or C-MOVE, with the extra ``move_port``) into ``{study}/{series}/{sop}.dcm`` under
        ``dest_dir``."""
        take = write_into(dest_dir, progress)
        return retrieve_into(self.peer, take, study_instance_uid, series_instance_uid, sop_instance_uid)

    def store_files(
        self, files: Iterable[Input] | Input, progress: ProgressCallback | None = None
    ) -> StoreResult:
        """C-STORE of files, folders and ``**`` globs; one outcome per file."""
        return store_files(self.peer, files, progress=progress)
