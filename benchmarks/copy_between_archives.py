"""A study copied between two real archives: the streaming copy (WADO-RS into STOW-RS) against the two steps a
user chains today (retrieve to a folder, then store the folder), beside the floor, in one run.

    .venv/bin/python benchmarks/copy_between_archives.py --size-mib 1024 --repeat 3
    .venv/bin/python benchmarks/copy_between_archives.py --dest tiny-pacs --size-mib 256

Each way runs in a process of its own, against an emptied destination, interleaved with the others; each
reports its time, the bytes it wrote to disk (``write_bytes`` of /proc/self/io: the client's, not the
servers') and its peak RSS. Beside them, what a copy cannot avoid: reading the study from the source (one
WADO-RS response, drained), writing it to the destination (its instances posted from memory, batched as the
copy batches them, as many requests at once), and both at once, not linked (the two servers and the client
share this machine's cores, so the halves slow each other down whoever joins them). The floor is the slower
of the first two; both at once is shown beside it (a copy can beat it: it feeds the destination more gently
than posting from memory does).
Medians of ``--repeat`` runs. Prints a table, and keeps it as JSON in benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydicom.uid import generate_uid  # noqa: E402

from airflow_dicomweb.core.client import DicomWebClient  # noqa: E402
from airflow_dicomweb.core.copy.copy import copy_studies  # noqa: E402
from airflow_dicomweb.core.copy.sink import batch_is_full  # noqa: E402
from airflow_dicomweb.core.defaults import COPY_BATCH_BYTES, COPY_BATCH_FILES, COPY_CONCURRENCY  # noqa: E402
from airflow_dicomweb.core.media_types import DICOM  # noqa: E402
from airflow_dicomweb.core.multipart.writer import BodyPart, MultipartBody  # noqa: E402
from tests.dicom_factory import make_series  # noqa: E402

MODES = ("copy", "two-step", "read", "write", "both")


def client(spec: dict) -> DicomWebClient:
    return DicomWebClient.from_url(spec["url"], **spec["auth"], server=spec["server"])


def written_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def drain(src: DicomWebClient, study: str) -> None:
    """The source's half: the study read in one WADO-RS response, drained."""
    response = src.transport.send(
        "GET",
        src.transport.url("studies", study),
        headers={"Accept": f'multipart/related; type="{DICOM}"; transfer-syntax=*'},
    )
    for _ in response.iter_content(1 << 20):
        pass


def batched(parts: list[BodyPart]) -> list[list[BodyPart]]:
    """``parts`` batched as the copy batches them (:func:`batch_is_full`, with the copy's defaults)."""
    batches: list[list[BodyPart]] = []
    batch: list[BodyPart] = []
    for part in parts:
        batch.append(part)
        if batch_is_full(
            len(batch), sum(p.size for p in batch), batch_files=COPY_BATCH_FILES, batch_bytes=COPY_BATCH_BYTES
        ):
            batches.append(batch)
            batch = []
    if batch:
        batches.append(batch)
    return batches


def post_all(dst: DicomWebClient, batches: list[list[BodyPart]]) -> None:
    """The destination's half: the batches posted from memory, as many requests at once as the copy makes."""

    def post(batch: list[BodyPart]) -> None:
        body = MultipartBody(batch, part_type=DICOM)
        headers = {"Content-Type": body.content_type, "Accept": "application/dicom+json"}
        dst.transport.request("POST", dst.transport.url("studies"), data=body, headers=headers)

    at_once = min(COPY_CONCURRENCY, dst.transactions.store.profile.stow_concurrency or COPY_CONCURRENCY)
    with ThreadPoolExecutor(at_once) as pool:
        list(pool.map(post, batches))


