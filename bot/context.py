"""Customer context: what the policy makes of the requester and their history. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.domain import CATEGORIES, CustomerContext, PastTicket, TicketSnapshot, category_slug
from bot.policy import Policy
from bot.vocabulary import category_tag

_CATEGORY_BY_TAG = {category_tag(category_slug(c)): c for c in CATEGORIES}


def past_ticket_category(ticket: PastTicket, known: Mapping[str, str]) -> str | None:
    """The topic of an earlier ticket: our own tag on it, else what our store recorded."""
    for tag in ticket.tags:
        if tag in _CATEGORY_BY_TAG:
            return _CATEGORY_BY_TAG[tag]
    return known.get(ticket.id)


def build_context(
    snapshot: TicketSnapshot,
    policy: Policy,
    now: datetime,
    known_categories: Mapping[str, str] | None = None,
) -> CustomerContext:
    known = known_categories or {}
    requester = snapshot.requester
    since = now - timedelta(days=policy.history_window_days)
    in_window = [
        t
        for t in snapshot.history
        if t.id != snapshot.ticket.id and t.created_at >= since
    ]
    topics = Counter(
        category for t in in_window if (category := past_ticket_category(t, known)) is not None
    )
    account_status = None
    if requester and policy.account_status_field:
        value = requester.fields.get(policy.account_status_field)
        account_status = str(value).strip().lower() if value not in (None, "") else None
    return CustomerContext(
        name=requester.name if requester else "",
        tier="vip" if _is_vip(snapshot, policy) else "standard",
        account_status=account_status,
        contacts_in_window=len(in_window),
        window_days=policy.history_window_days,
        topics=dict(topics),
        recent=tuple(t for t in snapshot.history if t.id != snapshot.ticket.id)[
            : policy.recent_interactions
        ],
    )


def _is_vip(snapshot: TicketSnapshot, policy: Policy) -> bool:
    rule = policy.vip
    requester, organization = snapshot.requester, snapshot.organization
    if requester:
        if {t.lower() for t in requester.tags} & set(rule.user_tags):
            return True
        if _field_matches(requester.fields, rule.user_fields):
            return True
    if organization:
        if {t.lower() for t in organization.tags} & set(rule.organization_tags):
            return True
        if _field_matches(organization.fields, rule.organization_fields):
            return True
    return False


def _field_matches(fields: Mapping[str, object], wanted: Mapping[str, tuple[str, ...]]) -> bool:
    for key, values in wanted.items():
        value = fields.get(key)
        if value is not None and str(value).strip().lower() in {v.lower() for v in values}:
            return True
    return False
