"""The Intercom adapter: conversations as tickets, through python-intercom 5.x (`client.py`).

Per conversation: one read of the conversation, one of its contact, one search for the contact's
other conversations; before writing, the conversation again (a teammate who answered meanwhile
is never talked over). The write is several calls, in this order, each one safe to repeat after
a crash (the Celery task retries the whole publish):

1. the note: `POST /conversations/{id}/reply` with `message_type: note` as the bot's admin, in
   HTML (`note.py`); skipped when the conversation already has the bot's note naming
   `update.reference` (an earlier attempt's, whose answer was lost);
   https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/replyconversation
2. the tags: Intercom tags a conversation by tag id. `POST /tags {"name"}` creates a tag or
   returns the one with that name (names are case-insensitive), so a missing tag costs one call,
   once per worker (ids are cached); tags the conversation has already are skipped;
   https://developers.intercom.com/docs/references/rest-api/api.intercom.io/tags/createtag
   https://developers.intercom.com/docs/references/rest-api/api.intercom.io/tags/attachtagtoconversation
3. the team: `POST /conversations/{id}/parts` with `message_type: assignment, type: team`, unless
   it is the team already, or a teammate chose the team: it changed since the run's first read,
   or the latest team assignment is a teammate's (a customer's reply must not undo their routing).
   https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/manageconversation

Priority is not written. API 2.14 reads a conversation's `priority` (`priority`/`not_priority`)
but has no way to set it: only the Preview API does (`PUT /conversations/{id}` with
`Intercom-Version: Preview`, values none..urgent), and a preview may change without notice, so
it is not called. The priority is in the note and in the `ai_priority_N` tag.
https://developers.intercom.com/docs/references/preview/rest-api/api.intercom.io/conversations/updateconversation

python-intercom builds its objects without validating them; `client.as_json` turns them back
into the JSON Intercom sent, which `payload.py` reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from intercom import (
    AdminReplyConversationRequest,
    CreateOrUpdateTagRequest,
    Intercom,
    SingleFilterSearchRequest,
    StartingAfterPaging,
)
from intercom.conversations import ConversationsManageRequestBody_Assignment

from bot.domain import PastTicket, Person, PublishResult, Ticket, TicketSnapshot, TicketUpdate
from bot.errors import PermanentError, RetryableError
from bot.helpdesk_settings import IntercomSettings
from bot.helpdesks.intercom import payload as shapes
from bot.helpdesks.intercom.client import NO_SDK_RETRIES, REGIONS, Caller, as_json, make_client
from bot.helpdesks.intercom.history import history_from_conversation
from bot.tracking.history import TicketHistory

log = logging.getLogger(__name__)

MAX_SEARCH_PAGE = 150  # `per_page` of POST /conversations/search: at most 150
_AUTH_HINT = (
    "check INTERCOM_ACCESS_TOKEN (an access token of the workspace's Intercom app, allowed to read "
    "and write conversations, read contacts and write tags) and that the base URL {base} is the "
    f"workspace's region ({REGIONS})"
)
_NOT_FOUND = "not in this Intercom workspace (deleted or merged?); if every call says so, check INTERCOM_URL {base}"


class IntercomHelpdesk:
    name = "intercom"

    def __init__(self, client: Intercom, admin_id: str, base_url: str, timeout: float,
                 now: Callable[[], float] = time.time):
        self._client = client
        self._admin = admin_id
        self._call = Caller(base_url, timeout, _AUTH_HINT, _NOT_FOUND, now)
        self._tag_ids: dict[str, str] = {}  # tag name (case-folded) -> Intercom tag id

    @classmethod
    def from_settings(cls, settings: IntercomSettings, http_client: httpx.Client | None = None,
                      now: Callable[[], float] = time.time) -> IntercomHelpdesk:
        client = make_client(settings.access_token, settings.url, settings.timeout, http_client)
        return cls(client, settings.admin_id, settings.url, settings.timeout, now)

    # -- reads --------------------------------------------------------------------------

    def fetch(self, ticket_id: str, history_limit: int, conversation: bool = False) -> TicketSnapshot:
        # A conversation's description is always the conversation so far (`payload.py`).
        ticket = shapes.ticket_from_conversation(self._conversation(ticket_id), self._admin)
        requester: Person | None = None
        history: tuple[PastTicket, ...] = ()
        unavailable = None
        if ticket.requester_id:
            contact_id = ticket.requester_id
            try:
                contact = self._call(f"GET /contacts/{contact_id}", lambda: self._client.contacts.find(
                    contact_id=contact_id, request_options=NO_SDK_RETRIES))
                found = as_json(contact)
                requester = shapes.person_from_contact(found) if found.get("id") else None
            except PermanentError as exc:
                # A contact merged into another (404) or one the token may not read (403): the
                # run goes on without what the contact says (VIP, account status), as a Zendesk
                # ticket whose requester is not sideloaded does.
                log.warning("conversation %s: contact %s not read: %s", ticket.id, contact_id, exc)
            try:
                history = self._history(ticket, contact_id, history_limit)
            except PermanentError as exc:
                log.warning("conversation %s: no history for contact %s: %s", ticket.id, contact_id, exc)
                unavailable = str(exc)
        return TicketSnapshot(ticket, requester, None, history, unavailable)

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        return shapes.ticket_from_conversation(self._conversation(ticket_id), self._admin)

    def _conversation(self, conversation_id: str) -> dict:
        # HTML bodies (no `display_as=plaintext`): the bot's notes are found by their text, and
        # `html_to_text` reads a customer's "<" as the character it is.
        what = f"GET /conversations/{conversation_id}"
        found = as_json(self._call(what, lambda: self._client.conversations.find(
            conversation_id=conversation_id, request_options=NO_SDK_RETRIES)))
        if str(found.get("id") or "") != conversation_id:
            raise RetryableError(f"Intercom {what} answered with another object (id {found.get('id')!r})")
        return found

    def read_history(self, ticket_id: str) -> TicketHistory:
        return history_from_conversation(self._conversation(ticket_id), self._admin)

    def _history(self, ticket: Ticket, contact_id: str, limit: int) -> tuple[PastTicket, ...]:
        """The contact's other conversations, newest first. The search has no sort order, so one
        page of `limit + 1` (this conversation is in it too) is sorted here: a contact with more
        conversations than that may miss some recent ones, which only lowers the counts."""
        if limit <= 0:
            return ()
        query = SingleFilterSearchRequest(field="contact_ids", operator="=", value=contact_id)
        paging = StartingAfterPaging(per_page=min(limit + 1, MAX_SEARCH_PAGE))
        pager = self._call("POST /conversations/search", lambda: self._client.conversations.search(
            query=query, pagination=paging, request_options=NO_SDK_RETRIES))
        found = [shapes.past_ticket_from_conversation(c) for c in map(as_json, pager.items or []) if c.get("id")]
        others = sorted((t for t in found if t.id != ticket.id), key=lambda t: t.created_at, reverse=True)
        return tuple(others[:limit])

    def conversations_created(self, since: datetime, limit: int = 10_000) -> list[str]:
        """Ids of the conversations created after `since` (for `replay`), page by page.
        https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/searchconversations"""
        query = SingleFilterSearchRequest(field="created_at", operator=">", value=str(int(since.timestamp())))
        paging = StartingAfterPaging(per_page=MAX_SEARCH_PAGE)
        pager: Any = self._call("POST /conversations/search", lambda: self._client.conversations.search(
            query=query, pagination=paging, request_options=NO_SDK_RETRIES))
        ids: list[str] = []
        while pager is not None and len(ids) < limit:
            ids += [str(c["id"]) for c in map(as_json, pager.items or []) if c.get("id")]
            pager = self._call("POST /conversations/search", pager.next_page) if pager.has_next else None
        return ids[:limit]

    # -- the write ----------------------------------------------------------------------

    def publish(self, ticket: Ticket, update: TicketUpdate, since: datetime | None = None) -> PublishResult:
        """Note, tags, team: see the module's doc. Reads the conversation again first: with
        `since`, nothing is written if a teammate replied or it was closed since then."""
        conversation = self._conversation(ticket.id)
        if since is not None:
            stale = shapes.human_activity_since(conversation, since, self._admin)
            if stale:
                return PublishResult({}, applied=False, stale=stale)
        sent: dict[str, Any] = {}
        if update.note:  # an update without one only tags (the overdue tag)
            sent["note"] = self._note(ticket.id, conversation, update)
        sent["tags"] = self._tags(ticket.id, conversation, update.add_tags)
        assignment, kept = self._team(ticket, conversation, update)
        sent["assignment"] = assignment
        return PublishResult(sent, kept_agent_fields=kept)

    def _note(self, conversation_id: str, conversation: dict, update: TicketUpdate) -> dict:
        if shapes.has_note(conversation, update.reference, self._admin):
            log.info("conversation %s already has the note %s: not posted again", conversation_id,
                     update.reference)
            return {"skipped": f"already posted {update.reference}"}
        body = shapes.note_html(update.note)
        request = AdminReplyConversationRequest(message_type="note", type="admin", admin_id=self._admin, body=body)
        self._call(f"POST /conversations/{conversation_id}/reply (note)", lambda: self._client.conversations.reply(
            conversation_id=conversation_id, request=request, request_options=NO_SDK_RETRIES))
        return {"message_type": "note", "admin_id": self._admin, "body": body}

    def _tags(self, conversation_id: str, conversation: dict, names: tuple[str, ...]) -> list[str]:
        """The tags added (names), in order; those already on the conversation are left out."""
        present = {name.casefold() for name in shapes.tag_names(conversation.get("tags"))}
        added: list[str] = []
        for name in dict.fromkeys(names):
            if name.casefold() in present:
                continue
            cached = name.casefold() in self._tag_ids
            try:
                self._tag(conversation_id, self._tag_id(name))
            except PermanentError:
                if not cached:
                    raise
                # A cached id whose tag was deleted since (404): ask for the name again, once.
                del self._tag_ids[name.casefold()]
                self._tag(conversation_id, self._tag_id(name))
            present.add(name.casefold())
            added.append(name)
        return added

    def _tag_id(self, name: str) -> str:
        key = name.casefold()
        if key not in self._tag_ids:
            tag = self._call(f"POST /tags ({name})", lambda: self._client.tags.create(
                request=CreateOrUpdateTagRequest(name=name), request_options=NO_SDK_RETRIES))
            tag_id = as_json(tag).get("id")
            if not tag_id:
                raise PermanentError(f"Intercom POST /tags ({name}) answered without a tag id")
            self._tag_ids[key] = str(tag_id)
        return self._tag_ids[key]

    def _tag(self, conversation_id: str, tag_id: str) -> None:
        self._call(f"POST /conversations/{conversation_id}/tags", lambda: self._client.tags.tag_conversation(
            conversation_id=conversation_id, tag_id=tag_id, admin_id=self._admin, request_options=NO_SDK_RETRIES))

    def _team(self, ticket: Ticket, conversation: dict, update: TicketUpdate) -> tuple[dict | None, tuple[str, ...]]:
        """(the assignment sent or None, the fields kept as a teammate set them)."""
        if update.group_id is None:
            return None, ()
        wanted, current = str(update.group_id), shapes.team_id(conversation)
        if current == wanted:
            return None, ()
        first_read = None if ticket.group_id is None else str(ticket.group_id)
        teammate = shapes.team_set_by_teammate(conversation, self._admin)
        if (current != first_read or teammate) and not update.agent_requested:
            log.info("conversation %s: team %s kept (set by a teammate), not %s", ticket.id, current, wanted)
            return None, ("group_id",)
        request = ConversationsManageRequestBody_Assignment(
            type="team", admin_id=self._admin, assignee_id=wanted)
        self._call(f"POST /conversations/{ticket.id}/parts (assignment)", lambda: self._client.conversations.manage(
            conversation_id=ticket.id, request=request, request_options=NO_SDK_RETRIES))
        return {"message_type": "assignment", "type": "team", "admin_id": self._admin, "assignee_id": wanted}, ()
