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


def parse_policy(raw: object) -> Policy:
    if not isinstance(raw, dict):
        raise ValueError("the policy must be a mapping")
    threshold = float(raw.get("confidence_threshold", 0.7))
    if not 0 <= threshold <= 1:
        raise ValueError("confidence_threshold must be between 0 and 1")
    customer = raw.get("customer") or {}
    vip = customer.get("vip") or {}
    groups = {str(k): _group_id(v, f"groups.{k}") for k, v in (raw.get("groups") or {}).items()}
    routing = {str(k): _group_id(v, f"routing.{k}") for k, v in (raw.get("routing") or {}).items()}
    unknown = set(routing) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"routing: unknown categories {sorted(unknown)}; use {list(CATEGORIES)}")
    escalations = tuple(
        Escalation(reason=str(item["reason"]), group=item.get("group"))
        for item in raw.get("escalations") or ()
    )
    for item in escalations:
        if item.reason not in REASON_CODES:
            raise ValueError(f"escalations: unknown reason {item.reason!r}; use {REASON_CODES}")
        if item.group is not None and item.group not in groups:
            raise ValueError(f"escalations: group {item.group!r} is not defined in groups")
    ceilings = {str(k): int(v) for k, v in (raw.get("priority_ceiling") or {}).items()}
    for reason, ceiling in ceilings.items():
        if reason not in REASON_CODES or not 1 <= ceiling <= 5:
            raise ValueError(f"priority_ceiling.{reason} must name a reason and be 1..5")
    keywords = {
        str(k): tuple(str(word) for word in (v or ())) for k, v in (raw.get("keywords") or {}).items()
    }
    company = raw.get("company") or {}
    return Policy(
        version=str(raw.get("version", "unversioned")),
        confidence_threshold=threshold,
        vip=VipRule(
            organization_tags=_strings(vip.get("organization_tags")),
            user_tags=_strings(vip.get("user_tags")),
            user_fields={str(k): _strings(v) for k, v in (vip.get("user_fields") or {}).items()},
            organization_fields={
                str(k): _strings(v) for k, v in (vip.get("organization_fields") or {}).items()
            },
        ),
        account_status_field=customer.get("account_status_field"),
        history_window_days=int(customer.get("history_window_days", 30)),
        recent_interactions=int(customer.get("recent_interactions", 3)),
        repeat_contact_min=int((raw.get("repeat_contact") or {}).get("min_contacts", 3)),
        groups=groups,
        routing=routing,
        keywords=keywords,
        escalations=escalations,
        priority_ceiling=ceilings,
        company_name=str(company.get("name", "our company")),
        company_tone=str(company.get("tone", "friendly, clear and concise")),
    )


def _strings(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(item) for item in value)


def _group_id(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not str(value).isdigit():
        raise ValueError(f"{where} must be a numeric group id or null, got {value!r}")
    return int(value)
