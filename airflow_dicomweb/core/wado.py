"""WADO-RS: retrieve instances, metadata, rendered images, frames and bulkdata (PS3.18 section 10.4).

Instances are asked for with ``transfer-syntax=*`` by default, so servers return the bytes they stored
instead of transcoding. Multipart responses are decoded as they arrive and written part by part, so memory
stays bounded whatever the size of a study or of one instance. A whole retrieve is retried when its
response is cut short; files already renamed into place are simply written again.
"""

from __future__ import annotations

import io
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from airflow_dicomweb.core.errors import (
    DicomWebNotFoundError,
    DicomWebResponseError,
    DicomWebResponseTooLargeError,
)
from airflow_dicomweb.core.instance_files import instance_path, remove_stale_partials, write_instances
from airflow_dicomweb.core.media_types import (
    DICOM,
    DICOM_JSON,
    DICOM_XML,
    MULTIPART_RELATED,
    OCTET_STREAM,
    RENDERED_TYPES,
    multipart_accept,
    parse_content_type,
)
from airflow_dicomweb.core.multipart_reader import MultipartEvent, PartEnd, PartStart, iter_multipart
from airflow_dicomweb.core.progress import ProgressCallback, ProgressTracker
from airflow_dicomweb.core.transport import IDENTITY, Transport
from airflow_dicomweb.core.uids import resource_segments, validate_uid

log = logging.getLogger(__name__)


def normalize_tag_path(tag_path: str | Sequence[str | int]) -> list[str]:
    """``7FE00010`` or ``00081115/0/7FE00010``: tags (8 hex digits) alternating with item indexes."""
    parts = tag_path.strip("/").split("/") if isinstance(tag_path, str) else [str(p) for p in tag_path]
    if not parts or len(parts) % 2 == 0:
        raise ValueError(f"tag path {tag_path!r} must be TAG or SEQTAG/index/TAG...")
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            tag = part.replace(",", "").strip("()").upper()
            if len(tag) != 8 or any(c not in "0123456789ABCDEF" for c in tag):
                raise ValueError(f"tag path {tag_path!r}: {part!r} is not an 8-digit hex tag")
            out.append(tag)
        else:
            if not part.isdigit():
                raise ValueError(f"tag path {tag_path!r}: {part!r} is not an item index")
            out.append(str(int(part)))
    return out


def _single_part(chunks: Iterator[bytes], content_type: str) -> Iterator[MultipartEvent]:
    """Events for a single-part (non-multipart) response, so one writer serves both forms."""
    yield PartStart(0, {"content-type": content_type})
    size = 0
    for chunk in chunks:
        size += len(chunk)
        yield memoryview(chunk)
    yield PartEnd(0, size)


