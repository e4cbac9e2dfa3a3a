"""DIMSE against dcmtk on the same Orthanc: this provider's C-STORE (``store_files``) against ``storescu``,
and its C-GET of a study (``get``) against ``getscu``, interleaved (the order alternating each round), with
the wall time of each and the ratio (above 1: this provider is faster). The C-STORE runs twice: on one
association (the default, as storescu) and on 4 at once (a connection's ``max_associations``). Orthanc's own
cost is in every run alike: it writes what it is sent, and reads what it sends.

    .venv/bin/python benchmarks/dimse_race.py --size-mib 256 --repeat 5

Writes benchmarks/results/dimse-<time>.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from airflow_dicomweb.core.dimse.get import get  # noqa: E402
from airflow_dicomweb.core.dimse.peer import DimsePeer  # noqa: E402
from airflow_dicomweb.core.dimse.store import store_files  # noqa: E402
from benchmarks.races import make_dataset  # noqa: E402
from tests.servers.orthanc_server import OrthancServer, free_port  # noqa: E402

CALLING = "DICOMWEB"


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=256, help="size of the study (256)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (median; 5)")
    opts = parser.parse_args()
    for tool in ("storescu", "getscu"):
        if shutil.which(tool) is None:
            raise SystemExit(f"dimse_race: {tool} is missing: apt-get install dcmtk")
    with tempfile.TemporaryDirectory(prefix="dicomweb-dimse-race-") as tmp:
        work = Path(tmp)
        files, studies = make_dataset(work / "data", opts.size_mib, studies_count=1)
        study = next(iter(studies))
        port = free_port()
        server = OrthancServer(
            work / "orthanc",
            DicomServerEnabled=True,
            DicomAet="ORTHANC",
            DicomPort=port,
            DicomCheckCalledAet=True,
            DicomModalities={"bench": [CALLING, "127.0.0.1", free_port()]},
        )
        server.start()
        peer = DimsePeer("127.0.0.1", port, "ORTHANC", calling_aet=CALLING)
        dcmtk_peer = ["-aet", CALLING, "-aec", "ORTHANC", "127.0.0.1", str(port)]
        several = dataclasses.replace(peer, max_associations=4)  # Orthanc serves 4 at once by default
        walls: dict[str, dict[str, list[float]]] = {
            "C-STORE": {"airflow-dicomweb": [], "airflow-dicomweb, 4 associations": [], "storescu": []},
            "C-GET": {"airflow-dicomweb": [], "getscu": []},
        }

        def ours_store(to: DimsePeer = peer) -> None:
            result = store_files(to, files)
            if len(result.stored) != len(files):
                raise RuntimeError(f"store: {result}")

        def dcmtk_store() -> None:
            subprocess.run(["storescu", *dcmtk_peer, *files], check=True, capture_output=True)

        def ours_get(dest: Path) -> None:
            result = get(peer, dest, study)
            if len(result.paths) != len(files):
                raise RuntimeError(f"get: {len(result.paths)} of {len(files)}")

        def dcmtk_get(dest: Path) -> None:
            dest.mkdir(parents=True)
            subprocess.run(
                ["getscu", "-S", "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study}",
                 "-od", str(dest), *dcmtk_peer],
                check=True,
                capture_output=True,
            )  # fmt: skip
            if len(list(dest.rglob("*"))) < len(files):
                raise RuntimeError("getscu brought fewer files than the study holds")

        try:
            stores = {
                "airflow-dicomweb": ours_store,
                "airflow-dicomweb, 4 associations": lambda: ours_store(several),
                "storescu": dcmtk_store,
            }
            gets = {"airflow-dicomweb": ours_get, "getscu": dcmtk_get}
            for round_ in range(opts.repeat):
                order = list(stores) if round_ % 2 == 0 else list(reversed(stores))
                for name in order:
                    server.wipe()
                    walls["C-STORE"][name].append(timed(stores[name]))
                order = list(gets) if round_ % 2 == 0 else list(reversed(gets))
                for name in order:
                    dest = work / "out" / f"{name}-{round_}"
                    walls["C-GET"][name].append(timed(lambda fn=gets[name], d=dest: fn(d)))
                    shutil.rmtree(dest)
                print(f"round {round_ + 1} of {opts.repeat} done", file=sys.stderr, flush=True)
        finally:
            server.stop()
    mib = sum(Path(f).stat().st_size for f in files) / 2**20 if Path(files[0]).exists() else opts.size_mib
    print(f"\n{len(files)} instances, {opts.size_mib} MiB, median of {opts.repeat}\n")
    print("| operation | client | median s | against dcmtk (dcmtk / this) |")
    print("|---|---|---|---|")
    report: dict = {"size_mib": opts.size_mib, "instances": len(files), "repeat": opts.repeat, "races": {}}
    for operation, by_tool in walls.items():
        dcmtk_name = next(n for n in by_tool if not n.startswith("airflow-dicomweb"))
        dcmtk = statistics.median(by_tool[dcmtk_name])
        report["races"][operation] = {"walls": by_tool, "ratios": {}}
        for name, runs in by_tool.items():
            median = statistics.median(runs)
            report["races"][operation]["ratios"][name] = dcmtk / median
            print(f"| {operation} | {name} | {median:.2f} | {dcmtk / median:.2f}x |")
    out = ROOT / "benchmarks" / "results" / f"dimse-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nkept in {out}; {mib:.0f} MiB sent and fetched each round")
    return 0


if __name__ == "__main__":
    sys.exit(main())
