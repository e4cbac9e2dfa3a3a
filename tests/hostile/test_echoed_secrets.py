"""No secret, in any form, reaches an exception, a log line, an XCom value or ``test_connection``'s message,
even from a server (or proxy) that echoes every request header back in its error bodies.

The forms a secret takes on the way: the password, ``Basic base64(login:password)``, a bearer token, each
Google access token as it is issued, header-extra values, each as sent, JSON-escaped or percent-encoded.
"""

import base64
import json
import logging
from urllib.parse import quote

import pytest

from airflow_dicomweb.core.errors import DicomWebConfigError, DicomWebError
from airflow_dicomweb.core.settings import DicomWebSettings
from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from airflow_dicomweb.operators.search import DicomWebSearchOperator
from airflow_dicomweb.operators.store import DicomWebStoreOperator
from tests.connections import connection_json
from tests.dicom_factory import make_instance
from tests.fakes.fake_server import FakeServer

PASSWORD = 'pa"ss\\w0rd-9f2e'  # a quote and a backslash: JSON escapes them differently from the raw form
TOKEN = "bearer-token-5c1d77aa"
HEADER_SECRET = "x-api-key-value-0b8e"


def echo(mode: str):
    """A handler answering 403 with every request header echoed, first, in one encoding."""

    def handler(request):
        headers = dict(request.headers)
        if mode == "json":
            body = json.dumps(headers).encode()
        elif mode == "percent":
            body = "&".join(f"{k}={quote(v, safe='')}" for k, v in headers.items()).encode()
        else:
            body = "\n".join(f"{k}: {v}" for k, v in headers.items()).encode()
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        return 403, {"Content-Type": "text/plain"}, f"denied: you sent {auth} ".encode() + body

    return handler


@pytest.fixture
def debug_logs(caplog):
    loggers = [logging.getLogger()] + [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]
    previous = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield caplog
    for logger, level in previous:
        logger.setLevel(level)


def forms(secret: str) -> list[str]:
    return [secret, json.dumps(secret)[1:-1], quote(secret, safe="")]


def run_everything(conn_id: str, tmp_path) -> list[str]:
    """Exception texts, XCom values and test_connection messages of a run against the echo server."""
    texts = []
    hook = DicomWebHook(conn_id)
    try:
        hook.search_for_studies()
    except DicomWebError as exc:
        texts.append(str(exc))
    ok, message = hook.test_connection()
    assert not ok
    texts.append(message)
    try:
        DicomWebSearchOperator(task_id="s", dicomweb_conn_id=conn_id).execute({})
    except DicomWebError as exc:
        texts.append(str(exc))
    path = make_instance(tmp_path / "a.dcm", study_uid="1.2.3", series_uid="1.2.3.4")
    xcom = DicomWebStoreOperator(
        task_id="st", files=[str(path)], dicomweb_conn_id=conn_id, fail_on_error=False, skip_existing=False
    ).execute({})
    assert xcom["failed"] == 1
    texts.append(json.dumps(xcom))
    return texts


@pytest.mark.parametrize("mode", ["raw", "json", "percent"])
@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_an_echoing_server_learns_nothing_we_print(debug_logs, capfd, monkeypatch, tmp_path, auth, mode):
    with FakeServer(echo(mode)) as server:
        extra = {"max_retries": 0, "headers": {"X-Api-Key": HEADER_SECRET}}
        if auth == "basic":
            conn = connection_json(server.url, login="airflow", password=PASSWORD, extra=extra)
            basic = base64.b64encode(f"airflow:{PASSWORD}".encode()).decode()
            secrets = [PASSWORD, basic, HEADER_SECRET]
        else:
            conn = connection_json(server.url, password=TOKEN, extra={**extra, "auth_type": "bearer"})
            secrets = [TOKEN, HEADER_SECRET]
        monkeypatch.setenv("AIRFLOW_CONN_ECHO", conn)
        texts = run_everything("echo", tmp_path)
        sent = server.requests[0].headers
        assert sent["X-Api-Key"] == HEADER_SECRET and sent["Authorization"].endswith(secrets[-2])
    out, err = capfd.readouterr()
    blob = "\n".join([*texts, debug_logs.text, out, err])
    assert "denied: you sent" in blob and "HTTP 403" in blob  # the server's words did arrive
    for secret in secrets:
        for form in forms(secret):
            assert form not in blob, f"{auth}/{mode}: a secret leaked in the form {form[:8]}..."


def test_google_access_tokens_are_never_printed(debug_logs, capfd, google, monkeypatch, tmp_path):
    """The emulator's token endpoint issues real tokens; the DICOMweb endpoint echoes them back."""
    key = google.service_account_key()
    with FakeServer(echo("raw")) as server:
        monkeypatch.setenv(
            "AIRFLOW_CONN_ECHO_GOOGLE",
            connection_json(
                f"{server.url}/v1/projects/p/locations/l/datasets/d/dicomStores/s/dicomWeb",
                extra={"auth_type": "google", "keyfile_dict": json.dumps(key), "max_retries": 0},
            ),
        )
        texts = run_everything("echo_google", tmp_path)
        google.expire_tokens()  # a second token, after a refresh
        texts += run_everything("echo_google", tmp_path)
        seen = {
            value.removeprefix("Bearer ")
            for r in server.requests
            for name, value in r.headers.items()
            if name.lower() == "authorization"
        }
    assert len(seen) >= 2  # several tokens were issued and sent
    out, err = capfd.readouterr()
    blob = "\n".join([*texts, debug_logs.text, out, err])
    for token in seen:
        for form in forms(token):
            assert form not in blob, f"a Google access token leaked: {form[:12]}..."
    for secret in (key["private_key_id"], key["private_key"].splitlines()[1]):
        assert secret not in blob


@pytest.mark.parametrize(
    ("extra", "password", "field"),
    [
        ({"auth_type": "bearer"}, "zq8-abc\n", "bearer token"),
        ({"auth_type": "bearer"}, "zq8\r\nX-Injected: 1", "bearer token"),
        ({"headers": {"X-Api-Key": "key-value\r\nX-Injected: 1"}}, None, "header 'X-Api-Key'"),
    ],
)
def test_line_breaks_in_header_values_are_refused_when_settings_load_and_never_echoed(
    monkeypatch, extra, password, field
):
    with pytest.raises(DicomWebConfigError, match=f"{field}.*contains a line break") as caught:
        DicomWebSettings.from_connection_fields(host="http://127.0.0.1:9", password=password, extra=extra)
    secret = password or extra["headers"]["X-Api-Key"]
    assert secret.split()[0] not in str(caught.value) and "Injected" not in str(caught.value)
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRLF", connection_json("http://127.0.0.1:9", password=password, extra=extra)
    )
    ok, message = DicomWebHook("crlf").test_connection()
    assert not ok and "line break" in message and "Injected" not in message
