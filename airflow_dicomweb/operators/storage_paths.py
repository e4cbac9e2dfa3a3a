"""Files and folders as DAGs name them, turned into the core's one path type.

A local path stays a :class:`pathlib.Path`. An ``airflow.sdk.ObjectStoragePath`` passes through as it is (a
``UPath``): its filesystem is the one Airflow registered for its scheme, with the credentials of the
connection the path names (never the DICOMweb connection's). A URL (``s3://aws_conn@bucket/key``,
``gs://...``, ``file:///...``) becomes an ``ObjectStoragePath``. Results keep the same URL form, connection id
included, so a downstream task can make an ``ObjectStoragePath`` of them again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

from upath import UPath

from airflow_dicomweb.core.storage.paths import StoragePath


def is_url(value: Any) -> bool:
    return isinstance(value, str) and "://" in value


def to_path(value: Any) -> StoragePath:
    """The path a DAG names: a local path, a URL or an ``ObjectStoragePath``."""
    if isinstance(value, UPath | Path):
        return value
    text = os.fspath(value)
    if not is_url(text):
        return Path(text)
    from airflow.sdk import ObjectStoragePath

    # A UPath at run time (universal_pathlib's ProxyUPath), which its type stubs do not say
    return cast(UPath, ObjectStoragePath(text))


def as_input(value: Any) -> Any:
    """A store input: URLs become ``ObjectStoragePath``; paths and local patterns stay as given."""
    return to_path(value) if is_url(value) else value
