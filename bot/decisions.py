"""What the bot decides about a ticket: the triage, the draft, the sources it was given, and
the rules' decision. Plain, immutable values; each one stored with a run has an `as_dict` /
`from_dict` pair, so that a later attempt reads back exactly what an earlier one decided and
who decided it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.intents import IntentSignal

SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")

@dataclass(frozen=True)
class Sentiment:
    label: str = "neutral"  # one of SENTIMENTS
    frustrated: bool = False

    def as_dict(self) -> dict:
        return {"label": self.label, "frustrated": self.frustrated}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Sentiment:
        return cls(label=str(data.get("label", "neutral")), frustrated=bool(data.get("frustrated")))


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
    # What the engine's own detector saw (the local model's intent heads, or the LLM's fields);
    # the rules add the policy's keyword lists to these.
    intents: tuple[IntentSignal, ...] = ()

    def as_dict(self) -> dict:
        return {
            "category": self.category,
            "priority": self.priority,
            "escalate": self.escalate,
            "confidence": self.confidence,
            "reasoning": self.reasoning,
            "sentiment": self.sentiment.as_dict(),
            "language": self.language,
            "intents": [signal.as_dict() for signal in self.intents],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Triage:
        return cls(
            category=str(data["category"]),
            priority=int(data["priority"]),
            escalate=bool(data["escalate"]),
            confidence=float(data["confidence"]),
            reasoning=str(data.get("reasoning", "")),
            sentiment=Sentiment.from_dict(data.get("sentiment") or {}),
            language=str(data.get("language", "")),
            intents=tuple(IntentSignal.from_dict(i) for i in data.get("intents") or ()),
        )


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

    def as_dict(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Usage:
        data = data or {}
        return cls(
            int(data.get("prompt_tokens") or 0),
            int(data.get("completion_tokens") or 0),
            int(data.get("cached_tokens") or 0),
        )


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
    discarded: TriageResult | None = None

    def as_dict(self) -> dict:
        """The triage's own fields at the top (what reports read), then who decided and how."""
        return {
            **self.triage.as_dict(),
            "valid": self.valid,
            "error": self.error,
            "engine": self.engine,
            "model": self.model,
            "usage": self.usage.as_dict(),
            "local_opinion": dict(self.local_opinion) if self.local_opinion else None,
            "discarded": self.discarded.as_dict() if self.discarded else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TriageResult:
        discarded = data.get("discarded")
        return cls(
            triage=Triage.from_dict(data),
            model=str(data.get("model") or ""),
            usage=Usage.from_dict(data.get("usage")),
            valid=bool(data.get("valid", True)),
            error=data.get("error"),
            engine=str(data.get("engine") or ""),
            local_opinion=data.get("local_opinion") or None,
            discarded=cls.from_dict(discarded) if discarded else None,
        )


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
    def from_dict(cls, data: Mapping[str, Any]) -> SourceArticle:
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

    def as_dict(self) -> dict:
        return {"text": self.text, "model": self.model, "engine": self.engine,
                "usage": self.usage.as_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DraftResult:
        return cls(
            text=str(data["text"]),
            model=str(data.get("model") or ""),
            usage=Usage.from_dict(data.get("usage")),
            engine=str(data.get("engine") or ""),
        )


@dataclass(frozen=True)
class EscalationReason:
    code: str  # e.g. "security", "refund", "low_confidence"
    detail: str  # plain words for the agent, e.g. 'mentions "refund"'
    sources: tuple[str, ...] = ()  # for an intent: which detectors fired (SIGNAL_SOURCES)

    def as_dict(self) -> dict:
        out: dict = {"code": self.code, "detail": self.detail}
        if self.sources:
            out["sources"] = list(self.sources)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EscalationReason:
        return cls(str(data["code"]), str(data["detail"]), tuple(data.get("sources") or ()))


@dataclass(frozen=True)
class Decision:
    """What the rules made of the triage: the only thing that drives actions."""

    category: str
    priority: int
    escalate: bool
    reasons: tuple[EscalationReason, ...]
    group_key: str | None  # e.g. "security", "senior", or the category's routing key
    group_id: int | str | None  # in the run's helpdesk: a Zendesk group, an Intercom team
    tags: tuple[str, ...]  # tags to add (never removes any)

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    def as_dict(self) -> dict:
        return {
            "category": self.category,
            "priority": self.priority,
            "escalate": self.escalate,
            "reasons": [r.as_dict() for r in self.reasons],
            "group_key": self.group_key,
            "group_id": self.group_id,
            "tags": list(self.tags),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        return cls(
            category=str(data["category"]),
            priority=int(data["priority"]),
            escalate=bool(data["escalate"]),
            reasons=tuple(EscalationReason.from_dict(r) for r in data.get("reasons", ())),
            group_key=data.get("group_key"),
            group_id=data.get("group_id"),
            tags=tuple(data.get("tags", ())),
        )
