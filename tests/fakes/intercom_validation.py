"""Validate Intercom REST API traffic against Intercom's own OpenAPI file (version 2.14).

The spec is ``tests/contracts/intercom-2.14.yaml``: the operations this project calls, trimmed by
tests/contracts/extract.py from ``descriptions/2.14/api.intercom.io.yaml`` of
https://github.com/intercom/Intercom-OpenAPI (MIT; source, commit and license in
tests/contracts/README.md), the description python-intercom 5.x is generated from. Its defects
that matter here are patched by :func:`apply_overlay` before openapi-core sees it; the structure
follows tests/fakes/openapi_validation.py (the Zendesk counterpart).

    from tests.fakes.intercom_validation import validate_intercom_request
    validate_intercom_request("GET", "http://127.0.0.1:5000/articles?page=2",
                              {"Authorization": "Bearer t", "Intercom-Version": "2.14"}, None)  # -> []

Two checks openapi-core does not make are added, so that a misspelled or mistyped parameter
cannot pass unnoticed:

* query parameters the operation does not declare are violations (openapi-core ignores them);
* the fake's own responses can be checked too (:func:`validate_intercom_response`), so the
  fake cannot drift from the shapes Intercom documents.
"""
from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from openapi_core import Config, OpenAPI
from openapi_core.testing import MockResponse

from .openapi_validation import SpecRequest, _describe, read_spec_file, request_problems

SPEC_FILE = "intercom-2.14.yaml"
# Requests are validated as if sent to the spec's first server: the fake's real address
# (127.0.0.1:PORT) is irrelevant to the contract.
SPEC_HOST_URL = "https://api.intercom.io"

def _page_params() -> list[dict]:
    return [
        {"name": "page", "in": "query", "required": False,
         "description": "overlay: the page of results to fetch, 1-based (python-intercom sends it on every call)",
         "schema": {"type": "integer", "minimum": 1}},
        {"name": "per_page", "in": "query", "required": False,
         "description": "overlay: how many results per page (python-intercom's `per_page` argument)",
         "schema": {"type": "integer", "minimum": 1}},
    ]


def apply_overlay(spec: dict) -> dict:
    """Patch the defects of the vendor file that these tests hit. Mutates and returns ``spec``."""
    paths = spec["paths"]

    # (a) GET /articles and GET /help_center/collections declare no query parameters at all, yet
    # both are paginated (their responses carry `pages: {page, per_page, total_pages}`), Intercom's
    # docs and python-intercom 5.0.1 (generated from this very file's Fern definition) use
    # `page` and `per_page` (articles/raw_client.py and help_centers/collections/raw_client.py
    # always send `page`, default 1). openapi-core silently ignores undeclared query parameters,
    # and this module rejects them (see _undeclared_query), so without this patch every list
    # call would be a violation, and with no declaration at all `page=abc` would pass unchecked.
    for path in ("/articles", "/help_center/collections"):
        operation = paths[path]["get"]
        names = {p.get("name") for p in operation.get("parameters", []) if isinstance(p, dict)}
        operation.setdefault("parameters", []).extend(p for p in _page_params() if p["name"] not in names)

    # (b) A conversation part's `assigned_to` is typed as an object, not nullable, yet Intercom
    # sends `"assigned_to": null` on every part that assigns nobody: a note, a reply, a close
    # (the real webhook bodies in bot/helpdesks/intercom/fixtures/hull__conversation-admin-*.json,
    # captured by hull-connectors). Without this, every conversation the fake answers with a
    # note in it would be a violation.
    # (A `$ref`'s siblings are ignored in OpenAPI 3.0, and an `allOf` would still validate the
    # null against the object: the referenced schema is copied in, made nullable.)
    schemas = spec["components"]["schemas"]
    part = schemas.get("conversation_part")
    if part is not None:
        referenced = part["properties"]["assigned_to"]["$ref"].rsplit("/", 1)[-1]
        part["properties"]["assigned_to"] = {**copy.deepcopy(schemas[referenced]), "nullable": True}
    return spec


def load_spec_dict(overlay: bool = True) -> dict:
    """The vendor file as a dict (a fresh copy on each call), with the overlay unless told not to."""
    spec = read_spec_file(SPEC_FILE)
    return apply_overlay(spec) if overlay else spec


@functools.cache
def _spec_dict() -> dict:
    return load_spec_dict()


@functools.cache
def intercom_openapi() -> OpenAPI:
    """The patched spec as an openapi-core ``OpenAPI`` object, built once per process."""
    # The strict spec validator rejects Intercom's full file (UnresolvableParameterError on
    # /export/reporting_data/{job_identifier}, not among the operations kept): skip it, request
    # validation works regardless.
    return OpenAPI.from_dict(_spec_dict(), config=Config(spec_validator_cls=None))


def warm_up() -> None:
    """Load the spec and force openapi-core's lazy set-up (outside a threaded request)."""
    validate_intercom_request("GET", SPEC_HOST_URL + "/articles", {"Authorization": "Bearer x"}, None)


@functools.cache
def _path_patterns() -> list[tuple[re.Pattern, str]]:
    """Spec path templates as regexes, literal paths first (``/articles/search`` before ``/articles/{id}``)."""
    templates = sorted(_spec_dict()["paths"], key=lambda p: (p.count("{"), -len(p)))
    return [(re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)) + "$"), t) for t in templates]


def _operation(method: str, path: str) -> dict | None:
    for pattern, template in _path_patterns():
        if pattern.match(path):
            item = _spec_dict()["paths"][template]
            op = item.get(method.lower())
            if op is None:
                return None
            return {"parameters": [*item.get("parameters", []), *op.get("parameters", [])]}
    return None


def _undeclared_query(method: str, path: str, query: str) -> list[str]:
    op = _operation(method, path)
    if op is None:  # openapi-core reports unknown paths/methods itself
        return []
    declared = {p["name"] for p in op["parameters"] if isinstance(p, dict) and p.get("in") == "query"}
    sent = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    return [f"UndeclaredQueryParameter: {name!r} is not a parameter of {method.upper()} {path}"
            for name in sorted(sent - declared)]


def _request(method: str, url: str, headers: Mapping[str, str] | None, body: bytes | str | None) -> SpecRequest:
    if isinstance(body, str):
        body = body.encode()
    parts = urlsplit(url)
    return SpecRequest(method, parts.path or "/", parts.query, headers or {}, body, SPEC_HOST_URL)


def validate_intercom_request(
    method: str, url: str, headers: Mapping[str, str] | None, body_bytes: bytes | str | None
) -> list[str]:
    """Violations of the (patched) Intercom 2.14 spec by one request; ``[]`` means valid."""
    request = _request(method, url, headers, body_bytes)
    problems = request_problems(intercom_openapi(), request)
    if problems and problems[0].startswith("body is not valid JSON"):
        return problems
    problems.extend(_undeclared_query(method, request.path, urlsplit(url).query))
    return problems


def validate_intercom_response(
    method: str, url: str, headers: Mapping[str, str] | None, status: int, payload: Any
) -> list[str]:
    """Violations of the spec by a JSON response the fake is about to send; ``[]`` means valid."""
    request = _request(method, url, headers, None)
    data = b"" if payload is None else json.dumps(payload).encode()
    response = MockResponse(data, status_code=status, content_type="application/json")
    problems: list[str] = []
    for exc in intercom_openapi().iter_response_errors(request, response):
        problems.extend(_describe(exc))
    return problems
