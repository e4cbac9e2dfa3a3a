"""Every performance target in one run: each benchmark in turn (its own process, its own servers), then one
table of the targets, what this run measured against its baseline and its floor, and whether it is met.

    scripts/bench.sh targets            # about 30 minutes on 2 cores
    .venv/bin/python benchmarks/targets.py --summary-only   # the table from the newest results

Each benchmark keeps its own JSON in benchmarks/results/; this run's table is kept as targets-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PYTHON = sys.executable
GIB = 1024**3

#: (name, command, the results file pattern it writes)
RUNS: list[tuple[str, list[str], str]] = [
    ("races", ["benchmarks/run.py", "--modes", "zero,orthanc", "--size-mib", "1024", "--repeat", "3",
               "--big-instance-mib", "0", "--search-instances", "2000"], "bench-*.json"),
    ("default connection", ["benchmarks/default_connection.py", "--repeat", "5"], "default-connection-*.json"),
    ("copy to Orthanc", ["benchmarks/copy_between_archives.py", "--size-mib", "1024"], "copy-orthanc-1024mib.json"),
    ("copy to tiny_pacs", ["benchmarks/copy_between_archives.py", "--dest", "tiny-pacs", "--size-mib", "256"],
     "copy-tiny-pacs-256mib.json"),
    ("de-identification", ["benchmarks/deidentify_compare.py", "--rounds", "3"], "deidentify-compare.json"),
    ("DIMSE", ["benchmarks/dimse_race.py", "--size-mib", "256", "--repeat", "3"], "dimse-*.json"),
    ("1 watcher", ["benchmarks/watchers.py", "--watchers", "1"], "watchers-*.json"),
    ("5 watchers", ["benchmarks/watchers.py", "--watchers", "5"], "watchers-*.json"),
]  # fmt: skip


def newest(pattern: str, since: float = 0.0) -> Path | None:
    found = [p for p in RESULTS.glob(pattern) if p.stat().st_mtime >= since]
    return max(found, key=_age) if found else None


def _age(path: Path) -> tuple[float, str]:
    """Newest last: by modification time, then by name (a fresh clone gives every file the same time, and
    the names carry the time of their run)."""
    return path.stat().st_mtime, path.name


def run_all() -> dict[str, Path]:
    written: dict[str, Path] = {}
    for name, command, pattern in RUNS:
        started = time.time()
        print(f"--- {name}: {' '.join(command)}", flush=True)
        subprocess.run([PYTHON, *command], cwd=ROOT, check=True)
        path = newest(pattern, started)
        if path is None:
            raise SystemExit(f"targets: {name} wrote no {pattern}")
        written[name] = path
    return written


def latest() -> dict[str, Path]:
    """The newest results of each benchmark (the two watcher runs told apart by their watchers)."""
    out: dict[str, Path] = {}
    for name, _, pattern in RUNS:
        if "watcher" in name:
            wanted = int(name.split()[0])
            runs = [
                p for p in RESULTS.glob(pattern) if json.loads(p.read_text())["args"]["watchers"] == wanted
            ]
            if runs:
                out[name] = max(runs, key=_age)
        elif (path := newest(pattern)) is not None:
            out[name] = path
    return out


Row = tuple[str, str, bool]


def races(data: dict) -> list[Row]:
    rows: list[Row] = []
    zero = data["results"].get("zero-cost server", {})
    store = zero.get("store", {})
    if {"curl", "raw", "hook"} <= set(store):
        curl, raw, hook = store["curl"], store["raw"], store["hook"]
        worst = min(c / h for c, h in zip(curl["walls"], hook["walls"], strict=False))
        ratio = curl["wall"] / hook["wall"]
        rows.append(("zero-cost store >= 0.7x curl", f"{ratio:.2f}x (worst run {worst:.2f}x)", worst >= 0.7))
        cpu = hook["cpu"] / raw["cpu"]
        floor = store.get("sendfile (floor)")
        text = f"{cpu:.2f}x ({hook['cpu'] / (hook['bytes'] / GIB):.2f} against {raw['cpu'] / (raw['bytes'] / GIB):.2f} s/GiB)"
        if floor:
            text += f"; the sendfile floor: {floor['cpu'] / raw['cpu']:.2f}x ({floor['cpu'] / (floor['bytes'] / GIB):.2f} s/GiB)"
        rows.append(("zero-cost store, client CPU per GiB <= 0.5x plain requests", text, cpu <= 0.5))
    for server, operations in data["results"].items():
        got = operations.get("retrieve", {})
        if {"raw", "files alone", "hook"} <= set(got):
            ideals = [
                max(r, f) for r, f in zip(got["raw"]["walls"], got["files alone"]["walls"], strict=False)
            ]
            ratios = [i / h for i, h in zip(ideals, got["hook"]["walls"], strict=False)]
            rows.append((
                f"{server} retrieve >= 0.9x its ideal in every run",
                f"median {statistics.median(ratios):.2f}x, runs {', '.join(f'{r:.2f}x' for r in ratios)}",
                min(ratios) >= 0.9,
            ))  # fmt: skip
    return rows


def default_connection(data: dict) -> list[Row]:
    hook = data["results"]["hook, default connection"]
    return [(
        "default connection, one-instance studies on Orthanc: >= 1.0x plain requests, <= 0.5 requests/instance",
        f"{hook['speed_vs_raw']:.2f}x, {hook['requests_per_instance']:.3f} requests/instance",
        hook["speed_vs_raw"] >= 1.0 and hook["requests_per_instance"] <= 0.5,
    )]  # fmt: skip


def copy(data: dict) -> list[Row]:
    median = data["median"]
    ratio = median["two-step"]["seconds"] / median["copy"]["seconds"]
    ceiling = median["two-step"]["seconds"] / data["floor_seconds"]
    both = median.get("both")  # the two halves at once, not linked (older results lack it)
    beside = (
        f"; both halves at once, not linked: {median['two-step']['seconds'] / both['seconds']:.2f}x"
        if both
        else ""
    )
    return [(
        f"copy Orthanc to {data['dest']} >= 1.5x two-step, 0 bytes to disk",
        f"{ratio:.2f}x, {median['copy']['disk_mib']:.0f} MiB to disk, {median['copy']['peak_rss_mib']:.0f} MiB "
        f"peak RSS; the floor allows at most {ceiling:.2f}x{beside}",
        ratio >= 1.5 and median["copy"]["disk_mib"] == 0,
    )]  # fmt: skip


def deidentification(data: dict) -> list[Row]:
    rows: list[Row] = []
    floor = "pydicom read+write (floor)"
    for corpus, tools in data["speed"].items():
        ours, dicognito, base = tools["airflow-dicomweb"], tools["dicognito"], tools[floor]
        for mode in ("one_core", "all_cores"):
            vs_floor = ours[mode] / base[mode]
            vs_dicognito = ours[mode] / dicognito[mode]
            where = f"de-identification, {corpus}, {mode.replace('_', ' ')}"
            rows.append((f"{where}: >= 0.5x the floor", f"{vs_floor:.2f}x", vs_floor >= 0.5))
            rows.append((
                f"{where}: >= 5x dicognito",
                f"{vs_dicognito:.2f}x; the floor itself is {base[mode] / dicognito[mode]:.2f}x dicognito",
                vs_dicognito >= 5,
            ))  # fmt: skip
    return rows


def dimse(data: dict) -> list[Row]:
    ratios = data["races"]
    store = ratios["C-STORE"]["ratios"]["airflow-dicomweb"]
    many = ratios["C-STORE"]["ratios"].get("airflow-dicomweb, 4 associations")
    get = ratios["C-GET"]["ratios"]["airflow-dicomweb"]
    return [
        ("DIMSE C-STORE >= 0.8x storescu", f"{store:.2f}x (1 association); {many:.2f}x with 4", store >= 0.8),
        ("DIMSE C-GET >= 0.8x getscu", f"{get:.2f}x", get >= 0.8),
    ]


def watchers(one: dict, five: dict) -> list[Row]:
    def shared(data: dict) -> dict:
        return next(r for r in data["rows"] if r["mode"] == "shared poll")

    a, b = shared(one), shared(five)
    return [(
        "5 arrival watchers cost no more than 1 (the poll)",
        f"searches of the window {b['window searches']} against {a['window searches']}; requests in all "
        f"{b['requests']} against {a['requests']} (one more study search per settled study and watcher)",
        b["window searches"] <= a["window searches"] + 1,
    )]  # fmt: skip


def summary(paths: dict[str, Path]) -> list[Row]:
    def load(name: str) -> dict:
        return json.loads(paths[name].read_text())

    judged: list[tuple[str, Callable[[], list[Row]]]] = [
        ("races", lambda: races(load("races"))),
        ("default connection", lambda: default_connection(load("default connection"))),
        ("copy to Orthanc", lambda: copy(load("copy to Orthanc"))),
        ("copy to tiny_pacs", lambda: copy(load("copy to tiny_pacs"))),
        ("de-identification", lambda: deidentification(load("de-identification"))),
        ("DIMSE", lambda: dimse(load("DIMSE"))),
        ("5 watchers", lambda: watchers(load("1 watcher"), load("5 watchers"))),
    ]
    rows: list[Row] = []
    for name, judge in judged:
        if name in paths and (name != "5 watchers" or "1 watcher" in paths):
            rows += judge()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--summary-only", action="store_true", help="judge the newest results, run nothing")
    opts = parser.parse_args()
    paths = latest() if opts.summary_only else run_all()
    rows = summary(paths)
    print("\n| target | this run | met |\n|---|---|---|")
    for target, result, met in rows:
        print(f"| {target} | {result} | {'yes' if met else '**no**'} |")
    print("\nfrom: " + ", ".join(f"{name}: {path.name}" for name, path in paths.items()))
    out = RESULTS / f"targets-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {"sources": {n: p.name for n, p in paths.items()},
             "targets": [{"target": t, "result": r, "met": m} for t, r, m in rows]},
            indent=1,
        ) + "\n"
    )  # fmt: skip
    print(f"kept in {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
