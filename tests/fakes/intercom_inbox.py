"""A stateful fake of Intercom's inbox API (conversations, contacts, tags, teams, admins), on top
of the fake Help Center (tests/fakes/intercom_api.py), for tests of the Intercom adapter.

Same front-end and checks as its parent: real HTTP on 127.0.0.1, every request validated against
Intercom's own OpenAPI file (2.14), and every answer of the fake's too (``fake.spec_violations``);
401 without the token; ``fail_next``, ``delay_next`` and ``on_request`` work on these routes.

    with FakeIntercomInbox() as fake:
        fake.add_admin("814860", "Triage Bot")
        fake.add_contact("c1", name="Ada", custom_attributes={"tier": "vip"})
        fake.add_conversation("1001", "c1", "My order never arrived")
        Intercom(token=fake.token, base_url=fake.base_url).conversations.find(conversation_id="1001")

Served (API 2.14 shapes): ``GET /conversations/{id}``, ``POST /conversations/search`` (the
``contact_ids = <id>`` query python-intercom sends), ``POST /conversations/{id}/reply`` (notes and
comments by an admin, replies by a contact), ``POST /conversations/{id}/parts`` (assignment,
close, open), ``POST /conversations/{id}/tags``, ``GET /contacts/{id}``, ``GET``/``POST /tags``
(create-or-return by name, case-insensitive, as Intercom documents), ``GET /teams``,
``GET /admins``. Times are real epoch seconds, like Intercom's, so that a test can compare them
with the moment a webhook arrived.
"""
from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from .intercom_api import _DEFAULT_ERRORS, FakeIntercom, error_list

J = dict[str, Any]
Handler = Callable[[Mapping[str, str], Any], tuple[int, Any]]
CUSTOMER = ("user", "lead", "contact")


