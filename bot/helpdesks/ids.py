"""Ids a webhook body carries into the store, checked against what their columns can hold, so
that a delivery that could never be stored is a 400 (not retried) instead of a failed insert
answered with a 503 that the helpdesk retries forever. Shared by every helpdesk's webhook."""

from __future__ import annotations

import unicodedata

from bot.errors import InvalidPayload

# What surrounds an id and is dropped: JSON's whitespace, which is also HTTP's (SP, HTAB).
_EDGE_SPACE = " \t\r\n"


def stored_id(value: object, where: str, max_chars: int) -> str | None:
    """An id that is stored, exactly as it will be stored; None when absent or empty.

    A string (surrounding spaces, tabs and line breaks dropped) or a JSON integer (written in
    decimal) is taken; any other JSON value is refused, as is a string that its column could not
    hold as given: longer than `max_chars` (PostgreSQL counts characters, like `len`), or with a
    control character (NUL is refused by PostgreSQL; the others are no part of any id and would
    reach the logs) or a lone surrogate (`"\\ud800"` is valid JSON but cannot be encoded in UTF-8).
    """
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip(_EDGE_SPACE)
    else:
        raise InvalidPayload(f"`{where}` must be a string id, got {json_kind(value)}")
    if not text:
        return None
    if len(text) > max_chars:
        raise InvalidPayload(f"`{where}` is longer than {max_chars} characters ({len(text)})")
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc":
            raise InvalidPayload(f"`{where}` contains the control character U+{ord(char):04X}")
        if category == "Cs":
            raise InvalidPayload(f"`{where}` contains the lone surrogate U+{ord(char):04X}")
    return text


def json_kind(value: object) -> str:
    names = {bool: "a boolean", float: "a non-integer number", dict: "an object", list: "an array"}
    return names.get(type(value), type(value).__name__)
