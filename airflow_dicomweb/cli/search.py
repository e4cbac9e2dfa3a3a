"""``dicomweb search``: QIDO-RS at any level, every page unless ``--limit``; a table on a terminal, JSON,
NDJSON or CSV otherwise. Results are written as the pages arrive."""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from pydicom.datadict import keyword_for_tag, tag_for_keyword

from airflow_dicomweb.cli import exit_codes
from airflow_dicomweb.cli.parsers import add_command
from airflow_dicomweb.core.client import DicomWebClient

#: The usual columns of each level; ``--include`` adds more.
COLUMNS = {
    "studies": [
        "StudyInstanceUID",
        "StudyDate",
        "PatientName",
        "PatientID",
        "AccessionNumber",
        "ModalitiesInStudy",
        "StudyDescription",
        "NumberOfStudyRelatedInstances",
    ],
    "series": [
        "SeriesInstanceUID",
        "Modality",
        "SeriesNumber",
        "SeriesDescription",
        "NumberOfSeriesRelatedInstances",
    ],
    "instances": ["SOPInstanceUID", "SOPClassUID", "InstanceNumber", "Rows", "Columns", "NumberOfFrames"],
}

EXAMPLES = """examples:
  dicomweb https://pacs.example/dicom-web search studies -f PatientName='DOE^J*' -f StudyDate=20240101-
  dicomweb https://pacs.example/dicom-web search instances --study 1.2.3 --include StudyDate --csv > i.csv
  dicomweb --google p/l/d/s search series -f Modality=CT --ndjson | jq -r '."0020000E".Value[0]'
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "search",
        "search studies, series or instances (QIDO-RS)",
        "Search with matching keys (-f KEYWORD=VALUE; wildcards * and ?, date ranges A-B, "
        "lists a,b). Every page is fetched unless --limit is given. On a terminal the results are a "
        "table; in a pipe, NDJSON (one DICOM JSON dataset per line).",
        EXAMPLES,
    )
    parser.add_argument("level", choices=["studies", "series", "instances"])
    parser.add_argument("--study", metavar="UID", help="within this study")
    parser.add_argument("--series", metavar="UID", help="within this series (with --study)")
    parser.add_argument(
        "-f", "--filter", action="append", default=[], metavar="KEY=VALUE", help="a matching key (repeatable)"
    )
    parser.add_argument(
        "--include", action="append", default=[], metavar="FIELD", help="includefield (or all)"
    )
    parser.add_argument("--fuzzy", action="store_true", help="fuzzy matching of person names")
    parser.add_argument("--limit", type=int, metavar="N", help="at most N results")
    parser.add_argument("--offset", type=int, default=0, metavar="N", help="skip the first N results")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="format", action="store_const", const="json", help="one JSON array")
    fmt.add_argument("--ndjson", dest="format", action="store_const", const="ndjson", help="a dataset a line")
    fmt.add_argument("--csv", dest="format", action="store_const", const="csv", help="CSV with the columns")
    fmt.add_argument("--table", dest="format", action="store_const", const="table", help="a readable table")
    parser.set_defaults(run=run, format=None)


def parse_filters(items: list[str]) -> dict[str, str]:
    filters = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"-f takes KEYWORD=VALUE, not {item!r}")
        filters[key.strip()] = value
    return filters


def value_text(item: dict[str, Any], keyword: str) -> str:
    """A column's text: values joined with backslash as DICOM does, person names in alphabetic form."""
    tag = tag_for_keyword(keyword)
    element = item.get(f"{tag:08X}" if tag is not None else keyword) or {}
    values = element.get("Value") or []
    texts = []
    for v in values:
        if isinstance(v, dict):
            v = v.get("Alphabetic", "")
        texts.append(str(v))
    return "\\".join(texts)


def columns_for(level: str, include: list[str]) -> list[str]:
    extra = []
    for field in include:
        if field.lower() == "all":
            continue
        keyword = field if tag_for_keyword(field) is not None else (keyword_for_tag(int(field, 16)) or field)
        if keyword not in COLUMNS[level] and keyword not in extra:
            extra.append(keyword)
    return COLUMNS[level] + extra


def write_table(results: Iterator[dict], columns: list[str], out: TextIO) -> int:
    """A table sized to the terminal: the whole result is needed for the widths, so it is gathered first."""
    rows = [[value_text(r, c) for c in columns] for r in results]
    width = shutil.get_terminal_size((160, 24)).columns
    # UIDs are never cut (a cut UID is useless); other columns shrink to fit the terminal, down to 12.
    limit = [64 if c.endswith("UID") else 40 for c in columns]
    widths = [min(max([len(c)] + [len(row[i]) for row in rows]), limit[i]) for i, c in enumerate(columns)]
    shrinkable = [i for i, c in enumerate(columns) if not c.endswith("UID")]
    while sum(widths) + 2 * len(widths) > width and shrinkable and max(widths[i] for i in shrinkable) > 12:
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1

    def line(cells: list[str]) -> str:
        return "  ".join(
            (c if len(c) <= w else c[: w - 1] + "…").ljust(w) for c, w in zip(cells, widths, strict=True)
        )

    print(line(columns).rstrip(), file=out)
    for row in rows:
        print(line(row).rstrip(), file=out)
    return len(rows)


def run(client: DicomWebClient, args: argparse.Namespace, progress: Any) -> int:
    try:
        filters = parse_filters(args.filter)
    except ValueError as exc:
        print(f"dicomweb search: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    if args.series and not args.study:
        print("dicomweb search: --series needs --study", file=sys.stderr)
        return exit_codes.USAGE
    results = client.iter_search(
        args.level,
        study_instance_uid=args.study,
        series_instance_uid=args.series,
        filters=filters,
        includefield=args.include or None,
        fuzzymatching=args.fuzzy,
        limit=args.limit,
        offset=args.offset,
    )
    fmt = args.format or ("table" if sys.stdout.isatty() else "ndjson")
    out = sys.stdout
    count = 0
    if fmt == "table":
        count = write_table(results, columns_for(args.level, args.include), out)
    elif fmt == "csv":
        columns = columns_for(args.level, args.include)
        writer = csv.writer(out)
        writer.writerow(columns)
        for item in results:
            writer.writerow([value_text(item, c) for c in columns])
            count += 1
    elif fmt == "json":
        out.write("[")
        for item in results:
            out.write(("," if count else "") + "\n" + json.dumps(item))
            count += 1
        out.write("\n]\n" if count else "]\n")
    else:
        for item in results:
            out.write(json.dumps(item) + "\n")
            count += 1
    out.flush()
    singular = {"studies": "study", "series": "series", "instances": "instance"}[args.level]
    print(f"{count} {args.level if count != 1 else singular}", file=sys.stderr)
    return exit_codes.OK
