"""The bot's own vocabulary for what it reads and writes: plain, immutable values.

Nothing here knows about Zendesk, Intercom, OpenAI, Flask or Celery. Adapters translate
vendor payloads into these types at the edge; the pipeline, rules, prompt building and note
formatting only ever see these. What the bot decides about a ticket (triage, draft, sources,
the rules' decision) is in `bot.decisions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

CATEGORIES: tuple[str, ...] = (
    "Billing",
    "Technical",
    "Feature request",
    "Bug report",
    "Account access",
    "Other",
)

# What the pipeline reads of a ticket's description: about 3,000 words. Past that, a ticket is
# pasted logs or a quoted thread, and reading all of it only costs time (a 5 MB body took the
# local engine over 30 s) and LLM tokens; the note says when a ticket was cut.
MAX_TICKET_CHARS = 20_000
MAX_SUBJECT_CHARS = 1_000


def category_named(name: str) -> str | None:
    """The category a name or slug means, whatever its case: "bug report", "bug_report"."""
    folded = name.strip().casefold()
    for category in CATEGORIES:
        if folded in (category.casefold(), category_slug(category)):
            return category
    return None


def category_slug(category: str) -> str:
    """`Feature request` -> `feature_request`: used in tags and prompt file names."""
    return category.lower().replace(" ", "_")


@dataclass(frozen=True)
class TicketEvent:
    """One webhook delivery, parsed: the only thing the web tier hands to the queue."""

    helpdesk: str  # "zendesk"
    kind: str  # "created" (the only kind processed today); others are ignored
    ticket_id: str
    delivery_id: str | None = None  # X-Zendesk-Webhook-Invocation-Id
    event_id: str | None = None  # the event-subscription envelope's `id`, if any
    actor_id: str | None = None  # who caused the event, if the payload says


@dataclass(frozen=True)
class Person:
    id: str
    name: str = ""
    email: str = ""
    tags: tuple[str, ...] = ()
    fields: Mapping[str, object] = field(default_factory=dict)  # Zendesk user_fields
    organization_id: str | None = None


@dataclass(frozen=True)
class Organization:
    id: str
    name: str = ""
    tags: tuple[str, ...] = ()
    fields: Mapping[str, object] = field(default_factory=dict)  # organization_fields


@dataclass(frozen=True)
class PastTicket:
    """One of the requester's earlier tickets, as history for the customer context."""

    id: str
    subject: str
    status: str
    created_at: datetime
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ticket:
    id: str
    subject: str
    description: str
    status: str = "new"
    priority: str | None = None  # the helpdesk's own value, e.g. "high"
    group_id: int | None = None
    tags: tuple[str, ...] = ()
    requester_id: str | None = None
    organization_id: str | None = None
    created_at: datetime | None = None
    updated_at: str | None = None  # kept verbatim: it is sent back as `updated_stamp`
    custom_fields: Mapping[str, object] = field(default_factory=dict)  # field id (str) -> value

    def bounded(self, max_chars: int) -> Ticket:
        """This ticket with its description cut to `max_chars` (and a long subject cut too)."""
        if len(self.description) <= max_chars and len(self.subject) <= MAX_SUBJECT_CHARS:
            return self
        return replace(
            self, subject=self.subject[:MAX_SUBJECT_CHARS], description=self.description[:max_chars]
        )


@dataclass(frozen=True)
class TicketSnapshot:
    """Everything the worker reads before deciding: fresh from the helpdesk."""

    ticket: Ticket
    requester: Person | None = None
    organization: Organization | None = None
    history: tuple[PastTicket, ...] = ()  # newest first, current ticket excluded
    # Why the requester's history could not be read (it is optional context), or None.
    history_unavailable: str | None = None


@dataclass(frozen=True)
class CustomerContext:
    """What the policy makes of the requester: derived, never read from ticket text."""

    name: str = ""
    tier: str = "standard"  # "vip" or "standard"
    account_status: str | None = None  # e.g. "trial", from a configured user field
    contacts_in_window: int = 0  # earlier tickets within the history window
    window_days: int = 30
    topics: Mapping[str, int] = field(default_factory=dict)  # category -> earlier contacts
    recent: tuple[PastTicket, ...] = ()  # the last few interactions, newest first

    @property
    def is_vip(self) -> bool:
        return self.tier == "vip"


@dataclass(frozen=True)
class TicketUpdate:
    """The one write the bot makes on a ticket: a private note plus routing fields."""

    note: str
    add_tags: tuple[str, ...]
    priority: int | None = None  # 1..5; the adapter maps it onto the helpdesk's scale
    group_id: int | None = None


@dataclass(frozen=True)
class PublishResult:
    """What was actually sent, for the store (the adapter may drop fields, see 409 handling)."""

    payload: Mapping[str, object]
    conflicts: int = 0  # 409s met and resolved by re-reading
    kept_agent_fields: tuple[str, ...] = ()  # fields an agent changed meanwhile, left alone
    applied: bool = True  # False: the ticket already carried this update (another run's)
