"""How the provider's cost grows with the work: N small instances stored, searched, retrieved and watched.

    scripts/bench.sh scale                                 # N = 1,000, 10,000 and 100,000 (about an hour)
    scripts/bench.sh scale --sizes 1000,10000 --repeat 1   # a quick look

Two shapes of data, 64x64 CT instances of about 9 KB:
- ``one study``: one study of N instances in 4 series;
- ``1-instance studies``: N studies of one series of one instance (CR, DX, mammography).

For each N and shape, on a new Orthanc (``server: orthanc``, whose QIDO-RS matches lists of UIDs):
- ``store``: the hook stores the folder (pre-check included), against ``raw``: plain requests, one instance
  per POST from 8 threads, no pre-check, into another new Orthanc;
- ``store again``: the same folder once more: every instance found by the pre-check, nothing sent;
- ``search``: every instance (and every study, for the studies shape), page by page;
- ``retrieve``: the study (one study), or 1,000 of the studies spread evenly over the N, 8 at once
  (studies; at 1,000 that is every study);
- ``watch``: the study-arrival watcher's baseline poll and a second one over a window holding every study.
And on the zero-cost server (nginx answering from files), the hook's store without the pre-check: the
client's own cost, with no server work in the way.

Each run is its own process: wall time, HTTP requests, client CPU and peak RSS are its own. Per instance
figures are printed as a table and kept in benchmarks/results/ (JSON), with their plot against N (PNG).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.races import fresh_dir, worker  # noqa: E402
from benchmarks.zero_cost_server import ZeroCostServer  # noqa: E402
from tests.dicom_factory import make_instance  # noqa: E402
from tests.servers.orthanc_server import OrthancServer  # noqa: E402

SHAPES = ("one study", "1-instance studies")
#: One-instance studies retrieved, spread evenly over the N on the server.
RETRIEVED_STUDIES = 1000
#: UIDs of one length whatever n is, so that a template file's UIDs are replaced byte for byte.
UID_ROOT = "1.2.826.0.1.3680043.8.498.99"


def uid(kind: int, n: int) -> str:
    return f"{UID_ROOT}.{kind}.1{n:010d}"


def make_instances(folder: Path, count: int, shape: str) -> Path:
    """``count`` 64x64 instances of ``shape`` under ``folder`` (1,000 files a subfolder), written from one
    template whose UIDs are replaced byte for byte: a hundred thousand in seconds."""
    fresh_dir(folder)
    template = make_instance(
        folder / "template.dcm",
        study_uid=uid(1, 0),
        series_uid=uid(2, 0),
        sop_uid=uid(3, 0),
        study_date=time.strftime("%Y%m%d"),
        seed=1,
    ).read_bytes()
    (folder / "template.dcm").unlink()
    placeholders = [uid(k, 0).encode() for k in (1, 2, 3)]
    for n in range(count):
        study = 0 if shape == "one study" else n
        series = n % 4 if shape == "one study" else n
        data = template
        for placeholder, value in zip(placeholders, (uid(1, study), uid(2, series), uid(3, n)), strict=True):
            data = data.replace(placeholder, value.encode())
        sub = folder / f"{n // 1000:04d}"
        if n % 1000 == 0:
            sub.mkdir()
        (sub / f"{n:07d}.dcm").write_bytes(data)
    return folder


def per_instance(run: dict, count: int) -> dict:
    return {
        **run,
        "count": count,
        "wall_ms": 1000 * run["wall"] / count,
        "cpu_ms": 1000 * run["cpu"] / count,
        "requests_per_instance": run["requests"] / count,
    }


def best_of(runs: list[dict]) -> dict:
    """The median run by wall time, with every run's wall time kept."""
    middle = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
    return {**middle, "walls": [r["wall"] for r in runs]}


