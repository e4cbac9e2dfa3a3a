"""Requests that several study-arrival watchers of one server make: each with its own poll, against one poll
shared through Airflow 3.3's shared streams (``source="search"``), beside the floor, in one run.

    .venv/bin/python benchmarks/watchers.py --watchers 5 --seconds 30 --poll-interval 1 --studies 6

A real Orthanc behind a front that counts the QIDO-RS searches (each search's first page; a search reads
on until a page is empty, so each costs two requests while the window holds studies). While the watchers
run, ``--studies`` studies arrive in two bursts each, alternately CT and MR; the watchers filter CT, MR,
nothing, nothing and US (then round again). The floor is one search of the window per interval, and one
search per settled study per watcher that judges it (its own filters). Prints a table, and keeps it as JSON
in benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydicom.uid import generate_uid  # noqa: E402

from airflow_dicomweb.core.client import DicomWebClient  # noqa: E402
from tests.dicom_factory import make_series  # noqa: E402
from tests.emulators.orthanc_front import OrthancFront  # noqa: E402
from tests.servers.orthanc_server import OrthancServer  # noqa: E402

FILTERS = [{"ModalitiesInStudy": "CT"}, {"ModalitiesInStudy": "MR"}, {}, {}, {"ModalitiesInStudy": "US"}]


def run_mode(orthanc: OrthancServer, shared: bool, args: argparse.Namespace, work: Path) -> dict:
    from airflow.triggers.shared_stream import SharedStreamManager

    from airflow_dicomweb.triggers.study_arrival import DicomWebStudyArrivalTrigger
    from tests.integration.test_study_arrivals import MemoryStateStore

    counts: Counter = Counter()

    def count(request):
        if request.method == "GET" and request.path.endswith("/studies"):
            query = dict(parse_qsl(request.query))
            if "offset" not in query:
                counts["window" if "StudyInstanceUID" not in query else "one study"] += 1
            counts["requests"] += 1
        return None

    with OrthancFront(orthanc, count, prefix="/dicom-web") as front:
        os.environ["AIRFLOW_CONN_DICOMWEB_WATCHED"] = json.dumps(
            {
                "conn_type": "dicomweb",
                "host": front.dicomweb_url,
                "login": orthanc.username,
                "password": orthanc.password,
            }
        )
        triggers = []
        for n in range(args.watchers):
            trigger = DicomWebStudyArrivalTrigger(
                dicomweb_conn_id="dicomweb_watched",
                filters=FILTERS[n % len(FILTERS)],
                poll_interval=args.poll_interval,
                settle_seconds=args.settle_seconds,
                source="search",
            )
            trigger.asset_state_store = MemoryStateStore()
            triggers.append(trigger)
        announced: Counter = Counter()

        def store(study: str, modality: str) -> None:
            files = make_series(
                work / generate_uid(),
                2,
                study_uid=study,
                study_date=time.strftime("%Y%m%d"),
                modality=modality,
            )
            with DicomWebClient.from_url(
                orthanc.dicomweb_url, login=orthanc.username, password=orthanc.password
            ) as c:
                assert c.store_instances(files).ok

        async def scenario() -> float:
            manager = SharedStreamManager()
            key = triggers[0].shared_stream_key()

            async def consume(n: int, trigger) -> None:
                events = (
                    trigger.filter_shared_stream(manager.subscribe(trigger_id=n, trigger=trigger, key=key))
                    if shared
                    else trigger.run()
                )
                async for _event in events:
                    announced[n] += 1

            started = time.monotonic()
            tasks = [asyncio.create_task(consume(n, t)) for n, t in enumerate(triggers)]
            await asyncio.sleep(args.poll_interval * 2)
            for k in range(args.studies):
                study = generate_uid()
                for _ in range(2):
                    await asyncio.to_thread(store, study, "CT" if k % 2 == 0 else "MR")
                    await asyncio.sleep(0.5)
            await asyncio.sleep(max(0.0, args.seconds - (time.monotonic() - started)))
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if shared:
                for n in range(len(triggers)):
                    await manager.unsubscribe(n, key)
                await manager.stop_all()
            return time.monotonic() - started

        elapsed = asyncio.run(scenario())
    return {
        "mode": "shared poll" if shared else "a poll each",
        "seconds": round(elapsed, 1),
        "window searches": counts["window"],
        "study searches": counts["one study"],
        "requests": counts["requests"],
        "announcements": sum(announced.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watchers", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--settle-seconds", type=float, default=3.0)
    parser.add_argument("--studies", type=int, default=6)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for shared in (False, True):
            orthanc = OrthancServer().start()
            try:
                rows.append(run_mode(orthanc, shared, args, Path(tmp)))
            finally:
                orthanc.stop()
    polls = args.seconds / args.poll_interval
    judged = sum(
        1 for k in range(args.studies) for n in range(args.watchers)
    )  # each watcher judges each settled study once
    rows.append(
        {
            "mode": "floor",
            "seconds": args.seconds,
            "window searches": round(polls),
            "study searches": judged,
            "requests": None,
            "announcements": None,
        }
    )
    columns = ["mode", "seconds", "window searches", "study searches", "requests", "announcements"]
    print(f"{args.watchers} watchers, poll every {args.poll_interval:g} s, {args.studies} studies in bursts")
    print("  ".join(f"{c:>16}" for c in columns))
    for row in rows:
        print("  ".join(f"{'' if row[c] is None else row[c]!s:>16}" for c in columns))
    out = ROOT / "benchmarks" / "results" / f"watchers-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))
    print(f"kept in {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
