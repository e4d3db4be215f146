"""An Intercom workspace made of the demo's JSON file (`HELPDESK=sample`): it serves the file's
`conversations` and `contacts` through the real payload shapes (`payload.py`), and records the
calls the Intercom adapter (`adapter.py`) would make instead of making them: the note as the
HTML a teammate sees, the tags, the team assignment. What it records follows the adapter's
rules: nothing when a teammate answered or closed the conversation since the event, no note
whose reference the conversation already has, only the tags it lacks, no assignment to the team
it has. The note, tags and team then show on the conversation, as in Intercom.

A customer's follow-up is in the file as the conversation's `later_parts`, which the workspace
shows once the bot's first note is there: as if the customer wrote again after the bot's first
run. The demo then delivers the `conversation.user.replied` webhook for it, and the bot triages
the conversation anew (its worker process holds this workspace: the demo cannot reach it).
"""

from __future__ import annotations

import copy
import threading
import time
from datetime import datetime

from bot.domain import PublishResult, Ticket, TicketSnapshot, TicketUpdate
from bot.errors import PermanentError
from bot.helpdesks.intercom import payload as shapes
from bot.helpdesks.intercom.history import history_from_conversation
from bot.tracking.history import TicketHistory


class SampleIntercom:
    name = "intercom"

    def __init__(self, data: dict):
        self.admin_id = str(data.get("intercom_admin_id") or "")
        self._conversations = {str(c["id"]): copy.deepcopy(c) for c in data.get("conversations", ())}
        self._contacts = {str(c["id"]): c for c in data.get("contacts", ())}
        self._history = list(data.get("intercom_history", ()))
        self._lock = threading.Lock()  # a worker's thread pool may run two runs at once
        self.published: list[dict] = []

    def fetch(self, ticket_id: str, history_limit: int, conversation: bool = False) -> TicketSnapshot:
        ticket = self.fetch_ticket(ticket_id)
        contact = self._contacts.get(ticket.requester_id or "")
        # Only the file's `intercom_history`: the other demo conversations are processed at the
        # same time, and counting them would make the decisions depend on timing.
        past = [shapes.past_ticket_from_conversation(c) for c in self._history
                if any(x.get("id") == ticket.requester_id for x in c["contacts"]["contacts"])]
        past.sort(key=lambda t: t.created_at, reverse=True)
        return TicketSnapshot(
            ticket=ticket,
            requester=shapes.person_from_contact(contact) if contact else None,
            history=tuple(past[:history_limit]),
        )

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        with self._lock:
            return shapes.ticket_from_conversation(self._conversation(ticket_id), self.admin_id)

    def read_history(self, ticket_id: str) -> TicketHistory:
        with self._lock:
            return history_from_conversation(self._conversation(ticket_id), self.admin_id)

    def publish(
        self, ticket: Ticket, update: TicketUpdate, since: datetime | None = None
    ) -> PublishResult:
        with self._lock:
            conversation = self._conversation(ticket.id)
            stale = shapes.human_activity_since(conversation, since, self.admin_id) if since else None
            if stale:
                return PublishResult({}, applied=False, stale=stale)
            calls: dict = {"note": self._note(conversation, update) if update.note else {"skipped": "no note"}}
            present = {name.casefold() for name in shapes.tag_names(conversation.get("tags"))}
            calls["tags"] = [t for t in dict.fromkeys(update.add_tags) if t.casefold() not in present]
            calls["assignment"], kept = self._team(ticket, conversation, update)
            made = {**calls, "note": None if "skipped" in calls["note"] else calls["note"]}
            if made["note"] or made["tags"] or made["assignment"]:
                self.published.append({"conversation_id": ticket.id, "reference": update.reference, **made})
            self._show(ticket.id, made)
            return PublishResult(calls, kept_agent_fields=kept)

    def _conversation(self, conversation_id: str) -> dict:
        conversation = self._conversations.get(str(conversation_id))
        if conversation is None:
            raise PermanentError(f"conversation {conversation_id} is not in the sample workspace")
        return copy.deepcopy(conversation)

    def _note(self, conversation: dict, update: TicketUpdate) -> dict:
        if shapes.has_note(conversation, update.reference, self.admin_id):
            return {"skipped": f"already posted {update.reference}"}
        return {"message_type": "note", "type": "admin", "admin_id": self.admin_id,
                "body": shapes.note_html(update.note)}

    def _team(self, ticket: Ticket, conversation: dict, update: TicketUpdate) -> tuple[dict | None, tuple[str, ...]]:
        """The assignment, as the adapter decides it: none to the team the conversation has, and
        none over a team that changed since the run's first read (a teammate's choice)."""
        wanted, current = None if update.group_id is None else str(update.group_id), shapes.team_id(conversation)
        if wanted is None or wanted == current:
            return None, ()
        if current != ticket.group_id:
            return None, ("group_id",)
        return {"message_type": "assignment", "type": "team", "admin_id": self.admin_id, "assignee_id": wanted}, ()

    def _show(self, conversation_id: str, made: dict) -> None:
        """What Intercom shows then: the note as a part, the tags, the team; and the
        customer's follow-up, if the file has one, once the conversation has the bot's note."""
        conversation = self._conversations[conversation_id]
        parts = conversation["conversation_parts"]["conversation_parts"]
        if made["note"]:
            parts.append({"type": "conversation_part", "id": f"note-{len(parts) + 1}", "part_type": "note",
                          "body": made["note"]["body"], "created_at": int(time.time()),
                          "author": {"type": "admin", "id": self.admin_id}})
        tags = conversation.setdefault("tags", {"type": "tag.list", "tags": []})["tags"]
        tags.extend({"type": "tag", "id": name, "name": name} for name in made["tags"])
        if made["assignment"]:
            conversation["team_assignee_id"] = int(made["assignment"]["assignee_id"])
        if made["note"]:
            parts.extend(conversation.pop("later_parts", None) or ())
