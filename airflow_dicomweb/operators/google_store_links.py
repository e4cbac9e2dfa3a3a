"""The extra links of the Google DICOM store operators: the store in the Cloud console and the operation's
logs, both saved to XCom by the task when it started its operation (their targets are known only then)."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.sdk import BaseOperatorLink

from airflow_dicomweb.core.google_store.resource import CONSOLE

LINKS_KEY = "dicom_store_links"


class _Link(BaseOperatorLink):
    """A link the task saved to XCom when it started its operation."""

    field: ClassVar[str] = ""

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        try:
            saved = XCom.get_value(key=LINKS_KEY, ti_key=ti_key)
        except Exception:  # a link is never worth failing the UI for
            return ""
        url = (saved or {}).get(self.field) if isinstance(saved, dict) else None
        return url if isinstance(url, str) and url.startswith(CONSOLE) else ""


class DicomStoreLink(_Link):
    name = "DICOM store"
    field = "store"


class DicomStoreOperationLogsLink(_Link):
    name = "Operation logs"
    field = "logs"
