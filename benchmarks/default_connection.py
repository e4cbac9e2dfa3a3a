"""The default connection against the one that names its server: N one-instance studies stored on Orthanc.

    .venv/bin/python benchmarks/default_connection.py                 # N = 3,000, median of 3
    .venv/bin/python benchmarks/default_connection.py --count 500 --repeat 1

Three clients, interleaved round by round, each run its own process into a new Orthanc that holds
``--preload`` other one-instance studies (so that there is something to ask about: an empty server is
known to hold none of the files after one question):
- ``raw``: plain requests, one instance per POST from 8 threads, no pre-check (the baseline);
- ``hook, server: orthanc``: the store as a user who named the server runs it (pre-check by UID lists);
- ``hook, default connection``: the connection left at ``server: auto``, which cannot tell Orthanc from a
  loopback URL: the store learns from the server whether it matches UID lists (two requests) and asks as
  Orthanc's profile would.

Printed: wall time, speed against raw, requests per instance, client CPU; kept as JSON in
benchmarks/results/default-connection-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.races import worker  # noqa: E402
from benchmarks.scale import make_instances  # noqa: E402
from tests.dicom_factory import make_series  # noqa: E402
from tests.servers.orthanc_server import OrthancServer  # noqa: E402

CLIENTS = {
    "raw (8 threads, 1 a POST)": ("raw", None),
    "hook, server: orthanc": ("hook", "orthanc"),
    "hook, default connection": ("hook", None),
}


def one_run(
    work: Path, folder: Path, count: int, client: str, server: str | None, preload: list[Path]
) -> dict:
    """One client's store into a new Orthanc; run again (at most twice) when the server does not hold every
    instance afterwards: a run that lost an instance times nothing (plain requests do not read the answer's
    instance list, and Orthanc has answered 200 for a body cut short, for the parts it read)."""
    for attempt in range(3):
        place = work / "orthanc"
        shutil.rmtree(place, ignore_errors=True)
        with OrthancServer(place) as orthanc:
            for path in preload:  # other studies the server holds already: the store must ask about its own
                orthanc.rest("POST", "/instances", data=path.read_bytes()).raise_for_status()
            args = {"url": orthanc.dicomweb_url, "login": orthanc.username, "password": orthanc.password}
            if server:
                args["server"] = server
            run = worker(client, "store", {**args, "folder": str(folder)}, work)
            held = orthanc.count_instances() - len(preload)
        shutil.rmtree(place, ignore_errors=True)
        if held == count:
            return run
        print(
            f"{client}: Orthanc holds {held} of the {count} instances after the run (attempt {attempt + 1})"
        )
    raise RuntimeError(f"{client}: Orthanc held {held} of the {count} instances after each of 3 runs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=3000, help="one-instance studies (3000)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (median; 3)")
    parser.add_argument(
        "--preload", type=int, default=100, help="other one-instance studies on the server first (100)"
    )
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dicomweb-default-conn-"))
    try:
        folder = make_instances(work / "data", opts.count, "1-instance studies")
        others = [
            p
            for n in range(opts.preload)
            for p in make_series(work / "others" / str(n), 1, rows=8, columns=8)
        ]
        runs: dict[str, list[dict]] = {label: [] for label in CLIENTS}
        for round_ in range(opts.repeat):
            for label, (client, server) in CLIENTS.items():
                run = one_run(work, folder, opts.count, client, server, others)
                runs[label].append(run)
                print(
                    f"round {round_ + 1}: {label}: {run['wall']:.2f} s, {run['requests']} requests",
                    flush=True,
                )
        raw_wall = statistics.median(r["wall"] for r in runs["raw (8 threads, 1 a POST)"])
        table = {}
        for label, these in runs.items():
            wall = statistics.median(r["wall"] for r in these)
            table[label] = {
                "wall_s": wall,
                "walls": [r["wall"] for r in these],
                "speed_vs_raw": raw_wall / wall,
                "requests_per_instance": statistics.median(r["requests"] for r in these) / opts.count,
                "cpu_s": statistics.median(r["cpu"] for r in these),
            }
        print(
            f"\n{opts.count:,} one-instance studies into a new Orthanc holding {opts.preload} others, "
            f"median of {opts.repeat}:"
        )
        print("| client | wall s | speed vs raw | requests / instance | client CPU s |")
        print("|---|---|---|---|---|")
        for label, row in table.items():
            print(
                f"| {label} | {row['wall_s']:.2f} | {row['speed_vs_raw']:.2f}x | "
                f"{row['requests_per_instance']:.3f} | {row['cpu_s']:.2f} |"
            )
        out = ROOT / "benchmarks" / "results" / f"default-connection-{time.strftime('%Y%m%d-%H%M%S')}.json"
        kept = {"count": opts.count, "preload": opts.preload, "repeat": opts.repeat, "results": table}
        out.write_text(json.dumps(kept, indent=2))
        print(f"kept: {out.relative_to(ROOT)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
