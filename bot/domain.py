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
from enum import StrEnum

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


class EventKind(StrEnum):
    """What happened on a ticket, whichever helpdesk says so. `bot.events` maps each
    (helpdesk, kind) that is processed onto its handler; any other is acknowledged and ignored."""

    CREATED = "created"  # a new ticket or conversation, from the customer
    CUSTOMER_REPLIED = "customer_replied"  # the customer wrote again on an open one
    # Anything else on a ticket the bot drafted for (an agent's reply or note, a change of
    # status, group, assignee or priority, a rating): the tracker reads the ticket again
    # (`bot.tracking`). Runs are not started by it directly, but by what the tracker finds:
    REDRAFT = "redraft"  # an agent's "#ai redraft <instruction>" note
    ESCALATE = "escalate"  # an agent's "#ai escalate" note or tag, or a repeated question
    ACTIVITY = "activity"


# A ticket is created once: every creation event of one ticket has this key.
ONCE_PER_TICKET = ""


@dataclass(frozen=True)
class TicketEvent:
    """One webhook delivery, parsed by its helpdesk's webhook module: the only thing the web
    tier hands to the shared accept step (`bot.webhooks.accept`)."""

    helpdesk: str  # "zendesk", "intercom": the adapter that serves the run (`bot.helpdesks`)
    kind: str  # an `EventKind` value
    ticket_id: str  # the Zendesk ticket id, the Intercom conversation id
    # The delivery's own id (Zendesk's invocation id, Intercom's notification id): a retry of
    # one delivery carries the same one.
    delivery_id: str | None = None
    event_id: str | None = None  # the vendor's id of the event, if it gives one
    # What makes this event one of its kind on the ticket, deduplicated in the store: the same
    # key twice is the same event, delivered twice. `ONCE_PER_TICKET` for a creation; the
    # customer's conversation part id for a reply.
    event_key: str = ONCE_PER_TICKET
    actor_id: str | None = None  # who caused the event, if the payload says
    # What an agent asked of the run this event starts ({"instruction": ...} for a redraft):
    # stored as `runs.request`.
    request: Mapping[str, object] | None = None


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
    group_id: int | str | None = None  # a Zendesk group id (int), an Intercom team id (str)
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
    """What the bot writes on a ticket, in the bot's terms; each adapter decides how (Zendesk:
    one safe PUT; Intercom: a note, then tags and an assignment, each its own call).

    Internal only: a private note, never a public reply."""

    note: str  # plain text (`bot.notes`); an adapter may render it (Intercom: HTML)
    add_tags: tuple[str, ...]
    priority: int | None = None  # 1..5; the adapter maps it onto the helpdesk's scale
    group_id: int | str | None = None  # the group (Zendesk) or team (Intercom) to route to
    # Names this write, so that an adapter that writes in several calls can tell, after a
    # crash, that its note is already there ("run 42"). "" when there is nothing to name.
    reference: str = ""
    # The reply text for the helpdesk's draft field (Zendesk: ZENDESK_DRAFT_FIELD_ID, which
    # the "use AI draft" macro copies into the agent's reply); "" writes no field.
    draft: str = ""
    # An agent asked for this write ("#ai escalate"): a team they set earlier does not stand in
    # its way (Intercom keeps a teammate's team otherwise).
    agent_requested: bool = False


@dataclass(frozen=True)
class PublishResult:
    """What was actually sent, for the store (the adapter may drop fields, see 409 handling)."""

    payload: Mapping[str, object]
    conflicts: int = 0  # 409s met and resolved by re-reading
    kept_agent_fields: tuple[str, ...] = ()  # fields an agent changed meanwhile, left alone
    applied: bool = True  # False: the ticket already carried this update (another run's)
    # Why nothing was written: a human acted since the event (a public reply by a teammate, or
    # the ticket solved or closed), and the bot never talks over a human. None: not stale.
    stale: str | None = None
