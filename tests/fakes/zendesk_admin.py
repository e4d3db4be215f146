"""The admin side of the fake Zendesk: webhooks (with their signing secrets), trigger categories,
triggers, ticket fields, macros and groups, as `python -m bot setup zendesk` and `doctor` use
them. A mixin of :class:`tests.fakes.zendesk_api.FakeZendesk`, which validates every request:
the Support API routes against Zendesk's own file (tests/contracts/zendesk-support.yaml), the
Webhooks API routes against tests/contracts/zendesk-webhooks.yaml (:func:`validate_webhooks_request`).

Behaviour kept from Zendesk's documentation: ids are integers except webhooks' (ULID-like
strings); creating answers 201 with the object; a webhook's update and delete answer 204;
a trigger needs a category (https://developer.zendesk.com/api-reference/ticketing/business-rules/triggers/);
a trigger category that still holds triggers cannot be deleted; and a webhook's connection method
(`subscriptions`) cannot change (https://developer.zendesk.com/documentation/webhooks/creating-and-monitoring-webhooks/).
"""
from __future__ import annotations

import copy
import functools
import secrets
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from openapi_core import Config, OpenAPI

from .openapi_validation import SpecRequest, read_spec_file, request_problems

J = dict[str, Any]
Result = tuple[int, dict[str, str], Any]
WEBHOOKS_SPEC = "zendesk-webhooks.yaml"
_lock = threading.Lock()


@functools.cache
def _webhooks_openapi() -> OpenAPI:
    return OpenAPI.from_dict(read_spec_file(WEBHOOKS_SPEC), config=Config(spec_validator_cls=None))


def is_webhooks_path(path: str) -> bool:
    return path.startswith("/api/v2/webhooks")


def validate_webhooks_request(method: str, url: str, headers: Mapping[str, str] | None,
                              body_bytes: bytes | None) -> list[str]:
    parts = urlsplit(url)
    with _lock:
        openapi = _webhooks_openapi()
    request = SpecRequest(method, parts.path.removesuffix(".json"), parts.query, headers or {}, body_bytes)
    return request_problems(openapi, request)


