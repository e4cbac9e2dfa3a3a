"""One STOW-RS request (PS3.18 section 10.5): its URL and headers, the body sent, and the outcome of every
instance in it read from the response. :class:`~.store.Store` and :class:`~.jpeg.StoreJpeg` make the bodies;
this module sends them and reads what came back."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from airflow_dicomweb.core.dicom.instance_header import InstanceHeader
from airflow_dicomweb.core.errors import DicomWebConnectionError, DicomWebError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.media_types import DICOM_JSON
from airflow_dicomweb.core.multipart.writer import MultipartBody
from airflow_dicomweb.core.qido.search import Search
from airflow_dicomweb.core.servers.google import STORAGE_CLASSES
from airflow_dicomweb.core.servers.profile import ServerProfile
from airflow_dicomweb.core.storage.paths import StoragePath
from airflow_dicomweb.core.stow.pre_check import PreCheck
from airflow_dicomweb.core.stow.response import StowResponse, parse_stow_response, reason_meaning
from airflow_dicomweb.core.stow.result import InstanceOutcome, Status

log = logging.getLogger(__name__)

#: Waits (seconds) before each new try of an instance a server answered "already stored" by a reason of its
#: own and does not hold (see _confirm_duplicates).
DUPLICATE_CONFIRM_WAITS = (0.2, 0.5, 1.0, 2.0, 4.0)

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
    """One instance of a store: its place in the input, where it is (a file, or the name of an instance a copy
    holds in memory), its size, and its header once read."""

    index: int
    path: StoragePath | str
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
    confirm: Search | None = None,
) -> list[tuple[int, InstanceOutcome]]:
    """POST one STOW-RS body (retried as a whole) and give every instance in it its outcome.

    An HTTP error whose status is in ``raise_statuses`` is raised instead, for the caller to handle, and so
    is a server that could not be reached after every retry with ``raise_unreachable``. A
    failure is read as "already stored" as every server means it, or as the server ``profile`` says; with
    ``confirm`` (the server's search), a profile's own reading is checked (see :func:`_confirm_duplicates`).
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
    results = [
        (item.index, _map_response(item, header, parsed, response.status_code, problem, profile))
        for item, header in sent
    ]
    if confirm is None or not profile.duplicate_failure_reasons:
        return results
    return _confirm_duplicates(
        transport, profile, url, headers, body, sent, results, confirm, raise_unreachable
    )


def _confirm_duplicates(
    transport: Transport,
    profile: ServerProfile,
    url: str,
    headers: dict[str, str],
    body: MultipartBody,
    sent: list[tuple[StowItem, InstanceHeader]],
    results: list[tuple[int, InstanceOutcome]],
    search: Search,
    raise_unreachable: bool,
) -> list[tuple[int, InstanceOutcome]]:
    """Instances answered "already stored" by a FailureReason of the profile's own, checked with ``search``;
    those the server does not hold are sent again, a few times, after a short wait each.

    Such a reason can mean something else as well: tiny_pacs answers 409 with 0x0110 and no FailureDetail
    both to a duplicate and to an instance it did not store because another request held its database at
    that moment (two STOW-RS requests creating one new study at once, or its SQLite table locked under
    concurrent stores); sent again once that request is done, it is stored. Taken on its word, it would be reported present and never be there. After the last
    round, an instance still answered so and still not found is failed, with the reason.
    """
    merged = list(results)
    for wait in DUPLICATE_CONFIRM_WAITS:
        ambiguous = [
            k
            for k, (_, outcome) in enumerate(merged)
            if outcome.status is Status.ALREADY_PRESENT
            and outcome.failure_reason in profile.duplicate_failure_reasons
        ]
        if not ambiguous:
            return merged
        held = PreCheck(search, None).held_by_series([sent[k][1] for k in ambiguous])
        again = [k for k in ambiguous if sent[k][1].sop_instance_uid not in held]
        if not again:
            return merged
        log.info(
            "%d instances answered as already stored (FailureReason 0x%04X) are not on the server: sending them "
            "again in %g s",
            len(again),
            merged[again[0]][1].failure_reason or 0,
            wait,
        )
        time.sleep(wait)
        resent = send_stow(
            transport,
            profile,
            url,
            headers,
            MultipartBody([body.parts[k] for k in again], part_type=body.part_type),
            [sent[k] for k in again],
            raise_unreachable=raise_unreachable,
        )
        for k, answer in zip(again, resent, strict=True):
            merged[k] = answer
    for k, (index, outcome) in enumerate(merged):
        if (
            outcome.status is Status.ALREADY_PRESENT
            and outcome.failure_reason in profile.duplicate_failure_reasons
        ):
            held = PreCheck(search, None).held_by_series([sent[k][1]])
            if sent[k][1].sop_instance_uid not in held:
                merged[k] = (
                    index,
                    failed_outcome(
                        sent[k][0],
                        sent[k][1],
                        f"answered as already stored (FailureReason 0x{outcome.failure_reason:04X}) "
                        f"{len(DUPLICATE_CONFIRM_WAITS) + 1} times, and not found on the server",
                        http_status=outcome.http_status,
                        failure_reason=outcome.failure_reason,
                    ),
                )
    return merged


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
