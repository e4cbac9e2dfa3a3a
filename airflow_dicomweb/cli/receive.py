"""``dicomweb receive``: a DIMSE gateway (a C-STORE SCP) that modalities and PACS send studies to. Each
instance is written to ``--dest`` (``{study}/{series}/{sop}.dcm``, appearing only once whole) or forwarded to
the DICOMweb service named before the command, and acknowledged only then. One JSON line per instance on
stdout; it runs until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import asdict

from airflow_dicomweb.cli import exit_codes
from airflow_dicomweb.cli.parsers import add_command, add_number
from airflow_dicomweb.cli.progress import ProgressDisplay
from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.dimse.receiver import Received, Receiver

EXAMPLES = """examples:
  dicomweb receive --aet GATEWAY --port 11112 --dest /data/landing
  DICOMWEB_PASSWORD=... dicomweb --user orthanc http://127.0.0.1:8042/dicom-web receive --aet GATEWAY \\
      --allow CT01 --allow MR02
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "receive",
        "receive instances by DIMSE C-STORE (a gateway), into a folder or a DICOMweb store",
        "Listen for associations from modalities and PACS and take every instance they send: into --dest, or "
        "forwarded to the DICOMweb service named before the command. An instance is acknowledged only once it "
        "is written whole or accepted by the store; otherwise the sender gets a failure status to retry.",
        EXAMPLES,
    )
    parser.add_argument("--aet", required=True, metavar="AET", help="this gateway's AE title")
    add_number(
        parser, "--port", kind=int, default=defaults.DIMSE_RECEIVE_PORT, metavar="N", help="port to listen on"
    )
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (0.0.0.0)")
    parser.add_argument("--dest", metavar="DIR", help="land instances here (a folder or an object-store URL)")
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="AET",
        help="accept only these calling AE titles (repeatable)",
    )
    add_number(
        parser,
        "--max-instance-mib",
        kind=int,
        default=defaults.DIMSE_MAX_INSTANCE_MIB,
        metavar="MIB",
        help="abort an association sending a larger instance",
    )
    parser.set_defaults(run=run, needs_service=needs_service)


def needs_service(args: argparse.Namespace) -> bool:
    """A gateway that lands instances in a folder talks to no DICOMweb service."""
    return not args.dest


def run(client: DicomWebClient | None, args: argparse.Namespace, progress: ProgressDisplay) -> int:
    progress.close()
    lock = threading.Lock()

    def print_line(received: Received) -> None:
        with lock:
            print(json.dumps(asdict(received)), flush=True)

    receiver = Receiver(
        args.aet,
        args.port,
        host=args.host,
        landing=args.dest,
        forward=client.transactions.store if client is not None and not args.dest else None,
        allow=args.allow,
        max_instance_bytes=args.max_instance_mib * 1024 * 1024,
        on_received=print_line,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    receiver.start()
    where = args.dest or (client.transport.redact(client.transport.settings.base_url) if client else "")
    print(
        f"dicomweb receive: {args.aet} listening on {args.host}:{args.port}, into {where}",
        file=sys.stderr,
        flush=True,
    )
    stop.wait()
    receiver.stop()
    print("dicomweb receive: stopped", file=sys.stderr, flush=True)
    return exit_codes.OK
