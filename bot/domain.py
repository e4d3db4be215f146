"""The bot's own vocabulary: plain, immutable values passed between the layers.

Nothing here knows about Zendesk, Intercom, OpenAI, Flask or Celery. Adapters translate
vendor payloads into these types at the edge; the pipeline, rules, prompt building and note
formatting only ever see these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

CATEGORIES: tuple[str, ...] = (
    "Billing",
    "Technical",
    "Feature request",
    "Bug report",
    "Account access",
    "Other",
)

SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")


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


@dataclass(frozen=True)
class TicketSnapshot:
    """Everything the worker reads before deciding: fresh from the helpdesk."""

    ticket: Ticket
    requester: Person | None = None
    organization: Organization | None = None
    history: tuple[PastTicket, ...] = ()  # newest first, current ticket excluded


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
class Sentiment:
    label: str = "neutral"  # one of SENTIMENTS
    frustrated: bool = False


@dataclass(frozen=True)
class Triage:
    """The model's opinion, validated. Rules decide what is done with it."""

    category: str
    priority: int  # 1 (most urgent) .. 5
    escalate: bool
    confidence: float  # 0 .. 1
    reasoning: str
    sentiment: Sentiment
    language: str  # ISO 639-1, e.g. "en"

    def as_dict(self) -> dict:
        return {
            "category": self.category,
            "priority": self.priority,
            "escalate": self.escalate,
            "confidence": self.confidence,
            "reasoning": self.reasoning,
            "sentiment": {"label": self.sentiment.label, "frustrated": self.sentiment.frustrated},
            "language": self.language,
        }


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # of the prompt tokens, those the provider served from its cache

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
        )

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class TriageResult:
    triage: Triage
    model: str
    usage: Usage = Usage()
    valid: bool = True  # False when the output could not be repaired (confidence forced to 0)
    error: str | None = None  # why the output was invalid, for the store
    engine: str = ""  # which engine decided: "offline" (the local model) or "openai"
    # In hybrid mode, what the local model thought when it was not sure enough to decide:
    # {"category", "confidence", "model"}; kept to tune HYBRID_CONFIDENCE_BAR.
    local_opinion: Mapping[str, object] | None = None
    # In hybrid mode, an LLM triage that was paid for but unusable, when the local one was kept.
    discarded: "TriageResult | None" = None


@dataclass(frozen=True)
class SourceArticle:
    """An approved help-center article given to the draft as source [number]."""

    number: int  # 1-based, as cited in the draft: [1]
    source: str  # knowledge source, e.g. "zendesk"
    article_id: str
    title: str
    url: str
    passage: str  # the article's most relevant passage: what the draft may rely on
    relevance: float  # 0..1, see bot.kb.index
    section: str = ""
    locale: str = ""

    def as_dict(self) -> dict:
        return {
            "number": self.number,
            "source": self.source,
            "article_id": self.article_id,
            "locale": self.locale,
            "title": self.title,
            "section": self.section,
            "url": self.url,
            "passage": self.passage,
            "relevance": round(self.relevance, 4),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> "SourceArticle":
        return cls(
            number=int(data["number"]),
            source=str(data["source"]),
            article_id=str(data["article_id"]),
            title=str(data["title"]),
            url=str(data.get("url", "")),
            passage=str(data.get("passage", "")),
            relevance=float(data.get("relevance", 0.0)),
            section=str(data.get("section", "")),
            locale=str(data.get("locale", "")),
        )


@dataclass(frozen=True)
class DraftResult:
    text: str
    model: str
    usage: Usage = Usage()
    engine: str = ""  # which engine wrote it


@dataclass(frozen=True)
class EscalationReason:
    code: str  # e.g. "security", "refund", "low_confidence"
    detail: str  # plain words for the agent, e.g. 'mentions "refund"'


@dataclass(frozen=True)
class Decision:
    """What the rules made of the triage: the only thing that drives actions."""

    category: str
    priority: int
    escalate: bool
    reasons: tuple[EscalationReason, ...]
    group_key: str | None  # e.g. "security", "senior", or the category's routing key
    group_id: int | None
    tags: tuple[str, ...]  # tags to add (never removes any)

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


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
