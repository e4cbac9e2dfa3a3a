"""The "Study in viewer" extra link: the connection's ``viewer_url`` (or its server's default) filled with the
first study the task touched, saved to XCom when the task ran and read back by the UI."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow.sdk import BaseOperatorLink

from airflow_dicomweb.core.errors import DicomWebError
from airflow_dicomweb.core.settings import DicomWebSettings

VIEWER_LINK_KEY = "dicomweb_viewer_link"


class StudyViewerLink(BaseOperatorLink):
    """Opens the first study the task stored, retrieved, found or copied in the connection's viewer."""

    name = "Study in viewer"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        try:
            saved = XCom.get_value(key=VIEWER_LINK_KEY, ti_key=ti_key)
        except Exception:  # a link is never worth failing the UI for
            return ""
        return saved if isinstance(saved, str) and saved.startswith(("https://", "http://")) else ""


def save_viewer_link(context: Any, settings: DicomWebSettings, studies: Iterable[str]) -> str | None:
    """Save the link of the first of ``studies`` for the extra link (when the task runs in Airflow); the
    link, or None when the connection has no viewer or there is no study."""
    first = next(iter(sorted(studies)), None)
    if first is None:
        return None
    try:
        link = settings.viewer_link(first)
    except DicomWebError:
        return None
    ti = context.get("ti") if hasattr(context, "get") else None
    if link and ti is not None and hasattr(ti, "xcom_push"):
        ti.xcom_push(key=VIEWER_LINK_KEY, value=link)
    return link