class FakeIntercomInbox(FakeIntercom):
    def __init__(self, token: str = "fake-intercom-token", validate: bool = True):
        super().__init__(token=token, validate=validate, clock=int(time.time()))
        self.admins: dict[str, J] = {}
        self.teams: dict[str, J] = {}
        self.contacts: dict[str, J] = {}
        self.conversations: dict[str, J] = {}
        self.tags: dict[str, J] = {}
        self.me_admin: str | None = None  # GET /me: whose token this is (None: the first admin)
        self._ids = 7_000_000

    # ---- seeding -------------------------------------------------------------------------
    def add_admin(self, id: str, name: str, email: str | None = None) -> J:
        with self._lock:
            self.admins[id] = {"type": "admin", "id": id, "name": name,
                               "email": email or f"{name.split()[0].lower()}@example.com",
                               "away_mode_enabled": False, "away_mode_reassign": False,
                               "has_inbox_seat": True, "team_ids": []}
            return copy.deepcopy(self.admins[id])

    def add_team(self, id: str, name: str, admin_ids: tuple[str, ...] = ()) -> J:
        with self._lock:
            self.teams[id] = {"type": "team", "id": id, "name": name,
                              "admin_ids": [int(a) for a in admin_ids]}
            return copy.deepcopy(self.teams[id])

    def add_contact(self, id: str, name: str = "", email: str = "", role: str = "user",
                    custom_attributes: Mapping[str, Any] | None = None) -> J:
        with self._lock:
            at = self._now()
            self.contacts[id] = {
                "type": "contact", "id": id, "workspace_id": "ecahpwf5", "external_id": None,
                "role": role, "email": email, "name": name, "created_at": at, "updated_at": at,
                "custom_attributes": dict(custom_attributes or {}),
            }
            return copy.deepcopy(self.contacts[id])

    def add_conversation(self, id: str, contact_id: str, body: str, subject: str = "",
                         created_at: int | None = None, state: str = "open") -> J:
        """A conversation the contact started with ``body`` (HTML, as Intercom stores it)."""
        with self._lock:
            at = created_at if created_at is not None else self._now()
            contact = self.contacts[contact_id]
            self.conversations[id] = {
                "type": "conversation", "id": id, "title": subject or None, "created_at": at,
                "updated_at": at, "waiting_since": at, "snoozed_until": None,
                "open": state == "open", "state": state, "read": False, "priority": "not_priority",
                "admin_assignee_id": None, "team_assignee_id": None,
                "tags": {"type": "tag.list", "tags": []},
                "source": {"type": "conversation", "id": self._next_id(), "delivered_as": "customer_initiated",
                           "subject": subject, "body": body, "author": self._person(contact),
                           "attachments": [], "url": None, "redacted": False},
                "contacts": {"type": "contact.list",
                             "contacts": [{"type": "contact", "id": contact_id, "external_id": None}]},
                "custom_attributes": {},
                "conversation_parts": {"type": "conversation_part.list", "conversation_parts": [],
                                       "total_count": 0},
            }
            return copy.deepcopy(self.conversations[id])

    # ---- what people do in the inbox -----------------------------------------------------
    def customer_replies(self, conversation_id: str, body: str) -> J:
        with self._lock:
            conversation = self.conversations[conversation_id]
            contact = self.contacts[conversation["contacts"]["contacts"][0]["id"]]
            return self._add_part(conversation, "comment", body, self._person(contact))

    def admin_replies(self, conversation_id: str, admin_id: str, body: str) -> J:
        """A teammate's public reply (part type `comment`, author an admin)."""
        with self._lock:
            return self._add_part(self.conversations[conversation_id], "comment", body,
                                  self._admin(admin_id))

    def close_conversation(self, conversation_id: str, admin_id: str) -> J:
        with self._lock:
            conversation = self.conversations[conversation_id]
            conversation.update(state="closed", open=False)
            return self._add_part(conversation, "close", None, self._admin(admin_id))

    def admin_notes(self, conversation_id: str, admin_id: str, body: str) -> J:
        """A teammate's internal note (part type `note`): where `#ai` commands are written."""
        with self._lock:
            return self._add_part(self.conversations[conversation_id], "note", body, self._admin(admin_id))

    def reopen(self, conversation_id: str, admin_id: str) -> J:
        with self._lock:
            conversation = self.conversations[conversation_id]
            conversation.update(state="open", open=True)
            return self._add_part(conversation, "open", None, self._admin(admin_id))

    def rate(self, conversation_id: str, rating: int, remark: str = "") -> None:
        """The customer's rating (1..5), as the Conversation model's `conversation_rating`."""
        with self._lock:
            conversation = self.conversations[conversation_id]
            contact = conversation["contacts"]["contacts"][0]
            conversation["conversation_rating"] = {
                "rating": rating, "remark": remark, "created_at": self._now(), "updated_at": self._now(),
                "contact": {"type": "contact", "id": contact["id"], "external_id": None}}

    def assign_team(self, conversation_id: str, admin_id: str, team_id: str) -> J:
        """A teammate routing the conversation by hand."""
        with self._lock:
            return self._assign(self.conversations[conversation_id], admin_id, "team", team_id)

    # ---- assertions ----------------------------------------------------------------------
    def conversation(self, id: str) -> J:
        with self._lock:
            return copy.deepcopy(self.conversations[id])

    def notes(self, conversation_id: str) -> list[J]:
        return [p for p in self._parts(conversation_id) if p["part_type"] == "note"]

    def assignments(self, conversation_id: str) -> list[J]:
        return [p for p in self._parts(conversation_id) if p["part_type"] == "assignment"]

    def tags_of(self, conversation_id: str) -> list[str]:
        with self._lock:
            return [t["name"] for t in self.conversations[conversation_id]["tags"]["tags"]]

    def _parts(self, conversation_id: str) -> list[J]:
        with self._lock:
            return copy.deepcopy(self.conversations[conversation_id]["conversation_parts"]["conversation_parts"])

    # ---- routing -------------------------------------------------------------------------
    def _route(self, method: str, path: str) -> Handler | None:
        for verb, pattern, handler in (
            ("GET", r"/conversations/([^/]+)", self._get_conversation),
            ("POST", r"/conversations/search", self._search),
            ("POST", r"/conversations/([^/]+)/reply", self._reply),
            ("POST", r"/conversations/([^/]+)/parts", self._manage),
            ("POST", r"/conversations/([^/]+)/tags", self._tag_conversation),
            ("GET", r"/contacts/([^/]+)", self._get_contact),
            ("GET", r"/tags", self._list_tags),
            ("POST", r"/tags", self._create_tag),
            ("GET", r"/teams", self._list_teams),
            ("GET", r"/admins", self._list_admins),
            ("DELETE", r"/tags/([^/]+)", self._delete_tag),
            ("GET", r"/me", self._me),
        ):
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                return _bound(handler, *match.groups())
        return super()._route(method, path)

    # ---- handlers (called with the lock held) --------------------------------------------
    def _get_conversation(self, query, body, conversation_id: str) -> tuple[int, Any]:
        if conversation_id == "search" or conversation_id not in self.conversations:
            return 404, copy.deepcopy(_DEFAULT_ERRORS[404])
        return 200, copy.deepcopy(self.conversations[conversation_id])

    def _search(self, query, body) -> tuple[int, Any]:
        filters = (body or {}).get("query") or {}
        per_page = int(((body or {}).get("pagination") or {}).get("per_page") or 20)
        if filters.get("field") == "contact_ids" and filters.get("operator") == "=":
            found = [c for c in self.conversations.values()
                     if any(x["id"] == filters.get("value") for x in c["contacts"]["contacts"])]
        elif filters.get("field") == "created_at" and filters.get("operator") == ">":  # the replay's
            found = [c for c in self.conversations.values() if c["created_at"] > int(filters["value"])]
        else:
            return 400, error_list("parameter_invalid", "this fake searches by contact_ids = <id> or "
                                   "created_at > <epoch> only")
        found.sort(key=lambda c: int(c["id"]))  # Intercom documents no order: not by date here
        return 200, {"type": "conversation.list", "conversations": copy.deepcopy(found[:per_page]),
                     "total_count": len(found),
                     "pages": {"type": "pages", "page": 1, "per_page": per_page,
                               "total_pages": max(1, -(-len(found) // per_page))}}

    def _reply(self, query, body, conversation_id: str) -> tuple[int, Any]:
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return 404, copy.deepcopy(_DEFAULT_ERRORS[404])
        if body.get("type") == "admin":
            if body.get("admin_id") not in self.admins:
                return 404, error_list("admin_not_found", "Admin not found")
            author = self._admin(body["admin_id"])
        else:
            contact = self.contacts.get(str(body.get("intercom_user_id")))
            if contact is None:
                return 404, error_list("not_found", "User Not Found")
            author = self._person(contact)
        self._add_part(conversation, body.get("message_type", "comment"), body.get("body"), author)
        return 200, copy.deepcopy(conversation)

    def _manage(self, query, body, conversation_id: str) -> tuple[int, Any]:
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return 404, copy.deepcopy(_DEFAULT_ERRORS[404])
        if body.get("admin_id") not in self.admins:
            return 404, error_list("admin_not_found", "Admin not found")
        kind = body.get("message_type")
        if kind == "assignment":
            if body.get("type") == "team" and body.get("assignee_id") not in self.teams:
                return 404, error_list("team_not_found", "Team not found")
            self._assign(conversation, body["admin_id"], body["type"], body["assignee_id"])
        elif kind in ("close", "open"):
            conversation.update(state="closed" if kind == "close" else "open", open=kind == "open")
            self._add_part(conversation, kind, body.get("body"), self._admin(body["admin_id"]))
        else:
            return 400, error_list("parameter_invalid", f"this fake does not {kind}")
        return 200, copy.deepcopy(conversation)

    def _tag_conversation(self, query, body, conversation_id: str) -> tuple[int, Any]:
        conversation = self.conversations.get(conversation_id)
        tag = self.tags.get(str(body.get("id")))
        if conversation is None or tag is None:
            return 404, error_list("not_found", "Resource Not Found")
        if body.get("admin_id") not in self.admins:
            return 404, error_list("admin_not_found", "Admin not found")
        applied = conversation["tags"]["tags"]
        if not any(t["id"] == tag["id"] for t in applied):
            applied.append({"type": "tag", "id": tag["id"], "name": tag["name"], "applied_at": self._now(),
                            "applied_by": {"type": "admin", "id": body["admin_id"]}})
        return 200, {"type": "tag", "id": tag["id"], "name": tag["name"]}

    def _get_contact(self, query, body, contact_id: str) -> tuple[int, Any]:
        contact = self.contacts.get(contact_id)
        return (200, copy.deepcopy(contact)) if contact else (404, copy.deepcopy(_DEFAULT_ERRORS[404]))

    def _list_tags(self, query, body) -> tuple[int, Any]:
        return 200, {"type": "list", "data": [{"type": "tag", "id": t["id"], "name": t["name"]}
                                              for t in self.tags.values()]}

    def _create_tag(self, query, body) -> tuple[int, Any]:
        name = str(body.get("name") or "")
        found = next((t for t in self.tags.values() if t["name"].casefold() == name.casefold()), None)
        if found is None:
            found = {"id": self._next_id(), "name": name}
            self.tags[found["id"]] = found
        return 200, {"type": "tag", "id": found["id"], "name": found["name"]}

    def _delete_tag(self, query, body, tag_id: str) -> tuple[int, Any]:
        if self.tags.pop(tag_id, None) is None:
            return 404, copy.deepcopy(_DEFAULT_ERRORS[404])
        for conversation in self.conversations.values():  # Intercom untags everything it was on
            listed = conversation["tags"]["tags"]
            listed[:] = [t for t in listed if t["id"] != tag_id]
        return 200, {"id": tag_id, "object": "tag", "deleted": True}

    def _me(self, query, body) -> tuple[int, Any]:
        """The admin the token belongs to: `me_admin` (the first admin unless set)."""
        admin_id = self.me_admin or next(iter(self.admins), None)
        if admin_id is None:
            return 404, copy.deepcopy(_DEFAULT_ERRORS[404])
        return 200, {**copy.deepcopy(self.admins[admin_id]), "app": {"type": "app", "id_code": "ecahpwf5",
                                                                     "name": "Support bot"}}

    def _list_teams(self, query, body) -> tuple[int, Any]:
        return 200, {"type": "team.list", "teams": copy.deepcopy(list(self.teams.values()))}

    def _list_admins(self, query, body) -> tuple[int, Any]:
        return 200, {"type": "admin.list", "admins": copy.deepcopy(list(self.admins.values()))}

    # ---- helpers -------------------------------------------------------------------------
    def _add_part(self, conversation: J, part_type: str, body: str | None, author: J,
                  assigned_to: J | None = None) -> J:
        at = self._now()
        part = {"type": "conversation_part", "id": self._next_id(), "part_type": part_type, "body": body,
                "created_at": at, "updated_at": at, "notified_at": at, "assigned_to": assigned_to,
                "author": author, "attachments": [], "external_id": None, "redacted": False}
        parts = conversation["conversation_parts"]
        parts["conversation_parts"].append(part)
        parts["total_count"] = len(parts["conversation_parts"])
        conversation["updated_at"] = at
        return copy.deepcopy(part)

    def _assign(self, conversation: J, admin_id: str, kind: str, assignee_id: str) -> J:
        conversation["team_assignee_id" if kind == "team" else "admin_assignee_id"] = int(assignee_id)
        return self._add_part(conversation, "assignment", None, self._admin(admin_id),
                              assigned_to={"type": kind, "id": assignee_id})

    def _admin(self, admin_id: str) -> J:
        admin = self.admins[admin_id]
        return {"type": "admin", "id": admin_id, "name": admin["name"], "email": admin["email"]}

    @staticmethod
    def _person(contact: J) -> J:
        return {"type": contact["role"], "id": contact["id"], "name": contact["name"], "email": contact["email"]}

    def _now(self) -> int:
        self._clock = max(self._clock, int(time.time()))
        return self._clock

    def _next_id(self) -> str:
        self._ids += 1
        return str(self._ids)


def _bound(handler: Callable[..., tuple[int, Any]], *params: str) -> Handler:
    return lambda query, body: handler(query, body, *params)
