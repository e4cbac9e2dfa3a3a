"""C-ECHO (PS3.7 9.1.5): is the peer there, and does it accept this AE title."""

from __future__ import annotations

from pynetdicom.presentation import build_context
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from airflow_dicomweb.core.dimse.association import associated
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.errors import DimseError, DimseStatusError


def echo(peer: DimsePeer) -> None:
    """Associate with ``peer`` and send a C-ECHO; raise, naming the peer, unless it answers Success."""
    with associated(peer, [build_context(Verification)]) as assoc:
        status = assoc.send_c_echo()
    if not status or "Status" not in status:
        raise DimseError(f"{peer.name} sent no answer to C-ECHO")
    if status.Status != 0x0000:
        raise DimseStatusError(
            f"{peer.name} answered C-ECHO with status 0x{status.Status:04X}", status=status.Status
        )
