"""The deployed stack, started once for the system tests, and stopped whatever happens."""

import pytest

from tests.connections import google_connection
from tests.servers.orthanc_server import OrthancMissing
from tests.system.stack import LocalStack, StackMissing

GOOGLE_CONN_ID = "dicomweb_google_system"


@pytest.fixture(scope="session")
def stack(google_emulator):
    """docker-compose.yaml's services as local processes. The Google emulator is reachable from the worker
    and the triggerer through a connection in their environment."""
    try:
        local = LocalStack()
    except (StackMissing, OrthancMissing) as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        local.start(
            {
                f"AIRFLOW_CONN_{GOOGLE_CONN_ID.upper()}": google_connection(google_emulator),
                "DICOMWEB_ARRIVALS_POLL_SECONDS": "3",  # the watcher's interval, short for the test
                "DICOMWEB_ARRIVALS_SETTLE_SECONDS": "20",  # long enough to kill the triggerer mid-settle
                "DICOMWEB_REVIEW_TURNAROUND_MINUTES": "0.5",  # a deadline the review test lets pass
                # a task whose worker died is failed (then retried) 30 s after its last heartbeat, not 5 min
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            }
        )
        yield local
    finally:
        local.stop()
        print(f"\nsystem stack timings: {', '.join(f'{k} {v:.0f} s' for k, v in local.timings.items())}")
