"""``DicomWebRetrieveBulkdataOperator``: a bulk value (pixel data, a waveform...) streamed into a file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from airflow_dicomweb.operators.resource import RESOURCE_TEMPLATE_FIELDS, DicomWebResourceOperator


class DicomWebRetrieveBulkdataOperator(DicomWebResourceOperator):
    """Fetch a bulk value by BulkDataURI, or by instance UIDs and a tag path, into ``output_path``.

    :param tag_path: ``7FE00010`` or ``SEQTAG/index/TAG``.
    :param output_path: the file (templated; ``{study_instance_uid}``-style placeholders are filled).
    """

    template_fields: Sequence[str] = (*RESOURCE_TEMPLATE_FIELDS, "bulkdata_uri", "tag_path", "output_path")
    ui_color = "#fdebd0"

    def __init__(
        self,
        *,
        output_path: str,
        bulkdata_uri: str | None = None,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        tag_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            study_instance_uid=study_instance_uid or "",  # none: the value is named by bulkdata_uri
            series_instance_uid=series_instance_uid,
            sop_instance_uid=sop_instance_uid,
            **kwargs,
        )
        self.output_path = output_path
        self.bulkdata_uri = bulkdata_uri
        self.tag_path = tag_path

    def execute(self, context: Context) -> str:
        extra = {"tag_path": str(self.tag_path)} if self.tag_path else {}
        dest_path = self.output_file(self.output_path, **extra)  # validated before anything is fetched
        path = self.hook.retrieve_bulkdata(
            self.bulkdata_uri or None,
            study_instance_uid=self.study_instance_uid or None,
            series_instance_uid=self.series_instance_uid,
            sop_instance_uid=self.sop_instance_uid,
            tag_path=self.tag_path,
            dest_path=dest_path,
        )
        self.log.info("bulk data written to %s", path)
        return str(path)
