"""``dicomweb check``: the quality gate over files (no service needed), or over a study of the service named
before the command (``--study``). One JSON line per finding on stdout; exit 0 when everything passed, 1 when
something was found."""

from __future__ import annotations

import argparse
import json
import sys

from airflow_dicomweb.cli import exit_codes
from airflow_dicomweb.cli.parsers import add_command
from airflow_dicomweb.cli.progress import ProgressDisplay
from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.quality.finding import CHECKS
from airflow_dicomweb.core.quality.gate import QualityGate, quarantine_files

EXAMPLES = """examples:
  dicomweb check incoming/ --quarantine held/
  dicomweb check "export/**/*.dcm" --check series-completeness --check one-patient-per-study
  dicomweb --user orthanc http://127.0.0.1:8042/dicom-web check --study 1.2.840.113619.2.55.3

exit codes: 0 everything passed; 1 findings (named on stdout, one JSON line each); 2 usage."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "check",
        "the quality gate: series completeness, one patient per study, pixel decoding, names in free text",
        "Check DICOM files, or a study of the service named before the command (--study), before anything "
        "leaves the site: InstanceNumber gaps, uneven slice spacing and NumberOfFrames against the pixel data; "
        "one PatientID per study; pixel data that decodes (the quality extra); patients' names left in free "
        "text (their own, and those in --known-names-file). Findings name checks, studies, series and "
        "instances, never a name or an ID.",
        EXAMPLES,
    )
    parser.add_argument("sources", nargs="*", metavar="SRC", help="files, folders, patterns or object URLs")
    parser.add_argument("--study", metavar="UID", help="check this study of the service instead of files")
    parser.add_argument(
        "--check",
        action="append",
        choices=CHECKS,
        metavar="CHECK",
        help=f"run only these checks (repeatable): {', '.join(CHECKS)}",
    )
    parser.add_argument(
        "--known-names-file",
        metavar="FILE",
        help="a file naming, one per line, names that must not be left in free text (FAMILY^GIVEN); a file, "
        "so that no patient's name shows in a process list or a shell's history",
    )
    parser.add_argument(
        "--quarantine", metavar="DIR", help="move the files that fail here, with their reasons"
    )
    parser.set_defaults(run=run, needs_service=lambda args: bool(args.study))


def run(client: DicomWebClient | None, args: argparse.Namespace, progress: ProgressDisplay) -> int:
    progress.close()
    if bool(args.sources) == bool(args.study):
        print("dicomweb check: give files to check, or --study with a service, not both", file=sys.stderr)
        return exit_codes.USAGE
    names: list[str] = []
    if args.known_names_file:
        with open(args.known_names_file, encoding="utf-8") as handle:
            names = [line.strip() for line in handle if line.strip()]
    gate = QualityGate(args.check, known_names=names)
    if args.study:
        assert client is not None
        result = gate.check_study(client, args.study)
    else:
        result = gate.check_files(args.sources)
        if args.quarantine and result.quarantined:
            moved = quarantine_files(result, args.quarantine)
            print(f"dicomweb check: {len(moved)} files moved to {args.quarantine}", file=sys.stderr)
    for finding in result.findings:
        print(json.dumps(finding.to_dict()), flush=True)
    print(f"dicomweb check: {result}", file=sys.stderr)
    return exit_codes.OK if result.passed else exit_codes.ITEMS_FAILED
