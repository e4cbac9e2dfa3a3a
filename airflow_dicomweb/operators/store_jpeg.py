"""``DicomWebStoreJpegOperator``: JSON metadata and JPEG images into DICOM instances."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.errors import DicomWebStorageError
from airflow_dicomweb.core.storage.paths import is_file, open_read
from airflow_dicomweb.operators.base import DicomWebBaseOperator
from airflow_dicomweb.operators.storage_paths import as_input, is_url, to_path
from airflow_dicomweb.operators.store import raise_for_failures, result_summary


def load_metadata(metadata: Any) -> dict | list:
    """Metadata as given (a dataset or a list of them), or read from a JSON file or a JSON string."""
    if isinstance(metadata, dict | list):
        return metadata
    text = str(metadata)
    path = to_path(text) if is_url(text) or not text.lstrip().startswith(("{", "[")) else None
    if path is not None and (path.name.endswith(".json") or is_file(path)):
        try:
            with open_read(path) as handle:
                return json.loads(handle.read())
        except (OSError, DicomWebStorageError) as exc:
            raise ValueError(
                f"cannot read metadata file {path}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        except ValueError as exc:
            raise ValueError(f"metadata file {path} is not valid JSON: {exc}") from None
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError("metadata must be a DICOM JSON dataset, a list of them, or a .json file") from None


class DicomWebStoreJpegOperator(DicomWebBaseOperator):
    """Make DICOM instances of JPEG images with DICOM JSON metadata, and store them.

    :param jpeg_files: JPEG paths, folders or globs (templated).
    :param metadata: a DICOM JSON dataset used as a template for every image, a list with one dataset per
        image, or the path of a JSON file holding either (templated).
    :param method: ``auto`` (Google's JSON+JPEG form, else Part 10 built here), ``json`` or ``part10``.
    """

    lineage_role = "write"
    template_fields: Sequence[str] = (
        "jpeg_files",
        "metadata",
        "study_instance_uid",
        "storage_class",
        "dicomweb_conn_id",
    )
    template_fields_renderers = {"metadata": "json"}
    ui_color = "#d6eaf8"

    def __init__(
        self,
        *,
        jpeg_files: Any,
        metadata: Any,
        study_instance_uid: str | None = None,
        storage_class: str | None = None,
        method: str = "auto",
        concurrency: int = defaults.STORE_CONCURRENCY,
        fail_on_error: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.jpeg_files = jpeg_files
        self.metadata = metadata
        self.study_instance_uid = study_instance_uid
        self.storage_class = storage_class
        self.method = method
        self.concurrency = concurrency
        self.fail_on_error = fail_on_error

    def execute(self, context: Context) -> dict[str, Any]:
        given = [self.jpeg_files] if isinstance(self.jpeg_files, str) else list(self.jpeg_files)
        files = [as_input(f) for f in given]
        result = self.hook.store_jpeg_instances(
            files,
            load_metadata(self.metadata),
            study_instance_uid=self.study_instance_uid or None,
            storage_class=self.storage_class or None,
            method=self.method,
            concurrency=self.concurrency,
        )
        for outcome in result.failed:
            self.log.error("%s", outcome)
        self.log.info("store JPEG: %s", result)
        self.report_stored(context, files, result)
        if self.fail_on_error:
            raise_for_failures(result)
        return result_summary(result, max_uids=1000, with_outcomes=False)
