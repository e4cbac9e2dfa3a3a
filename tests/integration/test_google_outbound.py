"""google-auth's background "regional access boundary" lookup at iamcredentials.googleapis.com: off when the
connection names a private API root (air-gapped, Private Service Connect), on when asked for."""

import socket
import time

import pytest

from tests.conftest import google_connection

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


def test_the_lookup_can_be_asked_for(google, monkeypatch, resolved):
    """The control: with the switch on, google-auth does try to reach the host (unreachable from here)."""
    search_twice(google, monkeypatch, regional_access_boundary=True)
    deadline = time.monotonic() + 10
    while LOOKUP_HOST not in resolved and time.monotonic() < deadline:
        time.sleep(0.1)  # it runs in a background thread
    assert LOOKUP_HOST in resolved
