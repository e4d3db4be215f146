"""The support policy (`config/policy.yaml`): loaded once, validated, immutable.

Every routing and escalation decision comes from here and from the customer's record, never
from ticket text or from the model: see `bot.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import yaml

from bot.domain import CATEGORIES
from bot.errors import SettingsError

REASON_CODES = (
    "security",
    "legal",
    "refund",
    "vip",
    "frustrated",
    "repeat_contact",
    "low_confidence",
    "no_source",
    "model_flagged",
)


@dataclass(frozen=True)
class VipRule:
    organization_tags: tuple[str, ...] = ()
    user_tags: tuple[str, ...] = ()
    user_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    organization_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Escalation:
    reason: str
    group: str | None  # a key of `groups`, or None: fall through to the next reason


@dataclass(frozen=True)
class KnowledgePolicy:
    """How drafts are grounded in help-center articles (see bot.kb)."""

    max_sources: int = 3  # articles given to the draft, best first
    min_relevance: float = 0.3  # 0..1 (bot.kb.index): below it an article is not a source
    default_language: str = "en"  # language of articles whose locale is not set
    # Categories whose tickets are escalated (reason `no_source`) when no article qualifies.
    escalate_without_source: frozenset[str] = frozenset()
    # Words added to the retrieval query for a ticket of this category.
    category_terms: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    version: str
    confidence_threshold: float
    vip: VipRule
    account_status_field: str | None
    history_window_days: int
    recent_interactions: int
    repeat_contact_min: int
    groups: Mapping[str, int | None]
    routing: Mapping[str, int | None]
    keywords: Mapping[str, tuple[str, ...]]
    escalations: tuple[Escalation, ...]  # precedence: first listed wins the group
    priority_ceiling: Mapping[str, int]  # reason -> most lenient priority allowed
    company_name: str
    company_tone: str
    knowledge: KnowledgePolicy = KnowledgePolicy()

    def group_name(self, group_id: int | None) -> str | None:
        for name, gid in list(self.groups.items()) + list(self.routing.items()):
            if gid is not None and gid == group_id:
                return name
        return None


def load_policy(path: str | Path) -> Policy:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"POLICY_FILE {path}: {exc}") from None
    try:
        return parse_policy(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise SettingsError(f"POLICY_FILE {path}: {exc}") from None


KEYWORD_LISTS = ("security", "legal", "refund")


def parse_policy(raw: object) -> Policy:
    raw = _section(raw, "the policy")
    threshold = _number(raw.get("confidence_threshold", 0.7), "confidence_threshold", float)
    if not 0 <= threshold <= 1:
        raise ValueError("confidence_threshold must be between 0 and 1")
    customer = _section(raw.get("customer"), "customer")
    vip = _section(customer.get("vip"), "customer.vip")
    groups = {
        str(k): _group_id(v, f"groups.{k}") for k, v in _section(raw.get("groups"), "groups").items()
    }
    routing = {
        str(k): _group_id(v, f"routing.{k}")
        for k, v in _section(raw.get("routing"), "routing").items()
    }
    unknown = set(routing) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"routing: unknown categories {sorted(unknown)}; use {list(CATEGORIES)}")
    escalations = []
    for i, item in enumerate(raw.get("escalations") or ()):
        item = _section(item, f"escalations[{i}]")
        escalation = Escalation(reason=str(item.get("reason")), group=item.get("group"))
        if escalation.reason not in REASON_CODES:
            raise ValueError(
                f"escalations: unknown reason {escalation.reason!r}; use {REASON_CODES}"
            )
        if escalation.group is not None and escalation.group not in groups:
            raise ValueError(f"escalations: group {escalation.group!r} is not defined in groups")
        escalations.append(escalation)
    ceilings = {
        str(k): _number(v, f"priority_ceiling.{k}", int)
        for k, v in _section(raw.get("priority_ceiling"), "priority_ceiling").items()
    }
    for reason, ceiling in ceilings.items():
        if reason not in REASON_CODES or not 1 <= ceiling <= 5:
            raise ValueError(f"priority_ceiling.{reason} must name a reason and be 1..5")
    keywords = {
        str(k): _strings(v) for k, v in _section(raw.get("keywords"), "keywords").items()
    }
    if set(keywords) - set(KEYWORD_LISTS):
        # A misspelt list name would otherwise silently never match.
        raise ValueError(
            f"keywords: unknown lists {sorted(set(keywords) - set(KEYWORD_LISTS))}; "
            f"use {list(KEYWORD_LISTS)}"
        )
    company = _section(raw.get("company"), "company")
    repeat = _section(raw.get("repeat_contact"), "repeat_contact")
    return Policy(
        version=str(raw.get("version", "unversioned")),
        confidence_threshold=threshold,
        vip=VipRule(
            # Zendesk stores tags in lower case.
            organization_tags=_strings(vip.get("organization_tags"), lower=True),
            user_tags=_strings(vip.get("user_tags"), lower=True),
            user_fields={
                str(k): _strings(v)
                for k, v in _section(vip.get("user_fields"), "customer.vip.user_fields").items()
            },
            organization_fields={
                str(k): _strings(v)
                for k, v in _section(
                    vip.get("organization_fields"), "customer.vip.organization_fields"
                ).items()
            },
        ),
        account_status_field=customer.get("account_status_field"),
        history_window_days=_number(
            customer.get("history_window_days", 30), "customer.history_window_days", int
        ),
        recent_interactions=_number(
            customer.get("recent_interactions", 3), "customer.recent_interactions", int
        ),
        repeat_contact_min=_number(repeat.get("min_contacts", 3), "repeat_contact.min_contacts", int),
        groups=groups,
        routing=routing,
        keywords=keywords,
        escalations=tuple(escalations),
        priority_ceiling=ceilings,
        company_name=str(company.get("name", "our company")),
        company_tone=str(company.get("tone", "friendly, clear and concise")),
        knowledge=_knowledge(_section(raw.get("knowledge"), "knowledge")),
    )


def _knowledge(raw: dict) -> KnowledgePolicy:
    defaults = KnowledgePolicy()
    relevance = _number(raw.get("min_relevance", defaults.min_relevance), "knowledge.min_relevance", float)
    if not 0 <= relevance <= 1:
        raise ValueError("knowledge.min_relevance must be between 0 and 1")
    escalate = {
        str(k): v for k, v in _section(
            raw.get("escalate_without_source"), "knowledge.escalate_without_source"
        ).items()
    }
    terms = {
        str(k): " ".join(_strings(v))
        for k, v in _section(raw.get("category_terms"), "knowledge.category_terms").items()
    }
    for name, mapping in (("escalate_without_source", escalate), ("category_terms", terms)):
        unknown = set(mapping) - set(CATEGORIES)
        if unknown:
            raise ValueError(
                f"knowledge.{name}: unknown categories {sorted(unknown)}; use {list(CATEGORIES)}"
            )
    for category, value in escalate.items():
        if not isinstance(value, bool):
            raise ValueError(f"knowledge.escalate_without_source.{category} must be true or false")
    max_sources = _number(raw.get("max_sources", defaults.max_sources), "knowledge.max_sources", int)
    if not 1 <= max_sources <= 10:
        raise ValueError("knowledge.max_sources must be 1..10")
    return KnowledgePolicy(
        max_sources=max_sources,
        min_relevance=relevance,
        default_language=str(raw.get("default_language", defaults.default_language)).lower(),
        escalate_without_source=frozenset(c for c, on in escalate.items() if on),
        category_terms=terms,
    )


def _section(value: object, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def _number(value: object, where: str, kind: type):
    if isinstance(value, bool):
        raise ValueError(f"{where} must be a number, got {value!r}")
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must be a number, got {value!r}") from None
    if kind is int and number < 0:
        raise ValueError(f"{where} must not be negative")
    return number


def _strings(value: object, lower: bool = False) -> tuple[str, ...]:
    if value is None:
        return ()
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"expected a list of strings, got {type(value).__name__}")
    return tuple(str(item).lower() if lower else str(item) for item in items)


def _group_id(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not str(value).isdigit():
        raise ValueError(f"{where} must be a numeric group id or null, got {value!r}")
    return int(value)
