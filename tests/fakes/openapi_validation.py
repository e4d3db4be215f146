"""Validate outgoing Zendesk Support API requests against Zendesk's own OpenAPI file.

The spec is ``tests/contracts/zendesk-support.yaml``: the operations this project calls, trimmed
from Zendesk's published ``oas.yaml`` (https://developer.zendesk.com/zendesk/oas.yaml, a June-2025
copy) by tests/contracts/extract.py; source and terms in tests/contracts/README.md. Its known
defects are patched by :func:`apply_overlay` before openapi-core sees it.

    from tests.fakes.openapi_validation import validate_zendesk_request
    validate_zendesk_request("PUT", "https://acme.zendesk.com/api/v2/tickets/5.json",
                             {"Authorization": "Basic ..."}, b'{"ticket": {...}}')  # -> [] when valid
"""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC_FILE = "zendesk-support.yaml"
# The spec's only server is ``https://{subdomain}.{domain}.com``; the real host of a request
# (127.0.0.1:PORT for the HTTP fake, acme.zendesk.com for ``responses``) is irrelevant to the
# contract, so every request is validated as if sent to the spec's default server.
SPEC_HOST_URL = "https://example.zendesk.com"


# tests/fakes/this.py -> tests/contracts: the vendors' files, inside the project.
CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SpecLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    pass


# Zendesk's file has a literal ``=`` key/value (``change: =`` in an example); YAML 1.1 resolves a
# bare ``=`` to the "value" tag, which safe_load has no constructor for.
_SpecLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))
# Keep timestamps as strings (JSON semantics): safe_load would turn examples into datetimes.
_SpecLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def _query_param(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "description": description, "schema": schema}


def apply_overlay(spec: dict) -> dict:
    """Patch the known defects of the vendor file (below, each with its public source). Mutates
    and returns ``spec``."""
    paths = spec["paths"]
    schemas = spec["components"]["schemas"]

    # (a) Missing path: List Tickets "requested by user" is documented by Zendesk (List Tickets,
    # https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#list-tickets) and
    # used by zenpy ``users.requested`` but absent from the June-2025 oas.yaml.
    paths.setdefault("/api/v2/users/{user_id}/tickets/requested", {
        "parameters": [{"$ref": "#/components/parameters/UserId"}],
        "get": {
            "operationId": "ListTicketsRequestedByUser",  # overlay, not Zendesk's
            "tags": ["Tickets"],
            "summary": "List Tickets requested by a user (overlay: missing from the vendor file)",
            "parameters": [
                _query_param("sort_by", {"type": "string", "enum": [
                    "assignee", "assignee.name", "created_at", "group", "id", "locale",
                    "requester", "requester.name", "status", "subject", "updated_at"]}, "Sort field"),
                _query_param("sort_order", {"type": "string", "enum": ["asc", "desc"]}, "Sort order"),
                _query_param("per_page", {"type": "integer", "minimum": 1, "maximum": 100}, "Offset pagination"),
                _query_param("page", {"type": "integer", "minimum": 1}, "Offset pagination"),
                _query_param("include", {"type": "string"}, "Sideloads, comma separated"),
            ],
            "responses": {"200": {"description": "Tickets", "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {
                    "tickets": {"type": "array", "items": {"$ref": "#/components/schemas/TicketObject"}},
                    "next_page": {"type": "string", "nullable": True},
                    "previous_page": {"type": "string", "nullable": True},
                    "count": {"type": "integer"},
                },
            }}}}},
        },
    })

    # (b) TicketUpdateInput.custom_fields items point at CustomFieldObject (the ticket-field
    # *definition*: id readOnly, key/type/title required), so every real ``[{"id", "value"}]``
    # fails. Relax to the value shape Zendesk documents ("Setting custom field values",
    # https://developer.zendesk.com/documentation/ticketing/managing-tickets/creating-and-updating-tickets/#setting-custom-field-values);
    # value may be string, number, bool, list (multiselect) or null, so it is left untyped.
    schemas["TicketUpdateInput"]["properties"]["custom_fields"]["items"] = {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "integer"}, "value": {"nullable": True}},
    }
    # (d) List Groups (GET /api/v2/groups) declares the `UserId` *path* parameter, which its path
    # has no placeholder for (it belongs to /api/v2/users/{user_id}/groups, documented on the same
    # page: https://developer.zendesk.com/api-reference/ticketing/groups/groups/#list-groups), so
    # every request would fail "missing required path parameter". Drop it from this operation.
    groups = paths.get("/api/v2/groups", {}).get("get")
    if groups is not None:
        groups["parameters"] = [p for p in groups.get("parameters", [])
                                if p != {"$ref": "#/components/parameters/UserId"}]
    # (c) The spec's paths have no ``.json`` suffix while zenpy always adds it (Zendesk: "The
    # .json extension is optional", https://developer.zendesk.com/api-reference/introduction/doc-conventions/):
    # handled in validate_zendesk_request (the suffix is stripped before path matching), not in the dict.
    return spec


