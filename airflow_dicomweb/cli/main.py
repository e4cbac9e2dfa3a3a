"""``dicomweb``: the entry point. Parses the command line, builds a core client, runs the subcommand, and
turns every outcome into a documented exit code with a clear message on stderr (no secret: the core
redacts them)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence

from airflow_dicomweb import __version__
from airflow_dicomweb.cli import (
    check,
    copy,
    deidentify,
    delete,
    exit_codes,
    receive,
    retrieve,
    search,
    store,
    watch,
)
from airflow_dicomweb.cli.connection import add_connection_options, settings_from_args
from airflow_dicomweb.cli.progress import ProgressDisplay
from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import DicomWebConfigError, DicomWebError, InvalidUIDError

COMMANDS = (
    "store",
    "search",
    "retrieve",
    "copy",
    "delete",
    "operation",
    "watch",
    "receive",
    "deidentify",
    "check",
)

DESCRIPTION = """Store, search, retrieve and delete DICOM objects through DICOMweb (PS3.18).

The service is a positional service-root URL (as dcmweb takes it), $DICOMWEB_URL, --google
PROJECT/LOCATION/DATASET/STORE, or --conn-id (an Airflow connection); Azure's DICOM service and AWS
HealthImaging with --auth-type azure|aws (the server profile is told from the host, or --server); for copy it may be a DIMSE peer,
dimse://AET@host:port. Data goes to stdout, messages and progress to stderr, so pipes work."""

EPILOG = """exit codes:
  0    everything succeeded
  1    some items failed (files not stored, studies not retrieved, a failed operation)
  2    usage or configuration error
  3    server or network error after the retries (or an operation still running at --timeout)
  4    unexpected error (a bug: run again with --debug for the traceback, and report it)
  130  interrupted (Ctrl-C); run the same command again to resume

examples:
  export DICOMWEB_PASSWORD=...   # never on the command line
  dicomweb --user orthanc http://127.0.0.1:8042/dicom-web store -m 8 "./**.dcm"
  dicomweb --google my-project/us-central1/my-dataset/my-store search studies -f PatientName='DOE*'
  dicomweb --auth-type azure --tenant-id TENANT https://ws-dicom.dicom.azurehealthcareapis.com/v2 search studies
  dicomweb --auth-type aws --region us-east-1 https://dicom-medical-imaging.us-east-1.amazonaws.com/datastore/ID search studies
  dicomweb https://pacs.example/dicom-web retrieve studies/1.2.3 --dest export/
  dicomweb https://pacs.example/dicom-web copy https://archive.example/dicom-web 1.2.3
  dicomweb https://pacs.example/dicom-web receive --aet GATEWAY --port 11112
  dicomweb deidentify incoming/ --output research/ --key-file site.key --report deid.jsonl
  dicomweb check research/ --quarantine held/
  dicomweb --google my-project/us-central1/my-dataset/my-store delete studies/1.2.3

Run 'dicomweb COMMAND --help' for each command's options and examples."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dicomweb",
        usage="dicomweb [OPTIONS] [URL] COMMAND [COMMAND OPTIONS] (options of the connection go before COMMAND)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    parser.add_argument("--debug", action="store_true", help="log every request on stderr (secrets redacted)")
    add_connection_options(parser)
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, prog="dicomweb [OPTIONS] [URL]"
    )
    parser.set_defaults(needs_service=lambda args: True)
    store.add_parser(commands)
    search.add_parser(commands)
    retrieve.add_parser(commands)
    copy.add_parser(commands)
    delete.add_parsers(commands)
    watch.add_parser(commands)
    receive.add_parser(commands)
    deidentify.add_parser(commands)
    check.add_parser(commands)
    return parser


def split_url(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[str | None, list[str]]:
    """The positional service root before the command (``dicomweb URL store ...``), taken out of argv."""
    takes_value = {
        option
        for action in parser._actions  # argparse has no public accessor for this
        if action.option_strings and action.nargs != 0
        for option in action.option_strings
    }
    for i, token in enumerate(argv):
        if token in COMMANDS:
            break
        if token.startswith("-") or (i and argv[i - 1] in takes_value):
            continue
        return token, argv[:i] + argv[i + 1 :]
    return None, argv


def interrupted(command: str, progress: ProgressDisplay) -> None:
    """Ctrl-C: say what finished and leave at once. Worker threads may be mid-request, and waiting for them
    (as a thread pool's shutdown would) could take minutes; files in place are complete, temporary ones are
    removed by the next run, which resumes."""
    print(
        f"\ndicomweb {command}: interrupted; finished so far: {progress.summary()}. Files appear only when "
        "complete; run the same command again to resume.",
        file=sys.stderr,
        flush=True,
    )
    sys.stdout.flush()
    os._exit(exit_codes.INTERRUPTED)


def run_without_service(args: argparse.Namespace, progress: ProgressDisplay) -> int:
    """A command that needs no DICOMweb service before it, with the same exit codes."""
    signal.signal(signal.SIGINT, lambda signum, frame: interrupted(args.command, progress))
    try:
        return int(args.run(None, args, progress))
    except (DicomWebConfigError, InvalidUIDError, ValueError) as exc:
        print(f"dicomweb {args.command}: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    except BrokenPipeError:  # `dicomweb check ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exit_codes.OK
    except (DicomWebError, OSError) as exc:
        print(f"dicomweb {args.command}: {exc}", file=sys.stderr)
        return exit_codes.SERVER


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    url, rest = split_url(parser, list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(rest)
    args.url = url
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.debug:  # the store lists its failures itself, once, at the end
        logging.getLogger("airflow_dicomweb.core.stow.store").setLevel(logging.ERROR)
        logging.getLogger("airflow_dicomweb.core.copy").setLevel(logging.ERROR)
        # urllib3 logs a header it cannot parse (some servers' multipart answers) as a warning with a
        # traceback; the answer is still read, and its body checked by the multipart reader.
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    progress = ProgressDisplay(args.command, quiet=args.quiet)
    if not args.needs_service(args):  # a gateway landing in a folder, a copy from a DIMSE peer
        return run_without_service(args, progress)
    try:
        client = DicomWebClient(settings_from_args(args))
    except (DicomWebConfigError, InvalidUIDError) as exc:
        print(f"dicomweb: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    signal.signal(signal.SIGINT, lambda signum, frame: interrupted(args.command, progress))
    try:
        with client:
            return int(args.run(client, args, progress))
    except (DicomWebConfigError, InvalidUIDError, ValueError) as exc:
        print(f"dicomweb {args.command}: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    except DicomWebError as exc:
        print(f"dicomweb {args.command}: {exc}", file=sys.stderr)
        return exit_codes.SERVER
    except BrokenPipeError:  # `dicomweb search ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exit_codes.OK
    except Exception as exc:  # a bug: one line, no traceback (it may quote a server's answer at length)
        if args.debug:
            logging.getLogger(__name__).exception("dicomweb %s: unexpected error", args.command)
        message = client.transport.redact(str(exc))[:500]
        print(
            f"dicomweb {args.command}: unexpected error ({type(exc).__name__}: {message}); "
            "run again with --debug for the traceback",
            file=sys.stderr,
        )
        return exit_codes.INTERNAL


if __name__ == "__main__":
    sys.exit(main())
