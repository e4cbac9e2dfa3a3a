"""dicomweb_migration on the deployed stack: the stack's Orthanc copied to a second Orthanc by mapped shards
over the two Celery workers, one of them killed with SIGKILL in the middle of a shard."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter

from pydicom.uid import generate_uid

from tests.dicom_factory import make_series
from tests.emulators.orthanc_front import OrthancFront
from tests.servers.orthanc_server import OrthancServer
from tests.system.test_example_dags import orthanc_client

STUDY_DATE = "20210404"


def test_migration_survives_a_worker_killed_mid_shard(stack, tmp_path):
    """120 one-instance studies in 3 shards of 40, to a second Orthanc behind a front that holds every POST for
    1 s. Once a shard has some but not all of its studies at the destination, the worker running it is
    killed (every process of it). Its retry, on the other worker, sends only what had not arrived: every
    instance reaches the destination, none is sent twice beyond the requests in flight at the kill, and
    reconcile finds both sides equal."""
    sops_of_study: dict[str, str] = {}
    with orthanc_client(stack) as source:
        for n in range(120):
            study = generate_uid()
            [path] = make_series(
                tmp_path / str(n), 1, study_uid=study, rows=8, columns=8, study_date=STUDY_DATE
            )
            outcome = source.store_instances([path])
            assert outcome.ok
            sops_of_study[study] = outcome.outcomes[0].sop_instance_uid
    sops = set(sops_of_study.values())
    forwarded: Counter[str] = Counter()
    lock = threading.Lock()

    def slow_posts(request):
        if request.method == "POST":
            time.sleep(1)  # a distant, busy archive
            with lock:
                forwarded.update(s for s in sops if s.encode() in request.body)
        return None

    with OrthancServer() as archive, OrthancFront(archive, slow_posts) as front:
        stack.rest(
            "POST",
            "/connections",
            json={
                "connection_id": "dicomweb_migration_archive",
                "conn_type": "dicomweb",
                "host": front.dicomweb_url,
                "extra": json.dumps({"server": "orthanc"}),
            },
        )
        work = stack.root / "data" / "migration"
        conf = {
            "source_conn_id": "dicomweb_default",
            "dest_conn_id": "dicomweb_migration_archive",
            "filters": {"StudyDate": STUDY_DATE},
            "work_dir": str(work),
            "shard_size": 40,
        }
        run_id = stack.trigger("dicomweb_migration", conf)
        runs = "/dags/dicomweb_migration/dagRuns"
        folder = work / re.sub(r"[^A-Za-z0-9._-]", "_", run_id)

        def shards_running_on(name: str) -> list[int]:
            ids = stack.running_task_ids(name)
            items = stack.rest("GET", f"{runs}/{run_id}/taskInstances?limit=100")["task_instances"]
            return [t["map_index"] for t in items if t["id"] in ids and t["task_id"] == "copy_shard"]

        victim = None
        deadline = time.monotonic() + 300
        while victim is None and time.monotonic() < deadline:
            time.sleep(0.2)
            for name in ("worker", "worker-2"):
                for index in shards_running_on(name):
                    manifest = folder / f"shard-{index:05d}.txt"
                    if not manifest.exists():
                        continue
                    shard = {sops_of_study[uid] for uid in manifest.read_text().split()}
                    with lock:
                        done = len(shard & set(forwarded))
                    if 0 < done < len(shard):
                        victim = (name, index, shard)
        assert victim is not None, (
            f"no shard was caught half copied: {stack.task_states('dicomweb_migration', run_id)}"
        )
        name, victim_index, victim_sops = victim
        # A worker runs up to 4 tasks: every shard it holds dies with it, and each may have had requests
        # in flight. Those shards are the ones whose instances may be sent twice.
        killed = shards_running_on(name)
        killed_sops = set(victim_sops)
        for index in killed:
            manifest = folder / f"shard-{index:05d}.txt"
            if manifest.exists():
                killed_sops |= {sops_of_study[uid] for uid in manifest.read_text().split()}
        stack.kill_hard(name)
        try:
            state, tasks = stack.wait_for_run("dicomweb_migration", run_id, timeout=600)
        finally:
            stack.restart(name)  # the other tests keep their two workers
        assert state == "success", tasks
        assert archive.sop_instance_uids() == sops  # every instance is at the destination
    # Sent once each, but for the requests in flight when the worker died (2 at once per shard it was
    # running, one instance each).
    assert set(forwarded) == sops
    twice = {sop for sop, n in forwarded.items() if n > 1}
    assert twice <= killed_sops and len(twice) <= 2 * max(1, len(killed)), (twice, killed)
    totals = json.loads((folder / "report.json").read_text())
    assert (totals["studies"], totals["source_instances"], totals["destination_instances"]) == (120, 120, 120)
    assert totals["problems"] == 0 and totals["copied"] + totals["already_present"] == 120
    instances = stack.rest("GET", f"{runs}/{run_id}/taskInstances?limit=100")["task_instances"]
    [retried] = [t for t in instances if t["task_id"] == "copy_shard" and t["map_index"] == victim_index]
    assert retried["try_number"] >= 2 and retried["state"] == "success", retried
