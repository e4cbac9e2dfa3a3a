"""Every form of a secret is redacted: as sent, percent-encoded, JSON-escaped, as a Basic credential."""

import base64
import json
from urllib.parse import quote, quote_plus

from airflow_dicomweb.core.http.redaction import Redactor
from airflow_dicomweb.core.settings import DicomWebSettings

PASSWORD = 'p"a\\ss w/rd+é'


def test_each_form_of_a_password_and_its_basic_credential_is_redacted():
    redactor = Redactor()
    redactor.add_basic("airflow", PASSWORD)
    basic = base64.b64encode(f"airflow:{PASSWORD}".encode("latin-1")).decode()
    for form in (
        PASSWORD,
        quote(PASSWORD, safe=""),
        quote_plus(PASSWORD),
        json.dumps(PASSWORD)[1:-1],
        basic,
        quote(basic, safe=""),
        json.dumps(PASSWORD, ensure_ascii=False)[1:-1],
    ):
        assert redactor.redact(f"before {form} after") == "before <redacted> after", form


def test_listeners_hear_each_announced_secret_once_not_every_encoding():
    heard: list[str] = []
    redactor = Redactor(["first-secret"])
    redactor.add("known-elsewhere", announce=False)
    redactor.listen(heard.append)
    redactor.add("token-issued-later")
    redactor.add("token-issued-later")
    assert heard == ["first-secret", "token-issued-later"]
    assert redactor.redact("known-elsewhere") == "<redacted>"


def test_settings_name_every_secret_including_header_values_and_the_google_key():
    key = {
        "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END",
        "private_key_id": "abcd1234",
    }
    settings = DicomWebSettings.from_connection_fields(
        host="https://h/dicom-web",
        login="u",
        password="pw-1234",
        extra={"headers": {"X-Api-Key": "k-5678"}, "keyfile_dict": json.dumps(key)},
    )
    text = settings.redactor().redact(
        "pw-1234 k-5678 abcd1234 MIIEvQIBADANBgkqhkiG9w0BAQEFAASC " + base64.b64encode(b"u:pw-1234").decode()
    )
    assert text == "<redacted> <redacted> <redacted> <redacted> <redacted>"


def test_short_values_are_not_treated_as_secrets():
    assert Redactor(["abc"]).redact("abc def") == "abc def"