def orthanc_runs(work: Path, folder: Path, count: int, shape: str, opts) -> dict[str, dict]:
    results: dict[str, dict] = {}

    def base(orthanc: OrthancServer) -> dict:
        return {"url": orthanc.dicomweb_url, "login": orthanc.username, "password": orthanc.password}

    def store_in_new(client: str) -> dict:
        place = work / f"orthanc-{client}"
        shutil.rmtree(place, ignore_errors=True)
        with OrthancServer(place) as orthanc:
            run = worker(client, "store", {**base(orthanc), "folder": str(folder)}, work)
            if orthanc.count_instances() != count:
                raise RuntimeError(f"{client} stored {orthanc.count_instances()} of {count}")
        shutil.rmtree(place, ignore_errors=True)
        return per_instance(run, count)

    if count <= opts.raw_max:
        results["store (raw: 8 threads, 1 a POST)"] = best_of(
            [store_in_new("raw") for _ in range(opts.repeat)]
        )
    place = work / "orthanc-kept"
    shutil.rmtree(place, ignore_errors=True)
    with OrthancServer(place) as orthanc:
        args = {**base(orthanc), "server": "orthanc"}
        stores = []
        for n in range(opts.repeat):
            if n:
                orthanc.wipe()
            stores.append(per_instance(worker("hook", "store", {**args, "folder": str(folder)}, work), count))
        results["store"] = best_of(stores)
        if orthanc.count_instances() != count:
            raise RuntimeError(f"the hook stored {orthanc.count_instances()} of {count}")
        again = worker("hook", "store", {**args, "folder": str(folder), "expect_present": True}, work)
        results["store again (pre-check only)"] = per_instance(again, count)
        counting = {**args, "options": {"count_only": True}}
        results["search instances"] = per_instance(worker("hook", "search", counting, work), count)
        if shape == "one study":
            dest = fresh_dir(work / "out")
            study = uid(1, 0)
            run = worker("hook", "retrieve", {**args, "study": study, "dest": str(dest)}, work)
        else:
            results["search studies"] = per_instance(worker("hook", "search-studies", args, work), count)
            dest = fresh_dir(work / "out")
            # 1,000 of the N studies, spread evenly: what one study's retrieve costs when the server
            # holds N (every study, at 100,000, would take hours of Orthanc's time: see docs/scaling.md)
            step = max(1, count // RETRIEVED_STUDIES)
            studies = [uid(1, n) for n in range(0, count, step)][:RETRIEVED_STUDIES]
            run = worker("hook", "retrieve-studies", {**args, "dest": str(dest), "studies": studies}, work)
            results["watch (2 polls)"] = per_instance(worker("hook", "watch", args, work), count)
        expected = count if shape == "one study" else min(count, RETRIEVED_STUDIES)
        if run["instances"] != expected:
            raise RuntimeError(f"retrieved {run['instances']} of {expected}")
        label = "retrieve" if shape == "one study" else f"retrieve {expected:,} of the studies"
        results[label] = per_instance(run, expected)
        shutil.rmtree(work / "out", ignore_errors=True)
    shutil.rmtree(place, ignore_errors=True)
    return results


def zero_cost_store(work: Path, folder: Path, count: int) -> dict:
    with ZeroCostServer(work / "nginx") as server:
        args = {
            "url": server.url,
            "login": "-",
            "password": "-",
            "zero_cost": True,
            "folder": str(folder),
            "options": {"skip_existing": False},
        }
        return per_instance(worker("hook", "store", args, work), count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="values of N (1000,10000,100000)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="one study, 1-instance studies")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each store (median; 1)")
    parser.add_argument(
        "--raw-max", type=int, default=100_000, help="largest N for the plain-requests store (100000)"
    )
    parser.add_argument("--no-zero", action="store_true", help="skip the zero-cost server")
    parser.add_argument("--table", metavar="JSON", help="print the Markdown table of a kept run, and stop")
    opts = parser.parse_args()
    if opts.table:
        print(markdown_table(json.loads(Path(opts.table).read_text())["results"]))
        return 0
    sizes = [int(n) for n in opts.sizes.split(",")]
    shapes = [s.strip() for s in opts.shapes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="dicomweb-scale-"))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, dict[str, dict]]] = {}
    try:
        for count in sizes:
            for shape in shapes:
                started = time.monotonic()
                print(f"N = {count:,}, {shape}: generating ...", flush=True)
                folder = make_instances(work / "data", count, shape)
                rows = results.setdefault(shape, {}).setdefault(str(count), {})
                rows.update(orthanc_runs(work, folder, count, shape, opts))
                if not opts.no_zero:
                    rows["store (zero-cost server, no pre-check)"] = zero_cost_store(work, folder, count)
                print_rows(shape, count, rows)
                print(f"  ({time.monotonic() - started:.0f} s)", flush=True)
                out = out_dir / f"scale-{stamp}.json"
                out.write_text(json.dumps({"options": vars(opts), "results": results}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nwritten to {out}")
    from benchmarks.plot import plot_scale

    print(f"plot: {plot_scale(results, out_dir / f'scale-{stamp}.png')}")
    return 0


def markdown_table(results: dict[str, dict[str, dict[str, dict]]]) -> str:
    """The README's table: one row per shape and operation, the three N side by side, and the growth from
    the smallest N to the largest."""
    lines = [
        "| shape | operation | ms/instance | requests/instance | client CPU ms/instance | peak RSS MiB |"
        " growth, ms (CPU) |",
        "|---|---|---|---|---|---|---|",
    ]
    for shape, by_count in results.items():
        counts = sorted(by_count, key=int)
        labels = list(dict.fromkeys(label for c in counts for label in by_count[c]))
        for label in labels:
            rows = [by_count[c].get(label) for c in counts]

            def cells(key: str, fmt: str, rows: list = rows) -> str:
                return " / ".join(format(r[key], fmt) if r else "-" for r in rows)

            first, last = rows[0], rows[-1]
            growth = (
                f"{last['wall_ms'] / first['wall_ms']:.2f}x ({last['cpu_ms'] / first['cpu_ms']:.2f}x)"
                if first and last
                else "-"
            )
            lines.append(
                f"| {shape} | {label} | {cells('wall_ms', '.2f')} | {cells('requests_per_instance', '.3f')} "
                f"| {cells('cpu_ms', '.2f')} | {cells('rss_peak', '.0f')} | {growth} |"
            )
    ns = " / ".join(f"{int(c):,}" for c in sorted(next(iter(results.values())), key=int))
    return f"N = {ns}\n\n" + "\n".join(lines)


def print_rows(shape: str, count: int, rows: dict[str, dict]) -> None:
    print(
        f"{'shape':<19} {'N':>7} {'operation':<40} {'ms/inst':>8} {'req/inst':>8} {'CPU ms/inst':>11} {'RSS MiB':>8}"
    )
    for label, r in rows.items():
        print(
            f"{shape:<19} {count:>7,} {label:<40} {r['wall_ms']:>8.3f} {r['requests_per_instance']:>8.3f} "
            f"{r['cpu_ms']:>11.3f} {r['rss_peak']:>8.0f}",
            flush=True,
        )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
