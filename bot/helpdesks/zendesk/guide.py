"""Zendesk Guide (Help Center) articles as a knowledge source, over plain `requests`.

A sync is two passes; each page is a `SyncBatch`, applied and checkpointed before the next:

1. Incremental export, `GET /api/v2/help_center/incremental/articles.json?start_time=<epoch>`:
   agents and admins only, up to 1,000 articles a page; a page's `end_time` is "the time of
   the last change of the last item on the current page", `next_page` starts there, and the
   previous export's `end_time` is the next one's `start_time`. Drafts are listed (`draft` is
   per translation) and become `removed`.
   https://developer.zendesk.com/documentation/help_center/help-center-api/understanding-incremental-article-exports/
2. Reconcile, on `full=True`, when the cursor has none, or RECONCILE_AFTER after the last:
   the export reports no deletions or archivals, so each locale's live articles are listed,
   `GET /api/v2/help_center/{locale}/articles.json` with cursor pagination (`page[size]`
   <= 100, `meta.has_more`/`after_cursor`), and a last batch says `complete=True`. Without
   configured locales the enabled ones come from `GET /api/v2/help_center/locales.json`.
   https://developer.zendesk.com/api-reference/help_center/help-center-api/articles/
   https://developer.zendesk.com/api-reference/introduction/pagination/

Locales: an article is displayed in one locale; list answers embed its translations (own
title, body, draft flag, URL) with `include=translations`, a sideload the Articles page
documents for the List Articles family that the export belongs to. The export asks for it;
were it ignored, other locales would still arrive with the next reconcile, which lists every
locale itself. Whether editing only a translation moves an article into the export is not
documented either; the reconcile covers that too. Section names: one listing per sync,
`GET /api/v2/help_center/sections.json?include=translations` (a rename shows at reconcile).

Quirks: later pages are requested as `start_time=<end_time>` (what `next_page` carries) on
our own base URL; a page whose `end_time` does not advance (more articles share a second
than a page holds) would repeat forever, so the pass stops with a warning and the reconcile
fetches what it skipped; 429 carries `Retry-After`, Help Center having its own bucket
(https://developer.zendesk.com/api-reference/introduction/rate-limits/). Exports are rate
limited (Support's: 10 a minute), so pages stay large and nothing is retried here.

No Help Center (Guide never activated, or deactivated): Zendesk's docs do not say what the
Help Center API answers then (not in its introduction,
https://developer.zendesk.com/api-reference/help_center/help-center-api/introduction/, nor on the
Articles page); only the Brands API names the state, `has_help_center` and `help_center_state`
(https://developer.zendesk.com/api-reference/ticketing/account-configuration/brands/). Connectors
see a 404 that is not a record's: Estuary's reads a 404 saying "The page you were looking for
doesn't exist" (not the JSON `RecordNotFound` of a missing record) as "no help desk"
(https://github.com/estuary/connectors/pull/2767); Dust's ignores export 404s, which "can occur
when a Help Center is not fully configured" (https://github.com/dust-tt/dust/pull/10979). A 404
on the export may also mean a non-agent and the body is undocumented, so `NoHelpCenter` needs the
export AND the locale list (account-level, naming no record) to answer 404, whatever the body;
anything else stays the error it was. In setup mode (restricted to agents) the API is expected
to answer an agent's token as usual: undocumented too.

Cursor, opaque to the store: `{"start_time": <epoch>, "reconciled_at": <epoch>}`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from bot.errors import PermanentError, RetryableError
from bot.helpdesks.zendesk import guide_payload as payload
from bot.kb.model import Article, SyncBatch

log = logging.getLogger(__name__)

RECONCILE_AFTER = 24 * 3600  # seconds between full listings that find deleted articles
PAGE_SIZE = 100  # cursor pagination: "most endpoints limit this to a maximum of 100"
INCREMENTAL_PATH = "/api/v2/help_center/incremental/articles.json"
LOCALES_PATH = "/api/v2/help_center/locales.json"


class NoHelpCenter(PermanentError):
    """The account has no Help Center: nothing to sync, and nothing a retry fixes. Its own
    outcome, not a failure: `bot.kb.sync` records it for the source and says it once."""

    PREFIX = "no help center on this account"  # how kb_sources.last_error is recognised

    def __init__(self, base_url: str):
        super().__init__(
            f"{self.PREFIX}: Zendesk Guide is not activated at {base_url} (its Help Center API "
            "answers 404), so drafts will have no sources from it; set KB_SOURCES=none (or drop "
            "zendesk from it) to stop checking")


class _NotFound(PermanentError):
    """A 404; what it means depends on what was asked."""


class ZendeskGuideSource:
    name = "zendesk"

    def __init__(
        self,
        base_url: str,
        email: str,
        api_token: str,
        locales: tuple[str, ...] = (),
        timeout: float = 20.0,
        session: requests.Session | None = None,
        now: Callable[[], float] = time.time,
    ):
        self._base = base_url.rstrip("/")
        self._auth = (f"{email}/token", api_token)
        self.locales = tuple(dict.fromkeys(loc.strip().lower() for loc in locales if loc.strip()))
        self._timeout = timeout
        self._session = session or _session_without_retries()
        self._now = now
        self._names: dict[tuple[str, str], str] | None = None

    # -- the protocol --------------------------------------------------------------------

    def batches(self, cursor: str | None, full: bool = False) -> Iterator[SyncBatch]:
        start, reconciled_at = _parse_cursor(cursor)
        due = full or reconciled_at is None or self._now() - reconciled_at >= RECONCILE_AFTER
        self._names = None  # section names: listed at most once per sync, when first needed
        url = self._base + INCREMENTAL_PATH
        while True:
            data = self._export_page(url, start)
            articles = self._page(url, lambda: payload.items(data, "articles"))
            end = self._page(url, lambda: payload.end_time(data))
            upserts, removed = self._split(url, articles)
            following = max(start, end) if end is not None else start
            yield SyncBatch(upserts=upserts, removed=removed, cursor=_cursor(following, reconciled_at))
            if not articles or not data.get("next_page"):
                break
            if end is None or end <= start:
                log.warning(
                    "Zendesk Guide incremental export: end_time %s did not advance past start_time "
                    "%s (more articles share one timestamp than a page holds); stopping this pass, "
                    "the reconcile listing picks up what it skipped", end, start)
                break
            start = following
        if due:
            yield from self._reconcile(start)

    def _export_page(self, url: str, start: int) -> dict:
        try:
            return self._get(url, start_time=str(start), include="translations")
        except _NotFound:
            try:  # is the Help Center there at all? (see the module docstring)
                self._get(self._base + LOCALES_PATH)
            except _NotFound:
                raise NoHelpCenter(self._base) from None
            raise PermanentError(f"Zendesk Guide: GET {INCREMENTAL_PATH} not found (404) while the "
                                 "Help Center answers: the incremental article export needs "
                                 "ZENDESK_EMAIL to be an agent or admin") from None

    # -- passes --------------------------------------------------------------------------

    def _reconcile(self, start: int) -> Iterator[SyncBatch]:
        began = int(self._now())
        live: set[tuple[str, str]] = set()
        for locale in self.locales or self._enabled_locales():
            url = f"{self._base}/api/v2/help_center/{quote(locale, safe='')}/articles.json"
            for data in self._cursor_pages(url):
                # Only articles shown in this very locale; their other translations are listed
                # under their own locale.
                shown = [a for a in self._page(url, lambda: payload.items(data, "articles"))
                         if self._page(url, lambda a=a: payload.locale_of(a)) == locale]
                upserts, removed = self._split(url, shown)
                live.update((a.article_id, a.locale) for a in upserts)
                # No reconciled_at until the listing is complete: a failed one runs again.
                yield SyncBatch(upserts=upserts, removed=removed, cursor=_cursor(start, None))
        yield SyncBatch(cursor=_cursor(start, began), complete=True, live=frozenset(live))

    def _split(self, url: str, articles: list[dict]) -> tuple[tuple[Article, ...], tuple]:
        """Published versions in wanted locales become upserts; drafts become removals."""
        upserts, removed = [], []
        for article in articles:
            for version in self._page(url, lambda: payload.versions(article)):
                locale = payload.locale_of(version)
                if self.locales and locale not in self.locales:
                    continue
                if payload.is_draft(version):
                    removed.append((str(version["id"]), locale))
                    continue
                section = payload.section_name(self._sections(), version.get("section_id"), locale)
                upserts.append(self._page(url, lambda: payload.to_article(version, section)))
        return tuple(upserts), tuple(removed)

    def _sections(self) -> dict[tuple[str, str], str]:
        if self._names is None:
            url = self._base + "/api/v2/help_center/sections.json"
            sections: list[dict] = []
            for data in self._cursor_pages(url, include="translations"):
                sections += self._page(url, lambda: payload.items(data, "sections"))
            self._names = self._page(url, lambda: payload.section_names(sections))
        return self._names

    def _enabled_locales(self) -> list[str]:
        url = self._base + LOCALES_PATH
        locales = self._get(url).get("locales")
        if not isinstance(locales, list) or not all(isinstance(loc, str) for loc in locales):
            raise PermanentError(f"Zendesk Guide sent a malformed locale list from {url}")
        return list(dict.fromkeys(loc.lower() for loc in locales))

    # -- HTTP ----------------------------------------------------------------------------

    def _cursor_pages(self, url: str, **params: str) -> Iterator[dict]:
        params = {"page[size]": str(PAGE_SIZE), **params}
        seen: set[str] = set()
        while True:
            data = self._get(url, **params)
            yield data
            after = self._page(url, lambda: payload.after_cursor(data))
            if after is None:
                return
            if after in seen:
                raise PermanentError(f"Zendesk Guide repeated a page cursor on {url}")
            seen.add(after)
            params["page[after]"] = after

    def _get(self, url: str, **params: str) -> dict:
        what = f"GET {urlsplit(url).path}"
        try:
            response = self._session.get(url, params=params, auth=self._auth, timeout=self._timeout,
                                         headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise RetryableError(f"Zendesk Guide unreachable on {what}: {type(exc).__name__}") from exc
        _raise_for_status(response, what, incremental=url.endswith(INCREMENTAL_PATH))
        try:
            data = response.json()
        except ValueError:
            raise PermanentError(f"Zendesk Guide sent a non-JSON answer ({response.status_code}) "
                                 f"from {response.url}") from None
        if not isinstance(data, dict):
            raise PermanentError(f"Zendesk Guide sent a malformed answer from {response.url}")
        return data

    @staticmethod
    def _page(url: str, read: Callable):
        try:
            return read()
        except payload.Malformed as exc:
            raise PermanentError(f"Zendesk Guide sent a malformed answer from {url}: {exc}") from None


def _raise_for_status(response: requests.Response, what: str, incremental: bool) -> None:
    status = response.status_code
    if status < 400:
        return
    if status == 429:
        raise RetryableError(f"Zendesk Guide rate limit (429) on {what}",
                             retry_after=_seconds(response.headers.get("Retry-After")))
    if status == 401:
        raise PermanentError(f"Zendesk Guide rejected the credentials (401) on {what}: check "
                             "ZENDESK_EMAIL/ZENDESK_API_TOKEN and that token access is enabled")
    # Non-agents may get 404 rather than 403 on the export (dust-tt's connector checks the
    # role on a 404 there).
    role = " and the incremental article export needs an agent or admin" if incremental else ""
    if status == 403:
        raise PermanentError(f"Zendesk Guide refused {what} (403): ZENDESK_EMAIL lacks permission{role}")
    if status == 404:
        raise _NotFound(f"Zendesk Guide: {what} not found (404): check the Zendesk URL, that "
                        f"Help Center is enabled and the configured locales exist{role}")
    if status == 408 or status >= 500:
        raise RetryableError(f"Zendesk Guide answered {status} on {what}")
    raise PermanentError(f"Zendesk Guide answered {status} on {what}: {response.text[:200]}")


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _parse_cursor(cursor: str | None) -> tuple[int, float | None]:
    if not cursor:
        return 0, None  # the export from the epoch: every article
    try:
        state = json.loads(cursor)
        start = state["start_time"]
        reconciled = state.get("reconciled_at")
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(start)
        if reconciled is not None and (isinstance(reconciled, bool) or not isinstance(reconciled, (int, float))):
            raise ValueError(reconciled)
        return start, reconciled
    except (ValueError, TypeError, KeyError, AttributeError):
        log.warning("Zendesk Guide: unreadable cursor %r; starting over", cursor)
        return 0, None


def _cursor(start_time: int, reconciled_at: float | None) -> str:
    state: dict = {"start_time": int(start_time)}
    if reconciled_at is not None:
        state["reconciled_at"] = int(reconciled_at)
    return json.dumps(state)


def _session_without_retries() -> requests.Session:
    session = requests.Session()
    for prefix in ("https://", "http://"):
        session.mount(prefix, HTTPAdapter(max_retries=0))
    return session
