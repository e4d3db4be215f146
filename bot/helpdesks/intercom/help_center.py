"""Intercom Help Center articles, through python-intercom 5.x (the client, its pinned API version
and its error mapping are shared with the adapter: `client.py`).

Intercom has no incremental export, but `GET /articles` lists articles newest `updated_at`
first (API 2.14), so:

- an incremental run pages until it meets an article older than the cursor's high-water mark
  and stops there: usually one request when nothing changed;
- a full listing (asked for, no cursor yet, or the last complete one older than
  FULL_LISTING_EVERY) reads every page and ends with `complete=True`, so deleted articles go.

Cursor: `{"updated_at": <newest top-level updated_at applied>, "ids": [<ids applied at that
second>], "listed_at": <our clock when the last complete listing ended, 0 if none>}`.

Known limits, from the spec: the top-level `updated_at` (the sort key) is documented as the
default language's, so an edit to a translation alone may only show at the next full listing,
and so may a collection renamed (the articles in it do not change).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from bot.helpdesks.intercom.client import API_VERSION, NO_SDK_RETRIES, REGIONS, Caller, make_client
from bot.helpdesks.intercom.help_center_payload import SOURCE, page_changes, section_names, stamp
from bot.kb.model import SyncBatch

log = logging.getLogger(__name__)

__all__ = ["API_VERSION", "FULL_LISTING_EVERY", "IntercomHelpSource"]

FULL_LISTING_EVERY = 24 * 3600.0  # seconds between complete listings (the only way to see deletions)
_AUTH_HINT = (
    "check INTERCOM_ACCESS_TOKEN (an access token of the workspace's Intercom app, which needs "
    "the 'Read and list articles' permission) and that the base URL {base} is the workspace's "
    f"region ({REGIONS})"
)


@dataclass(frozen=True)
class _Cursor:
    updated_at: int  # high-water mark: every change up to this top-level updated_at is applied
    listed_at: int  # our clock (epoch s) when the last complete listing ended; 0: never
    # Articles already applied at the mark's very second (stamps are whole seconds): another
    # article stamped in that same second after the sync is still new, these are not.
    ids: frozenset[str] = frozenset()

    def dump(self) -> str:
        return json.dumps({"updated_at": self.updated_at, "ids": sorted(self.ids), "listed_at": self.listed_at})

    @classmethod
    def load(cls, text: str | None) -> _Cursor | None:
        try:
            data: Any = json.loads(text) if text else None
            ids = frozenset(str(i) for i in data.get("ids") or ())
            return cls(int(data["updated_at"]), int(data.get("listed_at") or 0), ids)
        except (TypeError, ValueError, KeyError, AttributeError):
            return None  # unreadable or another source's format: start with a full listing

    def seen(self, item: dict) -> bool:
        return stamp(item) < self.updated_at or (stamp(item) == self.updated_at and str(item.get("id")) in self.ids)

    def advanced(self, items: list[dict], listed_at: int) -> _Cursor:
        mark, ids = self.updated_at, set(self.ids)
        for item in items:
            if stamp(item) > mark:
                mark, ids = stamp(item), set()
            if stamp(item) == mark:
                ids.add(str(item.get("id")))
        return _Cursor(mark, listed_at, frozenset(ids))


class IntercomHelpSource:
    name = SOURCE

    def __init__(
        self,
        access_token: str,
        base_url: str = "https://api.intercom.io",
        locales: tuple[str, ...] = (),
        timeout: float = 20.0,
        http_client: httpx.Client | None = None,
        now: Callable[[], float] = time.time,
    ):
        self.base_url = base_url.rstrip("/")
        self.locales = frozenset(loc.strip().lower() for loc in locales if loc.strip())
        self.timeout = timeout
        self._now = now
        self._client = make_client(access_token, self.base_url, timeout, http_client)
        self._call = Caller(self.base_url, timeout, _AUTH_HINT, "check the Intercom base URL {base!r}", now)

    def batches(self, cursor: str | None, full: bool = False) -> Iterator[SyncBatch]:
        state = _Cursor.load(cursor)
        now = int(self._now())
        if full or state is None or now - state.listed_at >= FULL_LISTING_EVERY:
            yield from self._listing(state, now)
        else:
            yield from self._changes(state)

    # -- the two kinds of run ------------------------------------------------------------

    def _changes(self, state: _Cursor) -> Iterator[SyncBatch]:
        """Pages newest first until an article older than the high-water mark shows up.

        Only the run's last batch carries the cursor. Pages come newest first, so saving the
        new mark with page 1 and then failing on page 2 (rate limit, timeout) would make the
        next run stop at page 1's articles and never read page 2's changes. Earlier batches
        are still applied (and are re-read, unchanged, if the run is repeated).
        """
        new, sections = state, None
        for items, _total, last in self._pages("GET /articles", self._client.articles.list):
            fresh = [item for item in items if not state.seen(item)]
            done = last or any(stamp(item) < state.updated_at for item in items)
            if fresh and sections is None:
                sections = self._sections()
            new = new.advanced(fresh, state.listed_at)
            upserts, removed = page_changes(fresh, sections or {}, self.locales)
            yield SyncBatch(upserts, removed, cursor=new.dump() if done else None)
            if done:
                return

    def _listing(self, state: _Cursor | None, now: int) -> Iterator[SyncBatch]:
        """Every page; the last batch is `complete` (anything not listed is deleted).

        Page-number paging over a list sorted by `updated_at` shifts when an article is
        edited, created or deleted meanwhile, and an article can then be skipped; declaring
        such a listing complete would delete it. So the listing only counts as complete when
        every page reported the same `total_count` and no article showed up twice; otherwise
        its articles are applied, nothing is deleted, and the next run lists everything again.
        """
        new = state or _Cursor(0, 0)
        seen: set[str] = set()
        live: set[tuple[str, str]] = set()
        totals: set[Any] = set()
        repeated, sections = False, None
        for items, total, last in self._pages("GET /articles", self._client.articles.list):
            if items and sections is None:
                sections = self._sections()
            ids = [str(item.get("id")) for item in items]
            repeated = repeated or len(set(ids)) < len(ids) or not seen.isdisjoint(ids)
            seen.update(ids)
            totals.add(total)
            new = new.advanced(items, new.listed_at)
            upserts, removed = page_changes(items, sections or {}, self.locales)
            live.update((a.article_id, a.locale) for a in upserts)
            if not last:
                yield SyncBatch(upserts, removed)
                continue
            complete = not repeated and len(totals) == 1
            if not complete:
                log.warning("intercom: articles changed during the full listing; deletions wait for the next one")
            listed_at = now if complete else (state.listed_at if state else 0)
            yield SyncBatch(
                upserts,
                removed,
                cursor=_Cursor(new.updated_at, listed_at, new.ids).dump(),
                complete=complete,
                live=frozenset(live) if complete else frozenset(),
            )

    # -- Intercom calls ------------------------------------------------------------------

    def _sections(self) -> dict[str, dict[str, str]]:
        """Collection and section names: one listing per run, read when first needed."""
        collections: list[dict] = []
        listing = self._pages("GET /help_center/collections", self._client.help_centers.collections.list)
        for items, _total, _last in listing:
            collections.extend(items)
        return section_names(collections)

    def _pages(self, what: str, list_page: Callable[..., Any]) -> Iterator[tuple[list[dict], Any, bool]]:
        """(items as JSON dicts, total_count, is_last) for each page of a paginated listing.

        The SDK's pager claims a next page after every page and stops at an empty one (one
        request too many); `pages.total_pages` tells the last page instead.
        """
        page = 1
        while True:
            pager = self._call(f"{what}?page={page}", lambda: list_page(page=page, request_options=NO_SDK_RETRIES))
            items = [item.dict() for item in pager.items or [] if item is not None]
            pages: Any = getattr(pager.response, "pages", None)
            pages = pages.dict() if hasattr(pages, "dict") else pages
            total_pages = pages.get("total_pages") if isinstance(pages, dict) else None
            last = not items or (total_pages is not None and page >= total_pages)
            yield items, getattr(pager.response, "total_count", None), last
            if last:
                return
            page += 1
