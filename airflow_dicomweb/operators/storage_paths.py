"""Files and folders as DAGs name them, turned into the core's :class:`~airflow_dicomweb.core.storage.Location`.

A local path stays a local path. A URL (``s3://aws_conn@bucket/key``, ``gs://...``, ``file:///...``) or an
``airflow.sdk.ObjectStoragePath`` becomes the fsspec filesystem Airflow registered for its scheme, with the
credentials of the connection the path names (never the DICOMweb connection's). Results keep the same URL
form, connection id included, so a downstream task can make an ``ObjectStoragePath`` of them again.
"""

from __future__ import annotations

import os
from typing import Any

from airflow_dicomweb.core.storage.location import Location


def is_url(value: Any) -> bool:
    return isinstance(value, str) and "://" in value


def to_location(value: Any) -> Location:
    """A Location from a local path, a URL or an ``ObjectStoragePath``."""
    if isinstance(value, Location):
        return value
    from airflow.sdk import ObjectStoragePath

    if not isinstance(value, ObjectStoragePath):
        text = os.fspath(value)
        if not is_url(text):
            return Location(text)
        value = ObjectStoragePath(text)
    url = str(value)
    path = value.path
    prefix = url[: len(url) - len(path)] if path and url.endswith(path) else f"{value.protocol}://"
    return Location(path, value.fs, prefix)


def as_input(value: Any) -> Any:
    """A store input: URLs and ObjectStoragePaths become Locations; local paths and patterns stay as given."""
    if is_url(value) or type(value).__name__ == "ObjectStoragePath":
        return to_location(value)
    return value
