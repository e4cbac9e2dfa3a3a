"""Where a retrieve's time goes: one study of about ``--size-mib`` of 512x512 CT instances from the
zero-cost server (nginx), retrieved by the core client in one stream under cProfile; prints the wall
time, the CPU time per GiB and the functions that cost most (their own time).

    python benchmarks/profile_retrieve.py --size-mib 1024 --top 25
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.races import make_dataset  # noqa: E402
from benchmarks.zero_cost_server import ZeroCostServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--top", type=int, default=25)
    opts = parser.parse_args()
    from airflow_dicomweb.core.client import DicomWebClient

    work = Path(tempfile.mkdtemp(prefix="dicomweb-profile-"))
    try:
        _files, studies = make_dataset(work / "data", opts.size_mib, studies_count=1)
        study = next(iter(studies))
        with ZeroCostServer(work / "nginx") as server:
            server.add_study(study, studies[study])
            out = work / "out"
            out.mkdir()
            os.sync()
            with DicomWebClient.from_url(server.url) as client:
                profile = cProfile.Profile()
                before = resource.getrusage(resource.RUSAGE_SELF)
                started = time.perf_counter()
                profile.enable()
                paths = client.retrieve_study(study, out, series_concurrency=1)
                profile.disable()
                wall = time.perf_counter() - started
                after = resource.getrusage(resource.RUSAGE_SELF)
        size = sum(p.stat().st_size for p in paths) / 2**30
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        print(
            f"{len(paths)} instances, {size:.2f} GiB in {wall:.2f} s (profiled); "
            f"{cpu / size:.2f} CPU s/GiB; {profile.getstats().__len__()} functions"
        )
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(opts.top)
        print(text.getvalue().replace(str(ROOT) + "/", ""))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
