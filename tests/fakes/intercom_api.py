"""A stateful, in-memory fake of the Intercom REST API (Help Center reads) for tests.

Served over real HTTP by a threaded werkzeug server on 127.0.0.1 (the same front-end as the fake
Zendesk: tests/fakes/zendesk_http.py); point python-intercom at it with ``base_url=fake.base_url``.

    with FakeIntercom(per_page=2) as fake:
        fake.add_collection("10", "Billing")
        fake.add_article("1", "Refunds", "<p>How to get a refund</p>", parent_id=10)
        Intercom(token=fake.token, base_url=fake.base_url).articles.list()

Every request is checked against Intercom's own OpenAPI file (intercom_validation.py); a
violation is recorded in ``fake.spec_violations`` and answered 400. So are the fake's own 200
and 401 answers, so the fake's JSON cannot drift from the documented shapes. Tests assert
``fake.spec_violations == []`` (the ``intercom`` fixture of tests/test_kb_intercom.py does it
after every test).

Order of checks per request: validate (always recorded) -> 401 unless ``Authorization: Bearer
<fake.token>`` -> 404 for routes the fake lacks -> 400 SpecViolation -> injected failure
(``fail_next``) -> injected delay -> ``on_request`` hooks -> the handler.

Served: ``GET /articles`` (newest ``updated_at`` first, drafts included, like Intercom) and
``GET /help_center/collections`` (collections and sections), both paginated with ``page`` /
``per_page`` (default ``fake.per_page``), ``pages.total_pages`` and ``total_count``.
"""
from __future__ import annotations

import copy
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from werkzeug.datastructures import Headers

from .intercom_validation import validate_intercom_request, validate_intercom_response, warm_up
from .openapi_validation import parse_json
from .zendesk_http import HttpFrontEnds

J = dict[str, Any]
Result = tuple[int, dict[str, str], Any]
WORKSPACE = "ecahpwf5"
AUTHOR = 991267492


def error_list(code: str, message: str | None) -> J:
    """Intercom's error envelope (the spec's ``error`` schema)."""
    return {"type": "error.list", "request_id": str(uuid.uuid4()), "errors": [{"code": code, "message": message}]}


