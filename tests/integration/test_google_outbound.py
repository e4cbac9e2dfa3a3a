"""google-auth's background "regional access boundary" lookup at iamcredentials.googleapis.com: off when the
connection names a private API root (air-gapped, Private Service Connect), on when asked for."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.connections import google_connection

LOOKUP_HOST = "iamcredentials.googleapis.com"


@pytest.fixture
def resolved(monkeypatch):
    """Every host name this process asks DNS for: an outbound call starts there."""
    names: list[str] = []
    real = socket.getaddrinfo

    def recording(host, *args, **kwargs):
        names.append(str(host))
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording)
    return names


def search_twice(google, monkeypatch, **extra) -> None:
    from airflow_dicomweb.hooks.dicomweb import DicomWebHook

    monkeypatch.setenv("AIRFLOW_CONN_OUTBOUND", google_connection(google, **extra))
    hook = DicomWebHook("outbound")
    hook.search_for_studies()
    google.expire_tokens()  # a refresh, after which google-auth would look again
    hook.search_for_studies()
    hook.close()


def test_no_boundary_lookup_leaves_the_worker_behind_a_private_api_root(
    google, monkeypatch, resolved, caplog
):
    search_twice(google, monkeypatch)
    assert LOOKUP_HOST not in resolved
    assert "127.0.0.1" in resolved  # the calls that were made
    assert "NameResolutionError" not in caplog.text


ROOT = Path(__file__).resolve().parents[2]
SWITCH = "GOOGLE_SDK_EXPERIMENTAL_PYTHON_REGIONAL_ACCESS_BOUNDARY_LOOKUP_ENABLED"
#: google-auth releases the suite runs besides the virtualenv's (the newest allowed): the oldest the package
#: allows, and 2.62, the one release that looks boundaries up by default (scripts/setup.sh installs both)
OLDER_GOOGLE_AUTH = ("2.29.0", "2.62.2")


def probe(google, google_auth: str | None, env: dict[str, str] | None = None, wait: float = 4, **extra):
    """One search in a new process with that google-auth (None: the virtualenv's); what it resolved."""
    path = [str(ROOT)]
    if google_auth is not None:
        target = ROOT / ".test-env" / f"google-auth-{google_auth}"
        if not (target / "google" / "auth").is_dir():
            pytest.fail(f"google-auth {google_auth} is not in {target}: run scripts/setup.sh", pytrace=False)
        path.insert(0, str(target))
    environment = {k: v for k, v in os.environ.items() if k != SWITCH}
    environment.update(env or {}, PYTHONPATH=os.pathsep.join(path))
    environment["PROBE_CONNECTION"] = google_connection(google, **extra)
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "fakes" / "google_auth_probe.py"), str(wait)],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["version"] == (google_auth or google_auth_version())
    assert "127.0.0.1" in result["resolved"]  # the search itself went out
    return result


def google_auth_version() -> str:
    from google.auth import version

    return version.__version__


@pytest.mark.parametrize("google_auth", [*OLDER_GOOGLE_AUTH, None], ids=[*OLDER_GOOGLE_AUTH, "newest"])
def test_a_private_api_root_makes_no_lookup_on_any_google_auth(google, google_auth):
    result = probe(google, google_auth, env={SWITCH: "true"}, wait=3)
    assert LOOKUP_HOST not in result["resolved"]


def test_the_lookup_can_be_asked_for_where_google_auth_makes_it(google):
    """The control: with the extra on, the lookup goes out on 2.62 (its default) and on the newest with
    google-auth's own opt-in set."""
    assert LOOKUP_HOST in probe(google, "2.62.2", regional_access_boundary=True)["resolved"]
    newest = probe(google, None, env={SWITCH: "true"}, regional_access_boundary=True)
    assert LOOKUP_HOST in newest["resolved"]


def test_where_google_auth_makes_no_lookup_asking_for_one_says_so(google):
    newest = probe(google, None, wait=2, regional_access_boundary=True)
    assert LOOKUP_HOST not in newest["resolved"]
    assert (
        f"google-auth {google_auth_version()} makes no regional access boundary lookup unless {SWITCH}"
        in (newest["log"])
    )
    oldest = probe(google, "2.29.0", wait=2, regional_access_boundary=True)
    assert LOOKUP_HOST not in oldest["resolved"]
    assert "google-auth 2.29.0 makes no regional access boundary lookup" in oldest["log"]
