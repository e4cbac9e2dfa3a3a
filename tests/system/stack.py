"""The stack of docker-compose.yaml, run as local processes: Postgres and Redis from Debian's packages, Orthanc
with its DICOMweb plugin, and Airflow's api-server, scheduler, dag-processor, triggerer and Celery worker,
each its own process with its own AIRFLOW_HOME.

Every Airflow process gets the environment of ``deploy/airflow.env`` (the compose stack's own file), with the
compose host names mapped to loopback ports and ``/opt/airflow`` to a temporary folder, and nothing else but
the ports of its own servers. The init step is ``deploy/airflow-init.sh``, the compose stack's own. Everything
started is stopped (process groups, then SIGKILL) even if a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.servers.orthanc_server import find_orthanc, free_port

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
INSTALL_HINT = (
    "The system test needs Postgres and Redis from Debian's packages and the Airflow stack's Python packages.\n"
    "Run scripts/setup.sh, which installs them (apt-get install postgresql redis-server; pip install\n"
    "'apache-airflow[celery,postgres]' apache-airflow-providers-fab -c deploy/constraints.txt)."
)
AIRFLOW_SERVICES = {
    "api-server": ["api-server", "--port", "{api_port}"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer"],
    "worker": ["celery", "worker", "--concurrency", "4", "--celery-hostname", "worker1@%h"],
    # A second Celery worker, as `docker compose up --scale airflow-worker=2` would run
    "worker-2": ["celery", "worker", "--concurrency", "4", "--celery-hostname", "worker2@%h"],
}


def gateway_command(what: str = "command") -> str:
    """The shell command of docker-compose.yaml's dicomweb-gateway service (or of its healthcheck), as
    compose hands it to the shell."""
    import yaml

    service = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())["services"]["dicomweb-gateway"]
    words = service["command"] if what == "command" else service["healthcheck"]["test"][1:]
    return " ".join(words).replace("$$", "$")


class StackMissing(RuntimeError):
    pass


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as docker compose reads an env_file (no quotes are used in ours)."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found or not shutil.which("redis-server"):
        raise StackMissing(f"Postgres or Redis is not installed.\n{INSTALL_HINT}")
    try:
        import airflow.providers.celery
        import airflow.providers.fab  # noqa: F401
        import psycopg2  # noqa: F401
    except ImportError as exc:
        raise StackMissing(f"{exc}.\n{INSTALL_HINT}") from None
    return found[-1].parent


class LocalStack:
    """Start with ``stack.start(extra_env)``, stop with ``stack.stop()``; ``stack.api`` is a logged-in session."""

    def __init__(self) -> None:
        self.pg_bin = postgres_bin()
        self.orthanc_binary, self.orthanc_plugin = find_orthanc()
        self.root = Path(tempfile.mkdtemp(prefix="dicomweb-stack-"))
        os.chmod(self.root, 0o755)
        self.ports = {
            name: free_port()
            for name in (
                "postgres",
                "redis",
                "api",
                "orthanc",
                "worker_log",
                "worker-2_log",
                "trigger_log",
                "health",
            )
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self.timings: dict[str, float] = {}
        self.extra_env: dict[str, str] = {}
        self.api = requests.Session()
        self.api_url = f"http://127.0.0.1:{self.ports['api']}"

    # --- environment ------------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """deploy/airflow.env with compose host names and paths mapped to this machine."""
        mapping = {
            "@postgres:5432": f"@127.0.0.1:{self.ports['postgres']}",
            "redis:6379": f"127.0.0.1:{self.ports['redis']}",
            "airflow-apiserver:8080": f"127.0.0.1:{self.ports['api']}",
            "orthanc:8042": f"127.0.0.1:{self.ports['orthanc']}",
            "/opt/airflow/dags": str(ROOT / "dags"),
            "/opt/airflow": str(self.root),
        }
        env = {}
        for key, value in read_env_file(ROOT / "deploy" / "airflow.env").items():
            for old, new in mapping.items():
                value = value.replace(old, new)
            env[key] = value
        return env

    def process_env(self, service: str, extra: dict[str, str]) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
        home = self.root / "homes" / service
        home.mkdir(parents=True, exist_ok=True)
        return {
            **base,
            **self.environment(),
            **extra,
            "AIRFLOW_HOME": str(home),
            "PATH": f"{VENV_BIN}:{base.get('PATH', '')}",
            # Ports that are fixed inside containers and must be free here:
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(
                self.ports["worker-2_log" if service == "worker-2" else "worker_log"]
            ),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.ports["trigger_log"]),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.ports["health"]),
        }

    # --- processes --------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None, user: str | None = None):
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 - kept open for the process's life
        preexec = None
        if user is not None:
            entry = pwd.getpwnam(user)

            def preexec():
                os.setgid(entry.pw_gid)
                os.setuid(entry.pw_uid)

        self.processes[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, preexec_fn=preexec
        )

    def _wait(self, what: str, check, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {process.returncode} while waiting for {what}:\n{self.tail(name)}"
                    )
            try:
                if check():
                    return
            except Exception:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{what} not ready after {timeout:.0f} s")

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.root / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def _start_postgres(self) -> None:
        data = self.root / "postgres"
        data.mkdir()
        user = None
        if os.getuid() == 0:  # Postgres refuses to run as root
            user = "postgres"
            entry = pwd.getpwnam(user)
            os.chown(data, entry.pw_uid, entry.pw_gid)
        password_file = self.root / "pg-password"
        password_file.write_text("airflow\n")
        os.chmod(password_file, 0o644)
        subprocess.run(
            [
                str(self.pg_bin / "initdb"),
                "-D",
                str(data),
                "-U",
                "airflow",
                f"--pwfile={password_file}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            preexec_fn=self._as(user),
        )
        self._spawn(
            "postgres",
            [
                str(self.pg_bin / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.ports["postgres"]),
                "-c",
                "listen_addresses=127.0.0.1",
                "-k",
                str(data),
                "-c",
                "fsync=off",
            ],
            user=user,
        )
        env = {**os.environ, "PGPASSWORD": "airflow"}
        port = str(self.ports["postgres"])
        self._wait(
            "Postgres",
            lambda: (
                subprocess.run(
                    [str(self.pg_bin / "pg_isready"), "-h", "127.0.0.1", "-p", port], capture_output=True
                ).returncode
                == 0
            ),
            60,
        )
        subprocess.run(
            [str(self.pg_bin / "createdb"), "-h", "127.0.0.1", "-p", port, "-U", "airflow", "airflow"],
            check=True,
            env=env,
            capture_output=True,
        )

    @staticmethod
    def _as(user: str | None):
        if user is None:
            return None
        entry = pwd.getpwnam(user)

        def switch():
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)

        return switch

    def _start_redis(self) -> None:
        self._spawn(
            "redis",
            [
                "redis-server",
                "--port",
                str(self.ports["redis"]),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        self._wait(
            "Redis",
            lambda: (
                subprocess.run(
                    ["redis-cli", "-p", str(self.ports["redis"]), "ping"], capture_output=True
                ).stdout.strip()
                == b"PONG"
            ),
            30,
        )

    def _start_orthanc(self) -> None:
        config = self.root / "orthanc-config"
        storage = self.root / "orthanc-db"
        storage.mkdir()
        (config / "local.json").write_text(
            json.dumps(
                {
                    "HttpPort": self.ports["orthanc"],
                    "StorageDirectory": str(storage),
                    "IndexDirectory": str(storage),
                    "Plugins": [self.orthanc_plugin],
                }
            )
        )
        self._spawn("orthanc", [self.orthanc_binary, f"--logdir={self.root}", str(config)])
        self._wait("Orthanc", lambda: self.orthanc("GET", "/system").status_code == 200, 30)

    def gateway_healthy(self, port: int) -> bool:
        """The compose file's healthcheck of the gateway, run here."""
        env = {**self.process_env("gateway", self.extra_env), "DICOMWEB_GATEWAY_PORT": str(port)}
        command = gateway_command("healthcheck").replace("python ", f"{VENV_BIN / 'python'} ", 1)
        return subprocess.run(["/bin/bash", "-c", command], env=env, capture_output=True).returncode == 0

    def start_gateway(self, port: int) -> subprocess.Popen:
        """The compose file's dicomweb-gateway, run here as compose would run it, listening on ``port``."""
        command = gateway_command().replace("/opt/airflow", str(self.root))
        env = {**self.process_env("gateway", self.extra_env), "DICOMWEB_GATEWAY_PORT": str(port)}
        self._spawn("gateway", ["/bin/bash", "-c", command], env=env)
        return self.processes["gateway"]

    def orthanc(self, method: str, path: str, **kwargs) -> requests.Response:
        password = (self.root / "secrets" / "orthanc_password").read_text()
        return requests.request(
            method,
            f"http://127.0.0.1:{self.ports['orthanc']}{path}",
            auth=("airflow", password),
            timeout=30,
            **kwargs,
        )

    def start(self, extra_env: dict[str, str] | None = None) -> LocalStack:
        started = time.monotonic()
        extra = dict(extra_env or {})
        self.extra_env = extra
        self._start_postgres()
        self._start_redis()
        self.timings["postgres and redis"] = time.monotonic() - started
        mark = time.monotonic()
        init_env = {**self.process_env("init", extra), "STACK_ROOT": str(self.root), "PYTHON": sys.executable}
        done = subprocess.run(
            ["bash", str(ROOT / "deploy" / "airflow-init.sh")],
            env=init_env,
            capture_output=True,
            text=True,
            start_new_session=True,
        )
        (self.root / "init.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"deploy/airflow-init.sh failed:\n{(done.stdout + done.stderr)[-4000:]}")
        self.timings["airflow-init"] = time.monotonic() - mark
        mark = time.monotonic()
        self._start_orthanc()
        for name, argv in AIRFLOW_SERVICES.items():
            argv = [a.format(api_port=self.ports["api"]) for a in argv]
            self._spawn(name, [str(VENV_BIN / "airflow"), *argv], env=self.process_env(name, extra))
        self._wait(
            "the API server", lambda: requests.get(f"{self.api_url}/api/v2/version", timeout=5).ok, 240
        )
        self.login()
        self._wait("the example DAGs", self._dags_parsed, 240)
        self.timings["services up"] = time.monotonic() - mark
        return self

    # --- the REST API, as a user would call it -----------------------------------------------------

    def login(self) -> None:
        password = (self.root / "secrets" / "admin_password").read_text()
        response = requests.post(
            f"{self.api_url}/auth/token", json={"username": "airflow", "password": password}, timeout=30
        )
        response.raise_for_status()
        self.api.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def rest(self, method: str, path: str, **kwargs) -> dict:
        response = self.api.request(method, f"{self.api_url}/api/v2{path}", timeout=60, **kwargs)
        if response.status_code == 401:
            self.login()
            response = self.api.request(method, f"{self.api_url}/api/v2{path}", timeout=60, **kwargs)
        if not response.ok:
            raise AssertionError(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else {}

    def _dags_parsed(self) -> bool:
        found = {d["dag_id"] for d in self.rest("GET", "/dags?limit=100")["dags"]}
        return {
            "dicomweb_ingest",
            "dicomweb_export",
            "dicomweb_jpeg_to_dicom",
            "dicomweb_delete",
            "dicomweb_on_stored_study",
            "dicomweb_study_arrival",
            "dicomweb_sharded_ingest",
            "dicomweb_migration",
        } <= found

    def unpause(self, dag_id: str) -> None:
        self.rest("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def runs(self, dag_id: str) -> list[dict]:
        return self.rest("GET", f"/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]

    def restart(self, name: str) -> None:
        """Stop one Airflow service (SIGTERM, as a container stop does) and start it again; its earlier log
        is kept as ``<name>.<n>.log``."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        n = len(list(self.root.glob(f"{name}.*.log"))) + 1
        (self.root / f"{name}.log").rename(self.root / f"{name}.{n}.log")
        argv = [a.format(api_port=self.ports["api"]) for a in AIRFLOW_SERVICES[name]]
        self._spawn(name, [str(VENV_BIN / "airflow"), *argv], env=self.process_env(name, self.extra_env))

    def session_pids(self, name: str) -> list[int]:
        """Every process of a service: its session (each service starts one), children included, even
        those that made a process group of their own (a task's runner does)."""
        sid = self.processes[name].pid
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:  # the session id, after state, ppid and pgrp
                pids.append(int(stat.parent.name))
        return pids

    def running_task_ids(self, name: str) -> set[str]:
        """The ids of the task instances a worker is running (each runner is titled ``airflow worker --
        <id>``)."""
        ids = set()
        for pid in self.session_pids(name):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            except OSError:
                continue
            if title.startswith("airflow worker -- "):
                ids.add(title.removeprefix("airflow worker -- ").strip())
        return ids

    def kill_hard(self, name: str) -> None:
        """SIGKILL every process of a service at once, as if its machine died: no warm shutdown, no task
        told, nothing flushed."""
        for pid in self.session_pids(name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.processes[name].wait()

    def logs_of(self, name: str) -> str:
        """Every log the service wrote, restarts included."""
        paths = [*sorted(self.root.glob(f"{name}.*.log")), self.root / f"{name}.log"]
        return "".join(p.read_text(errors="replace") for p in paths if p.exists())

    def trigger(self, dag_id: str, conf: dict) -> str:
        self.rest("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        run = self.rest("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        items = self.rest("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=500")["task_instances"]
        return {
            t["task_id"] + (f"[{t['map_index']}]" if t["map_index"] >= 0 else ""): str(t["state"])
            for t in items
        }

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> tuple[str, dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.rest("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in ("success", "failed"):
                return state, self.task_states(dag_id, run_id)
            time.sleep(2)
        raise TimeoutError(
            f"{dag_id} {run_id} still running after {timeout:.0f} s: {self.task_states(dag_id, run_id)}"
        )

    def wait_for_task_state(
        self, dag_id: str, run_id: str, task_id: str, state: str, timeout: float = 300
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.task_states(dag_id, run_id).get(task_id) == state:
                return
            time.sleep(1)
        raise TimeoutError(f"{task_id} never reached {state}: {self.task_states(dag_id, run_id)}")

    # --- stopping ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every process (SIGTERM to its group, then SIGKILL), Airflow first, Postgres last."""
        for name in [*reversed(list(self.processes))]:
            process = self.processes[name]
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # the group: task and log-server children too
            process.wait()
        self.api.close()
        if os.environ.get("KEEP_STACK_ROOT") != "1":
            shutil.rmtree(self.root, ignore_errors=True)
