"""One STOW-RS request (PS3.18 section 10.5): its URL and headers, the body sent, and the outcome of every
instance in it read from the response. :class:`~.store.Store` and :class:`~.jpeg.StoreJpeg` make the bodies;
this module sends them and reads what came back."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from airflow_dicomweb.core.dicom.instance_header import InstanceHeader
from airflow_dicomweb.core.errors import DicomWebConnectionError, DicomWebError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.media_types import DICOM_JSON
from airflow_dicomweb.core.multipart.writer import MultipartBody
from airflow_dicomweb.core.servers.google import STORAGE_CLASSES
from airflow_dicomweb.core.servers.profile import ServerProfile
from airflow_dicomweb.core.storage.paths import StoragePath
from airflow_dicomweb.core.stow.response import StowResponse, parse_stow_response, reason_meaning
from airflow_dicomweb.core.stow.result import InstanceOutcome, Status

#: Statuses whose body is a STOW-RS response to read per instance (PS3.18 Table 10.5.3-1).
STOW_RESPONSE_STATUSES = (200, 202, 400, 409)


def stow_url(transport: Transport, study_instance_uid: str | None) -> str:
    """``/studies``, or ``/studies/{uid}`` to store into one study."""
    return transport.url("studies", *([study_instance_uid] if study_instance_uid else []))


def stow_headers(storage_class: str | None, extra_headers: dict[str, str] | None = None) -> dict[str, str]:
    """Request headers of a store: JSON replies, the storage class if any, and the caller's own."""
    headers = {"Accept": DICOM_JSON}
    if storage_class is not None:
        if storage_class not in STORAGE_CLASSES:
            raise ValueError(
                f"storage_class must be one of {', '.join(STORAGE_CLASSES)}, got {storage_class!r}"
            )
        headers["Storage-Class"] = storage_class
    return {**headers, **(extra_headers or {})}


@dataclass(frozen=True, slots=True)
class StowItem:
    """One file of a store: its place in the input, where it is, its size, and its header once read."""

    index: int
    path: StoragePath
    size: int
    header: InstanceHeader | None = None


def send_stow(
    transport: Transport,
    profile: ServerProfile,
    url: str,
    headers: dict[str, str],
    body: MultipartBody,
    sent: list[tuple[StowItem, InstanceHeader]],
    raise_statuses: tuple[int, ...] = (),
    *,
    raise_unreachable: bool = False,
) -> list[tuple[int, InstanceOutcome]]:
    """POST one STOW-RS body (retried as a whole) and give every instance in it its outcome.

    An HTTP error whose status is in ``raise_statuses`` is raised instead, for the caller to handle, and so
    is a server that could not be reached after every retry with ``raise_unreachable``. A
    failure is read as "already stored" as every server means it, or as the server ``profile`` says.
    """
    try:
        response = transport.request(
            "POST",
            url,
            data=body,
            headers={**headers, "Content-Type": body.content_type},
            ok=STOW_RESPONSE_STATUSES,
        )
    except DicomWebError as exc:
        status = getattr(exc, "status", None)
        if status in raise_statuses or (raise_unreachable and isinstance(exc, DicomWebConnectionError)):
            raise
        return [
            (item.index, failed_outcome(item, header, f"request failed: {exc}", http_status=status))
            for item, header in sent
        ]
    try:
        parsed = parse_stow_response(response.content, response.headers.get("Content-Type"))
    except DicomWebError as exc:
        parsed, problem = StowResponse(), str(exc)
    else:
        problem = ""
    return [
        (item.index, _map_response(item, header, parsed, response.status_code, problem, profile))
        for item, header in sent
    ]


def instance_outcome(
    item: StowItem, header: InstanceHeader | None, status: Status, **kw: Any
) -> InstanceOutcome:
    return InstanceOutcome(
        path=str(item.path),
        size=item.size or None,
        status=status,
        sop_instance_uid=header.sop_instance_uid if header else None,
        study_instance_uid=header.study_instance_uid if header else None,
        series_instance_uid=header.series_instance_uid if header else None,
        **kw,
    )


def failed_outcome(item: StowItem, header: InstanceHeader | None, reason: str, **kw: Any) -> InstanceOutcome:
    """A failure, not logged here: the store that collects it logs it once, under its own name (which the
    command line quiets, listing the failures itself at the end)."""
    return instance_outcome(item, header, Status.FAILED, reason=reason, **kw)


def log_failure(logger: logging.Logger, outcome: InstanceOutcome) -> InstanceOutcome:
    """``outcome``, with a warning on ``logger`` if it is a failure."""
    if outcome.status is Status.FAILED:
        logger.warning("store %s: %s", outcome.path, outcome.reason)
    return outcome


def _map_response(
    item: StowItem,
    header: InstanceHeader,
    parsed: StowResponse,
    http_status: int,
    problem: str,
    profile: ServerProfile,
) -> InstanceOutcome:
    uid = header.sop_instance_uid
    ref = parsed.referenced.get(uid)
    if ref is not None:
        reason = f"stored with warning: {reason_meaning(ref.warning_reason)}" if ref.warning_reason else ""
        return instance_outcome(
            item,
            header,
            Status.STORED,
            retrieve_url=ref.retrieve_url,
            http_status=http_status,
            warning_reason=ref.warning_reason,
            reason=reason,
        )
    failed = parsed.failed.get(uid)
    if failed is not None:
        meaning = reason_meaning(failed.failure_reason)
        detail = f": {failed.failure_detail}" if failed.failure_detail else ""
        if failed.is_duplicate(profile.duplicate_failure_reasons):
            return instance_outcome(
                item,
                header,
                Status.ALREADY_PRESENT,
                http_status=http_status,
                failure_reason=failed.failure_reason,
                reason=f"already on the server{detail}",
            )
        return failed_outcome(
            item,
            header,
            f"refused by the server: {meaning}{detail}",
            http_status=http_status,
            failure_reason=failed.failure_reason,
        )
    if http_status >= 400:
        why = f": {problem}" if problem else ""
        return failed_outcome(
            item,
            header,
            f"the server rejected the request (HTTP {http_status}) without a FailureReason for this "
            f"instance{why}",
            http_status=http_status,
        )
    why = problem or "the response's ReferencedSOPSequence does not list this instance"
    return failed_outcome(
        item, header, f"not acknowledged by the server (HTTP {http_status}): {why}", http_status=http_status
    )
