"""The example DAGs, triggered through the REST API of a deployed stack (docker-compose.yaml's services as
local processes: api-server, scheduler, dag-processor, triggerer and a Celery worker, on Postgres and Redis),
exactly as a user would: every task's final state, and what landed on the server and on disk."""

import json
import os
import re
import shutil
import threading
import time

import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from airflow_dicomweb.core.client import DicomWebClient
from tests.dicom_factory import make_series
from tests.integration.test_google_store_admin import spare_orthanc  # noqa: F401  (a fixture)
from tests.system.conftest import GOOGLE_CONN_ID

pytestmark = pytest.mark.system


def orthanc_client(stack) -> DicomWebClient:
    password = (stack.root / "secrets" / "orthanc_password").read_text()
    return DicomWebClient.from_url(
        f"http://127.0.0.1:{stack.ports['orthanc']}/dicom-web", login="airflow", password=password
    )


def operation_polls(google) -> int:
    return sum(1 for method, path in google.requests if method == "GET" and "/operations/" in path)


def held(stack, uid: str) -> bool:
    return bool(stack.orthanc("POST", "/tools/lookup", data=uid).json())


def test_the_stack_shares_its_secrets_and_logs_in_as_documented(stack):
    """Every service reads the secrets airflow-init generated once; the admin login works; the connection
    was stored encrypted (a Fernet key is set)."""
    secrets = stack.root / "secrets"
    assert {p.name for p in secrets.iterdir()} >= {"fernet_key", "jwt_secret", "api_secret_key"}
    for name in ("api-server", "scheduler", "worker", "triggerer", "dag-processor"):
        assert "JWT_SECRET_CMD" in " ".join(stack.process_env(name, {}))
    assert stack.rest("GET", "/connections/dicomweb_default")["conn_type"] == "dicomweb"


def test_ingest_stores_checks_and_moves_every_file_and_its_asset_events_run_the_catalog(stack):
    data = stack.root / "data" / "system-ingest"
    landing = data / "landing"
    (landing / "a").mkdir(parents=True)
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copy(get_testdata_file(name), landing / "a" / name)
    series = make_series(landing / "b", 3, study_date="20230101")
    (landing / "notes.txt").write_text("not DICOM")
    for path in landing.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    conf = {
        "landing_dir": str(landing),
        "done_dir": str(data / "done"),
        "quarantine_dir": str(data / "quarantine"),
    }

    stack.unpause("dicomweb_on_stored_study")
    state, tasks = stack.wait_for_run("dicomweb_ingest", stack.trigger("dicomweb_ingest", conf))
    assert state == "success", tasks
    assert tasks == {
        "list_landing": "success",
        "store": "success",
        "verify_searchable": "success",
        "move_files": "success",
    }
    assert len(list((data / "done").rglob("*.dcm"))) == 5
    assert "not a DICOM Part 10 file" in (data / "quarantine" / "notes.txt.reason.txt").read_text()
    assert [p for p in landing.rglob("*") if p.is_file()] == []
    client = orthanc_client(stack)
    study = client.search_for_studies({"StudyDate": "20230101"})[0]["0020000D"]["Value"][0]
    assert len(client.search_for_instances(study)) == len(series)

    # The store task's asset events (one per study on the store's one asset, the study its partition key)
    # ran the partitioned DAG once per study, which catalogued each stored study's metadata.
    stored = {
        str(pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID)
        for p in (data / "done").rglob("*.dcm")
    }
    catalog = stack.root / "data" / "catalog"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not stored <= {p.stem for p in catalog.glob("*.json")}:
        time.sleep(2)
    runs = stack.runs("dicomweb_on_stored_study")
    assert runs and all(r["run_type"] == "asset_triggered" for r in runs), runs
    assert stored <= {p.stem for p in catalog.glob("*.json")}, [r["state"] for r in runs]
    assert {r.get("partition_key") for r in runs} == stored, runs
    assert json.loads((catalog / f"{study}.json").read_text())[0]["0020000D"]["Value"] == [study]