def child(mode: str, source: dict, dest: dict, study: str, folder: str) -> dict:
    """One way, measured in this process."""
    before = written_bytes()
    started = time.perf_counter()
    with client(source) as src, client(dest) as dst:
        if mode == "copy":
            report = copy_studies(src, dst, [study])
            assert report.ok, report.problems()
        elif mode == "two-step":
            paths = src.retrieve_study(study, folder)
            result = dst.store_instances(paths)
            assert result.ok and len(result.stored) == len(paths), str(result)
            os.sync()  # the folder's bytes reach the disk, as they would before anyone trusts them
        elif mode == "read":
            drain(src, study)
        else:  # write, or both: the files are read before the clock, only the posting counts
            batches = batched(
                [
                    BodyPart.from_bytes(Path(p).read_bytes(), DICOM)
                    for p in sorted(Path(folder).rglob("*.dcm"))
                ]
            )
            started = time.perf_counter()
            if mode == "write":
                post_all(dst, batches)
            else:  # both halves at once, not linked: a reference beside the floor, not a floor
                with ThreadPoolExecutor(1) as reader:
                    read = reader.submit(drain, src, study)
                    post_all(dst, batches)
                    read.result()
    return {
        "seconds": time.perf_counter() - started,
        "disk_mib": (written_bytes() - before) / 2**20,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(mode: str, source: dict, dest: dict, study: str, folder: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, json.dumps([source, dest, study, folder])],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"{mode}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--instance-mib", type=int, default=16)
    parser.add_argument("--series", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dest", choices=["orthanc", "tiny-pacs"], default="orthanc")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, *json.loads(args.args))))
        return

    from tests.servers.orthanc_server import OrthancServer
    from tests.servers.tiny_pacs_server import TinyPacsServer

    def orthanc_spec(o) -> dict:
        return {
            "url": o.dicomweb_url,
            "auth": {"login": o.username, "password": o.password},
            "server": "orthanc",
        }

    work = Path(tempfile.mkdtemp(prefix="copy-bench-"))
    with OrthancServer() as source_server:
        dest_server = OrthancServer() if args.dest == "orthanc" else TinyPacsServer()
        dest_server.start()
        try:
            source = orthanc_spec(source_server)
            if args.dest == "orthanc":
                dest = orthanc_spec(dest_server)
            else:
                dest = {
                    "url": dest_server.dicomweb_url,
                    "auth": {"auth_type": "bearer", "password": dest_server.token},
                    "server": "tiny-pacs",
                }
            # the study: --series series of instances of --instance-mib each, uncompressed 16-bit pixels
            study = generate_uid()
            count = max(1, args.size_mib // args.instance_mib)
            side = int((args.instance_mib * 2**20 / 2) ** 0.5)
            files = []
            for s in range(args.series):
                n = count // args.series + (1 if s < count % args.series else 0)
                files += make_series(work / "seed" / str(s), n, study_uid=study, rows=side, columns=side)
            with client(source) as src:
                assert src.store_instances(files).ok
            total_mib = sum(f.stat().st_size for f in files) / 2**20
            results: dict[str, list[dict]] = {m: [] for m in MODES}

            def empty_dest() -> None:
                if args.dest == "orthanc":
                    dest_server.wipe()
                else:  # tiny_pacs has no delete: a fresh one
                    nonlocal dest
                    dest_server.stop()
                    dest_server.__init__()
                    dest_server.start()
                    dest = {**dest, "url": dest_server.dicomweb_url}

            for _ in range(args.repeat):
                for mode in MODES:
                    empty_dest()
                    folder = work / "seed" if mode in ("write", "both") else work / f"out-{mode}"
                    results[mode].append(run_child(mode, source, dest, study, str(folder)))
                    if mode == "two-step":
                        subprocess.run(["rm", "-rf", str(folder)], check=True)
        finally:
            dest_server.stop()
    median = {m: {k: statistics.median(r[k] for r in results[m]) for k in results[m][0]} for m in MODES}
    floor = max(median["read"]["seconds"], median["write"]["seconds"])
    print(f"{total_mib:.0f} MiB study ({count} instances in {args.series} series), Orthanc to {args.dest}, "
          f"medians of {args.repeat}")  # fmt: skip
    print(f"{'way':<28}{'seconds':>9}{'MiB/s':>8}{'x two-step':>11}{'disk MiB':>10}{'peak RSS MiB':>14}")
    rows = [("copy (streamed)", median["copy"]), ("retrieve, then store", median["two-step"])]
    for name, m in rows:
        print(
            f"{name:<28}{m['seconds']:>9.2f}{total_mib / m['seconds']:>8.0f}"
            f"{median['two-step']['seconds'] / m['seconds']:>11.2f}{m['disk_mib']:>10.0f}{m['peak_rss_mib']:>14.0f}"
        )
    print(f"{'floor':<28}{floor:>9.2f}{total_mib / floor:>8.0f}{median['two-step']['seconds'] / floor:>11.2f}"
          f"   read {median['read']['seconds']:.2f} s, write {median['write']['seconds']:.2f} s, "
          f"both at once, not linked {median['both']['seconds']:.2f} s")  # fmt: skip
    out = ROOT / "benchmarks" / "results" / f"copy-{args.dest}-{args.size_mib}mib.json"
    out.write_text(
        json.dumps(
            {
                "size_mib": total_mib,
                "dest": args.dest,
                "median": median,
                "floor_seconds": floor,
                "runs": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
