"""``dicomweb delete`` and ``dicomweb operation``: delete, then wait on Google's long-running operation
with backoff, showing its counters; a failed operation prints its code and message."""

from __future__ import annotations

import argparse
import json
import sys
import time

from airflow_dicomweb.cli import exit_codes
from airflow_dicomweb.cli.parsers import add_command, add_number
from airflow_dicomweb.cli.resource_path import ResourcePath
from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import DicomWebOperationError
from airflow_dicomweb.core.operations.state import (
    RUNNING,
    describe_operation,
    operation_state,
    raise_for_operation_error,
)

DELETE_EXAMPLES = """examples:
  dicomweb --google my-project/us-central1/my-dataset/my-store delete studies/1.2.3
  dicomweb --google p/l/d/s delete studies/1.2.3/series/4.5 --no-wait
  dicomweb --delete-api orthanc --user orthanc http://127.0.0.1:8042/dicom-web delete studies/1.2.3
"""
OPERATION_EXAMPLES = """examples:
  dicomweb --google p/l/d/s operation projects/p/locations/l/datasets/d/operations/123
  dicomweb --google p/l/d/s operation projects/p/locations/l/datasets/d/operations/123 --wait
"""


def add_parsers(commands: argparse._SubParsersAction) -> None:
    delete = add_command(
        commands,
        "delete",
        "delete a study, series or instance, and wait on the operation",
        "Delete PATH (studies/UID[/series/UID[/instances/UID]]). When the server starts a "
        "long-running operation (Google's, or Azure's by its id), wait for it, polling with backoff and showing its counters.",
        DELETE_EXAMPLES,
    )
    delete.add_argument("path", metavar="PATH")
    delete.add_argument("--no-wait", action="store_true", help="print the operation's name and return")
    add_waiting(delete)
    delete.set_defaults(run=run_delete)
    operation = add_command(
        commands,
        "operation",
        "show a long-running operation, or wait for it",
        "Print the operation as JSON; with --wait, wait until it is done first.",
        OPERATION_EXAMPLES,
    )
    operation.add_argument("name", metavar="NAME", help="the operation's name, as the delete printed it")
    operation.add_argument("--wait", action="store_true", help="wait until it is done")
    add_waiting(operation)
    operation.set_defaults(run=run_operation)


def wait(client: DicomWebClient, name: str, timeout: float, poll: float) -> tuple[int, dict]:
    """Poll until done, the waits growing by half up to 60 s; each state on stderr. The exit code and the
    last state of the operation."""
    deadline = time.monotonic() + timeout
    interval = poll
    while True:
        operation = client.get_operation(name)
        print(describe_operation(operation), file=sys.stderr, flush=True)
        if operation_state(operation) != RUNNING:
            try:
                raise_for_operation_error(operation)
            except DicomWebOperationError as failure:
                print(f"dicomweb: {failure}", file=sys.stderr)
                return exit_codes.ITEMS_FAILED, operation
            return exit_codes.OK, operation
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            print(f"dicomweb: operation {name} still running after {timeout:g} s", file=sys.stderr)
            return exit_codes.SERVER, operation
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5, 60.0)


def add_waiting(parser: argparse.ArgumentParser) -> None:
    """How long to wait on an operation, and how often to look."""
    add_number(
        parser,
        "--timeout",
        kind=float,
        default=defaults.OPERATION_TIMEOUT,
        metavar="S",
        help="wait at most S seconds",
    )
    add_number(
        parser,
        "--poll",
        kind=float,
        default=defaults.CLI_OPERATION_POLL_INTERVAL,
        metavar="S",
        help="first poll interval, in seconds",
    )


def run_delete(client: DicomWebClient, args: argparse.Namespace, progress: object) -> int:
    try:
        path = ResourcePath.parse(args.path)
    except ValueError as exc:
        print(f"dicomweb delete: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    if path.instance:
        assert path.series is not None
        operation = client.delete_instance(path.study, path.series, path.instance)
    elif path.series:
        operation = client.delete_series(path.study, path.series)
    else:
        operation = client.delete_study(path.study)
    if operation is None:
        print(f"deleted {path}")
        return exit_codes.OK
    name = str(operation.get("name") or "")
    if args.no_wait:
        print(name)
        return exit_codes.OK
    code, _ = wait(client, name, args.timeout, args.poll)
    if code == exit_codes.OK:
        print(f"deleted {path}")
    return code


def run_operation(client: DicomWebClient, args: argparse.Namespace, progress: object) -> int:
    if args.wait:
        code, operation = wait(client, args.name, args.timeout, args.poll)
    else:
        operation = client.get_operation(args.name)
        code = exit_codes.ITEMS_FAILED if operation.get("error") else exit_codes.OK
    print(json.dumps(operation, indent=1))
    return code
