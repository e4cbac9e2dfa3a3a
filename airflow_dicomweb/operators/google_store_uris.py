"""The Cloud Storage and BigQuery URIs the Google DICOM store operators take: text from an
``ObjectStoragePath``, and their OpenLineage datasets."""

from __future__ import annotations

from typing import Any

from upath import UPath

from airflow_dicomweb.operators.lineage import storage_dataset_name


def gcs_text(value: Any) -> str:
    """A ``gs://`` URI from a string or an ``ObjectStoragePath`` (its connection id left out)."""
    if isinstance(value, UPath):
        if value.protocol not in ("gs", "gcs"):
            raise ValueError(f"a Cloud Storage path is needed, not {value.protocol}://")
        text = f"gs://{value.path}"
        return text + "/" if str(value).endswith("/") and not text.endswith("/") else text
    return str(value)


def dataset_of(uri: str) -> tuple[str, str]:
    """The OpenLineage dataset of a ``gs://`` object or prefix, or of a ``bq://`` table."""
    if uri.startswith("bq://"):
        return "bigquery", uri.removeprefix("bq://")
    return storage_dataset_name(uri)
