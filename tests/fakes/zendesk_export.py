"""The fake Zendesk's incremental ticket export (cursor based), and the spec overlay it needs.

:class:`ExportRoutes` is a mixin for :class:`tests.fakes.zendesk_api.FakeZendesk` (over its
``self.tickets``) answering ``GET /api/v2/incremental/tickets/cursor[.json]`` the way Zendesk
documents it
(https://developer.zendesk.com/documentation/ticketing/managing-tickets/using-the-incremental-export-api):

* the first request carries ``start_time`` (epoch seconds), the next ones only ``cursor``;
* tickets changed at or after ``start_time`` (the fake compares ``updated_at``), oldest first,
  deleted ones included with ``status: "deleted"``; ``fake.export_page_size`` per page;
* every page has an ``after_cursor``/``after_url``, the last one too; ``end_of_stream`` says
  whether more follow. Cursors are opaque; :func:`export_cursor` makes the fake's own.

``fake.throttle_export("7", None)``: the next two export requests get 429, the first with
``Retry-After: 7``, the second without the header (Zendesk always sends it; the adapter must
cope anyway). Throttling happens after spec validation, like ``fail_next``.

:func:`validate_request` is what the fake validates every request with: the shared validator
(openapi_validation.py), except for the export path, which is validated against the same file
with one more patch. The June-2025 copy declares ``start_time`` *required* on every request to
``/api/v2/incremental/tickets/cursor``, yet Zendesk's guide says "You don't need a start time for
the next page" and the spec's own example ``after_url`` is ``...cursor.json?cursor=...``. So
``start_time`` is made optional there, and a request must carry ``start_time`` or ``cursor``.
"""
from __future__ import annotations

import base64
import copy
import functools
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from openapi_core import Config, OpenAPI

from .openapi_validation import SpecRequest, load_spec_dict, request_problems, spec_path, validate_zendesk_request

EXPORT_SPEC_PATH = "/api/v2/incremental/tickets/cursor"
J = dict[str, Any]


def export_cursor(start_time: int, offset: int) -> str:
    """The fake's cursor for the page starting at ``offset`` of the export from ``start_time``."""
    return base64.urlsafe_b64encode(f"{start_time}|{offset}".encode()).decode()


def _read_cursor(cursor: str) -> tuple[int, int] | None:
    try:
        start, offset = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return int(start), int(offset)
    except ValueError:
        return None


def _epoch(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())


class ExportRoutes:
    tickets: dict[int, J]
    export_page_size: int = 1000  # Zendesk's default page size for this export

    def throttle_export(self, *retry_afters: str | None) -> None:
        """The next ``len(retry_afters)`` export requests get 429 (None: no Retry-After header)."""
        self.__dict__.setdefault("_export_throttle", []).extend(retry_afters)

    def _export_tickets(self, method, *, query, base, **_) -> tuple[int, dict[str, str], Any]:
        throttle = self.__dict__.setdefault("_export_throttle", [])
        if throttle:
            retry_after = throttle.pop(0)
            headers = {} if retry_after is None else {"Retry-After": retry_after}
            return 429, headers, {"error": "APIRateLimitExceeded",
                                  "description": "Number of allowed API requests per minute exceeded"}
        if "cursor" in query:
            position = _read_cursor(query["cursor"])
            if position is None:
                return 422, {}, {"error": "InvalidCursor", "description": "Invalid cursor"}
            start, offset = position
        else:
            start, offset = int(query["start_time"]), 0  # the validator made sure it is there
        changed = sorted((t for t in self.tickets.values() if _epoch(t["updated_at"]) >= start),
                         key=lambda t: (t["updated_at"], t["id"]))
        page = changed[offset:offset + self.export_page_size]
        nxt = export_cursor(start, offset + len(page))
        tickets = [{**self._ticket_json(t, base), "generated_timestamp": _epoch(t["updated_at"])}  # type: ignore[attr-defined]
                   for t in page]
        return 200, {}, {
            "tickets": tickets,
            "after_cursor": nxt,
            "after_url": f"{base}{EXPORT_SPEC_PATH}.json?" + urlencode({"cursor": nxt}),
            "before_cursor": export_cursor(start, offset) if offset else None,
            "before_url": None,
            "end_of_stream": offset + len(page) >= len(changed),
        }


# ---- validation --------------------------------------------------------------------------
_lock = threading.Lock()


@functools.cache
def _export_openapi() -> OpenAPI:
    spec = load_spec_dict()
    path = copy.deepcopy(spec["paths"][EXPORT_SPEC_PATH])
    start_time = copy.deepcopy(spec["components"]["parameters"]["IncrementalUnixTime"])
    start_time["required"] = False
    path["parameters"] = [start_time if p == {"$ref": "#/components/parameters/IncrementalUnixTime"} else p
                          for p in path["parameters"]]
    spec["paths"] = {EXPORT_SPEC_PATH: path}  # only this path: the rest goes through the shared one
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


def export_openapi() -> OpenAPI:
    with _lock:  # built once, possibly from the HTTP front-end's request threads
        return _export_openapi()


def validate_request(method: str, url: str, headers: Mapping[str, str] | None,
                     body_bytes: bytes | str | None) -> list[str]:
    """Like ``validate_zendesk_request``, with the export overlay (module docstring)."""
    if spec_path(url) != EXPORT_SPEC_PATH:
        return validate_zendesk_request(method, url, headers, body_bytes)
    if isinstance(body_bytes, str):
        body_bytes = body_bytes.encode()
    parts = urlsplit(url)
    problems = request_problems(export_openapi(),
                                SpecRequest(method, EXPORT_SPEC_PATH, parts.query, headers or {}, body_bytes))
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if method.upper() == "GET" and "start_time" not in query and "cursor" not in query:
        problems.append("overlay: the first export request needs start_time, the next ones cursor")
    return problems