def test_export_maps_a_task_per_study_with_metadata_and_preview(stack, tmp_path):
    client = orthanc_client(stack)
    studies = [generate_uid(), generate_uid()]
    for n, uid in enumerate(studies):
        assert client.store_instances(
            make_series(tmp_path / str(n), 2, study_uid=uid, study_date="20230202")
        ).ok
    export = stack.root / "data" / "system-export"

    run_id = stack.trigger("dicomweb_export", {"study_date": "20230202", "export_dir": str(export)})
    state, tasks = stack.wait_for_run("dicomweb_export", run_id)
    assert state == "success", tasks
    assert {k for k in tasks if k.startswith("retrieve_study[")} == {"retrieve_study[0]", "retrieve_study[1]"}
    assert sorted(p.name for p in (export / "dicom").iterdir()) == sorted(studies)
    assert len(list((export / "dicom").rglob("*.dcm"))) == 4
    for uid in studies:
        assert len(json.loads((export / "metadata" / f"{uid}.json").read_text())) == 2
        assert Image.open(export / "previews" / f"{uid}.png").size == (256, 256)


def test_jpeg_to_dicom_runs_on_the_sample_data_that_init_created(stack):
    metadata = json.loads((stack.root / "data" / "jpeg" / "metadata.json").read_text())
    study = metadata["0020000D"]["Value"][0]
    state, tasks = stack.wait_for_run("dicomweb_jpeg_to_dicom", stack.trigger("dicomweb_jpeg_to_dicom", {}))
    assert state == "success", tasks
    assert tasks == {"store_jpeg": "success", "series_complete": "success"}
    assert len(orthanc_client(stack).search_for_instances(study)) == 3


def test_delete_on_the_embedded_orthanc_really_deletes(stack, tmp_path):
    uid = generate_uid()
    assert orthanc_client(stack).store_instances(make_series(tmp_path, 2, study_uid=uid)).ok
    assert held(stack, uid)
    state, tasks = stack.wait_for_run(
        "dicomweb_delete", stack.trigger("dicomweb_delete", {"study_instance_uid": uid})
    )
    assert state == "success", tasks
    assert tasks == {"delete_study": "success", "wait_for_delete": "success", "confirm_gone": "success"}
    assert not held(stack, uid)


def test_a_google_delete_defers_to_the_triggerer_process_and_resumes(stack, google, tmp_path, monkeypatch):
    """The sensor goes to ``deferred`` while the operation runs (held by the emulator), and the separate
    triggerer process resumes it once the operation is done."""
    from airflow_dicomweb.hooks.dicomweb import DicomWebHook
    from tests.connections import google_connection

    monkeypatch.setenv(f"AIRFLOW_CONN_{GOOGLE_CONN_ID.upper()}", google_connection(google))
    uid = generate_uid()
    assert DicomWebHook(GOOGLE_CONN_ID).store_instances(make_series(tmp_path, 2, study_uid=uid)).ok
    google.hold_operations()
    run_id = stack.trigger("dicomweb_delete", {"study_instance_uid": uid, "dicomweb_conn_id": GOOGLE_CONN_ID})
    stack.wait_for_task_state("dicomweb_delete", run_id, "wait_for_delete", "deferred")
    polls_before = operation_polls(google)
    deadline = time.monotonic() + 120
    while operation_polls(google) == polls_before and time.monotonic() < deadline:
        time.sleep(0.5)  # the triggerer's first poll of the running operation
    assert operation_polls(google) > polls_before, "the triggerer never polled the operation"
    assert google.orthanc.count_instances() == 2  # still there while the operation runs
    google.release_operations()
    state, tasks = stack.wait_for_run("dicomweb_delete", run_id)
    assert state == "success", tasks
    assert tasks == {"delete_study": "success", "wait_for_delete": "success", "confirm_gone": "success"}
    assert google.orthanc.count_instances() == 0
    # The triggerer process's own record: the trigger saw the operation running, then fired success.
    [trigger_log] = (stack.root / "logs" / "dag_id=dicomweb_delete").glob(f"run_id={run_id}/*/*trigger*")
    text = trigger_log.read_text(errors="replace")
    assert ": running (" in text and "next poll in" in text and "'status': 'success'" in text


