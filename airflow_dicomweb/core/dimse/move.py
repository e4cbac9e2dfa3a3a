"""C-MOVE (PS3.4 C.4.2) with a built-in storage SCP: the peer is asked to send a study, series or instance
to this side's AE title, and its C-STORE sub-operations arrive on an association of their own at a port this
side listens on for the move. The peer must know that AE title with this host and port (Orthanc's
``DicomModalities``, a PACS's AE list). Each instance is checked, handed on, and answered Success only then,
as C-GET does (:mod:`.retrieval`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove  # type: ignore[attr-defined]

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.dicom.instance_header import InstanceHeader
from airflow_dicomweb.core.dimse.association import CONNECTION_HANDLERS, associated
from airflow_dicomweb.core.dimse.get import TRANSFER_SYNTAXES, get_into, write_into
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.dimse.retrieval import (
    GetResult,
    SizeCap,
    expected_uids,
    instance_taker,
    read_answers,
    retrieve_identifier,
)
from airflow_dicomweb.core.progress import ProgressCallback
from airflow_dicomweb.core.storage.paths import Destination

log = logging.getLogger(__name__)


def move(
    peer: DimsePeer,
    dest_dir: Destination,
    study_instance_uid: str,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    *,
    listen_port: int,
    listen_host: str = "0.0.0.0",
    progress: ProgressCallback | None = None,
) -> GetResult:
    """A study (or series, or instance) moved by ``peer`` to this side (``peer.calling_aet``, listening on
    ``listen_host``:``listen_port`` while it runs) and written under ``dest_dir``."""
    return move_into(
        peer,
        write_into(dest_dir, progress),
        study_instance_uid,
        series_instance_uid,
        sop_instance_uid,
        listen_port=listen_port,
        listen_host=listen_host,
    )


def move_into(
    peer: DimsePeer,
    take: Callable[[Path, InstanceHeader], Any],
    study_instance_uid: str,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    *,
    listen_port: int,
    listen_host: str = "0.0.0.0",
    max_instance_bytes: int = defaults.DIMSE_MAX_INSTANCE_MIB * 1024 * 1024,
) -> GetResult:
    """C-MOVE to this side, each instance handed to ``take(temporary file, header)`` (see ``get_into``)."""
    expected, level = expected_uids(study_instance_uid, series_instance_uid, sop_instance_uid)
    result = GetResult()
    scp = AE(ae_title=peer.calling_aet)
    scp.supported_contexts = [
        build_context(str(cx.abstract_syntax), TRANSFER_SYNTAXES) for cx in AllStoragePresentationContexts
    ]
    scp.acse_timeout, scp.dimse_timeout, scp.network_timeout = (
        peer.acse_timeout,
        peer.dimse_timeout,
        peer.network_timeout,
    )
    cap = SizeCap(max_instance_bytes, f"C-MOVE from {peer.name}")
    handlers: list[Any] = [
        (evt.EVT_C_STORE, instance_taker(peer, expected, take, result, "C-MOVE", cap)),
        (evt.EVT_DATA_RECV, cap.on_data),
    ]
    server = scp.start_server(
        (listen_host, listen_port), block=False, evt_handlers=[*CONNECTION_HANDLERS, *handlers]
    )
    assert server is not None
    try:
        model = StudyRootQueryRetrieveInformationModelMove
        with associated(peer, [build_context(model)]) as assoc:
            answers = assoc.send_c_move(retrieve_identifier(expected, level), peer.calling_aet, model)
            unknown = (
                f"{peer.name} does not know the move destination {peer.calling_aet} (status 0xA801): add it, with "
                "this host and port, to the peer's list of AE titles"
            )
            return read_answers(peer, answers, result, "C-MOVE", level, expected, {0xA801: unknown})
    finally:
        server.shutdown()


def retrieve_into(
    peer: DimsePeer,
    take: Callable[[Path, InstanceHeader], Any],
    study_instance_uid: str,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
) -> GetResult:
    """C-MOVE to this side where the peer says where it listens (``move_port``), else C-GET."""
    if peer.move_port is not None:
        return move_into(
            peer, take, study_instance_uid, series_instance_uid, sop_instance_uid, listen_port=peer.move_port
        )
    return get_into(peer, take, study_instance_uid, series_instance_uid, sop_instance_uid)
