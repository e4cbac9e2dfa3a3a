"""A copy's batches into a DICOMweb destination: one STOW-RS request each, sent from the chunks the instances
were read into (no copy of an instance is made), read as the destination's server profile says."""

from __future__ import annotations

from airflow_dicomweb.core.copy.sink import ReadyInstance
from airflow_dicomweb.core.dicom.instance_header import InstanceHeader
from airflow_dicomweb.core.media_types import DICOM
from airflow_dicomweb.core.multipart.writer import BodyPart, MultipartBody
from airflow_dicomweb.core.stow.request import send_stow, stow_headers, stow_url
from airflow_dicomweb.core.stow.result import InstanceOutcome
from airflow_dicomweb.core.transactions import Transactions


class StowBatches:
    """STOW-RS into ``study`` at the service of ``dest``; its search confirms a duplicate only its kind of
    server reports (see :func:`~airflow_dicomweb.core.stow.request.send_stow`)."""

    def __init__(self, dest: Transactions, study: str) -> None:
        self.dest = dest
        self.profile = dest.store.profile
        self.url = stow_url(dest.store.transport, study)
        self.headers = stow_headers(None)

    def refusal(self, header: InstanceHeader) -> str:
        cap = self.profile.stow_max_bytes
        if cap is not None and header.size > cap:
            return (
                f"not copied: {header.size:,} bytes, more than one request to the destination may hold "
                f"({cap:,} bytes, server profile {self.profile.name})"
            )
        accepted = self.profile.stow_transfer_syntaxes
        if accepted is not None and header.transfer_syntax_uid not in accepted:
            return (
                f"not copied: the destination (server profile {self.profile.name}) does not take transfer "
                f"syntax {header.transfer_syntax_uid or '(none given)'}; the bytes are copied as they are, "
                "never re-encoded"
            )
        return ""

    def __call__(self, batch: list[ReadyInstance]) -> list[tuple[int, InstanceOutcome]]:
        body = MultipartBody(
            [BodyPart(content_type=DICOM, chunks=r.chunks, size=r.item.size) for r in batch], part_type=DICOM
        )
        sent = [(r.item, r.header) for r in batch]
        return send_stow(
            self.dest.store.transport,
            self.profile,
            self.url,
            self.headers,
            body,
            sent,
            confirm=self.dest.search,
        )