def wait_for(what: str, check, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise TimeoutError(f"{what} after {timeout:.0f} s")


def test_the_watcher_announces_settled_studies_and_a_triggerer_killed_mid_settle_announces_once_complete(
    stack, tmp_path
):
    """The study-arrival watcher runs in the triggerer process (settle_seconds 20, polls every 3 s). A study
    stored in two bursts triggers dicomweb_study_arrival once, complete. A second study's first burst is
    seen, then the triggerer is killed mid-settle (SIGKILL) and the rest of the study arrives while it is
    down: after the restart the study is announced once, with every instance, and the first is not
    announced again (the cursor is in the asset state store)."""
    today = time.strftime("%Y%m%d", time.gmtime())
    stack.unpause("dicomweb_study_arrival")
    wait_for(
        "the watcher's baseline", lambda: "study-arrival watcher: baseline" in stack.logs_of("triggerer")
    )
    arrivals = stack.root / "data" / "arrivals"
    client = orthanc_client(stack)

    def burst(study: str, folder: str, count: int) -> None:
        files = make_series(tmp_path / folder, count, study_uid=study, study_date=today, rows=8, columns=8)
        assert client.store_instances(files).ok

    first = generate_uid()
    burst(first, "a1", 2)
    time.sleep(5)
    burst(first, "a2", 3)
    wait_for("the first study's arrival run", lambda: (arrivals / f"{first}.json").exists())
    assert len(json.loads((arrivals / f"{first}.json").read_text())) == 5  # complete when announced

    second = generate_uid()
    burst(second, "b1", 2)
    time.sleep(8)  # seen by two polls at least, kept in the cursor, not yet settled
    assert f"study {second}" not in stack.logs_of("triggerer")
    stack.kill_hard("triggerer")
    burst(second, "b2", 2)
    stack.restart("triggerer")
    try:
        wait_for(
            "the study completed while the triggerer was down", lambda: (arrivals / f"{second}.json").exists()
        )
    except TimeoutError as exc:  # what the triggerer said, to tell why
        raise AssertionError(
            f"{exc}; the triggerer's log ends:\n{stack.logs_of('triggerer')[-4000:]}"
        ) from None
    assert len(json.loads((arrivals / f"{second}.json").read_text())) == 4
    time.sleep(8)
    logs = stack.logs_of("triggerer")
    assert logs.count(f"new study {first}: 5 instances") == 1, "announced again after the restart"
    said = [line[:300] for line in logs.splitlines() if f"study {second}" in line]
    assert len(said) == 1 and f"new study {second}: 4 instances" in logs, said
    runs = stack.runs("dicomweb_study_arrival")
    assert (
        len(runs) == 2
        and {r["state"] for r in runs} == {"success"}
        and all(r["run_type"] == "asset_triggered" for r in runs)
    )


def test_sharded_ingest_survives_a_worker_killed_mid_shard(stack, tmp_path):
    """dicomweb_sharded_ingest maps 3 shards of 200 one-instance studies over the two Celery workers, through
    a front of Orthanc that holds every POST for 2 s. Once a shard has some but not all of its instances
    stored, the worker running it is killed with SIGKILL (every process of it). The scheduler fails the
    shard when its heartbeats stop, and the retry (on the other worker) finishes it: every instance reaches
    Orthanc exactly once (counted at the front), none is missing, and the retried shard reports what its
    first try stored as already present."""
    from collections import Counter
    from types import SimpleNamespace

    from tests.emulators.orthanc_front import OrthancFront

    landing = stack.root / "data" / "sharded" / "archive"
    sop_of: dict[str, str] = {}
    for n in range(600):
        [path] = make_series(landing / f"{n // 100}", 1, rows=8, columns=8, study_date="20220303")
        sop_of[str(path)] = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
    for path in landing.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    forwarded: Counter[str] = Counter()
    sops = set(sop_of.values())
    lock = threading.Lock()

    def slow_posts(request):
        if request.method == "POST":
            time.sleep(2)  # a distant, busy server
            with lock:
                forwarded.update(s for s in sops if s.encode() in request.body)
        return None

    password = (stack.root / "secrets" / "orthanc_password").read_text()
    orthanc = SimpleNamespace(
        dicomweb_url=f"http://127.0.0.1:{stack.ports['orthanc']}/dicom-web",
        username="airflow",
        password=password,
    )
    with OrthancFront(orthanc, slow_posts, prefix="/dicom-web") as front:
        stack.rest(
            "POST",
            "/connections",
            json={
                "connection_id": "dicomweb_slow_front",
                "conn_type": "dicomweb",
                "host": front.dicomweb_url,
                "extra": json.dumps({"server": "orthanc"}),
            },
        )
        conf = {
            "landing_dir": str(landing),
            "work_dir": str(stack.root / "data" / "sharded" / "work"),
            "shard_size": 200,
            "dicomweb_conn_id": "dicomweb_slow_front",
        }
        run_id = stack.trigger("dicomweb_sharded_ingest", conf)
        runs = "/dags/dicomweb_sharded_ingest/dagRuns"
        work = stack.root / "data" / "sharded" / "work" / re.sub(r"[^A-Za-z0-9._-]", "_", run_id)

        # Which files each shard holds, from its manifest; which task instance is which shard.
        def shard_sops() -> dict[str, tuple[int, set[str]]]:
            """Task instance id (a try's own) -> its map index and the SOP Instance UIDs of its shard."""
            items = stack.rest("GET", f"{runs}/{run_id}/taskInstances?limit=100")["task_instances"]
            return {
                t["id"]: (
                    t["map_index"],
                    {sop_of[line] for line in (work / f"shard-{t['map_index']:05d}.txt").read_text().split()},
                )
                for t in items
                if t["task_id"] == "store_shard" and t["map_index"] >= 0
            }

        victim = None
        deadline = time.monotonic() + 300
        while victim is None and time.monotonic() < deadline:
            time.sleep(0.2)
            running = {name: stack.running_task_ids(name) for name in ("worker", "worker-2")}
            if not any(running.values()):
                continue
            shards = shard_sops()
            for name, ids in running.items():
                for ti in ids & set(shards):
                    map_index, shard = shards[ti]
                    with lock:
                        done = len(shard & set(forwarded))
                    if 0 < done < len(shard):
                        victim = (name, map_index, done)
        states = stack.task_states("dicomweb_sharded_ingest", run_id)
        assert victim is not None, f"no shard was caught half stored: {states}"
        name, victim_index, stored_before = victim
        # every shard the worker runs dies with it, each with its requests in flight: the instances of those
        # shards are the only ones that may reach Orthanc twice (a body received whole, its answer lost)
        shards_now = shard_sops()
        killed = [shards_now[ti][1] for ti in stack.running_task_ids(name) if ti in shards_now]
        killed_sops: set[str] = set().union(*killed)
        killed_sops |= next(sop_set for index, sop_set in shards_now.values() if index == victim_index)
        stack.kill_hard(name)
        try:
            state, tasks = stack.wait_for_run("dicomweb_sharded_ingest", run_id, timeout=600)
        finally:
            stack.restart(name)  # the other tests keep their two workers
    assert state == "success", tasks
    assert {k for k in tasks if k.startswith("store_shard")} == {f"store_shard[{n}]" for n in range(3)}
    # Every instance reached Orthanc, and Orthanc holds every one of them; once each, but for the requests
    # in flight when the worker died (a batch of 16 each, up to 4 at once per shard it ran).
    assert set(forwarded) == sops
    twice = {sop for sop, n in forwarded.items() if n > 1}
    assert twice <= killed_sops and len(twice) <= 64 * max(1, len(killed)), twice
    found = orthanc_client(stack).iter_search("instances", filters={"StudyDate": "20220303"})
    assert {i["00080018"]["Value"][0] for i in found} == sops
    # The shard that was running on the killed worker was tried again, and its retry found what the first
    # try had stored.
    instances = stack.rest("GET", f"{runs}/{run_id}/taskInstances?limit=100")["task_instances"]
    [victim_shard] = [
        t for t in instances if t["task_id"] == "store_shard" and t["map_index"] == victim_index
    ]
    assert victim_shard["try_number"] >= 2 and victim_shard["state"] == "success", victim_shard

    def xcom(task: str, map_index: int = -1) -> dict:
        path = f"{runs}/{run_id}/taskInstances/{task}/xcomEntries/return_value"
        return stack.rest("GET", f"{path}?deserialize=true&map_index={map_index}")["value"]

    result = xcom("store_shard", victim_shard["map_index"])
    assert result["already_present"] >= stored_before > 0 and result["failed"] == 0
    assert result["stored"] + result["already_present"] == 200
    totals = xcom("summarize")
    assert totals["shards"] == 3 and totals["failed"] == 0
    assert totals["stored"] + totals["already_present"] == 600


def test_a_worker_killed_mid_import_re_attaches_and_imports_once(stack, google, spare_orthanc, tmp_path):  # noqa: F811
    """dicomweb_google_bulk_ingest's import waits in the worker (the stack's default). While the Google
    emulator is importing, the worker running the task is killed with SIGKILL (every process of it). The
    scheduler fails the task when its heartbeats stop; the retry, on the other worker, finds the operation's
    name in the task's state store and re-attaches to it: the emulator counts one ``:import`` call, and every
    file is in the store once."""
    from tests.emulators.google_store_admin import StoreAdmin

    spare_orthanc.wipe()
    admin = StoreAdmin(google, tmp_path / "gcs", tmp_path / "bigquery", spare_orthanc)
    # 30 files at 3 s each: a 90 s import, still running when the retry comes (the scheduler fails the killed
    # try 30 s after its last heartbeat, and the retry waits 30 s)
    admin.instance_delay = 3.0
    google.admin = admin
    try:
        for n in range(3):
            make_series(tmp_path / "gcs" / "landing" / f"series-{n}", 10, rows=8, columns=8)
        before = google.orthanc.count_instances()
        started = time.time()
        run_id = stack.trigger(
            "dicomweb_google_bulk_ingest",
            {
                "gcs_uri": "gs://landing/**.dcm",
                "bigquery_table": "bq://test-project.imaging.metadata",
                "dicomweb_conn_id": GOOGLE_CONN_ID,
            },
        )

        def import_calls() -> int:
            return sum(1 for verb, _ in admin.bodies if verb == "import")

        wait_for("the import to start", lambda: import_calls() == 1, timeout=300)
        victim = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline:
            running = [name for name in ("worker", "worker-2") if stack.running_task_ids(name)]
            victim = running[0] if running else None
            time.sleep(0.2)
        assert victim is not None, stack.task_states("dicomweb_google_bulk_ingest", run_id)
        time.sleep(3)  # the task is polling the operation: its name is in the state store
        (operation,) = [
            o
            for o in google.operations.values()
            if o.method.endswith("ImportDicomData") and o.created >= started
        ]
        assert not operation.done, "the import ended before the worker could be killed"
        stack.kill_hard(victim)
        try:
            state, tasks = stack.wait_for_run("dicomweb_google_bulk_ingest", run_id, timeout=600)
        finally:
            stack.restart(victim)  # the other tests keep their two workers
        assert state == "success", tasks
        assert import_calls() == 1, admin.bodies
        assert google.orthanc.count_instances() - before == 30
        tries = stack.rest(
            "GET", f"/dags/dicomweb_google_bulk_ingest/dagRuns/{run_id}/taskInstances/import_from_gcs"
        )["try_number"]
        assert tries >= 2, "the task was not retried"
        folder = stack.root / "logs" / "dag_id=dicomweb_google_bulk_ingest" / f"run_id={run_id}"
        retried = [p for p in folder.glob("task_id=import_from_gcs/**/*.log") if "attempt=1" not in p.name]
        logs = "".join(p.read_text(errors="replace") for p in sorted(retried))
        assert "Reconnecting to existing job" in logs, logs[-3000:]
        assert "started operation" not in logs
    finally:
        google.admin = None


def review_task(run_id: str) -> str:
    return f"/dags/dicomweb_review_release/dagRuns/{run_id}/taskInstances/review/-1/hitlDetails"


def test_a_reviewer_approves_a_de_identified_study_and_a_rejected_one_is_not_released(stack, tmp_path):
    """dicomweb_review_release in the deployed stack: the study is de-identified on site and put in front of
    a reviewer (ApprovalOperator, awaiting input, deferred in the triggerer) with its preview and what would be released;
    "Approve" through the REST API stores the de-identified study in the research store, "Reject" stores
    nothing. The stack gives the run a 30 s turnaround: the approval comes later, so the deadline's
    callback names the run in the triggerer's log. The identified work copy is gone either way."""
    client = orthanc_client(stack)
    password = (stack.root / "secrets" / "orthanc_password").read_text()
    for conn_id, body in {
        "dicomweb_research": {
            "conn_type": "dicomweb",
            "host": f"http://127.0.0.1:{stack.ports['orthanc']}/dicom-web",
            "login": "airflow",
            "password": password,
        },
        "dicom_deid_key": {"conn_type": "dicom_deid_key", "password": "a review key of more than 16 bytes"},
    }.items():
        stack.rest("POST", "/connections", json={"connection_id": conn_id, **body})

    runs = {}
    for decision in ("Approve", "Reject"):
        uid = generate_uid()
        assert client.store_instances(
            make_series(tmp_path / decision, 2, study_uid=uid, rows=16, columns=16)
        ).ok
        runs[decision] = (uid, stack.trigger("dicomweb_review_release", {"study_instance_uid": uid}))
    for uid, run_id in runs.values():
        stack.wait_for_task_state("dicomweb_review_release", run_id, "review", "awaiting_input")
        detail = stack.rest("GET", review_task(run_id))
        assert uid in detail["subject"] and "**To release** 2 de-identified instances" in detail["body"]
        assert detail["options"] == ["Approve", "Reject"]
    time.sleep(35)  # past the 30 s turnaround the stack gives the DAG
    for decision, (_, run_id) in runs.items():
        stack.rest("PATCH", review_task(run_id), json={"chosen_options": [decision]})
    states = {d: stack.wait_for_run("dicomweb_review_release", run_id) for d, (_, run_id) in runs.items()}
    assert states["Approve"][0] == "success" and states["Approve"][1]["release"] == "success", states
    assert states["Reject"][1]["release"] == "skipped", states

    def new_studies(run_id: str) -> set[str]:
        """The de-identified study UIDs of a run (its deidentify task's XCom)."""
        path = f"/dags/dicomweb_review_release/dagRuns/{run_id}/taskInstances/deidentify/xcomEntries/return_value"
        value = stack.rest("GET", path)["value"]
        return set((json.loads(value) if isinstance(value, str) else value)["study_instance_uids"])

    approved_uids, rejected_uids = new_studies(runs["Approve"][1]), new_studies(runs["Reject"][1])
    released = {
        u for u in approved_uids | rejected_uids if client.search_for_studies({"StudyInstanceUID": u})
    }
    assert approved_uids and approved_uids <= released
    assert not (rejected_uids & released)
    for uid, _ in runs.values():
        assert not (stack.root / "data" / "review" / uid / "identified").exists()
    wait_for(
        "the deadline's callback",
        lambda: "turnaround missed: DAG dicomweb_review_release" in stack.logs_of("triggerer"),
        timeout=120,
    )
