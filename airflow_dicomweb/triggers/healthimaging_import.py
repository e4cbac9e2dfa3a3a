"""``HealthImagingImportJobTrigger``: waits on a HealthImaging DICOM import job in the triggerer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.healthimaging.import_job import ACTIVE, COMPLETED, import_job_properties


class HealthImagingImportJobTrigger(BaseTrigger):
    """Poll ``GetDICOMImportJob`` until the job is over, then yield one event.

    The event is ``{"status": "success", "job_id", "job_status": "COMPLETED"}``, or ``{"status": "error",
    "job_id", "job_status", "message"}`` when the job failed or could not be read. Only reads are made: a
    triggerer restart may run a trigger again. The files' outcome is read by the task when it resumes.
    """

    def __init__(
        self,
        datastore_id: str,
        job_id: str,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        poll_interval: float = defaults.TASK_OPERATION_POLL_INTERVAL,
        max_poll_interval: float = defaults.OPERATION_MAX_POLL_INTERVAL,
    ) -> None:
        super().__init__()
        self.datastore_id = datastore_id
        self.job_id = job_id
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "datastore_id": self.datastore_id,
                "job_id": self.job_id,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "poll_interval": self.poll_interval,
                "max_poll_interval": self.max_poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_dicomweb.hooks.healthimaging import HealthImagingHook

        interval = self.poll_interval
        hook = HealthImagingHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
        try:
            # the connection is read and the client built in a thread, as the Amazon provider's triggers do
            client = await asyncio.to_thread(lambda: hook.conn)
            while True:
                properties = await asyncio.to_thread(
                    import_job_properties, client, self.datastore_id, self.job_id
                )
                status = str(properties.get("jobStatus"))
                if status not in ACTIVE:
                    break
                self.log.info("import job %s: %s; next poll in %.1f s", self.job_id, status, interval)
                await asyncio.sleep(interval)
                interval = min(interval * 1.5, self.max_poll_interval)
        except Exception as exc:  # botocore's errors (refused, throttled, unreachable) end the wait, named
            yield TriggerEvent(
                {
                    "status": "error",
                    "job_id": self.job_id,
                    "job_status": None,
                    "message": f"could not read the import job: {type(exc).__name__}: {str(exc)[:500]}",
                }
            )
            return
        if status == COMPLETED:
            yield TriggerEvent({"status": "success", "job_id": self.job_id, "job_status": status})
        else:
            yield TriggerEvent(
                {
                    "status": "error",
                    "job_id": self.job_id,
                    "job_status": status,
                    "message": str(properties.get("message") or "no message")[:1000],
                }
            )
