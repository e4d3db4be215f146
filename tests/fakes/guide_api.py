"""A stateful, in-memory fake of the Zendesk Help Center (Guide) API, for the KB source tests.

There is no OpenAPI file for Help Center (Zendesk's published Support OAS,
https://developer.zendesk.com/zendesk/oas.yaml, has no help_center paths), so this fake checks
requests against what the vendor docs say and fails loudly otherwise: every problem is appended
to ``fake.violations`` and answered 400, so a test ends with ``assert fake.violations == []``.

Routes (with or without ``.json``):

* ``GET /api/v2/help_center/incremental/articles?start_time=<int>`` -- the incremental export:
  articles whose last change is at or after ``start_time`` (inclusive, like Support's
  time-based exports), oldest change first, ``export_page_size`` a page (Zendesk: 1,000);
  ``end_time`` is the last change of the page's last article and ``next_page`` the same URL
  with ``start_time=end_time``, or null on a page that is not full. So a full page whose
  articles share one timestamp is answered again and again: the documented loop. Drafts are
  listed (agents see them); deleted articles are simply gone (no tombstones).
* ``GET /api/v2/help_center[/{locale}]/articles`` -- List Articles (by locale): articles with a
  translation in that locale, shown in it; cursor pagination only (``page[size]`` <= 100,
  ``page[after]``; ``meta.has_more``/``after_cursor``, ``links.next``).
* ``GET /api/v2/help_center[/{locale}]/sections`` -- sections, cursor-paginated the same way.
* ``GET /api/v2/help_center/locales`` -- ``{"locales": [...], "default_locale": ...}``.

``include=translations`` embeds each article's (or section's) translations in it. Article
times: each translation has its own ``updated_at``; the article's (export) time is the latest
change of any translation. Auth: HTTP basic ``{email}/token:{token}``, else 401.

Front-ends (tests/fakes/zendesk_http.py): ``fake.install(responses_mock, base_url)`` or
``with fake:`` for a real HTTP server at ``fake.base_url``.
"""
from __future__ import annotations

import base64
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .zendesk_http import HttpFrontEnds

Result = tuple[int, dict[str, str], Any]
START = 1_700_000_000  # the fake's clock starts here (epoch seconds)
_ARTICLE_INCLUDES = {"users", "sections", "categories", "translations"}
_SECTION_INCLUDES = {"categories", "translations"}
_LIST_PARAMS = {"page[size]", "page[after]", "page[before]", "include", "sort_by", "sort_order", "label_names"}
_LOCALE = r"(?:/(?P<locale>[A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*))?"  # an optional /{locale} segment
_ROUTES = [
    ("incremental", re.compile(r"^/api/v2/help_center/incremental/articles(?:\.json)?$")),
    ("locales", re.compile(r"^/api/v2/help_center/locales(?:\.json)?$")),
    ("articles", re.compile(rf"^/api/v2/help_center{_LOCALE}/articles(?:\.json)?$")),
    ("sections", re.compile(rf"^/api/v2/help_center{_LOCALE}/sections(?:\.json)?$")),
]


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int | None = None


@dataclass
class _Failure:
    status: int
    path: str
    after: int
    times: int
    headers: dict[str, str]
    body: Any


@dataclass
class _Article:
    id: int
    section_id: int
    source_locale: str
    created: int
    translations: dict[str, dict] = field(default_factory=dict)  # locale -> title, body, draft, updated

    @property
    def changed(self) -> int:
        return max(t["updated"] for t in self.translations.values())


