"""Booleans and numbers that may arrive as rendered template text.

Jinja renders every templated value to a string, and ``"False"`` is truthy: a flag or a count that may come
from a template (``"{{ params.limit }}"``) is converted here, strictly, with an error naming the argument.
"""

from __future__ import annotations

from typing import Any

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def as_bool(value: Any, name: str) -> bool:
    """``value`` as a boolean: a bool, or true/false/1/0/yes/no/on/off in any case."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def as_optional_int(value: Any, name: str, *, minimum: int = 0) -> int | None:
    """``value`` as an integer of at least ``minimum``, or None for None, "" and "None"."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    try:
        number = value if isinstance(value, int) else int(str(value).strip())
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}")
    return number


def as_int(value: Any, name: str, *, default: int, minimum: int = 0) -> int:
    """``value`` as an integer of at least ``minimum``; ``default`` for None, "" and "None"."""
    number = as_optional_int(value, name, minimum=minimum)
    return default if number is None else number
