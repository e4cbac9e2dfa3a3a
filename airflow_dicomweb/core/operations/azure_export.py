"""An Azure DICOM service export (API v2, ``POST {service root}/export``): studies, series or instances
copied as Part 10 files into a Blob Storage container, as a long-running operation.

The request names its source by identifiers (``<study>``, ``<study>/<series>``,
``<study>/<series>/<instance>``, each a UID checked here) and its destination container; the service reads
with its own managed identity (``useManagedIdentity``), so no storage secret is sent. It answers 202 with
``{"id", "href"}``; the operation is then read as any Azure operation (:mod:`.azure_operation`): its
``results`` count ``exported`` and ``skipped`` instances, and list ``errors``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from airflow_dicomweb.core.errors import DicomWebConfigError
from airflow_dicomweb.core.operations import azure_operation
from airflow_dicomweb.core.uids import is_valid_uid

#: Identifiers in one export request at most (the service documents 1,000 per request).
MAX_IDENTIFIERS = 1000


def export_body(identifiers: Iterable[str], blob_container_uri: str) -> dict[str, Any]:
    """The export request; a UID that is not one, or a container that is not an https URL, is refused."""
    values = [str(i).strip().strip("/") for i in identifiers]
    if not values:
        raise DicomWebConfigError("an Azure export needs at least one study, series or instance")
    if len(values) > MAX_IDENTIFIERS:
        raise DicomWebConfigError(
            f"an Azure export takes at most {MAX_IDENTIFIERS} identifiers, not {len(values)}"
        )
    for value in values:
        parts = value.split("/")
        if len(parts) > 3 or not all(is_valid_uid(p) for p in parts):
            raise DicomWebConfigError(
                f"{value!r} is not <study>[/<series>[/<instance>]] of DICOM UIDs (an Azure export identifier)"
            )
    container = urlsplit(blob_container_uri)
    if container.scheme != "https" or not container.hostname or container.query or container.username:
        raise DicomWebConfigError(
            "blob_container_uri must be https://<account>.blob.core.windows.net/<container>, with no SAS or "
            "credentials in it (the service exports with its managed identity)"
        )
    return {
        "source": {"type": "identifiers", "settings": {"values": values}},
        "destination": {
            "type": "azureblob",
            "settings": {"blobContainerUri": blob_container_uri, "useManagedIdentity": True},
        },
    }


def start_export(client: Any, identifiers: Iterable[str], blob_container_uri: str) -> str:
    """Start the export through a core client of the service; the operation's name (``operations/{id}``)."""
    body = export_body(identifiers, blob_container_uri)
    reply = client.transport.request(
        "POST",
        client.transport.url("export"),
        headers={"Content-Type": "application/json"},
        data=json.dumps(body).encode(),
        ok=(202,),
    )
    reference = reply.json()
    name = azure_operation.name(reference) if isinstance(reference, dict) else ""
    if not name:
        raise DicomWebConfigError(
            f"the export was accepted without an operation reference: {str(reference)[:200]}"
        )
    return name
