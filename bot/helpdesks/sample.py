"""Helpdesks made of a JSON file, for the demo (`HELPDESK=sample`): they serve tickets and
record instead of writing.

`SampleHelpdesk` builds exactly the update the Zendesk adapter would send (`update_payload`),
so the demo shows the real decision; nothing leaves the machine.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from bot.domain import PublishResult, Ticket, TicketSnapshot, TicketUpdate
from bot.errors import PermanentError
from bot.helpdesks.base import Helpdesk
from bot.helpdesks.zendesk import payload as shapes
from bot.helpdesks.zendesk.history import history_from_audits
from bot.tracking.history import TicketHistory


def sample_helpdesks(path: str | Path) -> dict[str, Helpdesk]:
    """The demo's helpdesks: the file's `tickets` as a Zendesk account and its
    `conversations` (if any) as an Intercom workspace."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    helpdesks: dict[str, Helpdesk] = {"zendesk": SampleHelpdesk(data)}
    if data.get("conversations"):
        from bot.helpdesks.intercom.sample import SampleIntercom

        helpdesks["intercom"] = SampleIntercom(data)
    return helpdesks


class SampleHelpdesk:
    name = "sample"

    def __init__(self, data: dict):
        self._tickets = {str(t["id"]): t for t in data.get("tickets", ())}
        self._users = {str(u["id"]): u for u in data.get("users", ())}
        self._orgs = {str(o["id"]): o for o in data.get("organizations", ())}
        self._history = list(data.get("history", ()))
        self.published: list[dict] = []

    @classmethod
    def from_file(cls, path: str | Path) -> SampleHelpdesk:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def fetch(self, ticket_id: str, history_limit: int, conversation: bool = False) -> TicketSnapshot:
        ticket = self.fetch_ticket(ticket_id)
        requester = self._users.get(ticket.requester_id or "")
        org_id = ticket.organization_id or (requester or {}).get("organization_id")
        organization = self._orgs.get(str(org_id)) if org_id else None
        # Only the file's `history`: the other sample tickets are processed concurrently,
        # and counting them would make the demo's decisions depend on timing.
        past = [t for t in self._history if str(t.get("requester_id")) == ticket.requester_id]
        past.sort(key=lambda t: t.get("created_at") or "", reverse=True)
        return TicketSnapshot(
            ticket=ticket,
            requester=shapes.person_from_json(requester) if requester else None,
            organization=shapes.organization_from_json(organization) if organization else None,
            history=tuple(shapes.past_ticket_from_json(t) for t in past[:history_limit]),
        )

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        raw = self._tickets.get(str(ticket_id))
        if raw is None:
            raise PermanentError(f"ticket {ticket_id} is not in the sample helpdesk")
        return shapes.ticket_from_json({"updated_at": raw.get("created_at"), **raw})

    def read_history(self, ticket_id: str) -> TicketHistory:
        """The ticket as it is: its description is the one message (the demo has no agents)."""
        raw = {"updated_at": None, **self._tickets.get(str(ticket_id), {"id": ticket_id})}
        opening = {"id": f"{ticket_id}-1", "type": "Comment", "public": True,
                   "author_id": raw.get("requester_id"), "plain_body": raw.get("description") or ""}
        audit = {"created_at": raw.get("created_at"), "author_id": raw.get("requester_id"), "events": [opening]}
        return history_from_audits(raw, [audit], {}, "")

    def publish(
        self, ticket: Ticket, update: TicketUpdate, since: datetime | None = None
    ) -> PublishResult:
        payload = shapes.update_payload(ticket, update)
        self.published.append({"ticket_id": ticket.id, "ticket": payload})
        return PublishResult(payload)
