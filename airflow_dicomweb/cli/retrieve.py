"""``dicomweb retrieve``: a study, series or instance (or, with ``--all``, the whole store) into
``DEST/<study>/<series>/<sop>.dcm``, atomically and resumably; or its metadata, a rendered image, frames or
a bulk value."""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from airflow_dicomweb.cli import exit_codes
from airflow_dicomweb.cli.parsers import add_command, add_number
from airflow_dicomweb.cli.progress import ProgressDisplay
from airflow_dicomweb.cli.resource_path import ResourcePath
from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.dicom.json_model import (
    SERIES_INSTANCE_UID,
    SOP_INSTANCE_UID,
    STUDY_INSTANCE_UID,
    first_value,
)
from airflow_dicomweb.core.errors import DicomWebError
from airflow_dicomweb.core.progress import ProgressTracker
from airflow_dicomweb.core.storage.paths import as_path, write_atomically
from airflow_dicomweb.core.uids import validate_uid
from airflow_dicomweb.core.wado.bulkdata import normalize_tag_path

EXAMPLES = """examples:
  dicomweb https://pacs.example/dicom-web retrieve studies/1.2.3 --dest export/
  dicomweb https://pacs.example/dicom-web retrieve --all --parallel 4 --dest backup/
  dicomweb https://pacs.example/dicom-web retrieve studies/1.2.3/series/4.5 --metadata
  dicomweb https://pacs.example/dicom-web retrieve studies/1.2.3 --rendered --viewport 256x256
  dicomweb https://pacs.example/dicom-web retrieve studies/1/series/2/instances/3 --frames 1,3-5
  dicomweb https://pacs.example/dicom-web retrieve studies/1/series/2/instances/3 --bulkdata 7FE00010

A second run of the same command fetches only what is missing: files appear only when complete.
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "retrieve",
        "retrieve instances, metadata, rendered images, frames or bulk data (WADO-RS)",
        "Retrieve PATH (studies/UID[/series/UID[/instances/UID]]) into DEST as "
        "DEST/<study>/<series>/<sop>.dcm, or with --all every study of the store, several at once.",
        EXAMPLES,
    )
    parser.add_argument("path", nargs="?", metavar="PATH", help="studies/UID[/series/UID[/instances/UID]]")
    parser.add_argument(
        "--dest",
        default=".",
        metavar="DIR",
        help="where files land (default: here); '-' writes the metadata, rendered image, bulk value or one "
        "frame to standard output instead",
    )
    parser.add_argument("--all", action="store_true", help="every study of the store")
    add_number(
        parser,
        "--parallel",
        "-m",
        kind=int,
        default=defaults.SERIES_CONCURRENCY,
        metavar="N",
        help="studies (--all) or series at once",
    )
    parser.add_argument(
        "--transfer-syntax",
        default=defaults.TRANSFER_SYNTAX,
        metavar="UID",
        help="as stored (*) by default; a UID or a name: htj2k, htj2k-lossless, jpeg-ls, jpeg-2000-lossless...",
    )
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--metadata", action="store_true", help="the metadata, as DICOM JSON")
    form.add_argument("--rendered", action="store_true", help="a rendered image (of the first instance)")
    form.add_argument("--frames", metavar="LIST", help="frames of an instance: 1,3-5")
    form.add_argument("--bulkdata", metavar="TAGPATH", help="a bulk value of an instance: 7FE00010")
    parser.add_argument("--viewport", metavar="WxH", help="with --rendered: the image's size")
    parser.add_argument("--format", choices=["png", "jpeg"], default="png", help="with --rendered (png)")
    parser.set_defaults(run=run)


def parse_frames(text: str) -> list[int]:
    numbers: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise ValueError(f"--frames takes numbers and ranges (1,3-5), not {text!r}")
        numbers.extend(range(int(first), int(last or first) + 1))
    if not numbers or min(numbers) < 1:
        raise ValueError(f"--frames counts from 1: {text!r}")
    return numbers


def parse_viewport(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or not int(width) or not int(height):
        raise ValueError(f"--viewport takes WIDTHxHEIGHT (256x256), not {text!r}")
    return int(width), int(height)


def run(client: DicomWebClient, args: argparse.Namespace, progress: ProgressDisplay) -> int:
    try:
        if args.all == bool(args.path):
            raise ValueError("give a PATH (studies/UID...) or --all, not both or neither")
        if args.parallel < 1:
            raise ValueError("--parallel must be 1 or more")
        path = ResourcePath.parse(args.path) if args.path else None
        frames = parse_frames(args.frames) if args.frames else None
        if (frames or args.bulkdata) and (path is None or path.level != "instance"):
            raise ValueError("--frames and --bulkdata need an instance: studies/UID/series/UID/instances/UID")
        args.viewport_size = parse_viewport(args.viewport) if args.viewport else None
        if args.all and (args.metadata or args.rendered or frames or args.bulkdata):
            raise ValueError("--all retrieves instances only")
        if args.dest == "-" and not (
            args.metadata or args.rendered or args.bulkdata or len(frames or []) == 1
        ):
            raise ValueError(
                "--dest - (standard output) takes one value: --metadata, --rendered, --bulkdata or one frame; "
                "instances need a folder"
            )
    except ValueError as exc:
        print(f"dicomweb retrieve: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    dest = Path(args.dest)
    if args.dest == "-":
        assert path is not None
        return to_stdout(client, path, args, frames)
    if args.all:
        return retrieve_all(client, dest, args, progress)
    assert path is not None
    if args.metadata:
        return write_metadata(client, path, dest)
    if args.rendered:
        return write_rendered(client, path, dest, args)
    if frames:
        return write_frames(client, path, dest, frames)
    if args.bulkdata:
        assert path.series is not None and path.instance is not None
        name = "-".join(normalize_tag_path(args.bulkdata)) + ".bin"
        target = dest / path.study / path.series / path.instance / name
        written = client.retrieve_bulkdata(
            study_instance_uid=path.study,
            series_instance_uid=path.series,
            sop_instance_uid=path.instance,
            tag_path=args.bulkdata,
            dest_path=target,
        )
        print(written)
        return exit_codes.OK
    before = {str(p) for p in (dest / path.study).rglob("*.dcm")} if (dest / path.study).is_dir() else set()
    files = retrieve_one(client, path, dest, args, progress)
    progress.close()
    fetched = len({str(f) for f in files} - before)
    print(
        f"{len(files)} instances of {path} in {dest} ({fetched} fetched, {len(files) - fetched} already there)"
    )
    return exit_codes.OK


def retrieve_one(
    client: DicomWebClient, path: ResourcePath, dest: Path, args: argparse.Namespace, progress: Any
) -> list:
    ts = args.transfer_syntax
    if path.instance:
        assert path.series is not None
        return client.retrieve_instance(path.study, path.series, path.instance, dest, ts)
    if path.series:
        return client.retrieve_series(
            path.study, path.series, dest, ts, skip_existing=True, progress=progress
        )
    return client.retrieve_study(
        path.study, dest, ts, skip_existing=True, series_concurrency=args.parallel, progress=progress
    )


def retrieve_all(
    client: DicomWebClient, dest: Path, args: argparse.Namespace, progress: ProgressDisplay
) -> int:
    """Every study, ``--parallel`` at once; a study that fails is named, the others go on."""
    studies = [
        first_value(item, STUDY_INSTANCE_UID)
        for item in client.iter_search("studies", includefield=["StudyInstanceUID"])
        if first_value(item, STUDY_INSTANCE_UID) is not None
    ]
    tracker = ProgressTracker(progress)
    failed: dict[str, str] = {}
    count = 0
    with ThreadPoolExecutor(max_workers=args.parallel, thread_name_prefix="study") as pool:
        futures = {
            pool.submit(
                client.retrieve_study,
                uid,
                dest,
                args.transfer_syntax,
                skip_existing=True,
                progress=tracker.part(),
            ): uid
            for uid in studies
        }
        for future in as_completed(futures):
            try:
                count += len(future.result())
            except DicomWebError as exc:
                failed[futures[future]] = str(exc)
    progress.close()
    print(f"{count} instances of {len(studies) - len(failed)} studies in {dest}")
    if failed:
        print(f"{len(failed)} of {len(studies)} studies failed:", file=sys.stderr)
        for uid, reason in sorted(failed.items()):
            print(f"  studies/{uid}: {reason}", file=sys.stderr)
        return exit_codes.ITEMS_FAILED
    return exit_codes.OK


def to_stdout(client: DicomWebClient, path: ResourcePath, args: argparse.Namespace, frames: Any) -> int:
    """``--dest -``: the one value asked for, on standard output (JSON for metadata, bytes otherwise)."""
    if args.metadata:
        json.dump(metadata_of(client, path), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return exit_codes.OK
    if args.rendered:
        found = rendered_image(client, path, args)
        if found is None:
            return exit_codes.ITEMS_FAILED
        value: Any = found[2]
    elif frames:
        assert path.series is not None and path.instance is not None
        value = client.retrieve_instance_frames(path.study, path.series, path.instance, frames)[0]
    else:
        assert path.series is not None and path.instance is not None
        value = client.retrieve_bulkdata(
            study_instance_uid=path.study,
            series_instance_uid=path.series,
            sop_instance_uid=path.instance,
            tag_path=args.bulkdata,
        )
    sys.stdout.flush()
    sys.stdout.buffer.write(value)
    sys.stdout.buffer.flush()
    return exit_codes.OK


def metadata_of(client: DicomWebClient, path: ResourcePath) -> Any:
    if path.instance:
        assert path.series is not None
        return client.retrieve_instance_metadata(path.study, path.series, path.instance)
    if path.series:
        return client.retrieve_series_metadata(path.study, path.series)
    return client.retrieve_study_metadata(path.study)


def write_metadata(client: DicomWebClient, path: ResourcePath, dest: Path) -> int:
    metadata = metadata_of(client, path)
    if path.instance:
        assert path.series is not None
        target = dest / path.study / path.series / f"{path.instance}.json"
    elif path.series:
        target = dest / path.study / f"{path.series}.json"
    else:
        target = dest / f"{path.study}.json"
    write_atomically(as_path(target), json.dumps(metadata, indent=1).encode())
    print(target)
    return exit_codes.OK


def rendered_image(
    client: DicomWebClient, path: ResourcePath, args: argparse.Namespace
) -> tuple[str, str, bytes] | None:
    """The rendered image of PATH (its first instance when PATH is a study or series), with the series and
    instance it shows; None (said on stderr) when there is no instance to render."""
    series, instance = path.series, path.instance
    if not instance:
        found = client.search_for_instances(path.study, series, limit=1)
        if not found:
            print(f"dicomweb retrieve: {path} has no instance to render", file=sys.stderr)
            return None
        # from the server's answer: validated before they name a file (a hostile "../../x" is refused)
        series = validate_uid(
            first_value(found[0], SERIES_INSTANCE_UID), "SeriesInstanceUID in the search result"
        )
        instance = validate_uid(
            first_value(found[0], SOP_INSTANCE_UID), "SOPInstanceUID in the search result"
        )
    assert series is not None
    image = client.retrieve_instance_rendered(
        path.study, series, instance, media_type=f"image/{args.format}", viewport=args.viewport_size
    )
    return series, instance, image


def write_rendered(client: DicomWebClient, path: ResourcePath, dest: Path, args: argparse.Namespace) -> int:
    found = rendered_image(client, path, args)
    if found is None:
        return exit_codes.ITEMS_FAILED
    series, instance, image = found
    target = dest / path.study / series / f"{instance}.{'jpg' if args.format == 'jpeg' else 'png'}"
    write_atomically(as_path(target), image)
    print(target)
    return exit_codes.OK


def write_frames(client: DicomWebClient, path: ResourcePath, dest: Path, frames: list[int]) -> int:
    assert path.series is not None and path.instance is not None
    values = client.retrieve_instance_frames(path.study, path.series, path.instance, frames)
    folder = dest / path.study / path.series / path.instance
    for number, value in zip(frames, values, strict=True):
        target = folder / f"frame-{number}.raw"
        write_atomically(as_path(target), value)
        print(target)
    return exit_codes.OK
