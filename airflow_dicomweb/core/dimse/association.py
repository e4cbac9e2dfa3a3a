"""An association with a DIMSE peer (PS3.8), opened with the presentation contexts an exchange needs and
always released (or aborted) at the end. What went wrong is named: a peer that cannot be reached, that
rejects the association (its reason, as PS3.8 Table 9-21 codes it), or that aborts it."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.pdu_primitives import SCP_SCU_RoleSelectionNegotiation
from pynetdicom.presentation import PresentationContext

from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.errors import DimseAssociationError, DimseContextError

log = logging.getLogger(__name__)

#: Why a peer rejected an association: (source, reason) -> words (PS3.8 Table 9-21).
REJECTION_REASONS: dict[tuple[Any, Any], str] = {
    (1, 1): "no reason given",
    (1, 2): "application context name not supported",
    (1, 3): "calling AE title not recognized",
    (1, 7): "called AE title not recognized",
    (2, 1): "no reason given (ACSE)",
    (2, 2): "protocol version not supported",
    (3, 1): "temporary congestion",
    (3, 2): "local limit exceeded",
}


def without_nagle(event: Any) -> None:
    """EVT_CONN_OPEN: send each PDU as soon as it is written (TCP_NODELAY), as dcmtk does.

    A sender that waits for an answer after every message otherwise holds a message's last short segment
    until the peer acknowledges the one before it, which a peer delaying its acknowledgements does only
    after up to 40 ms: a C-STORE paid that once per instance."""
    connection = getattr(getattr(getattr(event.assoc, "dul", None), "socket", None), "socket", None)
    if isinstance(connection, socket.socket) and connection.family in (socket.AF_INET, socket.AF_INET6):
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


#: The handlers every association of this side binds.
CONNECTION_HANDLERS: list[tuple[Any, Callable[..., Any]]] = [(evt.EVT_CONN_OPEN, without_nagle)]


def application_entity(peer: DimsePeer) -> AE:
    """This side's AE, with the peer's timeouts."""
    ae = AE(ae_title=peer.calling_aet)
    ae.acse_timeout = peer.acse_timeout
    ae.dimse_timeout = peer.dimse_timeout
    ae.network_timeout = peer.network_timeout
    return ae


@contextmanager
def associated(
    peer: DimsePeer,
    contexts: Sequence[PresentationContext],
    *,
    roles: Sequence[SCP_SCU_RoleSelectionNegotiation] = (),
    handlers: Sequence[tuple[Any, Callable[..., Any]]] = (),
) -> Iterator[Association]:
    """An established association with ``peer`` proposing ``contexts`` (and SCP/SCU ``roles``); released at
    the end, or aborted if the block raised."""
    ae = application_entity(peer)
    ae.requested_contexts = list(contexts)
    assoc = ae.associate(
        peer.host,
        peer.port,
        ae_title=peer.called_aet,
        ext_neg=list(roles) or None,
        evt_handlers=[*CONNECTION_HANDLERS, *handlers],
        tls_args=(peer.tls, peer.host) if peer.tls else None,
    )
    if not assoc.is_established:
        answer = getattr(assoc.acceptor, "primitive", None)
        if assoc.is_aborted and getattr(answer, "result", None) == 0x00:
            # it accepted the association but none of its contexts: it does not offer this service
            raise DimseContextError(
                f"{peer.name} accepts none of the presentation contexts proposed "
                f"({', '.join(sorted({str(getattr(cx.abstract_syntax, 'name', cx.abstract_syntax)) for cx in contexts}))})"
            )
        raise DimseAssociationError(refusal(peer, assoc))
    try:
        yield assoc
    except BaseException:
        assoc.abort()
        raise
    else:
        if assoc.is_established:
            assoc.release()


def refusal(peer: DimsePeer, assoc: Association) -> str:
    """Why no association with ``peer`` was made, in words."""
    if assoc.is_rejected:
        answer = assoc.acceptor.primitive  # the A-ASSOCIATE-RJ the peer sent
        source, reason = getattr(answer, "result_source", None), getattr(answer, "diagnostic", None)
        why = REJECTION_REASONS.get((source, reason), f"source {source}, reason {reason}")
        return (
            f"{peer.name} rejected the association from {peer.calling_aet}: {why} (check the called and "
            "calling AE titles, and that the peer knows this AE title)"
        )
    if assoc.is_aborted and getattr(assoc.acceptor, "primitive", None) is not None:
        return f"{peer.name} aborted the association from {peer.calling_aet}"
    if assoc.is_aborted:
        return (
            f"{peer.name} could not be reached, or closed the connection before its answer to the association "
            f"from {peer.calling_aet} was read (a peer rejecting the AE titles may close it at once: check them)"
        )
    return f"{peer.name} could not be reached (no association within {peer.acse_timeout:g} s)"


def accepted_context(assoc: Association, sop_class: str, transfer_syntax: str) -> bool:
    """Whether the peer accepted a context for ``sop_class`` in ``transfer_syntax``."""
    return any(
        cx.abstract_syntax == sop_class and transfer_syntax in cx.transfer_syntax
        for cx in assoc.accepted_contexts
    )


def no_answer(peer: DimsePeer, request: str) -> str:
    """The words for a request the peer left unanswered: the association aborted or timed out."""
    return (
        f"{peer.name} sent no answer to {request} from {peer.calling_aet}: the association was aborted or timed "
        "out (a peer that does not know the calling AE title may answer so: Orthanc does)"
    )
