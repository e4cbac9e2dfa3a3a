"""The de-identification key: a secret like a password. Every replacement is derived from it with
HMAC-SHA256, so the same key gives the same output (a re-run stores nothing new) and nobody without it can
map a pseudonym back to a patient by trying patient IDs.

The key's bytes are never part of a ``repr``, a ``str``, a log record or an exception.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from airflow_dicomweb.core.errors import DicomWebConfigError

#: The shortest key taken: patient IDs are guessable, so a short key would let anyone rebuild the mapping.
MIN_KEY_BYTES = 16
#: How far dates are shifted back under ``dates-modified``: 1 to this many days, one offset per patient.
MAX_DAY_OFFSET = 3652
#: The root of every UID made here: ``2.25`` (PS3.5 B.2), a UUID written as one integer.
UUID_ROOT = "2.25."


class DeidentificationKey:
    """A secret key; build it from text (a connection's password) or a key file."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes | str) -> None:
        raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        raw = raw.strip()
        if len(raw) < MIN_KEY_BYTES:
            raise DicomWebConfigError(
                f"the de-identification key is too short: at least {MIN_KEY_BYTES} bytes "
                "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        self._secret = raw

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> DeidentificationKey:
        """The key in a file (its bytes, surrounding whitespace dropped)."""
        try:
            with open(path, "rb") as handle:
                data = handle.read(64 * 1024)
        except OSError as exc:
            raise DicomWebConfigError(f"cannot read the key file {os.fspath(path)}: {exc.strerror}") from None
        return cls(data)

    def __repr__(self) -> str:
        return "DeidentificationKey(***)"

    __str__ = __repr__

    def __reduce__(self) -> tuple:  # pickling would carry the secret into places it must not go
        raise TypeError("a DeidentificationKey is not pickled")

    def _digest(self, purpose: bytes, value: str) -> bytes:
        return hmac.new(self._secret, purpose + b"\x00" + value.encode("utf-8"), hashlib.sha256).digest()

    def uid(self, original: str) -> str:
        """The UID that replaces ``original``: ``2.25.`` and a version-8 UUID (RFC 9562) from the keyed hash,
        as an integer; at most 44 characters, no leading zero."""
        digest = bytearray(self._digest(b"uid", original)[:16])
        digest[6] = (digest[6] & 0x0F) | 0x80  # version 8: custom
        digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC's variant
        return UUID_ROOT + str(int.from_bytes(digest, "big"))

    def pseudonym(self, patient: str) -> str:
        """The pseudonym of one patient (their ID and its issuer): 16 letters and digits."""
        digest = self._digest(b"patient", patient)
        return "P" + base64.b32encode(digest[:10]).decode("ascii")[:15]

    def day_offset(self, patient: str) -> int:
        """How many days this patient's dates move back under ``dates-modified`` (1..MAX_DAY_OFFSET)."""
        digest = self._digest(b"days", patient)
        return 1 + int.from_bytes(digest[:8], "big") % MAX_DAY_OFFSET

    def fingerprint(self) -> str:
        """A short name of the key that reveals nothing of it (for a report: which key made this output)."""
        return self._digest(b"fingerprint", "")[:6].hex()
