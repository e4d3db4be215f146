"""What happened on a ticket, whichever helpdesk: the record the tracker reads.

Each adapter builds it from one read of the helpdesk (Zendesk: the ticket's audits; Intercom:
the conversation with its parts), so a lost or repeated webhook changes nothing: the tracker
always works from the whole story. Pure values; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    CUSTOMER = "customer"  # the requester (or, on Zendesk, any end user)
    AGENT = "agent"  # a teammate
    BOT = "bot"  # this bot's own user or admin
    SYSTEM = "system"  # triggers, automations, workflows, Fin


class Field(StrEnum):
    """The ticket fields the tracker follows."""

    STATUS = "status"  # normalised: new, open, pending, hold, solved, closed
    GROUP = "group"  # the Zendesk group or Intercom team id, as a string
    PRIORITY = "priority"  # the helpdesk's own value
    ASSIGNEE = "assignee"
    TAGS = "tags"  # value and previous: space-separated tag lists


@dataclass(frozen=True)
class Message:
    """A comment (Zendesk) or conversation part with a body (Intercom)."""

    id: str
    at: datetime
    author_id: str | None
    role: Role
    public: bool  # False: an internal note
    text: str  # plain text


@dataclass(frozen=True)
class Change:
    """One field changed, by whom."""

    field: Field
    at: datetime
    actor_id: str | None
    role: Role
    value: str | None
    previous: str | None = None


@dataclass(frozen=True)
class Rating:
    """The customer's satisfaction rating: Zendesk good/bad, Intercom 1..5 (4 and 5 good)."""

    score: str
    good: bool
    comment: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class TicketHistory:
    helpdesk: str
    ticket_id: str
    status: str
    group_id: str | None
    priority: str | None
    tags: tuple[str, ...]
    messages: tuple[Message, ...]  # oldest first
    changes: tuple[Change, ...]  # oldest first
    rating: Rating | None = None
    requester_id: str | None = None

    def messages_after(self, moment: datetime) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.at >= moment)

    def changes_after(self, moment: datetime) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.at >= moment)


STATUSES_DONE = frozenset(("solved", "closed"))
