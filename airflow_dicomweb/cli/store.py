"""``dicomweb store``: files, folders and ``**`` globs, in parallel, with the pre-check of what the server
holds; one line per file with ``--verbose``, a summary, and every failure with its reason."""

from __future__ import annotations

import argparse
import re
import sys

from airflow_dicomweb.cli import exit_codes
from airflow_dicomweb.cli.deidentify import add_deidentify_options, deidentifier_from_args
from airflow_dicomweb.cli.parsers import add_command, add_number
from airflow_dicomweb.cli.progress import ProgressDisplay
from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.stow.result import Status

EXAMPLES = """examples:
  dicomweb https://pacs.example/dicom-web store scan.dcm
  dicomweb https://pacs.example/dicom-web store --parallel 8 "./**.dcm"
  dicomweb --google my-project/us-central1/my-dataset/my-store store --verbose incoming/
  DICOMWEB_PASSWORD=... dicomweb --user orthanc http://127.0.0.1:8042/dicom-web store /data/study1
  dicomweb https://research.example/dicom-web store --deidentify site.key --retain dates-modified incoming/
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "store",
        "store DICOM files (STOW-RS)",
        "Store DICOM files, folders (recursed) and glob patterns (** recursive). Instances the "
        "server already holds are found first (one search per series) and not sent again.",
        EXAMPLES,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files, folders or quoted glob patterns")
    add_number(
        parser,
        "--parallel",
        "-m",
        kind=int,
        default=defaults.STORE_CONCURRENCY,
        metavar="N",
        help="requests at once",
    )
    add_number(
        parser, "--batch", kind=int, default=defaults.STORE_BATCH_FILES, metavar="N", help="files per request"
    )
    parser.add_argument("--study", metavar="UID", help="post to /studies/UID: every file must be in it")
    parser.add_argument("--storage-class", metavar="C", help="Google: STANDARD, NEARLINE, COLDLINE, ARCHIVE")
    parser.add_argument(
        "--no-skip-existing",
        action="store_true",
        help="send every file, without asking what the server holds",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="one line per file with its outcome")
    add_deidentify_options(parser)
    parser.set_defaults(run=run)


def recursive_pattern(path: str) -> str:
    """``./**.dcm`` (as dcmweb takes it) is ``./**/*.dcm``: ``**`` is recursive wherever it stands."""
    return re.sub(r"\*\*(?=[^/])", "**/*", path)


def run(client: DicomWebClient, args: argparse.Namespace, progress: ProgressDisplay) -> int:
    if args.parallel < 1 or args.batch < 1:
        print("dicomweb store: --parallel and --batch must be 1 or more", file=sys.stderr)
        return exit_codes.USAGE
    deidentifier = deidentifier_from_args(args)
    result = client.store_instances(
        [recursive_pattern(p) for p in args.paths],
        args.study,
        skip_existing=not args.no_skip_existing,
        concurrency=args.parallel,
        batch_files=args.batch,
        storage_class=args.storage_class,
        progress=progress,
        deidentifier=deidentifier,
    )
    progress.close()
    if args.verbose:
        for outcome in result.outcomes:
            uid = f" {outcome.sop_instance_uid}" if outcome.sop_instance_uid else ""
            told = (Status.FAILED, Status.QUARANTINED)
            reason = f": {outcome.reason}" if outcome.status in told else ""
            print(f"{outcome.status.value:<15} {outcome.path}{uid}{reason}")
    held_back = f", {len(result.quarantined)} quarantined" if result.quarantined else ""
    print(
        f"{len(result.stored)} stored, {len(result.already_present)} already present, "
        f"{len(result.failed)} failed{held_back}, in {len(result.study_instance_uids)} studies"
    )
    for outcome in result.quarantined:
        print(f"quarantined: {outcome.path}: {outcome.reason}", file=sys.stderr)
    if result.failed:
        print(f"{len(result.failed)} of {len(result.outcomes)} inputs were not stored:", file=sys.stderr)
        for outcome in result.failed:
            print(f"  {outcome}", file=sys.stderr)
        return exit_codes.ITEMS_FAILED
    return exit_codes.OK
