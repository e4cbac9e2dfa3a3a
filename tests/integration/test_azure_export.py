"""``AzureDicomExportOperator`` against the Azure emulator (its DICOM service API v2, the data in the real
Orthanc, a local folder standing for the Blob container): in the worker and deferred, a partial export named
and allowed, a retry re-attaching to the export its first try started, and bad values refused before any
request."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_dicomweb.core.errors import DicomWebConfigError, DicomWebOperationError
from airflow_dicomweb.operators.azure_export import AzureDicomExportOperator
from airflow_dicomweb.triggers.operation import DicomWebOperationTrigger
from tests.integration.test_azure_change_feed import azure, store_study  # noqa: F401  (fixtures)
from tests.integration.test_operators import run_trigger
from tests.task_state import TaskStateStore

CONTAINER = "https://account.blob.core.windows.net/research"


def export(identifiers, **kwargs) -> AzureDicomExportOperator:
    return AzureDicomExportOperator(
        task_id="export",
        identifiers=identifiers,
        blob_container_uri=CONTAINER,
        dicomweb_conn_id="dicomweb_azure",
        poll_interval=0.05,
        **kwargs,
    )


def exports(azure) -> int:  # noqa: F811
    return sum(1 for o in azure.operations.values() if o.get("type") == "export")


def test_an_export_in_the_worker_and_deferred(azure, store_study, tmp_path):  # noqa: F811
    study = store_study(3)
    done = export([study]).execute({})
    assert (done["exported"], done["skipped"]) == (3, 0) and done["operation"].startswith("operations/")
    assert len(list((tmp_path / "blob" / "research").rglob("*.dcm"))) == 3
    op = export(study, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    assert isinstance(deferred.value.trigger, DicomWebOperationTrigger)
    again = op.execute_complete({}, run_trigger(deferred.value.trigger))
    assert again["exported"] == 3


def test_a_partial_export_names_what_failed_unless_allowed(azure, store_study):  # noqa: F811
    study = store_study(2)
    with pytest.raises(DicomWebOperationError, match=r"2 instances succeeded and 1 failed.*1\.2\.3\.4\.5\.6"):
        export([study, "1.2.3.4.5.6"]).execute({})
    lenient = export([study, "1.2.3.4.5.6"], allow_partial=True).execute({})
    assert (lenient["exported"], lenient["skipped"]) == (2, 1) and "1.2.3.4.5.6" in lenient["errors"]


def test_a_retry_re_attaches_to_the_export_its_first_try_started(azure, store_study):  # noqa: F811
    study = store_study(4)
    azure.export_delay = 0.3
    state = TaskStateStore()
    with pytest.raises(TaskDeferred):
        export([study], deferrable=True).execute({"task_state_store": state})
    (saved,) = state.values.values()
    retry = export([study]).execute({"task_state_store": state})
    assert retry["operation"] == saved and retry["exported"] == 4 and exports(azure) == 1
    assert export([study]).execute({"task_state_store": state}) == retry and exports(azure) == 1


def test_bad_values_are_refused_before_any_request(azure):  # noqa: F811
    for identifiers, container, named in [
        (["not-a-uid"], CONTAINER, "not <study>"),
        (["1.2.3/4.5/6.7/8.9"], CONTAINER, "not <study>"),
        (["1.2.3"], "https://account.blob.core.windows.net/c?sv=2024&sig=SECRET", "no SAS"),
        (["1.2.3"], "http://account.blob.core.windows.net/c", "https://"),
        ([], CONTAINER, "at least one"),
    ]:
        with pytest.raises(DicomWebConfigError, match=named) as refused:
            AzureDicomExportOperator(
                task_id="e",
                identifiers=identifiers,
                blob_container_uri=container,
                dicomweb_conn_id="dicomweb_azure",
            ).execute({})
        assert "SECRET" not in str(refused.value)
    assert exports(azure) == 0
