"""``dicomweb copy``: studies from the service before the command to the service DEST, streamed from
WADO-RS into STOW-RS (nothing written to disk), skipping what DEST holds, verified; a summary on stdout,
every problem on stderr, the whole report as JSON with ``--report``."""

from __future__ import annotations

import argparse
import sys

from airflow_dicomweb.cli import exit_codes
from airflow_dicomweb.cli.connection import ENV_TO_PASSWORD, ENV_TO_TOKEN, destination_settings
from airflow_dicomweb.cli.deidentify import add_deidentify_options, deidentifier_from_args
from airflow_dicomweb.cli.parsers import add_command, add_number
from airflow_dicomweb.cli.progress import ProgressDisplay
from airflow_dicomweb.cli.search import parse_filters
from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.copy.copy import copy_studies
from airflow_dicomweb.core.dimse.peer import DimsePeer, is_dimse_url

EXAMPLES = f"""examples:
  dicomweb https://pacs.example/dicom-web copy https://archive.example/dicom-web 1.2.840.1 1.2.840.2
  dicomweb http://127.0.0.1:8042/dicom-web copy --to-conn-id research_archive --filter ModalitiesInStudy=MR
  {ENV_TO_PASSWORD}=... dicomweb --user orthanc http://127.0.0.1:8042/dicom-web copy \\
      --to-user archive http://10.0.0.5/dicomweb --filter StudyDate=20240101-20240131 --report copy.json
  dicomweb https://pacs.example/dicom-web copy https://research.example/dicom-web 1.2.840.1 --deidentify site.key

A DIMSE peer on either side is dimse://CALLED_AET@host:port (C-FIND lists, C-GET reads, C-STORE stores;
--calling-aet names this side). The destination's password is read from ${ENV_TO_PASSWORD} (a bearer token from ${ENV_TO_TOKEN}), never
from the command line. Run the same command again after an interruption: what arrived is skipped.
exit: 0 every selected instance is at DEST; 1 some failed or are missing (named on stderr); 2 usage."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "copy",
        "copy studies to another DICOMweb service (WADO-RS into STOW-RS)",
        "Copy studies to the service DEST: named by their UIDs, or every study matching --filter. Instances "
        "stream from this service into DEST without touching a disk; what DEST holds already is skipped; "
        "afterwards DEST's instances of each study are listed and compared with this service's.",
        EXAMPLES,
    )
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="DEST [STUDY_UID ...]",
        help="the destination's service root (unless --to-conn-id), then the studies",
    )
    parser.add_argument(
        "-f", "--filter", action="append", default=[], metavar="KEY=VALUE", help="select studies (repeatable)"
    )
    parser.add_argument(
        "--verify",
        action=argparse.BooleanOptionalAction,
        default=defaults.COPY_VERIFY,
        help="list DEST's instances of each study after copying, and name what it lacks (default: on)",
    )
    parser.add_argument("--report", metavar="FILE", help="write the whole report as JSON (a path or a URL)")
    destination = parser.add_argument_group("the destination")
    destination.add_argument(
        "--to-user", metavar="USER", help=f"basic auth login (password: ${ENV_TO_PASSWORD})"
    )
    destination.add_argument("--to-conn-id", metavar="ID", help="an Airflow connection instead of DEST")
    destination.add_argument("--to-server", metavar="NAME", help="DEST's server profile (default: auto)")
    parser.add_argument(
        "--calling-aet",
        default=defaults.DIMSE_CALLING_AET,
        metavar="AET",
        help=f"this side's AE title toward a dimse:// source or DEST ({defaults.DIMSE_CALLING_AET})",
    )
    add_number(
        parser, "--streams", kind=int, default=defaults.COPY_STREAMS, metavar="N", help="series read at once"
    )
    add_number(
        parser,
        "--parallel",
        "-m",
        kind=int,
        default=defaults.COPY_CONCURRENCY,
        metavar="N",
        help="store requests at once",
    )
    add_deidentify_options(parser)
    parser.set_defaults(run=run, needs_service=needs_service)


def needs_service(args: argparse.Namespace) -> bool:
    """A copy from a DIMSE peer (``dimse://AET@host:port`` before the command) has no DICOMweb source."""
    return not is_dimse_url(args.url or "")


def run(client: DicomWebClient | None, args: argparse.Namespace, progress: ProgressDisplay) -> int:
    targets = list(args.targets)
    if not args.to_conn_id:
        if not targets:
            print(
                "dicomweb copy: name the destination: DEST (a service root URL) or --to-conn-id",
                file=sys.stderr,
            )
            return exit_codes.USAGE
        dest_url = targets.pop(0)
    else:
        dest_url = None
    if bool(targets) == bool(args.filter):
        print(
            "dicomweb copy: name the studies: STUDY_UID ... or --filter KEY=VALUE (one of the two)",
            file=sys.stderr,
        )
        return exit_codes.USAGE
    deidentifier = deidentifier_from_args(args)
    source: DicomWebClient | DimsePeer = client or DimsePeer.from_url(args.url, args.calling_aet)
    if dest_url is not None and is_dimse_url(dest_url):
        dest: DicomWebClient | DimsePeer = DimsePeer.from_url(dest_url, args.calling_aet)
        opened = None
    else:
        dest = opened = DicomWebClient(destination_settings(args, dest_url))
    try:
        report = copy_studies(
            source,
            dest,
            targets or None,
            parse_filters(args.filter) if args.filter else None,
            verify=args.verify,
            streams=args.streams,
            concurrency=args.parallel,
            progress=progress,
            deidentifier=deidentifier,
        )
    finally:
        if opened is not None:
            opened.close()
    progress.close()
    if args.report:
        print(f"report written to {report.write(args.report)}", file=sys.stderr)
    print(str(report))
    if report.ok:
        return exit_codes.OK
    problems = report.problems()
    print(f"dicomweb copy: {len(problems)} problems:", file=sys.stderr)
    for line in problems:
        print(f"  {line}", file=sys.stderr)
    return exit_codes.ITEMS_FAILED
