"""The Zendesk adapter: the only module that imports zenpy (or talks to Zendesk at all).

Per ticket: one read for the ticket and its people (sideloads), one for the requester's history,
one of its latest comments just before writing (a teammate who answered meanwhile is never talked
over), one write. The vendor's behaviour this relies on, with its public source:

- zenpy drops sideloaded users and organizations when its cache is disabled, and reading
  `ticket.requester` then costs one request per object. The cache must stay off (its user and
  organization caches never expire, so a long-lived worker would see stale VIP tags), so reads go
  through zenpy's own authenticated session and are parsed here. Writes use zenpy's objects.
- On 429 zenpy sleeps `Retry-After` seconds in the calling thread, forever; zenpy 2.0.57 on PyPI
  has no `raise_on_ratelimit`. A response hook on the session raises before zenpy sees the 429,
  so the attempt is rescheduled (`bot.attempt`) instead of a worker sleeping.
- zenpy's default transport retries 503s by itself; here the session has no transport retries,
  so `bot.attempt` is the one layer that retries.
- zenpy always builds `https://{subdomain}.zendesk.com`; the only redirect it offers is the
  `ZENPY_FORCE_NETLOC` / `ZENPY_FORCE_SCHEME` environment variables (read on every call).
- The ticket export (for training, not per ticket) also reads through that session, not zenpy's
  `tickets.incremental` generators (cursor-pagination regressions, zenpy #559/#619/#657).

The zenpy behaviour is in its source, https://github.com/facetoe/zenpy/blob/master/zenpy/lib/api.py
(`BaseApi._call_api` sleeps on 429; URLs are built from `ZENPY_FORCE_NETLOC`/`_SCHEME`) and
https://github.com/facetoe/zenpy/blob/master/zenpy/__init__.py (`disable_cache`). Zendesk's side:
https://developer.zendesk.com/api-reference/introduction/rate-limits/ (429 with Retry-After) and
https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket (tags replace
the list; `safe_update` answers 409 on a concurrent change).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment
from zenpy.lib.api_objects import Ticket as ZenpyTicket
from zenpy.lib.exception import APIException, ZenpyException

from bot.domain import PublishResult, Ticket, TicketSnapshot, TicketUpdate
from bot.errors import PermanentError, RetryableError
from bot.helpdesk_settings import ZendeskSettings
from bot.helpdesks.zendesk import payload as shapes
from bot.helpdesks.zendesk.export import export_tickets
from bot.helpdesks.zendesk.history import history_from_audits
from bot.helpdesks.zendesk.http import (
    raise_for_status,
    raise_on_rate_limit,
)
from bot.tracking.history import TicketHistory

log = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 3
MAX_AUDIT_PAGES = 10


class ZendeskHelpdesk:
    name = "zendesk"

    def __init__(self, client: Zenpy, base_url: str, timeout: float, bot_user_id: str = "",
                 draft_field_id: str = ""):
        self._client = client
        self._bot_user = bot_user_id
        self._draft_field = draft_field_id
        self._session: requests.Session = client.tickets.session
        self._base = base_url.rstrip("/")
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: ZendeskSettings) -> ZendeskHelpdesk:
        # Process-wide, but a worker process serves one Zendesk account. Set or cleared, never
        # inherited: reads (our session) and writes (zenpy) must reach the same host.
        if settings.url:
            parts = urlsplit(settings.url)
            os.environ["ZENPY_FORCE_NETLOC"] = parts.netloc
            os.environ["ZENPY_FORCE_SCHEME"] = parts.scheme
        else:
            os.environ.pop("ZENPY_FORCE_NETLOC", None)
            os.environ.pop("ZENPY_FORCE_SCHEME", None)
        session = requests.Session()
        for prefix in ("https://", "http://"):
            session.mount(prefix, HTTPAdapter(max_retries=0))
        session.hooks["response"].append(raise_on_rate_limit)
        client = Zenpy(
            subdomain=settings.subdomain or "local",
            email=settings.email,
            token=settings.api_token,
            session=session,
            timeout=settings.timeout,
            disable_cache=True,
        )
        return cls(client, settings.base_url, settings.timeout, settings.bot_user_id,
                   settings.draft_field_id)

    # -- reads --------------------------------------------------------------------------

    def fetch(self, ticket_id: str, history_limit: int, conversation: bool = False) -> TicketSnapshot:
        data = self._get(f"/api/v2/tickets/{ticket_id}.json", include="users,organizations")
        ticket = shapes.ticket_from_json(data["ticket"])
        if conversation:  # one more read: the public comments, oldest first
            page = self._get(f"/api/v2/tickets/{ticket_id}/comments.json", per_page="100")
            ticket = replace(ticket, description=shapes.conversation_text(
                page.get("comments") or (), ticket.requester_id, self._bot_user) or ticket.description)
        users = {str(u["id"]): u for u in data.get("users") or ()}
        orgs = {str(o["id"]): o for o in data.get("organizations") or ()}
        requester = (
            shapes.person_from_json(users[ticket.requester_id])
            if ticket.requester_id in users
            else None
        )
        org_id = ticket.organization_id or (requester.organization_id if requester else None)
        organization = shapes.organization_from_json(orgs[org_id]) if org_id in orgs else None
        history: tuple = ()
        unavailable = None
        if ticket.requester_id:
            # Newest first, one page: the window is a month, not the customer's whole life.
            # (This endpoint is missing from Zendesk's published OAS; zenpy has it as
            # `users.requested` but cannot pass sort parameters.)
            try:
                past = self._get(
                    f"/api/v2/users/{ticket.requester_id}/tickets/requested.json",
                    sort_by="created_at",
                    sort_order="desc",
                    per_page=str(history_limit + 1),  # the current ticket is on it too
                )
            except PermanentError as exc:
                # A requester deleted or merged since (404), or one our token may not read
                # (403): the history is context, not the ticket. Go on without it, and say so.
                log.warning("ticket %s: no history for requester %s: %s", ticket.id,
                            ticket.requester_id, exc)
                past, unavailable = {}, str(exc)
            history = tuple(
                shapes.past_ticket_from_json(t)
                for t in past.get("tickets") or ()
                if str(t.get("id")) != ticket.id
            )[:history_limit]
        return TicketSnapshot(ticket, requester, organization, history, unavailable)

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        return shapes.ticket_from_json(self._get(f"/api/v2/tickets/{ticket_id}.json")["ticket"])

    def read_history(self, ticket_id: str) -> TicketHistory:
        """The ticket, then its audits oldest first with their authors (cursor pages of 100,
        at most `MAX_AUDIT_PAGES`: the first 1,000 changes tell a ticket's story)."""
        ticket = self._get(f"/api/v2/tickets/{ticket_id}.json")["ticket"]
        audits: list[dict] = []
        users: dict[str, dict] = {}
        params = {"include": "users", "page[size]": "100"}
        for _ in range(MAX_AUDIT_PAGES):
            page = self._get(f"/api/v2/tickets/{ticket_id}/audits.json", **params)
            audits += page.get("audits") or []
            users.update({str(u["id"]): u for u in page.get("users") or () if u.get("id")})
            after = (page.get("meta") or {}).get("after_cursor")
            if not (page.get("meta") or {}).get("has_more") or not after:
                break
            params = {"include": "users", "page[size]": "100", "page[after]": after}
        return history_from_audits(ticket, audits, users, self._own_user())

    def _own_user(self) -> str:
        """The bot's user id (ZENDESK_BOT_USER_ID, or `GET /api/v2/users/me` once): its own
        notes and changes must never count as an agent's review or override."""
        if not self._bot_user:
            self._bot_user = str(self._get("/api/v2/users/me.json")["user"]["id"])
        return self._bot_user

    def _get(self, path: str, **params: str) -> dict:
        try:
            response = self._session.get(self._base + path, params=params, timeout=self._timeout)
        except RetryableError:
            raise
        except requests.RequestException as exc:
            raise RetryableError(f"Zendesk unreachable on GET {path}: {type(exc).__name__}") from exc
        raise_for_status(response.status_code, f"GET {path}", response.text)
        try:
            return response.json()
        except ValueError:
            raise RetryableError(f"Zendesk sent a non-JSON answer on GET {path}") from None

    # -- the export (read-only, for training) -------------------------------------------

    def export_tickets(self, since: datetime, *, sleep: Callable[[float], None] = time.sleep,
                       max_waits: int = 20) -> Iterator[Ticket]:
        """Every ticket created or changed since `since` (`export.export_tickets`)."""
        return export_tickets(self._get, since, sleep=sleep, max_waits=max_waits)

    # -- the write ----------------------------------------------------------------------

    def publish(
        self, ticket: Ticket, update: TicketUpdate, since: datetime | None = None
    ) -> PublishResult:
        """One safe PUT (`shapes.update_payload`); on 409, re-read and write again, keeping what
        an agent changed meanwhile. With `since`: nothing at all if a human answered publicly
        or the ticket was solved since then (`_human_activity`), checked before the first PUT
        and after every 409 (the ticket changed: perhaps an agent's reply)."""
        original, current, keep = ticket, ticket, frozenset[str]()
        for conflicts in range(MAX_CONFLICT_RETRIES + 1):
            if conflicts:
                log.info("ticket %s changed meanwhile (409): re-reading", ticket.id)
                current = self.fetch_ticket(ticket.id)
                if set(update.add_tags) <= set(current.tags):
                    # The change came from another run making this very update: writing
                    # again would post a second note.
                    return PublishResult({}, conflicts, applied=False)
                # Whatever an agent set since our first read wins over the bot's suggestion.
                keep = keep | {
                    name
                    for name in ("priority", "group_id")
                    if getattr(current, name) != getattr(original, name)
                }
            if since is not None:
                stale = self._human_activity(current, since)
                if stale:
                    return PublishResult({}, conflicts, applied=False, stale=stale)
            payload = shapes.update_payload(current, update, keep, self._draft_field)
            try:
                self._put(current.id, payload)
                return PublishResult(payload, conflicts, tuple(sorted(keep)))
            except _Conflict:
                continue
        raise RetryableError(
            f"ticket {ticket.id} kept changing: {MAX_CONFLICT_RETRIES + 1} updates refused (409)"
        )

    def _human_activity(self, ticket: Ticket, since: datetime) -> str | None:
        """Why the bot must not write: the ticket is solved or closed, or someone other than
        the requester and the bot made a public comment after `since` (a teammate answered).
        A CC'd customer's public reply counts too: without a user read per comment the two
        look alike, and the cost of that mistake is a note not written, never a wrong one.
        https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/#list-comments
        """
        if ticket.status in ("solved", "closed"):
            return f"the ticket is {ticket.status}"
        page = self._get(f"/api/v2/tickets/{ticket.id}/comments.json", sort_order="desc",
                         per_page="20")
        # Zendesk stamps comments in whole seconds: one stamped in the very second of `since`
        # may be later than it, and is counted (better silent than talking over a human).
        after = since.replace(microsecond=0)
        for comment in page.get("comments") or ():
            at = shapes.parse_time(comment.get("created_at"))
            if at is None or at < after:
                break  # newest first: the rest are older
            author = str(comment.get("author_id") or "")
            if comment.get("public") and author not in (ticket.requester_id or "", self._bot_user):
                return f"user {author} replied publicly at {at.isoformat()}"
        return None

    def _put(self, ticket_id: str, payload: dict) -> None:
        zticket = ZenpyTicket(id=int(ticket_id))
        for key, value in payload.items():
            setattr(zticket, key, Comment(**value) if key == "comment" else value)
        try:
            self._client.tickets.update(zticket)
        except RetryableError:
            raise
        except (APIException, requests.HTTPError) as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status == 409:
                raise _Conflict() from exc
            raise_for_status(status, f"PUT ticket {ticket_id}", str(exc))
            raise PermanentError(f"Zendesk refused the update of ticket {ticket_id}: {exc}") from exc
        except requests.RequestException as exc:
            raise RetryableError(f"Zendesk unreachable on PUT ticket {ticket_id}: "
                                 f"{type(exc).__name__}") from exc
        except ZenpyException as exc:
            raise RetryableError(f"unexpected Zendesk answer to PUT ticket {ticket_id}: {exc}") from exc


class _Conflict(Exception):
    pass
