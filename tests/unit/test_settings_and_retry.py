import time

import pytest

from airflow_dicomweb.core.errors import DicomWebConfigError, DicomWebHTTPError
from airflow_dicomweb.core.http.retry import RetryPolicy, parse_retry_after
from airflow_dicomweb.core.http.transport import Transport, summarize_error_body
from airflow_dicomweb.core.settings import DicomWebSettings


def test_full_url_host_with_basic_auth_and_extras():
    s = DicomWebSettings.from_connection_fields(
        host="http://127.0.0.1:8042/dicom-web/",
        login="u",
        password="p4ssw0rd!",
        extra={"timeout": 60, "verify": "false", "headers": '{"X-Tenant": "a"}', "max_retries": 2},
    )
    assert s.base_url == "http://127.0.0.1:8042/dicom-web"
    assert s.auth_type == "basic"
    assert s.timeout == (10.0, 60.0)
    assert s.verify is False
    assert s.headers == {"X-Tenant": "a"}
    assert s.retry.max_attempts == 3
    assert "p4ssw0rd!" not in repr(s)


def test_credentials_in_the_url_move_to_login_and_never_stay_in_it():
    s = DicomWebSettings.from_connection_fields(host="https://bob:se%40cret@pacs.example/dicomweb")
    assert s.base_url == "https://pacs.example/dicomweb"
    assert (s.login, s.password, s.auth_type) == ("bob", "se@cret", "basic")


def test_host_without_scheme_uses_port_and_schema_as_path():
    s = DicomWebSettings.from_connection_fields(host="pacs.local", port=8443, schema="dicom-web")
    assert s.base_url == "https://pacs.local:8443/dicom-web"


def test_google_store_named_by_extras():
    s = DicomWebSettings.from_connection_fields(
        host=None,
        extra={
            "auth_type": "google",
            "project": "p",
            "location": "l",
            "dataset": "d",
            "dicom_store": "s",
            "api_version": "v1beta1",
        },
    )
    assert s.base_url == (
        "https://healthcare.googleapis.com/v1beta1/projects/p/locations/l/datasets/d/dicomStores/s/dicomWeb"
    )
    t = Transport(s, session=__import__("requests").Session())
    assert t.operation_url("projects/p/locations/l/datasets/d/operations/123") == (
        "https://healthcare.googleapis.com/v1beta1/projects/p/locations/l/datasets/d/operations/123"
    )


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"host": None}, "has no host"),
        ({"host": "ftp://x/y"}, "must be an http"),
        ({"host": "http://x", "extra": {"auth_type": "kerberos"}}, "unknown auth_type 'kerberos'"),
        ({"host": "http://x", "extra": {"auth_type": "bearer"}}, "needs the token"),
        ({"host": "http://x", "extra": "{not json"}, "extra is not valid JSON"),
        ({"host": "http://x", "extra": {"verify": "/no/such/ca.pem"}}, "CA bundle that does not exist"),
        ({"host": "http://x", "extra": {"timeout": "soon"}}, "timeout must be"),
    ],
)
def test_malformed_connections_are_refused_clearly(fields, message):
    with pytest.raises(DicomWebConfigError, match=message):
        DicomWebSettings.from_connection_fields(**fields)


def test_secrets_are_redacted_from_messages():
    s = DicomWebSettings.from_connection_fields(
        host="http://x",
        login="u",
        password="hunter2-long-secret",
        extra={"headers": {"Authorization": "Token abcdefgh"}},
    )
    t = Transport(s)
    text = t.redact("echo hunter2-long-secret and Token abcdefgh at http://u:pw@host/x")
    assert "hunter2" not in text and "abcdefgh" not in text and "pw@" not in text


def test_retry_after_parsing():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("garbage") is None


def http_error(status, retry_after=None):
    return DicomWebHTTPError(status, method="GET", url="http://x", retry_after=retry_after)


def test_retry_policy_retries_retryable_errors_then_gives_up():
    calls = []
    policy = RetryPolicy(max_attempts=3, initial_wait=0.001, max_wait=0.002, jitter=0)

    def fail():
        calls.append(1)
        raise http_error(503)

    with pytest.raises(DicomWebHTTPError, match="HTTP 503"):
        policy.call(fail)
    assert len(calls) == 3


def test_retry_policy_does_not_retry_client_errors():
    calls = []

    def fail():
        calls.append(1)
        raise http_error(403)

    with pytest.raises(DicomWebHTTPError):
        RetryPolicy(initial_wait=0.001).call(fail)
    assert len(calls) == 1


def test_retry_policy_honours_retry_after():
    times = []

    def flaky():
        times.append(time.monotonic())
        if len(times) == 1:
            raise http_error(429, retry_after=0.3)
        return "ok"

    assert RetryPolicy(initial_wait=0.001, jitter=0).call(flaky) == "ok"
    assert times[1] - times[0] >= 0.29


def test_retry_policy_stops_before_exceeding_its_time_budget():
    calls = []

    def fail():
        calls.append(1)
        raise http_error(429, retry_after=5)

    start = time.monotonic()
    with pytest.raises(DicomWebHTTPError):
        RetryPolicy(max_attempts=10, max_elapsed=1).call(fail)
    assert len(calls) == 1 and time.monotonic() - start < 1


def test_error_bodies_are_summarized():
    assert summarize_error_body(
        b'{"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}}'
    ) == ("denied (PERMISSION_DENIED)")
    assert summarize_error_body(
        b'{"HttpError": "x", "Message": "Bad request", "Details": "no boundary"}'
    ) == ("Bad request; no boundary")
    assert summarize_error_body(b"<html><body><h1>Oops</h1></body></html>") == "Oops"
