"""Trim a vendor's OpenAPI file to the operations this project calls, and what they reference.

The fakes in tests/fakes validate every request against these trimmed files. Each keeps, byte
for byte in content (only the YAML layout changes), the vendor's ``openapi``, ``info``,
``servers``, ``security`` and security schemes, the operations listed in :data:`VENDORS`
(with their path-level parameters), every component those reference, transitively, and the
``tags`` they use. Nothing else. Run from the project root:

    python tests/contracts/extract.py zendesk  path/to/oas.yaml
    python tests/contracts/extract.py intercom path/to/descriptions/2.14/api.intercom.io.yaml
    python tests/contracts/extract.py zendesk  path/to/oas.yaml --check   # exit 1 if stale

Sources, versions and terms: tests/contracts/README.md. Needs only PyYAML. The output depends
only on the vendor file and this script (keys keep the vendor's order; pure-Python dumper).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent

# Per vendor: the operations kept ({path: methods}) and components the fakes' overlays point
# at (tests/fakes/openapi_validation.py, zendesk_export.py), kept even if nothing else does.
VENDORS: dict[str, dict[str, Any]] = {
    "zendesk": {
        "output": "zendesk-support.yaml",
        "source": "https://developer.zendesk.com/zendesk/oas.yaml (Zendesk Support API, Zendesk, Inc.)",
        "terms": "No license is stated in the file; Zendesk's developer terms apply. Only the operations "
                 "this project calls are kept (tests/contracts/README.md).",
        "operations": {
            # bot/helpdesk/zendesk.py through zenpy and its session; routes of tests/fakes/zendesk_api.py
            "/api/v2/users/me": ["get"],
            "/api/v2/users/{user_id}": ["get"],  # also matches /users/me: kept so path matching is unchanged
            "/api/v2/organizations/{organization_id}": ["get"],
            "/api/v2/tickets/{ticket_id}": ["get", "put"],
            "/api/v2/tickets/{ticket_id}/comments": ["get"],
            "/api/v2/tickets/{ticket_id}/audits": ["get"],  # bot/helpdesks/zendesk (tracking)
            "/api/v2/tickets/{ticket_id}/tags": ["get", "put", "post", "delete"],
            "/api/v2/incremental/tickets/cursor": ["get"],
            # bot/helpdesks/zendesk/setup.py (python -m bot setup zendesk, doctor); routes of
            # tests/fakes/zendesk_admin.py
            "/api/v2/ticket_fields": ["get", "post"],
            "/api/v2/ticket_fields/{ticket_field_id}": ["put", "delete"],
            "/api/v2/triggers": ["get", "post"],
            "/api/v2/triggers/{trigger_id}": ["put", "delete"],
            "/api/v2/trigger_categories": ["get", "post"],
            "/api/v2/trigger_categories/{trigger_category_id}": ["patch", "delete"],
            "/api/v2/macros": ["get", "post"],
            "/api/v2/macros/{macro_id}": ["put", "delete"],
            "/api/v2/groups": ["get"],
            # the only paths written with ".json" (tests/fakes/openapi_validation.py keeps the suffix
            # there; tests/test_fake_zendesk.py checks they are exactly these three)
            "/api/lotus/assignables/autocomplete.json": ["get"],
            "/api/lotus/assignables/groups.json": ["get"],
            "/api/lotus/assignables/groups/{group_id}/agents.json": ["get"],
        },
        "extra_refs": ["#/components/parameters/UserId", "#/components/schemas/TicketObject",
                       "#/components/schemas/TicketUpdateInput", "#/components/parameters/IncrementalUnixTime"],
    },
    "intercom": {
        "output": "intercom-2.14.yaml",
        "source": "https://github.com/intercom/Intercom-OpenAPI descriptions/2.14/api.intercom.io.yaml",
        "terms": "Copyright (c) 2022 Intercom, Inc. MIT License: see LICENSE-intercom-openapi beside this file.",
        "operations": {
            # bot/helpdesks/intercom/help_center.py through python-intercom; routes of tests/fakes/intercom_api.py
            "/articles": ["get"],
            "/help_center/collections": ["get"],
            # bot/helpdesks/intercom/adapter.py through python-intercom; routes of
            # tests/fakes/intercom_inbox.py
            "/conversations/{conversation_id}": ["get"],
            "/conversations/search": ["post"],
            "/conversations/{conversation_id}/reply": ["post"],
            "/conversations/{conversation_id}/parts": ["post"],
            "/conversations/{conversation_id}/tags": ["post"],
            "/contacts/{contact_id}": ["get"],
            "/tags": ["get", "post"],
            "/tags/{tag_id}": ["delete"],  # bot/helpdesks/intercom/setup.py (setup intercom --remove)
            "/me": ["get"],  # setup intercom, doctor: the token's admin
            "/teams": ["get"],
            "/admins": ["get"],
        },
        "extra_refs": [],
    },
}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader that keeps what JSON would keep: a bare ``=`` (YAML 1.1's "value" tag, used in
    one of Zendesk's examples) and timestamps stay strings."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))
_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _component(ref: str) -> tuple[str, str]:
    """``#/components/schemas/A~1B`` -> ``("schemas", "A/B")`` (JSON pointer escapes undone)."""
    parts = ref.split("/")
    if len(parts) != 4 or parts[:2] != ["#", "components"]:
        raise SystemExit(f"unsupported $ref (not a local component): {ref}")
    return parts[2], parts[3].replace("~1", "/").replace("~0", "~")


