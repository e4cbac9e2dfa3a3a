"""The benchmark race: this provider against plain requests and dicomweb-client, on one data set and one
Orthanc, in one run.

    scripts/bench.sh                 # about 1 GiB: 2 studies of 512x512 16-bit CT
    scripts/bench.sh --size-mib 256 --repeat 1 --search-instances 2000     # a quick look

Each client runs in its own process (so peak RSS is its own); each figure is the median of ``--repeat``
runs; Orthanc's storage is new for every store run. Prints one table with ratios to the raw baseline and
writes it as JSON under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydicom.uid import generate_uid  # noqa: E402

from tests.dicom_factory import make_series  # noqa: E402
from tests.orthanc_server import OrthancServer  # noqa: E402

INSTANCE_BYTES = 512 * 512 * 2  # pixel data of one CT instance
CLIENTS = ("raw", "dicomweb-client", "hook")


def make_dataset(folder: Path, size_mib: int) -> tuple[list[str], dict[str, list[str]]]:
    """Two studies of several series of 512x512 CT instances, about ``size_mib`` in all."""
    count = max(8, size_mib * 1024 * 1024 // (INSTANCE_BYTES + 2000))
    studies: dict[str, list[str]] = {}
    files: list[str] = []
    per_study = [count // 2, count - count // 2]
    for n, instances in enumerate(per_study):
        study = generate_uid()
        studies[study] = []
        series_count = 4
        for s in range(series_count):
            share = instances // series_count + (1 if s < instances % series_count else 0)
            made = make_series(
                folder / f"study{n}" / f"series{s}", share, study_uid=study, rows=512, columns=512
            )
            studies[study] += [str(p) for p in made]
        files += studies[study]
    return files, studies


def worker(client: str, operation: str, args: dict, workdir: Path) -> dict:
    os.sync()  # no run pays for the page-cache writeback of the one before it
    args_file = workdir / f"args-{client}-{operation}.json"
    args_file.write_text(json.dumps(args))
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "worker.py"), client, operation, str(args_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{client} {operation} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict]) -> dict:
    walls = [r["wall"] for r in runs]
    middle = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
    return {
        **middle,
        "wall": statistics.median(walls),
        "rss_growth": max(r["rss_peak"] - r["rss_start"] for r in runs),
        "runs": len(runs),
        "walls": walls,  # every run, for the spread
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the data set (default 1024)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is reported")
    parser.add_argument(
        "--search-instances", type=int, default=20000, help="instances of the search data set"
    )
    parser.add_argument(
        "--big-instance-mib",
        type=int,
        default=200,
        help="size of the one multi-frame instance stored and retrieved alone (0: skip)",
    )
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument(
        "--operations",
        default="store,retrieve,big,search",
        help="which races to run (default: all of store,retrieve,big,search)",
    )
    opts = parser.parse_args()
    clients = opts.clients.split(",")
    work = Path(tempfile.mkdtemp(prefix="dicomweb-bench-"))
    results: dict[str, dict[str, dict]] = {
        "store": {},
        "retrieve": {},
        "search": {},
        "store 1 big": {},
        "retrieve 1 big": {},
    }
    try:
        print(f"generating about {opts.size_mib} MiB of 512x512 CT instances in {work} ...", flush=True)
        files, studies = make_dataset(work / "data", opts.size_mib)
        total_bytes = sum(Path(f).stat().st_size for f in files)
        print(f"  {len(files)} instances, {total_bytes / 2**20:.0f} MiB, 2 studies, 8 series", flush=True)

        operations = set(opts.operations.split(","))
        # --- store: a new Orthanc for every run ---------------------------------------------------
        for client in clients if "store" in operations else []:
            runs = []
            for _ in range(opts.repeat):
                with OrthancServer(work / f"orthanc-{client}-{len(runs)}") as orthanc:
                    args = {
                        "url": orthanc.dicomweb_url,
                        "login": orthanc.username,
                        "password": orthanc.password,
                        "files": files,
                    }
                    runs.append(worker(client, "store", args, work))
                    assert orthanc.count_instances() == len(files), f"{client} did not store every instance"
                shutil.rmtree(work / f"orthanc-{client}-{len(runs) - 1}", ignore_errors=True)
            results["store"][client] = median_of(runs)
            print(f"  store    {client:<16} {results['store'][client]['wall']:.2f} s", flush=True)

        with OrthancServer(work / "orthanc") as orthanc:
            base = {"url": orthanc.dicomweb_url, "login": orthanc.username, "password": orthanc.password}
            if "retrieve" in operations:
                worker("hook", "store", {**base, "files": files}, work)
            study = max(studies, key=lambda s: len(studies[s]))
            # --- retrieve the larger study -------------------------------------------------------
            variants = [(c, c, {}) for c in clients] if "retrieve" in operations else []
            if "hook" in clients and variants:
                variants.append(("hook", "hook (4 series at once)", {"series_concurrency": 4}))
            runs_by_label: dict[str, list[dict]] = {label: [] for _, label, _ in variants}
            for _ in range(opts.repeat):  # round robin: no client always runs first or last
                for client, label, options in variants:
                    dest = work / "out"
                    shutil.rmtree(dest, ignore_errors=True)
                    dest.mkdir()
                    args = {
                        **base,
                        "study": study,
                        "dest": str(dest),
                        "expected_instances": len(studies[study]),
                        "options": options,
                    }
                    run = worker(client, "retrieve", args, work)
                    if client != "raw":
                        assert run["instances"] == len(studies[study]), f"{label} missed instances"
                    runs_by_label[label].append(run)
            for label, runs in runs_by_label.items():
                results["retrieve"][label] = median_of(runs)
                print(f"  retrieve {label:<16} {results['retrieve'][label]['wall']:.2f} s", flush=True)
            shutil.rmtree(work / "out", ignore_errors=True)

        # --- one big multi-frame instance: memory must not grow with it ----------------------------
        if opts.big_instance_mib and "big" in operations:
            frames = max(1, opts.big_instance_mib * 1024 * 1024 // INSTANCE_BYTES)
            big_study = generate_uid()
            [big] = make_series(work / "big", 1, study_uid=big_study, rows=512, columns=512, frames=frames)
            print(f"  one instance of {frames} frames, {big.stat().st_size / 2**20:.0f} MiB", flush=True)
            for client in clients:
                with OrthancServer(work / f"orthanc-big-{client}") as orthanc:
                    base = {
                        "url": orthanc.dicomweb_url,
                        "login": orthanc.username,
                        "password": orthanc.password,
                    }
                    results["store 1 big"][client] = median_of(
                        [worker(client, "store", {**base, "files": [str(big)]}, work)]
                    )
                    dest = work / "out-big"
                    shutil.rmtree(dest, ignore_errors=True)
                    dest.mkdir()
                    results["retrieve 1 big"][client] = median_of(
                        [
                            worker(
                                client,
                                "retrieve",
                                {**base, "study": big_study, "dest": str(dest), "expected_instances": 1},
                                work,
                            )
                        ]
                    )
                shutil.rmtree(work / f"orthanc-big-{client}", ignore_errors=True)
                print(
                    f"  big      {client:<16} store {results['store 1 big'][client]['wall']:.2f} s, "
                    f"retrieve {results['retrieve 1 big'][client]['wall']:.2f} s",
                    flush=True,
                )
            shutil.rmtree(work / "big", ignore_errors=True)
            shutil.rmtree(work / "out-big", ignore_errors=True)

        # --- search: many small instances in a store of their own ----------------------------------
        if "search" in operations:
            search_race(work, clients, opts, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print_table(results, len(files), total_bytes)
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {
                "size_mib": opts.size_mib,
                "instances": len(files),
                "bytes": total_bytes,
                "search_instances": opts.search_instances,
                "repeat": opts.repeat,
                "results": results,
            },
            indent=2,
        )
    )
    print(f"\nwritten to {out}")
    return 0


def search_race(work: Path, clients: list[str], opts: argparse.Namespace, results: dict) -> None:
    """Many small instances in a store of their own, searched through every page."""
    with OrthancServer(work / "orthanc-search") as orthanc:
        base = {"url": orthanc.dicomweb_url, "login": orthanc.username, "password": orthanc.password}
        print(f"  storing {opts.search_instances} small instances for the search race ...", flush=True)
        small = make_series(work / "small", opts.search_instances, rows=8, columns=8)
        worker("hook", "store", {**base, "files": [str(p) for p in small]}, work)
        shutil.rmtree(work / "small", ignore_errors=True)
        variants = [(c, c, {}) for c in clients]
        if "hook" in clients:
            variants.append(("hook", "hook (pages of 5,000)", {"page_size": 5000}))
        for client, label, options in variants:
            runs = [worker(client, "search", {**base, "options": options}, work) for _ in range(opts.repeat)]
            results["search"][label] = median_of(runs)
            assert results["search"][label]["instances"] == opts.search_instances, f"{label} missed results"
            print(f"  search   {label:<16} {results['search'][label]['wall']:.2f} s", flush=True)


def print_table(results: dict, instances: int, total_bytes: int) -> None:
    print(
        f"\n{'operation':<9} {'client':<22} {'wall s':>8} {'inst/s':>8} {'MB/s':>8} {'x raw':>7} "
        f"{'RSS growth MiB':>15}"
    )
    for operation, rows in results.items():
        raw = rows.get("raw")
        for label, r in rows.items():
            rate = r["instances"] / r["wall"] if r["wall"] else 0
            mbps = r["bytes"] / r["wall"] / 1e6 if r["wall"] and r["bytes"] else 0
            ratio = raw["wall"] / r["wall"] if raw and r["wall"] else 0
            print(
                f"{operation:<9} {label:<22} {r['wall']:>8.2f} {rate:>8.0f} {mbps:>8.0f} {ratio:>6.2f}x "
                f"{r['rss_growth']:>15.0f}"
            )


if __name__ == "__main__":
    sys.exit(main())