_DEFAULT_ERRORS = {
    401: error_list("unauthorized", "Access Token Invalid"),
    403: error_list("forbidden", "The request is not allowed"),
    404: error_list("not_found", "Resource Not Found"),
    429: error_list("rate_limit_exceeded", "Exceeded rate limit of 167 in 10_seconds"),
    500: error_list("server_error", "Generic server error"),
    503: error_list("service_unavailable", "The service is temporarily unavailable; retry later"),
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int | None = None  # what the fake answered

    @property
    def page(self) -> int:
        return int(self.query.get("page", "1"))


@dataclass
class _Rule:
    method: str | None
    path_re: re.Pattern
    times: int | None
    reply: Any = None  # (status, headers, body) for failures, seconds for delays, a callable for hooks

    def take(self, method: str, path: str, query: Mapping[str, str]) -> bool:
        target = f"{path}?{'&'.join(f'{k}={v}' for k, v in sorted(query.items()))}"
        if self.times == 0 or self.method not in (None, "*", method) or not self.path_re.search(target):
            return False
        if self.times is not None:
            self.times -= 1
        return True


class FakeIntercom(HttpFrontEnds):
    def __init__(self, token: str = "fake-intercom-token", per_page: int = 15, validate: bool = True,
                 clock: int = 1_734_537_000):
        self._lock = threading.RLock()
        self.token = token
        self.per_page = per_page
        self.validate = validate
        self.articles: dict[str, J] = {}
        self.collections: dict[str, J] = {}
        self.requests: list[RecordedRequest] = []
        self.spec_violations: list[str] = []
        self._failures: list[_Rule] = []
        self._delays: list[_Rule] = []
        self._hooks: list[_Rule] = []
        self._clock = clock  # Intercom's epoch seconds; every edit moves it on by one
        if validate:
            warm_up()  # load the spec now (once per process), not inside a threaded request

    # ---- seeding -------------------------------------------------------------------------
    def add_collection(self, id: str, name: str, parent_id: str | None = None,
                       translations: Mapping[str, str] | None = None, default_locale: str = "en") -> J:
        """A collection (or, with ``parent_id``, a section); ``translations`` maps locale -> name."""
        with self._lock:
            at = self._tick()
            self.collections[str(id)] = {
                "id": str(id), "workspace_id": WORKSPACE, "name": name, "description": None,
                "created_at": at, "updated_at": at, "url": f"https://help.example.com/en/collections/{id}",
                "icon": "book-bookmark", "order": len(self.collections), "default_locale": default_locale,
                "translated_content": {"type": "group_translated_content",
                                       **{loc: {"type": "group_content", "name": n, "description": ""}
                                          for loc, n in (translations or {}).items()}},
                "parent_id": None if parent_id is None else str(parent_id), "help_center_id": 1}
            return copy.deepcopy(self.collections[str(id)])

    def add_article(self, id: str, title: str, body: str, state: str = "published", parent_id: int | None = None,
                    parent_type: str = "collection", default_locale: str = "en",
                    translations: Mapping[str, Mapping[str, Any]] | None = None, updated_at: int | None = None) -> J:
        """An article; ``translations`` maps locale -> {title, body, state[, updated_at, url]}.

        Like (we believe) Intercom, ``translated_content`` also carries the default locale's
        content, mirroring the top-level fields.
        """
        with self._lock:
            at = updated_at if updated_at is not None else self._tick()
            self._clock = max(self._clock, at)
            art = {"type": "article", "id": str(id), "workspace_id": WORKSPACE, "title": title, "description": "",
                   "body": body, "author_id": AUTHOR, "state": state, "created_at": at, "updated_at": at,
                   "url": self._url(id, title, default_locale), "parent_id": parent_id,
                   "parent_ids": [] if parent_id is None else [parent_id],
                   "parent_type": None if parent_id is None else parent_type, "default_locale": default_locale,
                   "tags": {"type": "tag.list", "tags": []},
                   "translated_content": {"type": "article_translated_content"}}
            self.articles[str(id)] = art
            for locale, content in (translations or {}).items():
                self._set_translation(art, locale, dict(content), at)
            self._mirror_default(art)
            return copy.deepcopy(art)

    # ---- edits (each moves the article to the top of the listing) --------------------------
    def edit_article(self, id: str, **fields: Any) -> int:
        """Change top-level fields (title, body, state, parent_id...); returns the new ``updated_at``."""
        with self._lock:
            art = self.articles[str(id)]
            art.update(fields)
            art["updated_at"] = self._tick()
            self._mirror_default(art)
            return art["updated_at"]

    def edit_translation(self, id: str, locale: str, bump_article: bool = False, **fields: Any) -> int:
        """Change one (non-default) translation; returns its new ``updated_at``.

        The spec documents the top-level ``updated_at`` (the listing's sort key) as "the
        timestamp of last update of the default language's content", so by default the
        article keeps its place in the listing; ``bump_article=True`` models the opposite.
        """
        with self._lock:
            art = self.articles[str(id)]
            at = self._tick()
            current = {k: v for k, v in art["translated_content"].get(locale, {}).items() if k != "updated_at"}
            self._set_translation(art, locale, {**current, **fields}, at)
            if bump_article:
                art["updated_at"] = at
                self._mirror_default(art)
            return at

    def delete_article(self, id: str) -> None:
        with self._lock:
            del self.articles[str(id)]

    # ---- test controls -------------------------------------------------------------------
    def fail_next(self, method: str | None, path_regex: str, status: int, headers: Mapping[str, str] | None = None,
                  body: Any = None, times: int | None = 1) -> None:
        """The next ``times`` matching requests (None = all) get ``status`` instead of being handled.
        ``path_regex`` is searched in ``path?sorted&query`` (e.g. ``r"/articles\\?page=2$"``)."""
        default = _DEFAULT_ERRORS.get(status, error_list("client_error", None))
        reply = (status, dict(headers or {}), body if body is not None else default)
        with self._lock:
            self._failures.append(_Rule(method, re.compile(path_regex), times, reply))

    def delay_next(self, method: str | None, path_regex: str, seconds: float, times: int | None = 1) -> None:
        with self._lock:
            self._delays.append(_Rule(method, re.compile(path_regex), times, seconds))

    def on_request(self, path_regex: str, callback: Callable[[FakeIntercom], None], times: int | None = 1) -> None:
        """Run ``callback(fake)`` just before the next ``times`` matching requests are answered
        (e.g. an admin deleting an article while a sync is paging). Runs under the fake's lock."""
        with self._lock:
            self._hooks.append(_Rule(None, re.compile(path_regex), times, callback))

    # ---- assertions ----------------------------------------------------------------------
    def log(self, path: str | None = None, since: int = 0) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests[since:] if path is None or r.path == path]

    def mark(self) -> int:
        """The current length of the request log: ``fake.log(path, since=mark)`` is what came after."""
        with self._lock:
            return len(self.requests)

    # ---- core ----------------------------------------------------------------------------
    def handle(self, method: str, url: str, headers: Mapping[str, str] | None,
               body_bytes: bytes | str | None) -> Result:
        """Answer one request: ``(status, headers, json_or_None)``."""
        method = method.upper()
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        hdrs = Headers(list((headers or {}).items()))
        rec = RecordedRequest(method, parts.path, query, dict(hdrs.items()))
        violations = validate_intercom_request(method, url, headers, body_bytes) if self.validate else []
        with self._lock:
            self.requests.append(rec)
            self.spec_violations.extend(f"{method} {parts.path}?{parts.query}: {v}" for v in violations)
            delay = next((r.reply for r in self._delays if r.take(method, parts.path, query)), 0)
        status, out_headers, payload, served = self._dispatch(
            method, parts.path, query, hdrs, parse_json(body_bytes), violations, delay)
        if served and self.validate:  # the fake's own answers must match the spec too
            problems = validate_intercom_response(method, url, headers, status, payload)
            with self._lock:
                self.spec_violations.extend(f"response to {method} {parts.path}: {p}" for p in problems)
        rec.status = status
        return status, {**self._rate_headers(), **out_headers}, payload

    def _dispatch(self, method, path, query, hdrs, body, violations, delay) -> tuple[int, dict, Any, bool]:
        if hdrs.get("Authorization", "") != f"Bearer {self.token}":
            return 401, {}, copy.deepcopy(_DEFAULT_ERRORS[401]), True
        handler = self._route(method, path)
        if handler is None:
            return 404, {}, copy.deepcopy(_DEFAULT_ERRORS[404]), False
        if violations:
            return 400, {}, {**error_list("parameter_invalid", "; ".join(violations))}, False
        with self._lock:
            failure = next((r.reply for r in self._failures if r.take(method, path, query)), None)
        if failure is not None:
            return failure[0], dict(failure[1]), copy.deepcopy(failure[2]), False
        if delay:
            time.sleep(delay)
        with self._lock:
            for hook in [r for r in self._hooks if r.take(method, path, query)]:
                hook.reply(self)
            status, payload = handler(query, body)
            return status, {}, payload, True

    def _route(self, method: str, path: str) -> Callable[[Mapping[str, str], Any], tuple[int, Any]] | None:
        """The handler of a request, called as ``handler(query, json_body)``; None: 404.
        Subclasses add routes (tests/fakes/intercom_inbox.py: conversations, contacts, tags)."""
        routes = {("GET", "/articles"): self._list_articles,
                  ("GET", "/help_center/collections"): self._list_collections}
        handler = routes.get((method, path))
        return None if handler is None else (lambda query, _body: handler(query))

    # ---- handlers (called with the lock held) --------------------------------------------
    def _list_articles(self, query) -> tuple[int, J]:
        ordered = sorted(self.articles.values(), key=lambda a: (a["updated_at"], int(a["id"])), reverse=True)
        return 200, self._page(ordered, query)

    def _list_collections(self, query) -> tuple[int, J]:
        ordered = sorted(self.collections.values(), key=lambda c: (c["updated_at"], int(c["id"])), reverse=True)
        return 200, self._page(ordered, query)

    def _page(self, items: list[J], query: Mapping[str, str]) -> J:
        page, per_page = int(query.get("page", 1)), int(query.get("per_page", self.per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        return {"type": "list",
                "pages": {"type": "pages", "page": page, "per_page": per_page,
                          "total_pages": max(1, math.ceil(len(items) / per_page))},
                "total_count": len(items), "data": copy.deepcopy(chunk)}

    # ---- helpers -----------------------------------------------------------------------
    def _set_translation(self, art: J, locale: str, content: J, at: int) -> None:
        stamp = content.get("updated_at", at)
        art["translated_content"][locale] = {
            "type": "article_content", "title": content.get("title", ""), "description": "",
            "body": content.get("body", ""), "author_id": AUTHOR, "state": content.get("state", "published"),
            "created_at": content.get("created_at", stamp), "updated_at": stamp,
            "url": content.get("url") or self._url(art["id"], content.get("title", ""), locale)}

    def _mirror_default(self, art: J) -> None:
        self._set_translation(art, art["default_locale"], {
            "title": art["title"], "body": art["body"], "state": art["state"], "url": art["url"],
            "created_at": art["created_at"], "updated_at": art["updated_at"]}, art["updated_at"])

    @staticmethod
    def _url(id: str, title: str, locale: str) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        return f"https://help.example.com/{locale.lower()}/articles/{id}-{slug}"

    def _rate_headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": "167", "X-RateLimit-Remaining": "166",
                "X-RateLimit-Reset": str(int(time.time()) + 10)}

    def _tick(self) -> int:
        self._clock += 1
        return self._clock