def read_spec_file(name: str) -> dict:
    """A vendor file from tests/contracts as a dict (a fresh copy on each call)."""
    with open(CONTRACTS_DIR / name, "rb") as fh:
        return yaml.load(fh, Loader=_SpecLoader)  # noqa: S506 - a SafeLoader subclass


def load_spec_dict(overlay: bool = True) -> dict:
    """The vendor file as a dict (a fresh copy on each call), with the overlay unless told not to."""
    spec = read_spec_file(SPEC_FILE)
    return apply_overlay(spec) if overlay else spec


@functools.cache
def zendesk_openapi() -> OpenAPI:
    """The patched spec as an openapi-core ``OpenAPI`` object, built once per process."""
    spec = load_spec_dict()
    # The strict spec validator rejects Zendesk's full file (UnresolvableParameterError on
    # /api/v2/brand_agents, not among the operations kept): skip it, request validation works regardless.
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


def warm_up() -> None:
    """Load the spec and force openapi-core's lazy path/schema set-up (for timing or fixtures)."""
    validate_zendesk_request("GET", SPEC_HOST_URL + "/api/v2/users/me.json", {"Authorization": "Basic eDp5"}, None)


class SpecRequest:
    """openapi-core's ``Request`` protocol for a raw (method, url, headers, body) tuple, as if
    sent to ``host_url`` (the spec's server: the real host of a fake is irrelevant)."""

    def __init__(self, method: str, path: str, query: str, headers: Mapping[str, str],
                 body: bytes | None, host_url: str = SPEC_HOST_URL):
        self.host_url = host_url
        self.path = path
        self.method = method.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(query, keep_blank_values=True)),
            header=Headers(list(headers.items())),
            cookie=ImmutableMultiDict(),
        )
        self.body = body or None
        ctype = Headers(list(headers.items())).get("Content-Type", "")
        self.content_type = (ctype or "application/json").lower() if self.body else ""

    @property
    def full_url_pattern(self) -> str:
        return self.host_url + self.path


# (c) A few spec paths (/api/lotus/assignables/*.json) really end in ".json": keep those.
_LITERAL_JSON_PATHS = re.compile(r"/api/lotus/assignables/(autocomplete|groups|groups/[^/]+/agents)\.json")


def spec_path(url_or_path: str) -> str:
    """URL/path -> the path as written in the spec (query dropped, ``.json`` suffix stripped)."""
    path = urlsplit(url_or_path).path or "/"
    if path.endswith(".json") and not _LITERAL_JSON_PATHS.fullmatch(path):
        return path[: -len(".json")]
    return path


def _describe(exc: BaseException) -> list[str]:
    """Flatten an openapi-core error and its causes into readable lines."""
    name = type(exc).__name__
    param = getattr(exc, "name", None)
    if isinstance(param, str):  # parameter errors: say which one
        name = f"{name} ({getattr(exc, 'location', '?')} parameter {param})"
    schema_errors = list(getattr(exc, "schema_errors", None) or [])
    text = str(exc).removeprefix(type(exc).__name__).removeprefix(": ")
    cause = exc.__cause__
    while cause is not None:
        schema_errors.extend(getattr(cause, "schema_errors", None) or [])
        if not schema_errors and str(cause) and str(cause) not in text:
            text = f"{text}: {cause}" if text else str(cause)
        cause = cause.__cause__
    if not schema_errors:
        return [f"{name}: {text or repr(exc)}"]
    lines = []
    for err in schema_errors:
        where = "/".join(str(p) for p in err.absolute_path) or "<root>"
        lines.append(f"{name}: {where}: {err.message}")
    return lines


def validate_zendesk_request(
    method: str, url: str, headers: Mapping[str, str] | None, body_bytes: bytes | str | None
) -> list[str]:
    """Violations of the (patched) Zendesk Support spec by one request; ``[]`` means valid."""
    if isinstance(body_bytes, str):
        body_bytes = body_bytes.encode()
    parts = urlsplit(url)
    request = SpecRequest(method, spec_path(url), parts.query, headers or {}, body_bytes)
    return request_problems(zendesk_openapi(), request)


def request_problems(openapi: OpenAPI, request: SpecRequest) -> list[str]:
    """Every violation of ``openapi`` by ``request``, readable; a JSON body must parse first."""
    if request.body is not None and "json" in request.content_type:
        try:
            json.loads(request.body)
        except ValueError as exc:
            return [f"body is not valid JSON: {exc}"]
    problems: list[str] = []
    for exc in openapi.iter_request_errors(request):
        problems.extend(_describe(exc))
    return problems


def parse_json(body: bytes | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
