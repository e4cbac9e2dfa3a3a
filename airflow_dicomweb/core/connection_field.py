"""One extra of the connection, as its owner declares it (the common fields, an auth type, a source of study
arrivals): its name, its field on the form, its type, its default, and whether it is a secret."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConnectionField:
    """One extra of the connection, and its field on the form."""

    name: str
    label: str
    description: str
    #: The JSON schema type: ``string``, ``number``, ``integer`` or ``boolean``.
    kind: str = "string"
    default: Any = None
    #: The values a select offers (a select has a default, never ``null``).
    choices: tuple[str, ...] = ()
    #: ``password``, ``url``, ``json`` or ``multiline``: how the form shows it.
    format: str | None = None
    #: A value to redact wherever it could appear (a key, a secret).
    secret: bool = False

    def form(self) -> dict[str, Any]:
        """The field as the provider info's ``conn-fields`` declares it."""
        schema: dict[str, Any] = {"type": self.kind if self.choices else [self.kind, "null"]}
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.default is not None:
            schema["default"] = self.default
        if self.format:
            schema["format"] = self.format
        return {"label": self.label, "description": self.description, "schema": schema}
