"""``DicomWebRetrieveMetadataOperator``: DICOM JSON metadata of a study, series or instance."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from airflow_dicomweb.core.storage.paths import write_atomically
from airflow_dicomweb.operators.resource import RESOURCE_TEMPLATE_FIELDS, DicomWebResourceOperator


class DicomWebRetrieveMetadataOperator(DicomWebResourceOperator):
    """Retrieve metadata; return it for XCom, or write it to ``output_path`` and return the path.

    :param output_path: a JSON file (templated; ``{study_instance_uid}``-style placeholders are filled).
    """

    template_fields: Sequence[str] = (
        *RESOURCE_TEMPLATE_FIELDS,
        "output_path",
    )
    ui_color = "#fdebd0"

    def __init__(
        self,
        *,
        study_instance_uid: str,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        output_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            study_instance_uid=study_instance_uid,
            series_instance_uid=series_instance_uid,
            sop_instance_uid=sop_instance_uid,
            **kwargs,
        )
        self.output_path = output_path

    def execute(self, context: Context) -> Any:
        target = self.output_file(self.output_path) if self.output_path else None  # validated first
        if self.sop_instance_uid:
            if not self.series_instance_uid:
                raise ValueError("sop_instance_uid needs series_instance_uid")
            metadata: Any = self.hook.retrieve_instance_metadata(
                self.study_instance_uid, self.series_instance_uid, self.sop_instance_uid
            )
        elif self.series_instance_uid:
            metadata = self.hook.retrieve_series_metadata(self.study_instance_uid, self.series_instance_uid)
        else:
            metadata = self.hook.retrieve_study_metadata(self.study_instance_uid)
        count = len(metadata) if isinstance(metadata, list) else 1
        if target is None:
            self.log.info("metadata of %d instances", count)
            return metadata
        path = write_atomically(target, json.dumps(metadata, indent=1).encode())
        self.log.info("metadata of %d instances written to %s", count, path)
        return str(path)
