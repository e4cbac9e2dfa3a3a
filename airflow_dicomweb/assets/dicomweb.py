"""The ``dicomweb://`` asset URI scheme: a DICOMweb service, or a study or series in it.

    dicomweb://<host>[:<port>]/<service path>[/studies/<uid>[/series/<uid>]]

``dicomweb://pacs.example:8042/dicom-web/studies/1.2.840.113619.2`` is study 1.2.840.113619.2 of the service
whose root is ``http(s)://pacs.example:8042/dicom-web``. The scheme of the service root (http or https) is
not part of the URI: one archive, one name. Normalised: host lower case, no user information, query or
fragment, no trailing slash, UIDs validated. Registered in the provider info, so DAGs can be scheduled on
such assets, and the URIs become OpenLineage datasets (namespace ``dicomweb://host:port``, name the path).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from airflow_dicomweb.core.uids import is_valid_uid

if TYPE_CHECKING:
    from airflow.sdk import Asset

SCHEME = "dicomweb"
_LEVELS = ("studies", "series", "instances")


def dicomweb_uri(
    service_root: str, study_instance_uid: str | None = None, series_instance_uid: str | None = None
) -> str:
    """The asset URI of a service root (``http(s)://host[:port]/path``), or of a study or series in it."""
    parts = urlsplit(service_root)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    path = parts.path.rstrip("/")
    if study_instance_uid:
        path += f"/studies/{study_instance_uid}"
        if series_instance_uid:
            path += f"/series/{series_instance_uid}"
    return f"{SCHEME}://{netloc}{path}"


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's asset URI handler: refuse what is not a DICOMweb resource, normalise the rest."""
    if not uri.hostname:
        raise ValueError("a dicomweb:// URI must name the service's host: dicomweb://host[:port]/path")
    if uri.username or uri.password:
        raise ValueError("a dicomweb:// URI may not hold user information")
    if uri.query or uri.fragment:
        raise ValueError("a dicomweb:// URI may not have a query or a fragment")
    segments = [s for s in uri.path.split("/") if s]
    for i, segment in enumerate(segments):
        if segment in _LEVELS and i + 1 < len(segments) and not is_valid_uid(segments[i + 1]):
            raise ValueError(f"{segments[i + 1]!r} after {segment}/ in a dicomweb:// URI is not a DICOM UID")
    if segments and segments[-1] in _LEVELS:
        raise ValueError(f"a dicomweb:// URI may not end with {segments[-1]}/ without a UID")
    netloc = uri.hostname.lower() if ":" not in uri.hostname else f"[{uri.hostname.lower()}]"
    if uri.port:
        netloc += f":{uri.port}"
    path = "/" + "/".join(segments) if segments else ""
    return SplitResult(SCHEME, netloc, re.sub(r"/+", "/", path), "", "")


def create_asset(
    *,
    service_root: str,
    study_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    extra: dict[str, Any] | None = None,
    name: str | None = None,
) -> Asset:
    """An Asset for a DICOMweb service, study or series (the factory Airflow calls for this scheme).

    The asset of a DICOM store is its service's: ``create_asset(service_root=url, name="research_store")``
    gets one event per study stored through any operator that has it among its outlets, the study being
    the event's partition key.
    """
    from airflow.sdk import Asset

    uri = dicomweb_uri(service_root, study_instance_uid, series_instance_uid)
    if name:
        return Asset(name=name, uri=uri, extra=extra or {})
    return Asset(uri=uri, extra=extra or {})


def convert_asset_to_openlineage(asset: Any, lineage_context: Any = None) -> Any:
    """An OpenLineage dataset for a ``dicomweb://`` asset: namespace ``dicomweb://host:port``, name the path."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    parts = urlsplit(asset.uri)
    return Dataset(namespace=f"{SCHEME}://{parts.netloc}", name=parts.path or "/")