class FakeGuide(HttpFrontEnds):
    def __init__(self, email: str = "bot@acme.com", token: str = "t0ken", export_page_size: int = 1000,
                 locales: tuple[str, ...] = ("en-us",), default_locale: str = "en-us"):
        self._lock = threading.RLock()
        self.credentials = "Basic " + base64.b64encode(f"{email}/token:{token}".encode()).decode()
        self.export_page_size = export_page_size
        self.locales = list(locales)
        self.default_locale = default_locale
        # False: the export ignores include=translations (shows the source locale only), the
        # case the reconcile listing per locale must cover.
        self.export_sideloads_translations = True
        # False: an account without a Help Center (Guide not activated). The vendor does not
        # document that answer; every help_center route gets a 404 with the body a missing
        # record gets, so the client cannot lean on the body.
        self.help_center = True
        self.max_requests = 200
        self.clock = START
        self.articles: dict[int, _Article] = {}
        self.sections: dict[int, dict[str, str]] = {}  # id -> {locale: name}
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self._failures: list[_Failure] = []

    # -- seeding and changes ------------------------------------------------------------

    def tick(self, seconds: int = 1) -> int:
        self.clock += seconds
        return self.clock

    def add_section(self, section_id: int, **names: str) -> None:
        """``add_section(7, en_us="Billing", fr="Facturation")``."""
        self.sections[section_id] = {k.replace("_", "-"): v for k, v in names.items()}

    def add_article(self, article_id: int, section_id: int, title: str, body: str, locale: str = "en-us",
                    draft: bool = False, at: int | None = None) -> None:
        self.articles[article_id] = _Article(article_id, section_id, locale, at or self.clock)
        self.translate(article_id, locale, title, body, draft=draft, at=at)

    def translate(self, article_id: int, locale: str, title: str, body: str, draft: bool = False,
                  at: int | None = None) -> None:
        self.articles[article_id].translations[locale] = {
            "title": title, "body": body, "draft": draft, "updated": at or self.clock}

    def edit(self, article_id: int, locale: str | None = None, at: int | None = None, **fields: Any) -> None:
        """Change title/body/draft of one translation (default: the source locale) at `at`."""
        article = self.articles[article_id]
        translation = article.translations[locale or article.source_locale]
        assert set(fields) <= {"title", "body", "draft"}, fields
        translation.update(fields, updated=at or self.clock)

    def delete(self, article_id: int) -> None:
        """Deleted or archived: gone from every listing, never reported by the export."""
        del self.articles[article_id]

    def fail(self, status: int, path: str = "", after: int = 0, times: int = 1,
             retry_after: int | None = None, body: Any = None) -> None:
        """Answer `status` to the requests whose path contains `path`, skipping `after` first."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        default = {429: {"error": "APIRateLimitExceeded"}, 500: {"error": "InternalServerError"}}
        self._failures.append(_Failure(status, path, after, times, headers,
                                       body if body is not None else default.get(status, {"error": str(status)})))

    def calls(self, route: str = "") -> list[Recorded]:
        return [r for r in self.requests if route in r.path]

    # -- the transport-independent core --------------------------------------------------

    def handle(self, method: str, url: str, headers: Any, body: bytes | None) -> Result:
        with self._lock:
            parts = urlsplit(url)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            record = Recorded(method, parts.path, query, dict(headers or {}))
            self.requests.append(record)
            record.status, hdrs, payload = self._answer(method, parts, query, record.headers)
            return record.status, hdrs, payload

    def _answer(self, method: str, parts, query: dict[str, str], headers: dict[str, str]) -> Result:
        if len(self.requests) > self.max_requests:  # a client looping on the export fails fast
            return self._violation(f"more than {self.max_requests} requests: is the client looping?")
        if (headers.get("Authorization") or headers.get("authorization")) != self.credentials:
            return 401, {}, {"error": "Couldn't authenticate you"}
        if not self.help_center and parts.path.startswith("/api/v2/help_center/"):
            return 404, {}, {"error": "RecordNotFound", "description": "Not found"}
        route, match = next(((name, m) for name, rx in _ROUTES if (m := rx.match(parts.path))), (None, None))
        if route is None:
            return 404, {}, {"error": "RecordNotFound", "description": "Not found"}
        if method != "GET":
            return self._violation(f"{method} {parts.path}: the fake serves reads only")
        problem = self._check(route, query)
        if problem:
            return self._violation(f"GET {parts.path}?{parts.query}: {problem}")
        locale = (match.groupdict().get("locale") or "").lower() or None
        if locale and locale not in self.locales:
            return 404, {}, {"error": "RecordNotFound", "description": "Not found"}
        for failure in self._failures:
            if failure.times and failure.path in parts.path:
                if failure.after:
                    failure.after -= 1
                    continue
                failure.times -= 1
                return failure.status, dict(failure.headers), failure.body
        base = f"{parts.scheme}://{parts.netloc}"
        include = set(filter(None, query.get("include", "").split(",")))
        if route == "incremental":
            return 200, {}, self._incremental(base, parts.path, int(query["start_time"]), query, include)
        if route == "locales":
            return 200, {}, {"locales": list(self.locales), "default_locale": self.default_locale}
        if route == "articles":
            shown = locale or None
            rows = [(a.id, self._article_json(base, a, shown, include)) for a in self._ordered()
                    if shown is None or shown in a.translations]
            return 200, {}, self._cursor_page(base, parts.path, query, "articles", rows)
        rows = [(sid, self._section_json(base, sid, locale or self.default_locale, include))
                for sid in sorted(self.sections)]
        return 200, {}, self._cursor_page(base, parts.path, query, "sections", rows)

    def _violation(self, message: str) -> Result:
        self.violations.append(message)
        return 400, {}, {"error": "InvalidRequest", "description": message}

    def _check(self, route: str, query: dict[str, str]) -> str | None:
        if route == "locales":
            return f"unexpected parameters {sorted(query)}" if query else None
        if route == "incremental":
            unknown = set(query) - {"start_time", "include", "label_names", "sort_by", "sort_order"}
            if unknown:
                return f"unknown parameters {sorted(unknown)}"
            if not re.fullmatch(r"\d+", query.get("start_time", "")):
                return "start_time must be an integer epoch time (seconds)"
        else:
            unknown = set(query) - _LIST_PARAMS
            if unknown:
                return f"unknown parameters {sorted(unknown)}"
            size = query.get("page[size]")
            if size is None:
                return "the fake implements cursor pagination only: send page[size]"
            if not re.fullmatch(r"\d+", size) or not 1 <= int(size) <= 100:
                return "page[size] must be an integer from 1 to 100"
        allowed = _SECTION_INCLUDES if route == "sections" else _ARTICLE_INCLUDES
        include = set(filter(None, query.get("include", "").split(",")))
        if include - allowed:
            return f"unsupported sideloads {sorted(include - allowed)}"
        return None

    # -- answers -------------------------------------------------------------------------

    def _ordered(self) -> list[_Article]:
        return sorted(self.articles.values(), key=lambda a: (a.created, a.id))

    def _incremental(self, base: str, path: str, start: int, query: dict, include: set[str]) -> dict:
        changed = sorted((a for a in self.articles.values() if a.changed >= start), key=lambda a: (a.changed, a.id))
        page = changed[: self.export_page_size]
        end = page[-1].changed if page else start
        following = None
        if len(page) == self.export_page_size:
            following = f"{base}{path}?{urlencode({**query, 'start_time': str(end)})}"
        if not self.export_sideloads_translations:
            include = include - {"translations"}
        return {"articles": [self._article_json(base, a, None, include) for a in page],
                "next_page": following, "end_time": end, "count": len(page)}

    def _cursor_page(self, base: str, path: str, query: dict, key: str, rows: list[tuple[int, dict]]) -> dict:
        size = int(query["page[size]"])
        after = query.get("page[after]")
        if after is not None:
            try:
                last = int(base64.urlsafe_b64decode(after.encode()).decode())
            except ValueError:
                self.violations.append(f"page[after]={after!r} is not a cursor this fake issued")
                last = -1
            ids = [row_id for row_id, _ in rows]
            rows = rows[ids.index(last) + 1:] if last in ids else rows
        page, more = rows[:size], len(rows) > size
        cursor = base64.urlsafe_b64encode(str(page[-1][0]).encode()).decode() if page else None
        following = f"{base}{path}?{urlencode({**query, 'page[after]': cursor})}" if more else None
        return {key: [item for _, item in page],
                "meta": {"has_more": more, "after_cursor": cursor if more else None, "before_cursor": None},
                "links": {"next": following, "prev": None}}

    def _article_json(self, base: str, article: _Article, locale: str | None, include: set[str]) -> dict:
        locale = locale or article.source_locale
        shown = self._translation_json(base, article, locale)
        out = {
            "id": article.id, "url": f"{base}/api/v2/help_center/{locale}/articles/{article.id}.json",
            "html_url": shown["html_url"], "title": shown["title"], "body": shown["body"],
            "locale": locale, "source_locale": article.source_locale, "section_id": article.section_id,
            "draft": shown["draft"], "outdated": False, "outdated_locales": [], "promoted": False,
            "position": 0, "label_names": [], "author_id": 1, "permission_group_id": 1,
            "user_segment_id": None, "comments_disabled": False, "vote_count": 0, "vote_sum": 0,
            "created_at": iso(article.created), "updated_at": shown["updated_at"],
            "edited_at": shown["updated_at"],
        }
        if "translations" in include:
            out["translations"] = [self._translation_json(base, article, loc) for loc in article.translations]
        return out

    @staticmethod
    def _translation_json(base: str, article: _Article, locale: str) -> dict:
        t = article.translations[locale]
        slug = re.sub(r"[^a-z0-9]+", "-", t["title"].lower()).strip("-")
        return {
            "id": article.id * 100 + sorted(article.translations).index(locale), "source_id": article.id,
            "source_type": "article", "locale": locale, "title": t["title"], "body": t["body"],
            "draft": t["draft"], "outdated": False, "html_url": f"{base}/hc/{locale}/articles/{article.id}-{slug}",
            "url": f"{base}/api/v2/help_center/articles/{article.id}/translations/{locale}.json",
            "created_at": iso(article.created), "updated_at": iso(t["updated"]),
            "created_by_id": 1, "updated_by_id": 1,
        }

    def _section_json(self, base: str, section_id: int, locale: str, include: set[str]) -> dict:
        names = self.sections[section_id]
        source = next(iter(names))
        out = {"id": section_id, "name": names.get(locale, names[source]),
               "locale": locale if locale in names else source,
               "source_locale": source, "category_id": 1, "description": "", "position": 0, "outdated": False,
               "html_url": f"{base}/hc/{locale}/sections/{section_id}",
               "url": f"{base}/api/v2/help_center/sections/{section_id}.json",
               "created_at": iso(START), "updated_at": iso(START)}
        if "translations" in include:
            out["translations"] = [{"id": section_id * 100 + i, "source_id": section_id, "source_type": "section",
                                    "locale": loc, "title": name, "body": "", "draft": False}
                                   for i, (loc, name) in enumerate(names.items())]
        return out
