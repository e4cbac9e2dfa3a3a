"""``DicomWebStoreOperator``: store DICOM files (STOW-RS)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.errors import DicomWebError
from airflow_dicomweb.core.storage.paths import open_read
from airflow_dicomweb.core.stow.result import HELD, StoreResult
from airflow_dicomweb.operators.base import DicomWebBaseOperator
from airflow_dicomweb.operators.deidentify_option import DeidentifySpec, deidentifier_for, write_mapping
from airflow_dicomweb.operators.storage_paths import as_input, to_path
from airflow_dicomweb.operators.template_values import as_bool, as_int

MAX_FAILURES_IN_MESSAGE = 20


def result_summary(result: StoreResult, *, max_uids: int, with_outcomes: bool) -> dict[str, Any]:
    """The XCom value of a store: counts, study and SOP UIDs (up to ``max_uids`` of each), the first failures
    and, if asked, every outcome. Without outcomes its size is bounded whatever the store holds."""
    summary = result.summary()
    studies = summary["study_instance_uids"]
    summary["study_instance_uids"] = studies[:max_uids]
    summary["study_instance_uids_truncated"] = len(studies) > max_uids
    present = [o.sop_instance_uid for o in result.outcomes if o.status in HELD and o.sop_instance_uid]
    summary["sop_instance_uids"] = present[:max_uids]
    summary["sop_instance_uids_truncated"] = len(present) > max_uids
    if with_outcomes:
        summary["outcomes"] = [
            {
                "path": o.path,
                "status": str(o.status),
                "sop_instance_uid": o.sop_instance_uid,
                "study_instance_uid": o.study_instance_uid,
                "series_instance_uid": o.series_instance_uid,
                "reason": o.reason,
            }
            for o in result.outcomes
        ]
    return summary


def raise_for_failures(result: StoreResult) -> None:
    failed = result.failed
    if not failed:
        return
    total = len(result.outcomes)
    lines = [str(o) for o in failed[:MAX_FAILURES_IN_MESSAGE]]
    if len(failed) > MAX_FAILURES_IN_MESSAGE:
        lines.append(f"... and {len(failed) - MAX_FAILURES_IN_MESSAGE} more (see the task log)")
    raise AirflowException(f"{len(failed)} of {total} inputs were not stored:\n" + "\n".join(lines))


def read_manifest(manifest: Any) -> list[str]:
    """The inputs a manifest names, one per line (blank lines and ``#`` comments skipped)."""
    location = to_path(manifest)
    try:
        with open_read(location) as stream:
            text = stream.read().decode("utf-8")
    except (DicomWebError, OSError, UnicodeDecodeError) as exc:
        raise AirflowException(f"cannot read the store's manifest {location}: {exc}") from exc
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


class DicomWebStoreOperator(DicomWebBaseOperator):
    """Store DICOM files, folders or ``**`` globs in parallel; every file is tried.

    :param files: paths, folders and glob patterns (templated; or a list from an upstream task's XCom).
    :param manifest: instead of ``files``, a text file (local path or object-store URL; templated) naming
        the inputs one per line, read when the task runs: a mapped task per shard of a large landing prefix
        gets one path through XCom, not the shard's list of files.
    :param study_instance_uid: store into this study only (templated).
    :param storage_class: Google's storage class (templated).
    :param concurrency: parallel requests.
    :param batch_files: instances per request.
    :param skip_existing: ask the server first (one search per series) which instances it already holds,
        and report those as already present without sending them (the default, as in the core's
        ``store_instances``); False sends every file.
    :param fail_on_error: fail the task after trying every file if any failed (the failures are named in
        the error); with False the task succeeds and the failures are in the returned summary.
    :param return_outcomes: add one entry per file to the returned summary (for a downstream task that
        moves files, say). Keep batches modest: XCom is for small values.
    :param max_xcom_uids: at most this many study and SOP Instance UIDs in the returned summary (each list
        has a ``_truncated`` flag).
    :param deidentify: de-identify every file in memory as it is sent (PS3.15 Basic Profile; no identified
        copy is written anywhere): the ID of the connection whose password is the key, or a dict
        ``{"key_conn_id", "retain", "mapping_path"}`` (templated). An instance held back (its pixels may show
        identity) is reported ``quarantined`` with its reason and does not fail the task. The summary holds
        only the new UIDs.
    :return: ``{"stored", "already_present", "failed", "study_instance_uids", "sop_instance_uids",
        "failures", ["outcomes"]}``: bounded (the UIDs by ``max_xcom_uids``, the failures at 100, all of
        them named in the task log) unless ``return_outcomes`` is set.
    """

    lineage_role = "write"
    template_fields: Sequence[str] = (
        "files",
        "manifest",
        "study_instance_uid",
        "storage_class",
        "dicomweb_conn_id",
        "deidentify",
    )
    ui_color = "#d6eaf8"

    def __init__(
        self,
        *,
        files: Any = None,
        manifest: Any = None,
        study_instance_uid: str | None = None,
        storage_class: str | None = None,
        concurrency: int = defaults.STORE_CONCURRENCY,
        batch_files: int = defaults.STORE_BATCH_FILES,
        skip_existing: bool = defaults.STORE_SKIP_EXISTING,
        fail_on_error: bool = True,
        return_outcomes: bool = False,
        max_xcom_uids: int = defaults.MAX_XCOM_ITEMS,
        deidentify: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (files is None) == (manifest is None):
            raise ValueError("give the store either files or a manifest")
        self.files = files
        self.manifest = manifest
        self.study_instance_uid = study_instance_uid
        self.storage_class = storage_class
        self.concurrency = concurrency
        self.batch_files = batch_files
        self.skip_existing = skip_existing
        self.fail_on_error = fail_on_error
        self.return_outcomes = return_outcomes
        self.max_xcom_uids = max_xcom_uids
        self.deidentify = deidentify

    def execute(self, context: Context) -> dict[str, Any]:
        if self.manifest is not None:
            given: Any = read_manifest(self.manifest)
        elif isinstance(self.files, str) or not isinstance(self.files, list | tuple):
            given = [self.files]
        else:
            given = self.files
        files = [as_input(f) for f in given if f is not None]
        spec = DeidentifySpec.parse(self.deidentify)
        deidentifier = deidentifier_for(spec) if spec is not None else None
        result = self.hook.store_instances(
            files,
            self.study_instance_uid or None,
            storage_class=self.storage_class or None,
            concurrency=as_int(
                self.concurrency, "concurrency", default=defaults.STORE_CONCURRENCY, minimum=1
            ),
            batch_files=as_int(
                self.batch_files, "batch_files", default=defaults.STORE_BATCH_FILES, minimum=1
            ),
            skip_existing=as_bool(self.skip_existing, "skip_existing"),
            progress=self.progress_log("stored"),
            deidentifier=deidentifier,
        )
        write_mapping(spec, deidentifier)
        for outcome in result.quarantined:
            self.log.warning("%s", outcome)
        for outcome in result.failed:
            self.log.error("%s", outcome)
        self.log.info("store: %s", result)
        self.report_stored(context, files, result)
        if self.fail_on_error:
            raise_for_failures(result)
        return result_summary(result, max_uids=self.max_xcom_uids, with_outcomes=self.return_outcomes)
