"""``DicomWebRetrieveRenderedOperator``: a rendered PNG or JPEG of an instance, written to a file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.core.dicom.json_model import SERIES_INSTANCE_UID, SOP_INSTANCE_UID, first_value
from airflow_dicomweb.core.storage.paths import write_atomically
from airflow_dicomweb.operators.resource import RESOURCE_TEMPLATE_FIELDS, DicomWebResourceOperator


class DicomWebRetrieveRenderedOperator(DicomWebResourceOperator):
    """Render an instance (or one frame) as PNG or JPEG into ``output_path``.

    Given only a study (or a study and a series), the first instance the server lists there is rendered:
    a preview of the study.

    :param output_path: the image file (templated; ``{study_instance_uid}``-style placeholders are filled).
    :param viewport: ``(width, height)`` or ``"w,h"`` to scale the image.
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
        output_path: str,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        media_type: str = "image/png",
        viewport: Any = None,
        quality: int | None = None,
        frame_number: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            study_instance_uid=study_instance_uid,
            series_instance_uid=series_instance_uid,
            sop_instance_uid=sop_instance_uid,
            **kwargs,
        )
        self.output_path = output_path
        self.media_type = media_type
        self.viewport = viewport
        self.quality = quality
        self.frame_number = frame_number

    def execute(self, context: Context) -> str:
        series, instance = self.series_instance_uid, self.sop_instance_uid
        if not (series and instance):
            found = self.hook.search_for_instances(self.study_instance_uid, series or None, limit=1)
            if not found:
                raise AirflowException(f"study {self.study_instance_uid} has no instance to render")
            series = first_value(found[0], SERIES_INSTANCE_UID)
            instance = first_value(found[0], SOP_INSTANCE_UID)
        image = self.hook.retrieve_instance_rendered(
            self.study_instance_uid,
            series,
            instance,
            media_type=self.media_type,
            viewport=self.viewport,
            quality=self.quality,
            frame_number=self.frame_number,
        )
        target = self.output_file(self.output_path, series_instance_uid=series, sop_instance_uid=instance)
        path = write_atomically(target, image)
        self.log.info("rendered %s (%s, %d bytes) to %s", instance, self.media_type, len(image), path)
        return str(path)