class WadoMixin:
    """The retrieve transactions. Needs ``self.transport`` (and ``iter_search``, from the search mixin)."""

    transport: Transport
    if TYPE_CHECKING:
        iter_search: Callable[..., Iterator[dict]]

    # --- streaming ------------------------------------------------------------------------------

    def _events(
        self, response: requests.Response, url: str, expect: str, max_bytes: int | None = None
    ) -> Iterator[MultipartEvent]:
        """Decode a response as multipart (or a single part of type ``expect``) into events.

        ``max_bytes`` caps the body for callers that hold it in memory; files on disk have no cap.
        """
        content_type = response.headers.get("Content-Type", "")
        media_type, params = parse_content_type(content_type)
        chunks = self.transport.body(response, max_bytes=max_bytes)
        if media_type == MULTIPART_RELATED:
            boundary = params.get("boundary")
            if not boundary:
                raise DicomWebResponseError(f"GET {url}: multipart response without a boundary", url=url)
            return iter_multipart(chunks, boundary)
        if media_type == expect:
            return _single_part(chunks, content_type)
        raise DicomWebResponseError(
            f"GET {url}: expected multipart/related or {expect}, got {content_type or 'no Content-Type'!r}",
            url=url,
        )

    def _retrieve_to_dir(
        self,
        segments: list[str],
        dest_dir: str | os.PathLike,
        expected: dict[str, str],
        transfer_syntax: str | None,
        accept: str | None = None,
        tracker: ProgressTracker | None = None,
    ) -> list[Path]:
        url = self.transport.url(*segments)
        safe_url = self.transport.redact(url)
        headers = {"Accept": accept or multipart_accept(DICOM, transfer_syntax), **IDENTITY}

        def attempt() -> list[Path]:
            response = self.transport.send("GET", url, headers=headers)
            try:
                events = self._events(response, safe_url, DICOM)
                return write_instances(
                    events,
                    dest_dir,
                    source=f"GET {safe_url}",
                    expected=expected,
                    on_file=counted(tracker),
                )
            finally:
                response.close()

        return self.transport.retry(attempt)

    # --- instances ------------------------------------------------------------------------------

    def retrieve_study(
        self,
        study_instance_uid: str,
        dest_dir: str | os.PathLike,
        transfer_syntax: str | None = "*",
        *,
        skip_existing: bool = False,
        series_concurrency: int = 1,
        progress: ProgressCallback | None = None,
    ) -> list[Path]:
        """Every instance of a study, written under ``dest_dir``; the paths of its files there.

        With ``skip_existing``, instances whose file is already in place (files are only ever renamed into
        place once complete) are not fetched again: the study's instances are listed with QIDO-RS and only
        the missing ones are retrieved, by whole series where a series is missing entirely.
        ``series_concurrency`` > 1 fetches the study's series as that many parallel streams, for when one
        stream is limited by the client rather than the server or the disk.
        """
        resource_segments(study_instance_uid)
        if series_concurrency > 1:
            series = [
                validate_uid(_first(s, "0020000E"), "SeriesInstanceUID in a search result")
                for s in self.iter_search("series", study_instance_uid=study_instance_uid)
            ]
            shared = ProgressTracker(progress) if progress else None
            with ThreadPoolExecutor(max_workers=series_concurrency, thread_name_prefix="wado") as pool:
                parts = pool.map(
                    lambda se: self.retrieve_series(
                        study_instance_uid,
                        se,
                        dest_dir,
                        transfer_syntax,
                        skip_existing=skip_existing,
                        progress=shared.part() if shared else None,
                    ),
                    series,
                )
                return [path for paths in parts for path in paths]
        if skip_existing:
            return self._retrieve_missing(study_instance_uid, None, dest_dir, transfer_syntax, progress)
        return self._retrieve_to_dir(
            resource_segments(study_instance_uid),
            dest_dir,
            {"StudyInstanceUID": study_instance_uid},
            transfer_syntax,
            tracker=ProgressTracker(progress) if progress else None,
        )

    def retrieve_series(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        dest_dir: str | os.PathLike,
        transfer_syntax: str | None = "*",
        *,
        skip_existing: bool = False,
        progress: ProgressCallback | None = None,
    ) -> list[Path]:
        """Every instance of a series, written under ``dest_dir``; the paths of its files there."""
        resource_segments(study_instance_uid, series_instance_uid)
        if skip_existing:
            return self._retrieve_missing(
                study_instance_uid, series_instance_uid, dest_dir, transfer_syntax, progress
            )
        return self._retrieve_to_dir(
            resource_segments(study_instance_uid, series_instance_uid),
            dest_dir,
            {"StudyInstanceUID": study_instance_uid, "SeriesInstanceUID": series_instance_uid},
            transfer_syntax,
            tracker=ProgressTracker(progress) if progress else None,
        )

    def _retrieve_missing(
        self,
        study: str,
        series: str | None,
        dest_dir: str | os.PathLike,
        transfer_syntax: str | None,
        progress: ProgressCallback | None,
    ) -> list[Path]:
        dest = Path(dest_dir)
        if dest.is_dir() and (removed := remove_stale_partials(dest)):
            log.info("removed %d temporary files left by an interrupted retrieve in %s", removed, dest)
        by_series: dict[str, list[str]] = {}
        for item in self.iter_search("instances", study_instance_uid=study, series_instance_uid=series):
            series_uid = validate_uid(_first(item, "0020000E"), "SeriesInstanceUID in a search result")
            sop_uid = validate_uid(_first(item, "00080018"), "SOPInstanceUID in a search result")
            by_series.setdefault(series_uid, []).append(sop_uid)
        missing_by_series: dict[str, list[str]] = {}
        present: list[Path] = []
        for series_uid, sops in by_series.items():  # one stat per instance
            for sop in sops:
                path = instance_path(dest, study, series_uid, sop)
                if path.exists():
                    present.append(path)
                else:
                    missing_by_series.setdefault(series_uid, []).append(sop)
        total = sum(len(sops) for sops in by_series.values())
        tracker = ProgressTracker(progress, files_total=total)
        if present:
            tracker.add(len(present), sum(p.stat().st_size for p in present))
        if len(present) == total:
            return present
        fetched: list[Path] = []
        if not present:
            segments = resource_segments(study, series)
            expected = {"StudyInstanceUID": study, **({"SeriesInstanceUID": series} if series else {})}
            return self._retrieve_to_dir(segments, dest, expected, transfer_syntax, tracker=tracker)
        for series_uid, missing in missing_by_series.items():
            if len(missing) == len(by_series[series_uid]):
                fetched += self._retrieve_to_dir(
                    resource_segments(study, series_uid),
                    dest,
                    {"StudyInstanceUID": study, "SeriesInstanceUID": series_uid},
                    transfer_syntax,
                    tracker=tracker,
                )
                continue
            for sop in missing:
                fetched += self._retrieve_to_dir(
                    resource_segments(study, series_uid, sop),
                    dest,
                    {"StudyInstanceUID": study, "SeriesInstanceUID": series_uid, "SOPInstanceUID": sop},
                    transfer_syntax,
                    tracker=tracker,
                )
        log.info("retrieve %s: %d files already complete, %d fetched", study, len(present), len(fetched))
        return present + fetched

    def retrieve_instance(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        dest_dir: str | os.PathLike,
        transfer_syntax: str | None = "*",
        single_part: bool = False,
    ) -> list[Path]:
        """One instance, written under ``dest_dir``; a list holding its path.

        ``single_part`` asks for ``application/dicom`` instead of a multipart response (Google offers both
        for one instance; Orthanc only the multipart form).
        """
        segments = resource_segments(study_instance_uid, series_instance_uid, sop_instance_uid)
        expected = {
            "StudyInstanceUID": study_instance_uid,
            "SeriesInstanceUID": series_instance_uid,
            "SOPInstanceUID": sop_instance_uid,
        }
        accept = None
        if single_part:
            accept = DICOM + (f"; transfer-syntax={transfer_syntax}" if transfer_syntax else "")
        return self._retrieve_to_dir(segments, dest_dir, expected, transfer_syntax, accept)

    # --- metadata -------------------------------------------------------------------------------

    def _metadata(self, segments: list[str], media_type: str = DICOM_JSON) -> list:
        url = self.transport.url(*segments, "metadata")
        if media_type == DICOM_XML:
            return [
                part.decode("utf-8")
                for part in self._fetch_parts(url, multipart_accept(DICOM_XML), DICOM_XML)
            ]
        if media_type != DICOM_JSON:
            raise ValueError(f"metadata media_type must be {DICOM_JSON} or {DICOM_XML}")
        response = self.transport.request("GET", url, headers={"Accept": DICOM_JSON})
        try:
            data = response.json()
        except ValueError:
            raise DicomWebResponseError(
                f"GET {self.transport.redact(url)}: metadata is not JSON; it starts {response.content[:120]!r}"
            ) from None
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise DicomWebResponseError(f"GET {self.transport.redact(url)}: metadata is not a JSON array")
        return data

    def retrieve_study_metadata(self, study_instance_uid: str, media_type: str = DICOM_JSON) -> list:
        """Metadata of every instance of a study: DICOM JSON datasets (bulk values as BulkDataURI), or
        one DICOM XML document per instance with ``media_type="application/dicom+xml"``."""
        return self._metadata(resource_segments(study_instance_uid), media_type)

    def retrieve_series_metadata(
        self, study_instance_uid: str, series_instance_uid: str, media_type: str = DICOM_JSON
    ) -> list:
        """Metadata of every instance of a series (JSON datasets, or XML documents)."""
        return self._metadata(resource_segments(study_instance_uid, series_instance_uid), media_type)

    def retrieve_instance_metadata(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        media_type: str = DICOM_JSON,
    ) -> dict | str:
        """Metadata of one instance: a DICOM JSON dataset, or a DICOM XML document."""
        data = self._metadata(
            resource_segments(study_instance_uid, series_instance_uid, sop_instance_uid), media_type
        )
        if len(data) != 1:
            raise DicomWebResponseError(
                f"instance metadata of {sop_instance_uid}: {len(data)} datasets, not 1"
            )
        return data[0]

    # --- rendered and frames ------------------------------------------------------------------

    def retrieve_instance_rendered(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        media_type: str = "image/png",
        viewport: tuple[int, int] | str | None = None,
        quality: int | None = None,
        frame_number: int | None = None,
        window: tuple[float, float, str] | str | None = None,
    ) -> bytes:
        """A consumer-ready image of an instance (or one frame of it): PNG or JPEG bytes."""
        if media_type not in RENDERED_TYPES:
            raise ValueError(f"media_type must be one of {', '.join(sorted(RENDERED_TYPES))}")
        segments = resource_segments(study_instance_uid, series_instance_uid, sop_instance_uid)
        if frame_number is not None:
            segments += ["frames", str(_frame_number(frame_number))]
        params = []
        if viewport is not None:
            params.append(
                ("viewport", viewport if isinstance(viewport, str) else ",".join(map(str, viewport)))
            )
        if quality is not None:
            if not 1 <= int(quality) <= 100:
                raise ValueError("quality must be between 1 and 100")
            params.append(("quality", str(int(quality))))
        if window is not None:
            params.append(("window", window if isinstance(window, str) else ",".join(map(str, window))))
        url = self.transport.url(*segments, "rendered")
        response = self.transport.request(
            "GET",
            url,
            query="&".join(f"{k}={v}" for k, v in params) or None,
            headers={"Accept": media_type},
            binary=True,
        )
        got = parse_content_type(response.headers.get("Content-Type"))[0]
        if got != media_type:
            raise DicomWebResponseError(
                f"GET {self.transport.redact(url)}: asked for {media_type}, got {got or 'no Content-Type'}"
            )
        return response.content

    def retrieve_instance_frames(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        frame_numbers: Sequence[int] | int,
        transfer_syntax: str | None = None,
    ) -> list[bytes]:
        """Pixel data of the given frames (numbered from 1), one bytes value per frame, in order.

        By default the server's default (uncompressed, little endian); ``transfer_syntax="*"`` asks for the
        frames as stored.
        """
        numbers = [frame_numbers] if isinstance(frame_numbers, int) else list(frame_numbers)
        if not numbers:
            raise ValueError("frame_numbers is empty")
        numbers = [_frame_number(n) for n in numbers]
        segments = resource_segments(study_instance_uid, series_instance_uid, sop_instance_uid)
        url = self.transport.url(*segments, "frames", ",".join(map(str, numbers)))
        frames = self._fetch_parts(url, multipart_accept(OCTET_STREAM, transfer_syntax))
        if len(frames) != len(numbers):
            raise DicomWebResponseError(
                f"GET {self.transport.redact(url)}: {len(frames)} frames returned for {len(numbers)} asked"
            )
        return frames

    def _fetch_parts(self, url: str, accept: str, single_type: str = OCTET_STREAM) -> list[bytes]:
        """Every part of a response, in memory: their data together may not pass ``max_response_mib``."""
        safe_url = self.transport.redact(url)
        cap = self.transport.limits.max_bytes

        def attempt() -> list[bytes]:
            response = self.transport.send("GET", url, headers={"Accept": accept, **IDENTITY})
            try:
                parts: list[bytes] = []
                current = io.BytesIO()
                held = 0
                # The body is capped at a little over the data (part headers and delimiters count too).
                for event in self._events(response, safe_url, single_type, max_bytes=2 * cap):
                    if isinstance(event, PartStart):
                        current = io.BytesIO()
                    elif isinstance(event, PartEnd):
                        parts.append(current.getvalue())
                    else:
                        held += len(event)
                        if held > cap:
                            raise DicomWebResponseTooLargeError(
                                f"GET {safe_url}: the parts are larger than {cap / 2**20:g} MiB in all "
                                "(raise max_response_mib on the connection if this is expected); refused"
                            )
                        current.write(event)
                return parts
            finally:
                response.close()

        return self.transport.retry(attempt)

    # --- bulkdata -------------------------------------------------------------------------------

    def retrieve_bulkdata(
        self,
        bulkdata_uri: str | None = None,
        *,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        tag_path: str | Sequence[str | int] | None = None,
        dest_path: str | os.PathLike | None = None,
    ) -> bytes | Path:
        """A bulk value, by its BulkDataURI (from metadata) or by instance and tag path.

        A tag path is ``7FE00010`` or ``SEQTAG/index/TAG`` (Google's ``.../bulkdata/{path}``). Servers that
        place bulkdata elsewhere (Orthanc's ``/bulk/``) are reached through the BulkDataURI found in the
        instance's metadata. With ``dest_path`` the value is streamed into that file (written under a
        temporary name and renamed when complete) and its path returned; else the bytes are returned.
        """
        if bulkdata_uri is None:
            if not (study_instance_uid and series_instance_uid and sop_instance_uid and tag_path):
                raise ValueError("give a bulkdata_uri, or the three UIDs of an instance and a tag_path")
            path = normalize_tag_path(tag_path)
            segments = resource_segments(study_instance_uid, series_instance_uid, sop_instance_uid)
            try:
                return self._fetch_bulk(self.transport.url(*segments, "bulkdata", *path), dest_path)
            except DicomWebNotFoundError as not_found:
                metadata = self.retrieve_instance_metadata(
                    study_instance_uid, series_instance_uid, sop_instance_uid
                )
                bulkdata_uri = find_bulkdata_uri(metadata, path) if isinstance(metadata, dict) else None
                if bulkdata_uri is None:
                    tag = "/".join(path)
                    hint = (
                        "; for pixel data, retrieve the frames instead (retrieve_instance_frames)"
                        if path[-1] == "7FE00010"
                        else ""
                    )
                    raise DicomWebNotFoundError(
                        404,
                        method=not_found.method,
                        url=not_found.url,
                        server_message=(
                            f"and the instance's metadata lists no BulkDataURI for {tag} (the value is inline, "
                            f"absent, or encapsulated pixel data, for which servers such as Orthanc give "
                            f"none){hint}"
                        ),
                    ) from None
        return self._fetch_bulk(self.transport.resolve(bulkdata_uri), dest_path)

    def _fetch_bulk(self, url: str, dest_path: str | os.PathLike | None) -> bytes | Path:
        accept = f"{multipart_accept(OCTET_STREAM, '*')}, {OCTET_STREAM}; transfer-syntax=*"
        if dest_path is None:
            parts = self._fetch_parts(url, accept)
            if len(parts) != 1:
                raise DicomWebResponseError(
                    f"GET {self.transport.redact(url)}: {len(parts)} parts for one bulk value"
                )
            return parts[0]
        target = Path(dest_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        safe_url = self.transport.redact(url)

        def attempt() -> Path:
            temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
            response = self.transport.send("GET", url, headers={"Accept": accept, **IDENTITY})
            try:
                parts = 0
                with open(temp, "wb") as handle:
                    for event in self._events(response, safe_url, OCTET_STREAM):
                        if isinstance(event, PartStart):
                            parts += 1
                            if parts > 1:
                                raise DicomWebResponseError(
                                    f"GET {safe_url}: more than one part for one value"
                                )
                        elif not isinstance(event, PartEnd):
                            handle.write(event)
                os.replace(temp, target)
                return target
            finally:
                response.close()
                temp.unlink(missing_ok=True)

        return self.transport.retry(attempt)


def counted(tracker: ProgressTracker | None) -> Callable[[Path, int], None] | None:
    """An ``on_file`` callback that counts each file written in ``tracker``."""
    if tracker is None:
        return None

    def on_file(_path: Path, size: int) -> None:
        tracker.add(1, size)

    return on_file


def _first(item: dict, tag: str) -> Any:
    element = item.get(tag)
    return element["Value"][0] if isinstance(element, dict) and element.get("Value") else None


def _frame_number(value: Any) -> int:
    number = int(value)
    if number < 1 or str(number) != str(value).strip():
        raise ValueError(f"frame numbers start at 1; got {value!r}")
    return number


def find_bulkdata_uri(metadata: dict, tag_path: list[str]) -> str | None:
    """The BulkDataURI at ``tag_path`` in a DICOM JSON dataset, or None."""
    node: Any = metadata
    for i, part in enumerate(tag_path):
        if i % 2 == 0:
            element = node.get(part) if isinstance(node, dict) else None
            if not isinstance(element, dict):
                return None
            if i == len(tag_path) - 1:
                uri = element.get("BulkDataURI")
                return str(uri) if uri else None
            node = element.get("Value")
        else:
            index = int(part)
            if not isinstance(node, list) or index >= len(node):
                return None
            node = node[index]
    return None
