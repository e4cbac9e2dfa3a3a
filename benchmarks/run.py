"""The benchmark: this provider against curl, plain requests and dicomweb-client, on one data set, in one run.

    scripts/bench.sh                      # everything: about 1 GiB, 5 interleaved runs per figure
    scripts/bench.sh --size-mib 256 --repeat 1 --search-instances 2000 --modes zero   # a quick look

Three races:
- ``zero``: a server that costs almost nothing (nginx answering from files), so the client's own cost
  shows: wall time, MB/s and client CPU seconds per GiB, with curl as the native ceiling.
- ``orthanc``: a real Orthanc, as users run it; every store run gets a new Orthanc.
- ``latency``: the same Orthanc behind a proxy adding a round-trip time (0 and 20 ms), store and retrieve
  at several concurrencies, drawn as a plot.
- ``s3``: the hook storing from an S3 prefix and retrieving into one (moto's S3 server), against the same
  from and to local files.

Each client runs in its own process (so peak RSS and CPU are its own), and runs of different clients are
interleaved. Prints one table; every run is kept in benchmarks/results/ (JSON), with the plot (PNG).
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

from pydicom.uid import generate_uid  # noqa: E402

from benchmarks.races import (  # noqa: E402
    INSTANCE_BYTES,
    latency_race,
    make_dataset,
    object_store_race,
    orthanc_race,
    zero_cost_race,
)
from tests.dicom_factory import make_series  # noqa: E402

GIB = 1024**3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the data set (default 1024)")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved runs per figure (median; 5)")
    parser.add_argument("--search-instances", type=int, default=20000, help="results of the search race")
    parser.add_argument("--big-instance-mib", type=int, default=200, help="the one big instance (0: skip)")
    parser.add_argument(
        "--modes", default="zero,orthanc,latency,s3", help="races to run (zero,orthanc,latency,s3)"
    )
    parser.add_argument("--latency-ms", type=float, default=20.0, help="round-trip time added (20)")
    parser.add_argument("--latency-size-mib", type=int, default=256, help="data set of the latency race")
    parser.add_argument("--latency-repeat", type=int, default=3, help="runs per point of the latency race")
    parser.add_argument("--concurrency", default="1,2,4,8", help="concurrencies of the latency race")
    opts = parser.parse_args()
    opts.concurrency = [int(n) for n in opts.concurrency.split(",")]
    modes = opts.modes.split(",")
    work = Path(tempfile.mkdtemp(prefix="dicomweb-bench-"))
    results: dict[str, dict] = {}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        print(f"generating about {opts.size_mib} MiB of 512x512 CT instances in {work} ...", flush=True)
        files, studies = make_dataset(work / "data", opts.size_mib)
        total = sum(Path(f).stat().st_size for f in files)
        print(f"  {len(files)} instances, {total / 2**20:.0f} MiB, 2 studies of 4 series", flush=True)
        big = None
        if opts.big_instance_mib:
            frames = max(1, opts.big_instance_mib * 1024 * 1024 // INSTANCE_BYTES)
            study, series = generate_uid(), generate_uid()
            [path] = make_series(
                work / "big", 1, study_uid=study, series_uid=series, rows=512, columns=512, frames=frames
            )
            big = (study, series, str(path))
            print(f"  one instance of {frames} frames, {path.stat().st_size / 2**20:.0f} MiB", flush=True)
        if "zero" in modes:
            results["zero-cost server"] = zero_cost_race(work, files, studies, big, opts)
        if "orthanc" in modes:
            results["Orthanc"] = orthanc_race(work, files, studies, big, opts)
        if "latency" in modes or "s3" in modes:
            small_files, small_studies = make_dataset(
                work / "latency-data", opts.latency_size_mib, studies_count=1
            )
            if "latency" in modes:
                results["latency"] = latency_race(work, small_files, small_studies, opts)
            if "s3" in modes:
                results["object storage"] = object_store_race(work, small_files, small_studies, opts)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print_table(results)
    print_targets(results)
    out = out_dir / f"bench-{stamp}.json"
    out.write_text(
        json.dumps(
            {"options": vars(opts), "instances": len(files), "bytes": total, "results": results}, indent=2
        )
    )
    print(f"\nwritten to {out}")
    if "latency" in results:
        from benchmarks.plot import plot_latency

        png = plot_latency(results["latency"], opts, out_dir / f"concurrency-{stamp}.png")
        print(f"plot: {png}")
    return 0


def print_table(results: dict) -> None:
    header = (
        f"{'server':<17} {'operation':<15} {'client':<18} {'wall s':>7} {'MB/s':>7} {'x base':>7} "
        f"{'min x':>6} {'CPU s':>6} {'CPU s/GiB':>9} {'RSS MiB':>8}"
    )
    print("\n" + header)
    for server, operations in results.items():
        for operation, rows in operations.items():
            base_label = next((b for b in ("curl", "raw") if b in rows), next(iter(rows)))
            base = rows.get(base_label)
            for label, r in rows.items():
                mbps = r["bytes"] / r["wall"] / 1e6 if r["wall"] and r["bytes"] else 0
                ratio = base["wall"] / r["wall"] if base and r["wall"] else 0
                # the worst of the interleaved runs, against the same round's baseline
                pairs = list(zip(base["walls"], r["walls"], strict=False)) if base else []
                worst = min((b / w for b, w in pairs if w), default=0)
                per_gib = f"{r['cpu'] / (r['bytes'] / GIB):>9.2f}" if r["bytes"] else f"{'':>9}"
                print(
                    f"{server:<17} {operation:<15} {label:<18} {r['wall']:>7.2f} {mbps:>7.0f} {ratio:>6.2f}x "
                    f"{worst:>5.2f}x {r['cpu']:>6.2f} {per_gib} {r['rss_growth']:>8.0f}"
                )
    print(
        "\nx base: against curl where it ran, else plain requests (raw), else the first row; "
        "min x: the worst interleaved run."
    )


def print_targets(results: dict) -> None:
    """The figures issue targets are judged by, from this run: the store against curl and its CPU against
    plain requests (and the sendfile floor's), the retrieve against its ideal, run by run."""
    print("\nAgainst the targets (median; worst run in brackets):")
    zero = results.get("zero-cost server", {})
    store = zero.get("store", {})
    if {"curl", "raw", "hook"} <= set(store):
        curl, raw, hook = store["curl"], store["raw"], store["hook"]
        worst = min(c / h for c, h in zip(curl["walls"], hook["walls"], strict=False))
        print(f"  zero-cost store, hook against curl: {curl['wall'] / hook['wall']:.2f}x ({worst:.2f}x)")
        print(
            f"  zero-cost store, client CPU per GiB against plain requests: hook {hook['cpu'] / raw['cpu']:.2f}x"
        )
        floor = store.get("sendfile (floor)")
        if floor:
            print(
                f"  ... the sendfile floor (no byte read by the client): {floor['cpu'] / raw['cpu']:.2f}x, "
                f"{floor['cpu'] / (floor['bytes'] / GIB):.2f} CPU s/GiB against the hook's "
                f"{hook['cpu'] / (hook['bytes'] / GIB):.2f}"
            )
    for server, operations in results.items():
        rows = operations.get("retrieve", {})
        if not {"raw", "files alone", "hook"} <= set(rows):
            continue
        # the ideal: the slower of one file from plain requests and writing the instances one file each
        ideals = [max(r, f) for r, f in zip(rows["raw"]["walls"], rows["files alone"]["walls"], strict=False)]
        ratios = [i / h for i, h in zip(ideals, rows["hook"]["walls"], strict=False)]
        print(
            f"  {server} retrieve, hook against its ideal: {statistics.median(ratios):.2f}x "
            f"({min(ratios):.2f}x), runs {', '.join(f'{r:.2f}x' for r in ratios)}"
        )


if __name__ == "__main__":
    sys.exit(main())
