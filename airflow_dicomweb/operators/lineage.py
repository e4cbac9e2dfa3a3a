"""OpenLineage datasets for what a DICOMweb task read and wrote.

The OpenLineage provider calls ``get_openlineage_facets_on_complete`` on each operator after it ran; the
operators note during ``execute`` what they read and wrote (URLs, paths and study UIDs), and this module
turns those notes into datasets, following OpenLineage's naming: ``dicomweb://host:port`` with the service
path and study as name for DICOMweb resources (the asset scheme's conversion), ``s3://bucket`` or
``gs://bucket`` with the key as name for objects, and ``file`` with the absolute path for local files.
The provider is optional: without it, nothing here is imported.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from airflow_dicomweb.assets.dicomweb import dicomweb_uri


def storage_dataset_name(location: str) -> tuple[str, str]:
    """(namespace, name) of a local path or object-store URL. An ``s3://conn_id@bucket`` URL's connection
    id is not part of the dataset: the bucket is."""
    parts = urlsplit(location)
    if "://" not in location or parts.scheme == "file":
        return "file", os.path.abspath(parts.path if parts.scheme == "file" else location)
    bucket = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{bucket}", parts.path.lstrip("/") or "/"


def dicomweb_dataset_name(service_root: str, study_instance_uid: str | None = None) -> tuple[str, str]:
    """(namespace, name) of a DICOMweb service or study, as its ``dicomweb://`` asset converts."""
    parts = urlsplit(dicomweb_uri(service_root, study_instance_uid))
    return f"{parts.scheme}://{parts.netloc}", parts.path or "/"


class LineageNotes:
    """What a task read and wrote, as (namespace, name) pairs, plus the datasets it deleted."""

    def __init__(self) -> None:
        self.inputs: list[tuple[str, str]] = []
        self.outputs: list[tuple[str, str]] = []
        self.dropped: list[tuple[str, str]] = []

    def operator_lineage(self) -> Any:
        from airflow.providers.common.compat.openlineage.facet import (
            Dataset,
            LifecycleStateChange,
            LifecycleStateChangeDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage

        def unique(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
            return list(dict.fromkeys(pairs))

        dropped = [
            Dataset(
                namespace=ns,
                name=name,
                facets={
                    "lifecycleStateChange": LifecycleStateChangeDatasetFacet(
                        lifecycleStateChange=LifecycleStateChange.DROP
                    )
                },
            )
            for ns, name in unique(self.dropped)
        ]
        return OperatorLineage(
            inputs=[Dataset(namespace=ns, name=name) for ns, name in unique(self.inputs)],
            outputs=[Dataset(namespace=ns, name=name) for ns, name in unique(self.outputs)] + dropped,
        )
