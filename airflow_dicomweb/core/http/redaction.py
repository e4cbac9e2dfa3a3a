"""Secrets kept out of every log line and error message, in every form they may take on the way.

A password is also sent as ``Basic base64(login:password)``, a server may echo a token percent-encoded or
JSON-escaped, and Google's access tokens change at every refresh. :class:`Redactor` holds every such form
of every secret it was given (tokens are added as they are issued, and old ones are kept), and replaces
them in any text. Listeners (the Airflow hook registers Airflow's secrets masker) hear of each new form, so
text that never passes through this package is masked too.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

REDACTED = "<redacted>"
#: Shorter values are not treated as secrets: replacing them would mangle every message.
MIN_SECRET_LENGTH = 4
_USERINFO = re.compile(r"(https?://)[^/\s:@]+(:[^/\s@]*)?@")


def _b64_forms(raw: bytes) -> list[str]:
    return [base64.b64encode(raw).decode("ascii"), base64.urlsafe_b64encode(raw).decode("ascii")]


def secret_forms(secret: str) -> set[str]:
    """``secret`` as sent and as a server or a library may print it back."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        *_b64_forms(secret.encode("utf-8")),
    }
    # A multi-line secret (a PEM key) may be printed a line at a time.
    forms.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= 16)
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def basic_credential_forms(login: str, password: str) -> set[str]:
    """The ``Authorization: Basic`` value of a login and password, in the encodings requests may use."""
    forms: set[str] = set()
    for encoding in ("latin-1", "utf-8"):
        try:
            raw = f"{login}:{password}".encode(encoding)
        except UnicodeEncodeError:
            continue
        forms.update(_b64_forms(raw))
    return forms


class Redactor:
    """Every known form of a client's secrets, and their replacement in text. Thread-safe.

    Listeners hear each *announced* secret once, as it is sent (not every encoding of it): what another
    masker (Airflow's) cannot know by itself, such as a derived Basic credential or a fresh access token.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._forms: list[str] = []  # longest first, so a secret is replaced before its parts
        self._known: set[str] = set()
        self._announced: list[str] = []
        self._listeners: list[Callable[[str], None]] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None, *, announce: bool = True) -> None:
        """Redact ``secret`` and its derived forms from now on; tell listeners of it if ``announce``."""
        if secret and len(secret) >= MIN_SECRET_LENGTH:
            self._add_forms(secret_forms(secret), secret if announce else None)

    def add_basic(self, login: str, password: str) -> None:
        """Redact the Basic credential made of ``login`` and ``password`` (and the password itself), in
        every encoding a server may echo it (the base64 value percent-encoded, JSON-escaped...)."""
        self.add(password)
        for credential in basic_credential_forms(login, password):
            self.add(credential)

    def _add_forms(self, forms: set[str], announced: str | None) -> None:
        with self._lock:
            new = forms - self._known
            self._known |= new
            if new:
                self._forms = sorted(self._known, key=len, reverse=True)
            if announced is None or announced in self._announced:
                return
            self._announced.append(announced)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(announced)

    def listen(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` with every secret announced so far and every one announced later."""
        with self._lock:
            self._listeners.append(listener)
            announced = list(self._announced)
        for secret in announced:
            listener(secret)

    @property
    def forms(self) -> list[str]:
        with self._lock:
            return list(self._forms)

    def redact(self, text: str) -> str:
        """``text`` with every known form of a secret replaced, and user information stripped from URLs."""
        for form in self.forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return _USERINFO.sub(r"\1<redacted>@", text)
