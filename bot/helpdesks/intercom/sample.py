"""An Intercom workspace made of the demo's JSON file (`HELPDESK=sample`): it serves the file's
conversations and contacts through the real payload shapes (`payload.py`), and records the calls
the Intercom adapter would make instead of making them: the note as the HTML a teammate sees,
the tags, the team assignment.

A customer's follow-up is in the file as `later_parts`: the sample shows it once the bot has
written its first note on that conversation, as if the customer had written again then (the
demo then delivers the `conversation.user.replied` webhook for it).
"""

from __future__ import annotations

import copy
import threading
from datetime import datetime

from bot.domain import PublishResult, Ticket, TicketSnapshot, TicketUpdate
from bot.errors import PermanentError
from bot.helpdesks.intercom import payload as shapes


class SampleIntercom:
    name = "intercom"

    def __init__(self, data: dict):
        self.admin_id = str(data.get("intercom_admin_id") or "")
        self._conversations = {str(c["id"]): copy.deepcopy(c) for c in data.get("conversations", ())}
        self._contacts = {str(c["id"]): c for c in data.get("contacts", ())}
        self._history = list(data.get("intercom_history", ()))
        self._lock = threading.Lock()  # the worker's threads pool may run two runs at once
        self.published: list[dict] = []

    def fetch(self, ticket_id: str, history_limit: int) -> TicketSnapshot:
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
            conversation = self._conversations.get(str(ticket_id))
            if conversation is None:
                raise PermanentError(f"conversation {ticket_id} is not in the sample workspace")
            return shapes.ticket_from_conversation(copy.deepcopy(conversation), self.admin_id)

    def publish(
        self, ticket: Ticket, update: TicketUpdate, since: datetime | None = None
    ) -> PublishResult:
        with self._lock:
            done = [p for p in self.published if p["conversation_id"] == ticket.id]
            if update.reference and any(p["reference"] == update.reference for p in done):
                return PublishResult({"note": {"skipped": f"already posted {update.reference}"}})
            calls: dict = {
                "note": {"message_type": "note", "type": "admin", "admin_id": self.admin_id,
                         "body": shapes.note_html(update.note)},
                "tags": [t for t in dict.fromkeys(update.add_tags) if t not in ticket.tags],
                "assignment": None,
            }
            if update.group_id is not None and str(update.group_id) != str(ticket.group_id or ""):
                calls["assignment"] = {"message_type": "assignment", "type": "team",
                                       "admin_id": self.admin_id, "assignee_id": str(update.group_id)}
            self.published.append({"conversation_id": ticket.id, "reference": update.reference, **calls})
            self._after_note(ticket.id, calls)
            return PublishResult(calls)

    def _after_note(self, conversation_id: str, calls: dict) -> None:
        """What Intercom would then show: the tags and team set; and the customer's follow-up,
        if the file has one, revealed after the bot's first note."""
        conversation = self._conversations[conversation_id]
        tags = conversation.setdefault("tags", {"type": "tag.list", "tags": []})["tags"]
        tags.extend({"type": "tag", "id": name, "name": name} for name in calls["tags"])
        if calls["assignment"]:
            conversation["team_assignee_id"] = int(calls["assignment"]["assignee_id"])
        later = conversation.pop("later_parts", None)
        if later:
            conversation["conversation_parts"]["conversation_parts"].extend(later)
