"""Past tickets from a helpdesk, for `replay`: first the ids created in the period (one cheap
listing), then each ticket read as a live run reads it (the adapter's `fetch`: the ticket, its
requester and organization, the requester's earlier tickets), at the pacer's rate.

- Zendesk: the incremental ticket export lists what was created or changed since; tickets
  created before the period, still `new` (no agent has handled them), or already triaged by the
  bot (its own tags and routing would be compared with themselves) are left out.
  https://developer.zendesk.com/documentation/ticketing/managing-tickets/using-the-incremental-export-api
- Intercom: `POST /conversations/search` on `created_at`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

from bot.helpdesks.intercom.adapter import IntercomHelpdesk
from bot.helpdesks.zendesk.adapter import ZendeskHelpdesk
from bot.policy import Policy
from bot.replay.tickets import PastRecord, Reading, earlier_only, outcome_of
from bot.settings import Settings
from bot.vocabulary import BotTag

Source = tuple[list[str], Callable[[str], PastRecord | None], int]  # ids, read one, requests per read


def open_source(name: str, settings: Settings, policy: Policy, reading: Reading, since: datetime,
                skipped: Counter, history: int) -> Source:
    if name == "zendesk":
        return _zendesk(settings, policy, reading, since, skipped, history)
    return _intercom(settings, policy, reading, since, skipped, history)


def _zendesk(settings: Settings, policy: Policy, reading: Reading, since: datetime, skipped: Counter,
             history: int) -> Source:
    missing = settings.zendesk.missing_credentials()
    if missing:
        raise ValueError(f"needs {', '.join(missing)}")
    helpdesk = ZendeskHelpdesk.from_settings(settings.zendesk)
    ids: list[str] = []
    for ticket in helpdesk.export_tickets(since):
        if ticket.created_at is None or ticket.created_at < since:
            continue  # changed in the period, created before it
        if BotTag.TRIAGED in ticket.tags:
            skipped["already triaged by the bot"] += 1
        elif ticket.status == "new":
            skipped["not handled by an agent yet"] += 1
        else:
            ids.append(ticket.id)
    base = settings.zendesk.base_url

    def read(ticket_id: str) -> PastRecord:
        snapshot = helpdesk.fetch(ticket_id, history_limit=history)
        return PastRecord("zendesk", earlier_only(snapshot), outcome_of(snapshot.ticket, "zendesk", policy, reading),
                          url=f"{base}/agent/tickets/{ticket_id}")

    return ids, read, 2  # the ticket with its people, the requester's tickets


def _intercom(settings: Settings, policy: Policy, reading: Reading, since: datetime, skipped: Counter,
              history: int) -> Source:
    if not settings.intercom.access_token:
        raise ValueError("needs INTERCOM_ACCESS_TOKEN")
    helpdesk = IntercomHelpdesk.from_settings(settings.intercom)
    ids = helpdesk.conversations_created(since)

    def read(conversation_id: str) -> PastRecord | None:
        snapshot = helpdesk.fetch(conversation_id, history_limit=history)
        if BotTag.TRIAGED in snapshot.ticket.tags:
            skipped["already triaged by the bot"] += 1
            return None
        return PastRecord("intercom", earlier_only(snapshot),
                          outcome_of(snapshot.ticket, "intercom", policy, reading),
                          url=f"https://app.intercom.com/a/inbox/_/inbox/conversation/{conversation_id}")

    return ids, read, 3  # the conversation, its contact, the contact's conversations
