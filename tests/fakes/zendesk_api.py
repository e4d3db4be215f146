"""A stateful, in-memory fake of the Zendesk Support API for tests.

Every request is checked against Zendesk's own OpenAPI file (openapi_validation.py); a
violation is recorded in ``fake.spec_violations`` and answered 400. Two front-ends
(zendesk_http.py) share one core (:meth:`FakeZendesk.handle`); the JSON shapes and pagination
are in zendesk_shapes.py:

* HTTP: ``with FakeZendesk() as fake:`` (or ``fake.serve()``) runs a threaded werkzeug server at
  ``fake.base_url``; point zenpy at it with env ``ZENPY_FORCE_NETLOC=fake.netloc`` and
  ``ZENPY_FORCE_SCHEME=http``.
* ``responses``: ``fake.install(responses_mock, base_url="https://acme.zendesk.com")``.

Order of checks per request: validate against the spec (violations are always recorded) ->
401 without ``Authorization: Basic`` -> 404 for routes the fake lacks -> 400 SpecViolation ->
injected failure (``fail_next``) -> injected delay -> the handler.
"""
from __future__ import annotations

import copy
import html
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from werkzeug.datastructures import Headers

from .openapi_validation import parse_json, spec_path, warm_up
from .zendesk_admin import AdminRoutes, is_webhooks_path, validate_webhooks_request
from .zendesk_audits import AuditRoutes
from .zendesk_export import ExportRoutes, validate_request  # + the export path's overlay
from .zendesk_http import HttpFrontEnds
from .zendesk_shapes import J, ZendeskShapes

Result = tuple[int, dict[str, str], Any]
NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}
CONFLICT = {"error": "UpdateConflict", "description": "Safe Update prevented the update due to outdated "
            "ticket data. Please fetch the latest ticket data and try again."}
_DEFAULT_ERRORS = {429: {"error": "APIRateLimitExceeded",
                         "description": "Number of allowed API requests per minute exceeded"},
                   500: {"error": "InternalServerError"}, 503: {"error": "ServiceUnavailable"}}
_TS = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class RecordedRequest:
    method: str
    path: str  # as sent (zenpy adds ".json"); see .spec_path
    query: dict[str, str]
    headers: dict[str, str]
    json: Any  # the parsed body exactly as sent (e.g. whether comment.public was present)
    status: int | None = None  # what the fake answered

    @property
    def spec_path(self) -> str:
        return spec_path(self.path)


@dataclass
class _Rule:
    method: str | None
    path_re: re.Pattern
    times: int | None
    reply: Any = None  # (status, headers, body) for failures, seconds for delays, callable for hooks

    def take(self, method: str | None, path: str) -> bool:
        if self.times == 0 or (self.method not in (None, "*", method)) or not self.path_re.search(path):
            return False
        if self.times is not None:
            self.times -= 1
        return True


def _ts(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))