def trim(full: dict, operations: dict[str, list[str]], extra_refs: Sequence[str] = ()) -> dict:
    """The subset of ``full`` described in the module docstring."""
    paths: dict[str, dict] = {}
    for path, item in full["paths"].items():  # the vendor's order
        if path not in operations:
            continue
        missing = set(operations[path]) - set(item)
        if missing:
            raise SystemExit(f"{path}: the vendor file has no {sorted(missing)}")
        paths[path] = {k: v for k, v in item.items() if k not in METHODS or k in operations[path]}
    absent = set(operations) - set(paths)
    if absent:
        raise SystemExit(f"paths missing from the vendor file: {sorted(absent)}")

    components = full.get("components", {})
    wanted: set[tuple[str, str]] = set()
    todo = [*_refs(paths), *extra_refs]
    while todo:
        key = _component(todo.pop())
        if key in wanted:
            continue
        kind, name = key
        if name not in components.get(kind, {}):
            raise SystemExit(f"dangling $ref: #/components/{kind}/{name}")
        wanted.add(key)
        todo.extend(_refs(components[kind][name]))

    kept_components: dict[str, dict] = {}
    for kind, entries in components.items():
        if kind == "securitySchemes":  # referenced by name from `security`, not by $ref
            kept_components[kind] = entries
            continue
        chosen = {name: value for name, value in entries.items() if (kind, name) in wanted}
        if chosen:
            kept_components[kind] = chosen

    used_tags = {t for item in paths.values() for m, op in item.items() if m in METHODS for t in op.get("tags", [])}
    out: dict[str, Any] = {}
    for key, value in full.items():  # the vendor's top-level order
        if key == "paths":
            out[key] = paths
        elif key == "components":
            out[key] = kept_components
        elif key == "tags":
            out[key] = [t for t in value if t.get("name") in used_tags]
        elif key in ("openapi", "info", "servers", "security", "externalDocs"):
            out[key] = value
        # anything else (x-* extensions, webhooks) is not needed to validate requests
    return out


def render(vendor: str, source_bytes: bytes) -> str:
    conf = VENDORS[vendor]
    full = yaml.load(source_bytes, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    trimmed = trim(full, conf["operations"], conf["extra_refs"])
    header = [
        f"Trimmed copy of {conf['source']}.",
        f"Input sha256 {hashlib.sha256(source_bytes).hexdigest()} ({len(source_bytes)} bytes).",
        conf["terms"],
        f"Generated by tests/contracts/extract.py ({vendor}): do not edit, regenerate.",
        f"Kept: {sum(len(m) for m in conf['operations'].values())} operations on {len(trimmed['paths'])} paths, "
        f"{sum(len(v) for v in trimmed.get('components', {}).values())} components.",
    ]
    body = yaml.dump(trimmed, Dumper=yaml.SafeDumper, sort_keys=False, allow_unicode=True, width=100)
    return "".join(f"# {line}\n" for line in header) + "---\n" + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("vendor", choices=sorted(VENDORS))
    parser.add_argument("source", type=Path, help="the vendor's full OpenAPI file")
    parser.add_argument("-o", "--output", type=Path, help="default: tests/contracts/<the vendor's file>")
    parser.add_argument("--check", action="store_true", help="compare with the output file instead of writing it")
    args = parser.parse_args(argv)
    output = args.output or HERE / VENDORS[args.vendor]["output"]
    text = render(args.vendor, args.source.read_bytes())
    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else None
        print(f"{output}: {'up to date' if current == text else 'STALE: regenerate it'}")
        return 0 if current == text else 1
    output.write_text(text, encoding="utf-8")
    print(f"{output}: {len(text.encode())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
