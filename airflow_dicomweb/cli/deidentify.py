"""``dicomweb deidentify``: files de-identified on this machine (PS3.15 Annex E, Basic Profile), into a folder
named by the new UIDs. No service is needed. The key comes from a file (``--key-file``: this command's own,
not the Google key file of the connection options); the mapping is written only where ``--mapping`` says."""

from __future__ import annotations

import argparse
import sys

from airflow_dicomweb.cli import exit_codes
from airflow_dicomweb.cli.parsers import add_command, add_number
from airflow_dicomweb.cli.progress import ProgressDisplay
from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.deid.deidentifier import Deidentifier
from airflow_dicomweb.core.deid.files import FAILED, deidentify_files, summary, write_report
from airflow_dicomweb.core.deid.key import DeidentificationKey
from airflow_dicomweb.core.deid.mapping import DeidentificationMapping
from airflow_dicomweb.core.deid.options import RETAIN_NAMES
from airflow_dicomweb.core.errors import DicomWebConfigError

EXAMPLES = """examples:
  python -c 'import secrets; print(secrets.token_urlsafe(32))' > site.key && chmod 600 site.key
  dicomweb deidentify incoming/ --output research/ --key-file site.key --report deid.jsonl
  dicomweb deidentify "scans/**/*.dcm" --output s3://research/cohort-7/ --key-file site.key \\
      --retain dates-modified --retain patient-characteristics --mapping /secure/cohort-7-mapping.json

exit codes: 0 every input de-identified or quarantined; 1 some failed (not DICOM, unreadable); 2 usage
(an unknown --retain, no key)."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "deidentify",
        "de-identify files (PS3.15 Basic Profile, keyed and repeatable), into a folder",
        "De-identify DICOM files with the Basic Application Level Confidentiality Profile (PS3.15 Annex E): "
        "every attribute of Table E.1-1 gets its action, private attributes go, UIDs and the patient get keyed "
        "replacements (the same key gives the same output), pixel data is left byte-identical. An instance "
        "whose pixels may show text (BurnedInAnnotation YES, or absent on US, SC, XC, ES, OT), or that still "
        "holds identity in an attribute the profile keeps, is quarantined with its reason and not written. "
        "Output goes to OUTPUT/{study}/{series}/{instance}.dcm, named by the new UIDs.",
        EXAMPLES,
    )
    parser.add_argument("sources", nargs="+", metavar="SRC", help="files, folders, patterns or object URLs")
    parser.add_argument(
        "--output", required=True, metavar="DIR", help="folder or object-store URL to write to"
    )
    parser.add_argument(
        "--key-file",
        dest="deid_key_file",
        required=True,
        metavar="KEYFILE",
        help="file holding the de-identification key (at least 16 bytes; a secret like a password)",
    )
    parser.add_argument(
        "--retain",
        action="append",
        default=[],
        choices=RETAIN_NAMES,
        metavar="OPTION",
        help=f"keep what a profile option keeps (repeatable): {', '.join(RETAIN_NAMES)}",
    )
    parser.add_argument("--report", metavar="FILE", help="write one JSON line per input here")
    parser.add_argument(
        "--mapping",
        metavar="FILE",
        help="write the originals and their replacements here (it re-identifies the output: keep it safe)",
    )
    add_number(
        parser,
        "--max-instance-mib",
        kind=int,
        default=defaults.DEID_MAX_INSTANCE_MIB,
        metavar="MIB",
        help="a larger input is reported failed",
    )
    parser.set_defaults(run=run, needs_service=lambda args: False)


def add_deidentify_options(parser: argparse.ArgumentParser) -> None:
    """``--deidentify KEYFILE`` and ``--retain``, for the commands that send instances on (store, copy)."""
    group = parser.add_argument_group(
        "de-identification (PS3.15 Basic Profile, in memory: no identified copy)"
    )
    group.add_argument(
        "--deidentify",
        metavar="KEYFILE",
        help="de-identify every instance on the way, with the key in KEYFILE (a re-run sends nothing new)",
    )
    group.add_argument(
        "--retain",
        action="append",
        default=[],
        choices=RETAIN_NAMES,
        metavar="OPTION",
        help=f"with --deidentify, keep what a profile option keeps (repeatable): {', '.join(RETAIN_NAMES)}",
    )


def deidentifier_from_args(args: argparse.Namespace) -> Deidentifier | None:
    """The de-identifier ``--deidentify`` and ``--retain`` ask for, or None."""
    if not args.deidentify:
        if args.retain:
            raise DicomWebConfigError("--retain goes with --deidentify KEYFILE")
        return None
    return Deidentifier(DeidentificationKey.from_file(args.deidentify), args.retain)


def run(client: DicomWebClient | None, args: argparse.Namespace, progress: ProgressDisplay) -> int:
    progress.close()
    key = DeidentificationKey.from_file(args.deid_key_file)
    mapping = DeidentificationMapping() if args.mapping else None
    deidentifier = Deidentifier(key, args.retain, mapping=mapping)
    outcomes = deidentify_files(
        deidentifier, args.sources, args.output, max_instance_mib=args.max_instance_mib
    )
    if args.report:
        write_report(outcomes, args.report)
    if mapping is not None:
        mapping.write(args.mapping)
    for outcome in outcomes:
        if outcome.outcome != "deidentified":
            where = "" if outcome.reason.startswith(outcome.source) else f"{outcome.source}: "
            print(f"{outcome.outcome}: {where}{outcome.reason}", file=sys.stderr)
    counts = summary(outcomes)
    print(
        f"dicomweb deidentify: {counts['deidentified']} de-identified, {counts['quarantined']} quarantined, "
        f"{counts['failed']} failed",
        file=sys.stderr,
    )
    return exit_codes.ITEMS_FAILED if any(o.outcome == FAILED for o in outcomes) else exit_codes.OK
