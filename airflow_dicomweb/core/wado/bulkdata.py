"""WADO-RS of bulk data: a value by its BulkDataURI, or by instance and tag path, as bytes or into a file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_dicomweb.core.errors import DicomWebNotFoundError, DicomWebResponseError
from airflow_dicomweb.core.http.transport import IDENTITY, Transport
from airflow_dicomweb.core.media_types import OCTET_STREAM, multipart_accept
from airflow_dicomweb.core.multipart.reader import PartEnd, PartStart
from airflow_dicomweb.core.storage.paths import AtomicWriter, Destination, StoragePath, as_path
from airflow_dicomweb.core.uids import resource_segments
from airflow_dicomweb.core.wado.metadata import RetrieveMetadata
from airflow_dicomweb.core.wado.response import WadoResponses


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


class RetrieveBulkdata:
    """The bulk data transaction (WADO-RS) over ``transport``; a tag path the server does not serve at
    ``.../bulkdata/{tag}`` is found through the instance's ``metadata``."""

    def __init__(self, transport: Transport, responses: WadoResponses, metadata: RetrieveMetadata) -> None:
        self.transport = transport
        self.responses = responses
        self.metadata = metadata

    def retrieve_bulkdata(
        self,
        bulkdata_uri: str | None = None,
        *,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        tag_path: str | Sequence[str | int] | None = None,
        dest_path: Destination | None = None,
    ) -> bytes | StoragePath:
        """A bulk value, by its BulkDataURI (from metadata) or by instance and tag path.

        A tag path is ``7FE00010`` or ``SEQTAG/index/TAG`` (Google's ``.../bulkdata/{path}``). Servers that
        place bulkdata elsewhere (Orthanc's ``/bulk/``) are reached through the BulkDataURI found in the
        instance's metadata, resolved against the metadata's URL when it is relative (RFC 3986). A relative
        ``bulkdata_uri`` given here is resolved against the service root. With ``dest_path`` the value is streamed into that file (written under a
        temporary name and renamed when complete) and its path returned; else the bytes are returned.
        """
        base = None
        if bulkdata_uri is None:
            if not (study_instance_uid and series_instance_uid and sop_instance_uid and tag_path):
                raise ValueError("give a bulkdata_uri, or the three UIDs of an instance and a tag_path")
            path = normalize_tag_path(tag_path)
            segments = resource_segments(study_instance_uid, series_instance_uid, sop_instance_uid)
            try:
                return self._fetch_bulk(self.transport.url(*segments, "bulkdata", *path), dest_path)
            except DicomWebNotFoundError as not_found:
                metadata = self.metadata.retrieve_instance_metadata(
                    study_instance_uid, series_instance_uid, sop_instance_uid
                )
                bulkdata_uri = find_bulkdata_uri(metadata, path) if isinstance(metadata, dict) else None
                base = self.transport.url(*segments, "metadata")  # the URL that carried it
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
        return self._fetch_bulk(self.transport.resolve(bulkdata_uri, base), dest_path)

    def _fetch_bulk(self, url: str, dest_path: Destination | None) -> bytes | StoragePath:
        accept = f"{multipart_accept(OCTET_STREAM, '*')}, {OCTET_STREAM}; transfer-syntax=*"
        if dest_path is None:
            parts = self.responses.fetch_parts(url, accept)
            if len(parts) != 1:
                raise DicomWebResponseError(
                    f"GET {self.transport.redact(url)}: {len(parts)} parts for one bulk value"
                )
            return parts[0]
        target = as_path(dest_path)
        safe_url = self.transport.redact(url)

        def attempt() -> StoragePath:
            response = self.transport.send("GET", url, headers={"Accept": accept, **IDENTITY})
            try:
                with AtomicWriter(target) as out:
                    parts = 0
                    for event in self.responses.events(response, safe_url, OCTET_STREAM):
                        if isinstance(event, PartStart):
                            parts += 1
                            if parts > 1:
                                raise DicomWebResponseError(
                                    f"GET {safe_url}: more than one part for one value"
                                )
                        elif not isinstance(event, PartEnd):
                            out.write(event)
            finally:
                response.close()
            return target

        return self.transport.retry(attempt)


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
