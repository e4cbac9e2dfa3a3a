"""The regression guard: the zero-cost races (store, retrieve and search against nginx answering from files,
so the client's own cost shows) run on a git ref and on the working tree, interleaved (the order alternating
each round), and the ratio of each race printed. A ratio under 1 is the working tree slower than REF.

    scripts/bench.sh compare REF                      # e.g. main, HEAD~3, a tag
    scripts/bench.sh compare REF --size-mib 128 --repeat 3

REF's ``airflow_dicomweb`` is taken with ``git archive`` into a temporary folder and put ahead of the
installed package for its runs; the harness (this folder) is the working tree's for both.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.races import fresh_dir, make_dataset, worker  # noqa: E402
from benchmarks.zero_cost_server import ZeroCostServer  # noqa: E402

RACES = ("store", "retrieve", "search")


def export(ref: str, target: Path) -> str:
    """REF's package into ``target``; REF resolved to its commit."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if commit.returncode != 0:
        raise SystemExit(f"compare: {ref!r} is not a commit of this repository")
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit.stdout.strip(), "airflow_dicomweb"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return commit.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ref", help="the git ref to compare the working tree with")
    parser.add_argument("--size-mib", type=int, default=256, help="size of the data set (256)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per race (median; 5)")
    parser.add_argument("--search-instances", type=int, default=5000, help="results of the search race")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dicomweb-compare-") as tmp:
        work = Path(tmp)
        commit = export(opts.ref, work / "ref")
        sides = {f"{opts.ref} ({commit[:8]})": work / "ref", "working tree": None}
        files, studies = make_dataset(work / "data", opts.size_mib)
        study = max(studies, key=lambda s: sum(len(f) for f in studies[s].values()))
        expected = sum(len(f) for f in studies[study].values())
        walls: dict[str, dict[str, list[float]]] = {race: {side: [] for side in sides} for race in RACES}
        cpus: dict[str, dict[str, list[float]]] = {race: {side: [] for side in sides} for race in RACES}
        with ZeroCostServer(work / "nginx") as server:
            server.add_study(study, studies[study])
            server.set_search_results(opts.search_instances)
            base = {"url": server.url, "login": "-", "password": "-", "zero_cost": True}
            args = {
                "store": {**base, "files": files},
                "retrieve": {
                    **base,
                    "study": study,
                    "expected_instances": expected,
                    "files": [f for these in studies[study].values() for f in these],
                },
                "search": base,
            }
            order = list(sides)
            for round_ in range(opts.repeat):
                for race in RACES:
                    for side in order if round_ % 2 == 0 else reversed(order):
                        these = dict(args[race])
                        if race == "retrieve":
                            these["dest"] = str(fresh_dir(work / "out"))
                        result = worker("hook", race, these, work, source=sides[side])
                        walls[race][side].append(result["wall"])
                        cpus[race][side].append(result["cpu"])
                print(f"round {round_ + 1} of {opts.repeat} done", file=sys.stderr, flush=True)
        ref_side, tree = order
        report = {
            "ref": opts.ref,
            "commit": commit,
            "size_mib": opts.size_mib,
            "repeat": opts.repeat,
            "races": {},
        }
        print(f"\n| race | {ref_side} s | working tree s | speed ratio | CPU ratio |")
        print("|---|---|---|---|---|")
        for race in RACES:
            ref_wall, tree_wall = (
                statistics.median(walls[race][ref_side]),
                statistics.median(walls[race][tree]),
            )
            ref_cpu, tree_cpu = statistics.median(cpus[race][ref_side]), statistics.median(cpus[race][tree])
            speed, cpu = ref_wall / tree_wall, ref_cpu / tree_cpu if tree_cpu else float("nan")
            report["races"][race] = {"ref_walls": walls[race][ref_side], "tree_walls": walls[race][tree],
                                     "speed_ratio": speed, "cpu_ratio": cpu}  # fmt: skip
            print(f"| {race} | {ref_wall:.3f} | {tree_wall:.3f} | {speed:.2f}x | {cpu:.2f}x |")
        out = ROOT / "benchmarks" / "results" / f"compare-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps(report, indent=1) + "\n")
        print(
            f"\nratios above 1: the working tree is faster (or uses less CPU) than {opts.ref}; kept in {out}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
