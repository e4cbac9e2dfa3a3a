"""Long-running operations: read one, or wait until it is done (Google's style: ``done`` with ``response``
or ``error``, ``metadata.counter``), polled with growing waits."""

from __future__ import annotations

import logging
import time

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.errors import DicomWebOperationTimeoutError, DicomWebResponseError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.operations.state import (
    RUNNING,
    describe_operation,
    operation_state,
    raise_for_operation_error,
)

log = logging.getLogger(__name__)


class Operations:
    """The long-running operations of one service, read over ``transport``."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def get_operation(self, name: str) -> dict:
        """The current state of a long-running operation."""
        url = self.transport.operation_url(name)
        response = self.transport.request("GET", url, headers={"Accept": "application/json"})
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise DicomWebResponseError(f"GET {self.transport.redact(url)}: operation is not a JSON object")
        return body

    def wait_for_operation(
        self,
        name: str | dict,
        timeout: float = defaults.OPERATION_TIMEOUT,
        poll_interval: float = defaults.OPERATION_POLL_INTERVAL,
        max_poll_interval: float = defaults.OPERATION_MAX_POLL_INTERVAL,
    ) -> dict:
        """Poll an operation until it is done; the finished operation.

        Waits grow by half each poll from ``poll_interval`` up to ``max_poll_interval``. Raises
        :class:`DicomWebOperationError` (with the operation's code and message) if it failed, and
        :class:`DicomWebOperationTimeoutError` if it is still running after ``timeout`` seconds.
        """
        if isinstance(name, dict):
            name = str(name.get("name") or "")
        if not name:
            raise ValueError("wait_for_operation needs an operation name")
        deadline = time.monotonic() + timeout
        interval = poll_interval
        while True:
            operation = self.get_operation(name)
            if operation_state(operation) != RUNNING:
                log.info(describe_operation(operation))
                raise_for_operation_error(operation)
                return operation
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DicomWebOperationTimeoutError(name, timeout, operation)
            log.info("%s; next poll in %.1f s", describe_operation(operation), min(interval, remaining))
            time.sleep(min(interval, remaining))
            interval = min(interval * 1.5, max_poll_interval)
