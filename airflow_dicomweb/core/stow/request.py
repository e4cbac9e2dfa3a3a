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

#: Waits (seconds) before each new try of the instances a success response left out (see _resend_unlisted).
UNLISTED_RESEND_WAITS = (0.2, 1.0)

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
    Instances a success response leaves out while it lists others of the request are sent again
    (see :func:`_resend_unlisted`).
    """
    post = _Post(transport, profile, url, headers, raise_unreachable)
    results, unlisted = post.send(body, sent, raise_statuses)
    if unlisted and len(unlisted) < len(sent):
        results = _resend_unlisted(post, body, sent, results, unlisted)
    if confirm is None or not profile.duplicate_failure_reasons:
        return results
    return _confirm_duplicates(post, body, sent, results, confirm)


@dataclass(frozen=True, slots=True)
class _Post:
    """Where the POSTs of one store go, and how they are sent: the transport, the server's profile, the URL
    and headers, and whether a server that cannot be reached raises."""

    transport: Transport
    profile: ServerProfile
    url: str
    headers: dict[str, str]
    raise_unreachable: bool

    def send(
        self,
        body: MultipartBody,
        sent: list[tuple[StowItem, InstanceHeader]],
        raise_statuses: tuple[int, ...] = (),
    ) -> tuple[list[tuple[int, InstanceOutcome]], list[int]]:
        """One POST of ``body``: the outcome of every instance in ``sent``, and the places in ``sent`` of those
        a readable success response (200 or 202) listed neither as stored nor as failed."""
        try:
            response = self.transport.request(
                "POST",
                self.url,
                data=body,
                headers={**self.headers, "Content-Type": body.content_type},
                ok=STOW_RESPONSE_STATUSES,
            )
        except DicomWebError as exc:
            status = getattr(exc, "status", None)
            if status in raise_statuses or (
                self.raise_unreachable and isinstance(exc, DicomWebConnectionError)
            ):
                raise
            failed = [
                (item.index, failed_outcome(item, header, f"request failed: {exc}", http_status=status))
                for item, header in sent
            ]
            return failed, []
        try:
            parsed = parse_stow_response(response.content, response.headers.get("Content-Type"))
        except DicomWebError as exc:
            parsed, problem = StowResponse(), str(exc)
        else:
            problem = ""
        results = [
            (item.index, _map_response(item, header, parsed, response.status_code, problem, self.profile))
            for item, header in sent
        ]
        if problem or response.status_code not in (200, 202):
            return results, []
        unlisted = [
            k
            for k, (_, header) in enumerate(sent)
            if header.sop_instance_uid not in parsed.referenced
            and header.sop_instance_uid not in parsed.failed
        ]
        return results, unlisted

    def send_again(
        self, body: MultipartBody, sent: list[tuple[StowItem, InstanceHeader]], places: list[int]
    ) -> tuple[list[tuple[int, InstanceOutcome]], list[int]]:
        """The instances at ``places`` in ``sent`` (parts of ``body``) in a request of their own: as
        :meth:`send`, with places in ``sent``."""
        again = MultipartBody([body.parts[k] for k in places], part_type=body.part_type)
        results, unlisted = self.send(again, [sent[k] for k in places])
        return results, [places[j] for j in unlisted]


def _resend_unlisted(
    post: _Post,
    body: MultipartBody,
    sent: list[tuple[StowItem, InstanceHeader]],
    results: list[tuple[int, InstanceOutcome]],
    unlisted: list[int],
) -> list[tuple[int, InstanceOutcome]]:
    """The instances at ``unlisted`` (places in ``sent``), which a success response listed neither as stored
    nor as failed while it listed others of the same request, sent again in a request of their own, a few
    times, after a short wait each.

    The response accounts for every instance the server processed (PS3.18 section 10.5.3); one it leaves
    out was not processed. Orthanc reads the body as it arrives and answers 200 for the parts it read to
    their end, so a body that reached it cut short is answered for its first parts alone. A response that
    lists no instance of the request is not read so (every instance is failed as not acknowledged, as
    before): a server that answers success with an empty body would be sent everything again for nothing.
    After the last round, an instance still left out keeps its failure.
    """
    merged = list(results)
    again = unlisted
    for wait in UNLISTED_RESEND_WAITS:
        log.warning(
            "%d of %d instances were left out of the server's answer to a store to %s: sending them again in "
            "%g s",
            len(again),
            len(sent),
            post.transport.redact(post.url),
            wait,
        )
        time.sleep(wait)
        resent, again = post.send_again(body, sent, again)
        merged = _replaced(merged, resent)
        if not again:
            break
    return merged


def _confirm_duplicates(
    post: _Post,
    body: MultipartBody,
    sent: list[tuple[StowItem, InstanceHeader]],
    results: list[tuple[int, InstanceOutcome]],
    search: Search,
) -> list[tuple[int, InstanceOutcome]]:
    """Instances answered "already stored" by a FailureReason of the profile's own, checked with ``search``;
    those the server does not hold are sent again, a few times, after a short wait each.

    Such a reason can mean something else as well: tiny_pacs answers 409 with 0x0110 and no FailureDetail
    both to a duplicate and to an instance it did not store because another request held its database at
    that moment (two STOW-RS requests creating one new study at once, or its SQLite table locked under
    concurrent stores); sent again once that request is done, it is stored. Taken on its word, it would be
    reported present and never be there. After the last round, an instance still answered so and still not
    found is failed, with the reason.
    """
    reasons = post.profile.duplicate_failure_reasons
    merged = list(results)
    for wait in DUPLICATE_CONFIRM_WAITS:
        ambiguous = [
            k
            for k, (_, outcome) in enumerate(merged)
            if outcome.status is Status.ALREADY_PRESENT and outcome.failure_reason in reasons
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
        resent, _ = post.send_again(body, sent, again)
        merged = _replaced(merged, resent)
    for k, (index, outcome) in enumerate(merged):
        if outcome.status is Status.ALREADY_PRESENT and outcome.failure_reason in reasons:
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


def _replaced(
    results: list[tuple[int, InstanceOutcome]], newer: list[tuple[int, InstanceOutcome]]
) -> list[tuple[int, InstanceOutcome]]:
    """``results`` with the outcome of every instance in ``newer`` (by its place in the input) replaced."""
    by_index = dict(newer)
    return [(index, by_index.get(index, outcome)) for index, outcome in results]


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
