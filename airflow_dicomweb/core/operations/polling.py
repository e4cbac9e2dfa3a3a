"""Long-running operations: read one, or wait until it is done, polled with growing waits.

Where one is polled is the server profile's say (``operations``): Google's under its API root
(``{api_root}/v1/{name}``), Azure's under the service root (``operations/{id}``, which a bare id becomes).
How one reads is :mod:`.state`'s."""

from __future__ import annotations

import logging
import time

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.errors import DicomWebOperationTimeoutError, DicomWebResponseError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.operations.state import (
    RUNNING,
    describe_operation,
    operation_name,
    operation_state,
    raise_for_operation_error,
)
from airflow_dicomweb.core.servers.profile import ServerProfile

log = logging.getLogger(__name__)


class Operations:
    """The long-running operations of one service, read over ``transport``."""

    def __init__(self, transport: Transport, profile: ServerProfile) -> None:
        self.transport = transport
        self.profile = profile

    def _name(self, name: str) -> str:
        if self.profile.operations == "azure" and name and "/" not in name:
            return f"operations/{name}"
        return name

    def get_operation(self, name: str) -> dict:
        """The current state of a long-running operation (a name, or the URL the server gave)."""
        url = self.transport.operation_url(self._name(name))
        # Azure answers 202 while an operation runs, 200 once it is over.
        response = self.transport.request("GET", url, headers={"Accept": "application/json"}, ok=(200, 202))
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
        raise_on_error: bool = True,
    ) -> dict:
        """Poll an operation until it is done; the finished operation.

        Waits grow by half each poll from ``poll_interval`` up to ``max_poll_interval``. Raises
        :class:`DicomWebOperationError` (with the operation's code and message) if it failed (unless
        ``raise_on_error`` is false: then the failed operation is returned, for the caller to judge), and
        :class:`DicomWebOperationTimeoutError` if it is still running after ``timeout`` seconds.
        """
        if isinstance(name, dict):
            name = operation_name(name)
        if not name:
            raise ValueError("wait_for_operation needs an operation name")
        deadline = time.monotonic() + timeout
        interval = poll_interval
        while True:
            operation = self.get_operation(name)
            if operation_state(operation) != RUNNING:
                log.info(describe_operation(operation))
                if raise_on_error:
                    raise_for_operation_error(operation)
                return operation
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DicomWebOperationTimeoutError(name, timeout, operation)
            log.info("%s; next poll in %.1f s", describe_operation(operation), min(interval, remaining))
            time.sleep(min(interval, remaining))
            interval = min(interval * 1.5, max_poll_interval)
