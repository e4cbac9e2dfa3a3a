"""The "Study in viewer" extra link: the connection's ``viewer_url`` (or its server's default) filled with the
first study the task touched.

The task keeps the link on itself while it runs; when it ends, Airflow asks the worker's copy of the
operator for its links and stores each as an XCom (``_link_StudyViewerLink``), which the UI reads. A task
with no viewer, or one that failed before it touched a study, has an empty link and makes no lookup.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow.sdk import BaseOperatorLink

from airflow_dicomweb.core.errors import DicomWebError
from airflow_dicomweb.core.settings import DicomWebSettings

#: The attribute of the operator that holds the link while its task runs.
VIEWER_LINK_ATTRIBUTE = "dicomweb_viewer_link"


class StudyViewerLink(BaseOperatorLink):
    """Opens the first study the task stored, retrieved, found or copied in the connection's viewer."""

    name = "Study in viewer"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        saved = getattr(operator, VIEWER_LINK_ATTRIBUTE, "")
        return saved if isinstance(saved, str) and saved.startswith(("https://", "http://")) else ""


def save_viewer_link(operator: Any, settings: DicomWebSettings, studies: Iterable[str]) -> str | None:
    """Keep the link of the first of ``studies`` on ``operator``, for its extra link; the link, or None when
    the connection has no viewer or there is no study."""
    first = next(iter(sorted(studies)), None)
    if first is None:
        return None
    try:
        link = settings.viewer_link(first)
    except DicomWebError:
        return None
    if link:
        setattr(operator, VIEWER_LINK_ATTRIBUTE, link)
    return link
