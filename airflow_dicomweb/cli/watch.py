"""``dicomweb watch``: announce each study once it is complete, as the study-arrival trigger does, one JSON
line per announcement on stdout. The same sources and settling as the trigger; the cursor may be kept in a
file (``--state``), so that a restart goes on where it stopped."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from airflow_dicomweb.cli import exit_codes
from airflow_dicomweb.cli.parsers import add_command, add_number
from airflow_dicomweb.cli.search import parse_filters
from airflow_dicomweb.core import arrivals, defaults
from airflow_dicomweb.core.arrivals.event import DEFAULT_EVENT_ATTRIBUTES
from airflow_dicomweb.core.arrivals.source import Cursor, WatchOptions
from airflow_dicomweb.core.arrivals.watch import poll_once
from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import DicomWebError
from airflow_dicomweb.core.storage.paths import write_atomically

EXAMPLES = """examples:
  dicomweb https://pacs.example/dicom-web watch --settle-seconds 120 -f ModalitiesInStudy=CT
  dicomweb http://orthanc:8042/dicom-web watch --source orthanc-changes --state watch.json | jq .
  dicomweb https://pacs.example/dicom-web watch --count 1 --timeout 600   # wait for the next study
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "watch",
        "announce each study once it is complete (one JSON line each)",
        "Poll the server's arrivals and print one JSON line per study once no new instance of it has\n"
        "arrived for --settle-seconds, and again when it grows: its StudyInstanceUID,\n"
        "NumberOfStudyRelatedInstances, update (false the first time) and main attributes. The studies\n"
        "already there when it starts are the baseline, unless --announce-existing. Runs until\n"
        "interrupted, --count or --timeout. With --state, the cursor is kept in a file after each poll's\n"
        "lines are printed: a restart announces what settled meanwhile, and nothing twice.",
        EXAMPLES,
    )
    parser.add_argument(
        "--source",
        choices=[arrivals.AUTO, *arrivals.names()],
        default=arrivals.AUTO,
        help="where arrivals are read (auto: the server profile's)",
    )
    add_number(
        parser,
        "--settle-seconds",
        kind=float,
        default=defaults.ARRIVAL_SETTLE_SECONDS,
        metavar="S",
        help="announce a study once no new instance of it arrived for S seconds (0: at first sight)",
    )
    add_number(
        parser,
        "--poll-interval",
        kind=float,
        default=defaults.CLI_ARRIVAL_POLL_INTERVAL,
        metavar="S",
        help="seconds between polls",
    )
    add_number(
        parser,
        "--lookback-days",
        kind=int,
        default=defaults.ARRIVAL_LOOKBACK_DAYS,
        metavar="N",
        help="search: the StudyDate window; feeds: how long an announced study is remembered",
    )
    parser.add_argument(
        "-f", "--filter", action="append", default=[], metavar="KEY=VALUE", help="a matching key (repeatable)"
    )
    parser.add_argument(
        "--include", action="append", default=[], metavar="KEYWORD", help="one more attribute to report"
    )
    parser.add_argument("--announce-existing", action="store_true", help="announce the studies already there")
    parser.add_argument("--state", type=Path, metavar="FILE", help="keep the cursor in FILE (JSON)")
    parser.add_argument("--count", type=int, metavar="N", help="stop after N announcements")
    parser.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    parser.set_defaults(run=run)


def load_state(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"--state {path}: not a readable cursor ({type(exc).__name__}: {exc})"[:300]
        ) from None
    return data if isinstance(data, dict) else {"unreadable": str(data)[:100]}


def run(client: DicomWebClient, args: argparse.Namespace, progress: Any) -> int:
    if args.settle_seconds < 0 or args.poll_interval <= 0:
        print("dicomweb watch: --settle-seconds must be 0 or more, --poll-interval positive", file=sys.stderr)
        return exit_codes.USAGE
    options = WatchOptions(
        filters=parse_filters(args.filter),
        lookback_days=args.lookback_days,
        announce_existing=args.announce_existing,
        event_attributes=tuple(dict.fromkeys([*DEFAULT_EVENT_ATTRIBUTES, *args.include])),
        settle_seconds=args.settle_seconds,
    )
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    cursor: Cursor | dict[str, Any] | None = load_state(args.state)
    announced = 0
    while True:
        try:
            polled = poll_once(client, args.source, options, cursor)
        except DicomWebError as exc:
            print(f"dicomweb watch: poll failed (next in {args.poll_interval:g} s): {exc}", file=sys.stderr)
        else:
            if polled.unreadable:
                print(
                    f"dicomweb watch: --state unreadable ({polled.unreadable}): new baseline", file=sys.stderr
                )
            if polled.baseline and not args.quiet:
                print(
                    f"dicomweb watch: {polled.baseline.removeprefix('study-arrival watcher: ')}",
                    file=sys.stderr,
                )
            for study in polled.announcements:
                sys.stdout.write(json.dumps(study, sort_keys=True) + "\n")
            sys.stdout.flush()  # printed before the cursor is kept: at least once
            cursor = polled.cursor
            if args.state is not None:
                write_atomically(args.state, json.dumps(polled.cursor.to_json()).encode())
            announced += len(polled.announcements)
        if args.count is not None and announced >= args.count:
            return exit_codes.OK
        if deadline is not None and time.monotonic() >= deadline:
            return exit_codes.OK
        time.sleep(
            args.poll_interval
            if deadline is None
            else max(0.0, min(args.poll_interval, deadline - time.monotonic()))
        )
