"""Hook-level lineage: what a hook's store, retrieve or copy read and wrote, given to Airflow's hook lineage
collector, so code in a ``@task`` that calls the hook reports lineage as the operators do (the S3, GCS and
BigQuery hooks do the same). Assets are ``dicomweb://`` URIs for studies (the provider's asset scheme) and
``file://`` or object-store URLs for files and folders. With no lineage reader installed (the OpenLineage
provider disabled), the collector is a no-op."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_dicomweb.assets.dicomweb import dicomweb_uri


def storage_uri(location: Any) -> str:
    """The asset URI of a file or folder: ``file://`` and its absolute path here; an object-store URL
    without the connection id some carry (``s3://conn@bucket/key``) elsewhere."""
    text = str(location)
    parts = urlsplit(text)
    if "://" not in text or parts.scheme == "file":
        path = os.path.abspath(parts.path if parts.scheme == "file" else text)
        return "file://" + quote(path)
    bucket = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{bucket}{parts.path}"


def _collector() -> Any:
    from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

    return get_hook_lineage_collector()


#: More inputs than this are reported by their folders: an asset per file of a large ingest would cost
#: more than the store (an Asset is made per call) and flood the lineage backend.
MAX_FILE_ASSETS = 16


def note_files_read(hook: Any, locations: Iterable[Any]) -> None:
    """The inputs a store was handed: each one, or, past MAX_FILE_ASSETS, the folders holding them."""
    uris = sorted({storage_uri(location) for location in locations})
    if len(uris) > MAX_FILE_ASSETS:
        uris = sorted({uri.rsplit("/", 1)[0] or uri for uri in uris})
    collector = _collector()
    for uri in uris:
        collector.add_input_asset(context=hook, uri=uri)


def note_files_written(hook: Any, locations: Iterable[Any]) -> None:
    collector = _collector()
    for location in locations:
        collector.add_output_asset(context=hook, uri=storage_uri(location))


def note_studies_read(hook: Any, service_root: str, studies: Iterable[str]) -> None:
    collector = _collector()
    for study in studies:
        collector.add_input_asset(context=hook, uri=dicomweb_uri(service_root, study))


def note_studies_written(hook: Any, service_root: str, studies: Iterable[str]) -> None:
    collector = _collector()
    for study in studies:
        collector.add_output_asset(context=hook, uri=dicomweb_uri(service_root, study))


def note_service_read(hook: Any, service_root: str) -> None:
    _collector().add_input_asset(context=hook, uri=dicomweb_uri(service_root))


def note_service_written(hook: Any, service_root: str) -> None:
    _collector().add_output_asset(context=hook, uri=dicomweb_uri(service_root))
