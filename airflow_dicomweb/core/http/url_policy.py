"""Which URLs may carry this service's credentials: one policy for every URL the client requests.

The service root, redirect targets, BulkDataURIs, operation names and any other link a server returns pass
through :class:`UrlPolicy` before a request is made. URLs are parsed with urllib3's parser, the one that
makes the connection, and the request goes out only if its scheme, host and port are the service's (or
those of a root the connection names, such as ``operations_root``).

Anything that two URL parsers may read differently is refused before it is compared: backslashes, control
characters and spaces, user information (``user@host``), percent signs in the host, and schemes other than
http and https. (``http://evil:9\\@service:443/`` is host ``service`` to ``urllib.parse`` and ``evil`` to
urllib3.) A link that would go from https to http is refused as a downgrade.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

from airflow_dicomweb.core.errors import DicomWebUnsafeUrlError

DEFAULT_PORTS = {"http": 80, "https": 443}
_AMBIGUOUS = re.compile(r"[\\\x00-\x20\x7f]")
_OPERATION_SEGMENT = re.compile(r"^[A-Za-z0-9_.~:-]+\Z")
_MAX_SHOWN = 120


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int


def shown(url: str) -> str:
    """A URL as it may appear in a message: cut short, control characters escaped, user information hidden."""
    text = url.encode("unicode_escape").decode("ascii")
    text = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/]*@", r"\1<userinfo>@", text)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."


def refuse_ambiguous(url: str, what: str) -> None:
    """Refuse an empty URL, or one with a backslash, a space or a control character."""
    if not isinstance(url, str) or not url:
        raise DicomWebUnsafeUrlError(f"{what}: empty URL")
    found = _AMBIGUOUS.search(url)
    if found:
        kind = "a backslash" if found.group() == "\\" else "a space or control character"
        raise DicomWebUnsafeUrlError(
            f"{what} {shown(url)!r} contains {kind}, which URL parsers read differently; refused"
        )


def parse(url: str, what: str) -> Url:
    """``url`` parsed as urllib3 will connect to it; refuses what parsers could read differently."""
    refuse_ambiguous(url, what)
    try:
        parsed = parse_url(url)
    except LocationParseError:
        raise DicomWebUnsafeUrlError(f"{what} {shown(url)!r} is not a valid URL; refused") from None
    if parsed.scheme not in DEFAULT_PORTS:
        raise DicomWebUnsafeUrlError(f"{what} {shown(url)!r} is not an http(s) URL; refused")
    if parsed.auth is not None or "@" in (parsed.netloc or ""):
        raise DicomWebUnsafeUrlError(
            f"{what} {shown(url)!r} carries user information (user@host); credentials come only from "
            "the connection; refused"
        )
    if not parsed.host or "%" in parsed.host:
        raise DicomWebUnsafeUrlError(f"{what} {shown(url)!r} has no usable host; refused")
    # Belt and braces: the standard library must see the same host and port.
    try:
        split = urlsplit(url)
        other = ((split.hostname or "").lower(), split.port or DEFAULT_PORTS[parsed.scheme])
    except ValueError:
        other = None
    if other != (parsed.host.strip("[]").lower(), origin(parsed).port):
        raise DicomWebUnsafeUrlError(f"{what} {shown(url)!r} is read differently by URL parsers; refused")
    return parsed


def origin(parsed: Url) -> Origin:
    scheme = parsed.scheme or ""
    return Origin(scheme, (parsed.host or "").lower(), parsed.port or DEFAULT_PORTS.get(scheme, 0))


def difference(got: Origin, want: Origin) -> str:
    """What makes ``got`` another origin than ``want``, in words."""
    if got.scheme != want.scheme:
        if want.scheme == "https":
            return f"its scheme {got.scheme} is a downgrade from the service's {want.scheme}"
        return f"its scheme {got.scheme} differs from the service's {want.scheme}"
    if got.host != want.host:
        return f"its host {got.host} is not the service's host {want.host}"
    return f"its port {got.port} is not the service's port {want.port}"


class UrlPolicy:
    """The origins a client may send its credentials to: the service root's, and any other root given."""

    def __init__(self, service_root: str, other_roots: Iterable[str] = ()) -> None:
        self.root = parse(service_root, "the service root")
        self.root_origin = origin(self.root)
        self.roots = [self.root, *(parse(r, "a configured root") for r in other_roots if r)]
        self.origins = {origin(r) for r in self.roots}

    def check(self, url: str, what: str) -> str:
        """``url`` if a request to it may carry the service's credentials; else :class:`DicomWebUnsafeUrlError`."""
        got = origin(parse(url, what))
        if got in self.origins:
            return url
        raise DicomWebUnsafeUrlError(f"{what} {shown(url)!r}: {difference(got, self.root_origin)}; refused")

    def refusal(self, url: str) -> str | None:
        """Why a request to ``url`` may not carry the service's credentials, or None if it may."""
        try:
            got = origin(parse(url, "the URL"))
        except DicomWebUnsafeUrlError as exc:
            return str(exc).removesuffix("; refused")
        return None if got in self.origins else difference(got, self.root_origin)

    def is_allowed(self, url: str) -> bool:
        return self.refusal(url) is None


def operation_path(name: str) -> str:
    """A long-running operation's name as a relative path, or :class:`DicomWebUnsafeUrlError`.

    Names look like ``projects/P/locations/L/datasets/D/operations/ID``: segments of letters, digits and
    ``_.~:-``, never ``.`` or ``..``, so a name cannot climb out of the operations root or add a query.
    """
    if not isinstance(name, str) or not name.strip("/"):
        raise DicomWebUnsafeUrlError("an operation needs a name")
    segments = name.strip("/").split("/")
    for segment in segments:
        if segment in (".", "..") or not _OPERATION_SEGMENT.match(segment):
            raise DicomWebUnsafeUrlError(
                f"operation name {shown(name)!r} has a segment {shown(segment)!r} that is not allowed "
                "(only letters, digits and _.~:- ; no '.' or '..'); refused"
            )
    return "/".join(segments)
