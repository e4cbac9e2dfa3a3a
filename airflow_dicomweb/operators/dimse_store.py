"""``DimseStoreOperator``: files sent by C-STORE."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context

from airflow_dicomweb.core import defaults
from airflow_dicomweb.hooks.dimse import DimseHook
from airflow_dicomweb.operators.storage_paths import as_input
from airflow_dicomweb.operators.store import raise_for_failures, read_manifest, result_summary


class DimseStoreOperator(BaseOperator):
    """Send DICOM files, folders or ``**`` globs to the peer by C-STORE, each file as it is (a transfer syntax
    the peer refuses is a named failure, never re-encoded); every file is tried.

    :param dimse_conn_id: the ``dimse`` connection (templated).
    :param files: paths, folders and glob patterns (templated), or ``manifest``: a text file naming them.
    :param fail_on_error: fail the task after trying every file if any failed, naming them.
    :param max_xcom_uids: at most this many study and SOP Instance UIDs in the returned summary.
    :return: ``{"stored", "already_present", "failed", "study_instance_uids", "sop_instance_uids", "failures"}``.
    """

    template_fields: Sequence[str] = ("dimse_conn_id", "files", "manifest")

    def __init__(
        self,
        *,
        files: Any = None,
        manifest: Any = None,
        dimse_conn_id: str = DimseHook.default_conn_name,
        fail_on_error: bool = True,
        max_xcom_uids: int = defaults.MAX_XCOM_ITEMS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (files is None) == (manifest is None):
            raise ValueError("give the store either files or a manifest")
        self.dimse_conn_id = dimse_conn_id
        self.files = files
        self.manifest = manifest
        self.fail_on_error = fail_on_error
        self.max_xcom_uids = max_xcom_uids

    def execute(self, context: Context) -> dict[str, Any]:
        given = read_manifest(self.manifest) if self.manifest is not None else self.files
        if isinstance(given, str) or not isinstance(given, list | tuple):
            given = [given]
        result = DimseHook(self.dimse_conn_id).store_files([as_input(g) for g in given])
        self.log.info("C-STORE: %s", result)
        if self.fail_on_error:
            raise_for_failures(result)
        return result_summary(result, max_uids=self.max_xcom_uids, with_outcomes=False)
