"""A receiving gateway: a C-STORE SCP (PS3.4 B.2) that modalities and PACS send studies to. Each instance is
either written to a landing location (``{study}/{series}/{sop}.dcm`` under a folder or an object-store
prefix, appearing only once whole) or forwarded to a DICOMweb store (STOW-RS, with the store's retries and
outcomes), and only then acknowledged with Success: a gateway killed at any point has acknowledged nothing
it does not hold. What it cannot take is answered with a failure status (0xA700, out of resources), so the
sender keeps it and may try again.

Calling AE titles can be allow-listed (others are rejected at association). An instance larger than
``max_instance_bytes`` has its association aborted as it arrives: a peer sending without end fills no disk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pynetdicom import AE, AllStoragePresentationContexts, _config, evt
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.dicom.instance_header import (
    InstanceHeader,
    NotAnInstanceError,
    read_instance_header,
)
from airflow_dicomweb.core.dimse.association import CONNECTION_HANDLERS
from airflow_dicomweb.core.dimse.get import TRANSFER_SYNTAXES
from airflow_dicomweb.core.dimse.peer import check_ae_title
from airflow_dicomweb.core.dimse.retrieval import SizeCap
from airflow_dicomweb.core.errors import DicomWebError
from airflow_dicomweb.core.storage.paths import AtomicWriter, Destination, StoragePath, as_path, open_read
from airflow_dicomweb.core.stow.result import Status
from airflow_dicomweb.core.stow.store import Store
from airflow_dicomweb.core.wado.destination import instance_location

log = logging.getLogger(__name__)

_config.STORE_RECV_CHUNKED_DATASET = True  # each instance goes to a temporary file as it arrives
SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700


@dataclass(frozen=True)
class Received:
    """What became of one instance: its UIDs, the calling AE title, and the status answered."""

    calling_aet: str
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    status: int
    where: str = ""
    reason: str = ""


class Receiver:
    """A C-STORE SCP for ``ae_title`` on ``host``:``port`` that lands instances under ``landing`` or
    forwards them through ``forward`` (a DICOMweb store transaction); exactly one of the two."""

    def __init__(
        self,
        ae_title: str,
        port: int = defaults.DIMSE_RECEIVE_PORT,
        *,
        host: str = "0.0.0.0",
        landing: Destination | None = None,
        forward: Store | None = None,
        allow: Iterable[str] = (),
        max_instance_bytes: int = defaults.DIMSE_MAX_INSTANCE_MIB * 1024 * 1024,
        on_received: Callable[[Received], None] | None = None,
    ) -> None:
        if (landing is None) == (forward is None):
            raise ValueError(
                "a gateway lands instances or forwards them: give landing or forward, one of the two"
            )
        self.ae_title = check_ae_title(ae_title, "the gateway's AE title")
        self.host, self.port = host, port
        self.landing = as_path(landing) if landing is not None else None
        self.forward = forward
        self.allow = [check_ae_title(a, "an allowed calling AE title") for a in allow]
        self.max_instance_bytes = max_instance_bytes
        self.on_received = on_received
        self.cap = SizeCap(max_instance_bytes, f"gateway {self.ae_title}")
        self.server: ThreadedAssociationServer | None = None

    def application_entity(self) -> AE:
        ae = AE(ae_title=self.ae_title)
        contexts = [
            build_context(str(cx.abstract_syntax), TRANSFER_SYNTAXES) for cx in AllStoragePresentationContexts
        ]
        ae.supported_contexts = [*contexts, build_context(Verification)]
        if self.allow:
            ae.require_calling_aet = self.allow
        return ae

    def start(self) -> ThreadedAssociationServer:
        """Listen in the background; the server (``shutdown()`` stops it)."""
        ae = self.application_entity()
        handlers: list[Any] = [(evt.EVT_C_STORE, self._on_store), (evt.EVT_DATA_RECV, self.cap.on_data)]
        server = ae.start_server(
            (self.host, self.port), block=False, evt_handlers=[*CONNECTION_HANDLERS, *handlers]
        )
        assert server is not None  # not blocking: the server is handed back
        self.server = server
        log.info("gateway %s listening on %s:%d", self.ae_title, self.host, self.port)
        return server

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    def _on_store(self, event: Any) -> int:
        calling = str(event.assoc.requestor.ae_title).strip()
        self.cap.reset(event.assoc)
        temp = event.dataset_path
        try:
            header = read_instance_header(temp)
        except (NotAnInstanceError, DicomWebError, OSError) as exc:
            return self._answer(
                Received(calling, "", "", "", OUT_OF_RESOURCES, reason=f"not a usable instance: {exc}")
            )
        try:
            where = self._land(header, temp) if self.landing is not None else self._forward(temp)
        except (DicomWebError, OSError) as exc:
            return self._answer(self._received_as(calling, header, OUT_OF_RESOURCES, reason=str(exc)))
        return self._answer(self._received_as(calling, header, SUCCESS, where=where))

    def _land(self, header: InstanceHeader, temp: Any) -> str:
        assert self.landing is not None
        target: StoragePath = instance_location(
            self.landing, header.study_instance_uid, header.series_instance_uid, header.sop_instance_uid
        )
        with open_read(as_path(str(temp))) as source, AtomicWriter(target) as out:
            while block := source.read(1 << 20):
                out.write(block)
        return str(target)

    def _forward(self, temp: Any) -> str:
        assert self.forward is not None
        result = self.forward.store_instances([str(temp)])
        (outcome,) = result.outcomes
        if outcome.status is Status.FAILED:
            raise DicomWebError(f"the DICOMweb store did not take it: {outcome.reason}")
        return outcome.retrieve_url or str(outcome.status)

    @staticmethod
    def _received_as(calling: str, header: InstanceHeader, status: int, **kw: str) -> Received:
        return Received(
            calling,
            header.study_instance_uid,
            header.series_instance_uid,
            header.sop_instance_uid,
            status,
            **kw,
        )

    def _answer(self, received: Received) -> int:
        if received.status == SUCCESS:
            log.info(
                "gateway %s: %s from %s -> %s",
                self.ae_title,
                received.sop_instance_uid,
                received.calling_aet,
                received.where,
            )
        else:
            log.warning(
                "gateway %s: %s from %s not taken (answered 0x%04X): %s",
                self.ae_title, received.sop_instance_uid or "an instance", received.calling_aet, received.status,
                received.reason,
            )  # fmt: skip
        if self.on_received is not None:
            self.on_received(received)
        return received.status