class AdminRoutes:
    """Handlers are called with the fake's lock held, like the others."""

    def _init_admin(self) -> None:
        self.webhooks: dict[str, J] = {}
        self.signing_secrets: dict[str, str] = {}
        self.trigger_categories: dict[int, J] = {}
        self.triggers: dict[int, J] = {}
        self.ticket_fields: dict[int, J] = {
            1: {"id": 1, "type": "subject", "title": "Subject", "active": True},
            2: {"id": 2, "type": "description", "title": "Description", "active": True},
        }
        self.macros: dict[int, J] = {}
        self.groups: dict[int, J] = {}

    def add_group(self, id: int, name: str) -> None:
        self.groups[id] = {"id": id, "name": name}

    def writes(self) -> list:
        """The write requests made to the admin routes (not to tickets)."""
        admin = ("/api/v2/webhooks", "/api/v2/trigger", "/api/v2/ticket_fields", "/api/v2/macros")
        return [r for r in self.requests if r.method != "GET" and r.path.startswith(admin)]  # type: ignore[attr-defined]

    def _admin_routes(self):
        return ((("GET", "POST"), r"/api/v2/webhooks", self._webhooks),
                (("GET", "PUT", "DELETE"), r"/api/v2/webhooks/([0-9A-Z]+)", self._webhook),
                (("GET",), r"/api/v2/webhooks/([0-9A-Z]+)/signing_secret", self._signing_secret),
                (("GET", "POST"), r"/api/v2/trigger_categories",
                 self._collection("trigger_categories", "trigger_category")),
                (("PATCH", "DELETE"), r"/api/v2/trigger_categories/(\d+)", self._trigger_category),
                (("GET", "POST"), r"/api/v2/triggers", self._collection("triggers", "trigger")),
                (("PUT", "DELETE"), r"/api/v2/triggers/(\d+)", self._member("triggers", "trigger")),
                (("GET", "POST"), r"/api/v2/ticket_fields", self._collection("ticket_fields", "ticket_field")),
                (("PUT", "DELETE"), r"/api/v2/ticket_fields/(\d+)", self._member("ticket_fields", "ticket_field")),
                (("GET", "POST"), r"/api/v2/macros", self._collection("macros", "macro")),
                (("PUT", "DELETE"), r"/api/v2/macros/(\d+)", self._member("macros", "macro")),
                (("GET",), r"/api/v2/groups", self._list_groups))

    # ---- webhooks (string ids) -----------------------------------------------------------
    def _webhooks(self, method, *, query, body, **_) -> Result:
        if method == "GET":
            name = query.get("filter[name_contains]", "")
            found = [copy.deepcopy(w) for w in self.webhooks.values() if name.lower() in w["name"].lower()]
            return 200, {}, {"webhooks": found, "meta": {"has_more": False, "after_cursor": None,
                                                         "before_cursor": None}, "links": {"next": None, "prev": None}}
        webhook_id = "01" + secrets.token_hex(12).upper()
        webhook = {**body["webhook"], "id": webhook_id, "created_by": str(self.bot_user_id)}  # type: ignore[attr-defined]
        webhook.setdefault("subscriptions", [])
        self.webhooks[webhook_id] = webhook
        self.signing_secrets[webhook_id] = secrets.token_urlsafe(32)
        return 201, {}, {"webhook": copy.deepcopy(webhook)}

    def _webhook(self, method, webhook_id, *, body, **_) -> Result:
        webhook = self.webhooks.get(str(webhook_id))
        if webhook is None:
            return 404, {}, {"errors": [{"code": "WebhookNotFound", "title": "Not found"}]}
        if method == "GET":
            return 200, {}, {"webhook": copy.deepcopy(webhook)}
        if method == "DELETE":
            del self.webhooks[webhook["id"]]
            return 204, {}, None
        new = body["webhook"]
        if sorted(new.get("subscriptions") or []) != sorted(webhook["subscriptions"]):
            return 400, {}, {"errors": [{"code": "InvalidInput",
                                         "title": "A webhook's connection method cannot be changed"}]}
        webhook.update(new)
        return 204, {}, None

    def _signing_secret(self, method, webhook_id, **_) -> Result:
        if str(webhook_id) not in self.webhooks:
            return 404, {}, {"errors": [{"code": "WebhookNotFound", "title": "Not found"}]}
        return 200, {}, {"signing_secret": {"algorithm": "sha256", "secret": self.signing_secrets[str(webhook_id)]}}

    # ---- integer-id collections ----------------------------------------------------------
    def _collection(self, store: str, key: str):
        def handler(method, *, body, **_) -> Result:
            items: dict[int, J] = getattr(self, store)
            if method == "GET":
                return 200, {}, {store: [copy.deepcopy(v) for v in items.values()], "next_page": None,
                                 "previous_page": None, "count": len(items)}
            new = copy.deepcopy(body[key])
            if store == "triggers" and not new.get("category_id"):
                return 400, {}, {"error": "RecordInvalid", "details": {"category_id": ["is required"]}}
            new["id"] = self._next()  # type: ignore[attr-defined]
            items[new["id"]] = new
            return 201, {}, {key: copy.deepcopy(new)}
        return handler

    def _member(self, store: str, key: str):
        def handler(method, item_id, *, body, **_) -> Result:
            items: dict[int, J] = getattr(self, store)
            if item_id not in items:
                return 404, {}, {"error": "RecordNotFound", "description": "Not found"}
            if method == "DELETE":
                del items[item_id]
                return 204, {}, None
            if store == "ticket_fields" and "type" in body[key] and body[key]["type"] != items[item_id]["type"]:
                return 422, {}, {"error": "RecordInvalid", "description": "type cannot be changed"}
            items[item_id].update(copy.deepcopy(body[key]))
            return 200, {}, {key: copy.deepcopy(items[item_id])}
        return handler

    def _trigger_category(self, method, category_id, *, body, **_) -> Result:
        if category_id not in self.trigger_categories:
            return 404, {}, {"error": "RecordNotFound", "description": "Not found"}
        if method == "DELETE":
            if any(str(t.get("category_id")) == str(category_id) for t in self.triggers.values()):
                return 400, {}, {"error": "CategoryNotEmpty", "description": "the category has triggers"}
            del self.trigger_categories[category_id]
            return 204, {}, None
        self.trigger_categories[category_id].update(body["trigger_category"])
        return 200, {}, {"trigger_category": copy.deepcopy(self.trigger_categories[category_id])}

    def _list_groups(self, method, **_) -> Result:
        return 200, {}, {"groups": [copy.deepcopy(g) for g in self.groups.values()], "next_page": None,
                         "previous_page": None, "count": len(self.groups)}