class FakeZendesk(HttpFrontEnds, ZendeskShapes, ExportRoutes, AuditRoutes, AdminRoutes):
    def __init__(self, bot_user_id: int = 1, bot_email: str = "triage-bot@example.com", validate: bool = True,
                 realtime: bool = False):
        """``realtime``: stamps follow the wall clock (what a test comparing them with the bot's
        own moments needs); otherwise a clock from 2024-05-01 that ticks a second per change."""
        self._realtime = realtime
        self._lock = threading.RLock()
        self.bot_user_id = bot_user_id
        self.validate = validate
        self.users: dict[int, J] = {}
        self.organizations: dict[int, J] = {}
        self.tickets: dict[int, J] = {}
        self.requests: list[RecordedRequest] = []
        self.spec_violations: list[str] = []
        self._failures: list[_Rule] = []
        self._delays: list[_Rule] = []
        self._before_put: list[_Rule] = []
        self._clock = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
        if realtime:
            self._clock = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        self._seq = 1000
        self._init_admin()
        self.add_user(bot_user_id, name="Triage Bot", email=bot_email, role="agent")
        if validate:
            warm_up()  # load the spec now (once per process), not inside a threaded request

    # ---- seeding -------------------------------------------------------------------------
    def add_user(self, id: int, name: str = "", email: str | None = None, tags: list[str] = (),
                 user_fields: Mapping = None,
                 organization_id: int | None = None, role: str = "end-user") -> J:
        with self._lock:
            self.users[id] = {"id": id, "name": name or f"User {id}", "email": email or f"user{id}@example.com",
                              "role": role, "tags": list(tags), "user_fields": dict(user_fields or {}),
                              "organization_id": organization_id}
            return copy.deepcopy(self.users[id])

    def add_organization(self, id: int, name: str = "", tags: list[str] = (), organization_fields: Mapping = None) -> J:
        with self._lock:
            self.organizations[id] = {"id": id, "name": name or f"Org {id}", "tags": list(tags),
                                      "organization_fields": dict(organization_fields or {})}
            return copy.deepcopy(self.organizations[id])

    def add_ticket(self, id: int, subject: str = "", description: str = "", requester_id: int | None = None,
                   organization_id: int | None = None, tags: list[str] = (), priority: str | None = None,
                   group_id: int | None = None, status: str = "new", created_at: str | datetime | None = None,
                   assignee_id: int | None = None, type: str | None = None, custom_fields: list[J] = ()) -> J:
        with self._lock:
            created = _ts(created_at) if created_at else self._tick()
            self._clock = max(self._clock, created)
            stamp = created.strftime(_TS)
            self.tickets[id] = {
                "id": id, "subject": subject, "description": description, "status": status, "priority": priority,
                "type": type, "tags": list(dict.fromkeys(tags)), "group_id": group_id, "requester_id": requester_id,
                "submitter_id": requester_id, "assignee_id": assignee_id, "organization_id": organization_id,
                "created_at": stamp, "updated_at": stamp, "via": {"channel": "web"},
                "custom_fields": [dict(cf) for cf in custom_fields],
                "comments": [self._comment(description, None, True, requester_id, stamp)]}
            first = self.tickets[id]["comments"][0]
            self._record_audit(id, requester_id, [
                *(self._create(k, v) for k, v in (("status", status), ("priority", priority),
                                                  ("group_id", group_id)) if v is not None),
                {"id": first["id"], "type": "Comment", "body": first["body"], "html_body": first["html_body"],
                 "plain_body": first["body"], "public": True, "author_id": requester_id, "attachments": []},
            ], stamp)
            return self.ticket(id)

    # ---- test controls -------------------------------------------------------------------
    def fail_next(self, method: str | None, path_regex: str, status: int, headers: Mapping[str, str] | None = None,
                  body: Any = None, times: int | None = 1) -> None:
        """The next ``times`` matching requests (None = all) get ``status`` instead of being handled."""
        headers = dict(headers or {})
        if status == 429:
            headers.setdefault("Retry-After", "1")  # Zendesk always sends it with 429
        default = _DEFAULT_ERRORS.get(status, {"error": f"HTTP {status}"})
        reply = (status, headers, body if body is not None else default)
        with self._lock:
            self._failures.append(_Rule(method, re.compile(path_regex), times, reply))

    def delay_next(self, method: str | None, path_regex: str, seconds: float, times: int | None = 1) -> None:
        with self._lock:
            self._delays.append(_Rule(method, re.compile(path_regex), times, seconds))

    def on_before_put(self, callback: Callable[[int, J], None], times: int | None = 1) -> None:
        """Run ``callback(ticket_id, request_json)`` before the next ``times`` writes to a ticket
        (PUT ticket, tag writes), before the safe-update check: e.g. ``fake.agent_edit(...)``.
        It runs under the fake's lock: call the fake's methods, not its HTTP server."""
        with self._lock:
            self._before_put.append(_Rule(None, re.compile(""), times, callback))

    def agent_edit(self, ticket_id: int, tags_add: list[str] = (), tags_remove: list[str] = (),
                   comment: str | None = None,
                   public: bool = True, author_id: int | None = None, **fields: Any) -> str:
        """Simulate a human agent changing the ticket (bumps ``updated_at``); returns the new stamp.
        Recorded as an audit by ``author_id`` (default user 2), as Zendesk would."""
        with self._lock:
            t = self.tickets[ticket_id]
            events = [self._change(k, v, t.get(k)) for k, v in fields.items() if t.get(k) != v]
            t.update(fields)
            tags = [x for x in dict.fromkeys([*t["tags"], *tags_add]) if x not in tags_remove]
            if tags != t["tags"]:
                events.append(self._change("tags", tags, t["tags"]))
            t["tags"] = tags
            t["updated_at"] = self._tick().strftime(_TS)
            if comment is not None:
                c = self._comment(comment, None, public, author_id or 2, t["updated_at"])
                t["comments"].append(c)
                events.append({"id": c["id"], "type": "Comment", "body": c["body"], "html_body": c["html_body"],
                               "plain_body": c["body"], "public": public, "author_id": c["author_id"],
                               "attachments": []})
            self._record_audit(ticket_id, author_id or 2, events, t["updated_at"])
            return t["updated_at"]

    # ---- assertions ----------------------------------------------------------------------
    def ticket(self, id: int) -> J:
        with self._lock:
            return copy.deepcopy(self.tickets[id])

    def count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if (method is None or r.method == method.upper())
                       and (path_prefix is None or r.path.startswith(path_prefix)))

    def puts(self, ticket_id: int) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == "PUT" and r.spec_path == f"/api/v2/tickets/{ticket_id}"]

    # ---- core ----------------------------------------------------------------------------
    def handle(self, method: str, url: str, headers: Mapping[str, str] | None,
               body_bytes: bytes | str | None) -> Result:
        """Answer one request: ``(status, headers, json_or_None)``."""
        method = method.upper()
        body_bytes = body_bytes.encode() if isinstance(body_bytes, str) else (body_bytes or b"")
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        hdrs = Headers(list((headers or {}).items()))
        rec = RecordedRequest(method, parts.path, query, dict(hdrs.items()), parse_json(body_bytes))
        validator = validate_webhooks_request if is_webhooks_path(parts.path) else validate_request
        violations = validator(method, url, headers, body_bytes) if self.validate else []
        with self._lock:
            self.requests.append(rec)
            self.spec_violations.extend(f"{method} {parts.path}: {v}" for v in violations)
            delay = next((r.reply for r in self._delays if r.take(method, parts.path)), 0)
        status, out_headers, payload = self._dispatch(method, parts, query, hdrs, rec.json, violations, delay)
        rec.status = status
        return status, {"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "699", **out_headers}, payload

    def _dispatch(self, method, parts, query, hdrs, body, violations, delay) -> Result:
        if not hdrs.get("Authorization", "").startswith("Basic "):
            return 401, {}, {"error": "Couldn't authenticate you"}
        route = next(((fn, m) for verbs, rx, fn in self._routes() if method in verbs
                      for m in [re.fullmatch(rx + r"(?:\.json)?", parts.path)] if m), None)
        if route is None:
            return 404, {}, dict(NOT_FOUND)
        if violations:
            return 400, {}, {"error": "SpecViolation", "details": violations}
        with self._lock:
            failure = next((r.reply for r in self._failures if r.take(method, parts.path)), None)
        if failure is not None:
            return failure[0], dict(failure[1]), copy.deepcopy(failure[2])
        if delay:
            time.sleep(delay)
        fn, m = route
        with self._lock:
            return fn(method, *[int(g) if g.isdigit() else g for g in m.groups()], query=query, body=body or {},
                      base=f"{parts.scheme}://{parts.netloc}")

    def _routes(self):
        return ((("GET",), r"/api/v2/users/me", self._me),
                (("GET",), r"/api/v2/users/(\d+)", self._user),
                (("GET",), r"/api/v2/users/(\d+)/tickets/requested", self._requested),
                (("GET",), r"/api/v2/organizations/(\d+)", self._organization),
                (("GET", "PUT"), r"/api/v2/tickets/(\d+)", self._ticket_route),
                (("GET",), r"/api/v2/tickets/(\d+)/comments", self._comments),
                (("GET",), r"/api/v2/tickets/(\d+)/audits", self._audits),
                (("GET", "PUT", "POST", "DELETE"), r"/api/v2/tickets/(\d+)/tags", self._tags),
                (("GET",), r"/api/v2/incremental/tickets/cursor", self._export_tickets),
                *self._admin_routes())

    # ---- handlers (called with the lock held) --------------------------------------------
    def _me(self, method, *, base, **_) -> Result:
        return 200, {}, {"user": self._user_json(self.bot_user_id, base)}

    def _user(self, method, uid, *, base, **_) -> Result:
        return (200, {}, {"user": self._user_json(uid, base)}) if uid in self.users else (404, {}, dict(NOT_FOUND))

    def _organization(self, method, oid, *, base, **_) -> Result:
        if oid not in self.organizations:
            return 404, {}, dict(NOT_FOUND)
        return 200, {}, {"organization": self._org_json(oid, base)}

    def _requested(self, method, uid, *, query, base, **_) -> Result:
        if uid not in self.users:
            return 404, {}, dict(NOT_FOUND)
        key = query.get("sort_by") or "id"
        found = sorted((t for t in self.tickets.values() if t["requester_id"] == uid),
                       key=lambda t: (t.get(key) is not None, t.get(key) or 0, t["id"]),
                       reverse=query.get("sort_order") == "desc")
        page = self._paginate("tickets", [self._ticket_json(t, base) for t in found], query, base,
                              f"/api/v2/users/{uid}/tickets/requested.json")
        return 200, {}, {**page, **self._sideloads(found, query, base)}

    def _comments(self, method, tid, *, query, base, **_) -> Result:
        if tid not in self.tickets:
            return 404, {}, dict(NOT_FOUND)
        comments = [{**c, "type": "Comment", "plain_body": c["body"], "attachments": []}
                    for c in self.tickets[tid]["comments"]]
        if query.get("sort_order") == "desc" or query.get("sort") == "-created_at":
            comments.reverse()
        return 200, {}, self._paginate("comments", comments, query, base, f"/api/v2/tickets/{tid}/comments.json")

    def _ticket_route(self, method, tid, *, query, body, base) -> Result:
        if method == "GET" and tid in self.tickets:
            t = self.tickets[tid]
            return 200, {}, {"ticket": self._ticket_json(t, base), **self._sideloads([t], query, base)}
        return self._update_ticket(tid, body, base) if method == "PUT" else (404, {}, dict(NOT_FOUND))

    def _write_guard(self, tid, payload) -> Result | None:
        for rule in self._before_put:
            if rule.take(None, ""):
                rule.reply(tid, payload)
        if tid not in self.tickets:
            return 404, {}, dict(NOT_FOUND)
        if payload.get("safe_update"):
            stamp = payload.get("updated_stamp")
            try:
                same = stamp is not None and _ts(stamp) == _ts(self.tickets[tid]["updated_at"])
            except ValueError:
                same = False
            if not same:
                return 409, {}, dict(CONFLICT)
        return None

    def _update_ticket(self, tid, body, base) -> Result:
        upd = body.get("ticket") if isinstance(body.get("ticket"), dict) else {}
        refused = self._write_guard(tid, upd)
        if refused:
            return refused
        t, events = self.tickets[tid], []
        for key in ("subject", "priority", "group_id", "assignee_id", "status", "type", "requester_id",
                    "organization_id"):
            if key in upd and upd[key] != t.get(key):
                events.append(self._change(key, upd[key], t.get(key)))
                t[key] = upd[key]
        if "tags" in upd and list(dict.fromkeys(upd["tags"])) != t["tags"]:  # Zendesk: tags REPLACES
            events.append(self._change("tags", list(dict.fromkeys(upd["tags"])), t["tags"]))
            t["tags"] = events[-1]["value"]
        for cf in upd.get("custom_fields") or []:
            kept = [c for c in t["custom_fields"] if c["id"] != cf["id"]]
            t["custom_fields"] = kept + [{"id": cf["id"], "value": cf.get("value")}]
        stamp = self._tick().strftime(_TS)
        comment = upd.get("comment") if isinstance(upd.get("comment"), dict) else None
        if comment and (comment.get("body") or comment.get("html_body")):
            c = self._comment(comment.get("body"), comment.get("html_body"), comment.get("public", True),
                              comment.get("author_id") or self.bot_user_id, stamp)
            t["comments"].append(c)
            events.append({"id": c["id"], "type": "Comment",
                           **{k: c[k] for k in ("body", "html_body", "public", "author_id")},
                           "plain_body": c["body"], "attachments": []})
        if events or upd.get("custom_fields"):  # a no-op update leaves updated_at alone
            t["updated_at"] = stamp
        audit = self._record_audit(tid, self.bot_user_id, events, stamp, channel="api")
        return 200, {}, {"ticket": self._ticket_json(t, base), "audit": audit}

    def _tags(self, method, tid, *, body, **_) -> Result:
        if method != "GET":
            refused = self._write_guard(tid, body)
            if refused:
                return refused
        if tid not in self.tickets:
            return 404, {}, dict(NOT_FOUND)
        t, sent = self.tickets[tid], list(body.get("tags") or [])
        new = {"GET": t["tags"], "POST": sent, "PUT": [*t["tags"], *sent],
               "DELETE": [x for x in t["tags"] if x not in sent]}[method]
        if list(dict.fromkeys(new)) != t["tags"]:
            change = self._change("tags", list(dict.fromkeys(new)), t["tags"])
            t["tags"], t["updated_at"] = list(dict.fromkeys(new)), self._tick().strftime(_TS)
            self._record_audit(tid, self.bot_user_id, [change], t["updated_at"], channel="api")
        if method == "DELETE":
            return 204, {}, None
        return (201 if method == "POST" else 200), {}, {"tags": list(t["tags"])}

    # ---- helpers -----------------------------------------------------------------------
    def _comment(self, body: str | None, html_body: str | None, public: bool, author_id: int | None, at: str) -> J:
        body = body if body is not None else re.sub(r"<[^>]+>", "", html_body or "")
        return {"id": self._next(), "body": body, "html_body": html_body or f"<p>{html.escape(body)}</p>",
                "public": public, "author_id": author_id, "created_at": at}

    def _create(self, field_name: str, value: Any) -> J:
        return {"id": self._next(), "type": "Create", "field_name": field_name, "value": value}

    def _change(self, field_name: str, value: Any, previous: Any) -> J:
        return {"id": self._next(), "type": "Change", "field_name": field_name, "value": value,
                "previous_value": previous}

    def _tick(self) -> datetime:
        if self._realtime:  # whole seconds, as Zendesk stamps them: several changes may share one
            self._clock = max(self._clock, datetime.now(UTC).replace(microsecond=0))
            return self._clock
        self._clock += timedelta(seconds=1)
        return self._clock

    def _next(self) -> int:
        self._seq += 1
        return self._seq
