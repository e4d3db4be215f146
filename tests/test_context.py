"""`build_context`: what the policy makes of the requester and their history."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.context import build_context
from bot.domain import Organization, PastTicket, Person, Ticket, TicketSnapshot
from bot.policy import load_policy, parse_policy

POLICY_FILE = Path(__file__).resolve().parent.parent / "config" / "policy.yaml"
POLICY = load_policy(POLICY_FILE)
RAW_POLICY = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


# --- builders -------------------------------------------------------------------------------


def person(tags=(), fields=None, name="Ada Lovelace") -> Person:
    return Person(id="900", name=name, email="ada@example.com", tags=tuple(tags), fields=fields or {})


def org(tags=(), fields=None) -> Organization:
    return Organization(id="700", name="Acme", tags=tuple(tags), fields=fields or {})


def past(id: str, days_ago: float, tags=(), subject: str | None = None) -> PastTicket:
    return PastTicket(
        id=id,
        subject=subject or f"earlier ticket {id}",
        status="solved",
        created_at=NOW - timedelta(days=days_ago),
        tags=tuple(tags),
    )


def snapshot(requester=None, organization=None, history=()) -> TicketSnapshot:
    current = Ticket(id="500", subject="Help", description="Please help")
    return TicketSnapshot(ticket=current, requester=requester, organization=organization,
                          history=tuple(history))


def vip_policy(user_fields=None, organization_fields=None):
    raw = copy.deepcopy(RAW_POLICY)
    raw["customer"]["vip"]["user_fields"] = user_fields or {}
    raw["customer"]["vip"]["organization_fields"] = organization_fields or {}
    return parse_policy(raw)


def build(snap, policy=POLICY, known=None):
    return build_context(snap, policy, NOW, known_categories=known)


# --- VIP ------------------------------------------------------------------------------------------


def test_vip_by_organization_tag():
    ctx = build(snapshot(person(), org(tags=["enterprise", "vip"])))
    assert ctx.tier == "vip" and ctx.is_vip


def test_vip_by_user_tag():
    assert build(snapshot(person(tags=["vip"]))).is_vip


@pytest.mark.parametrize("value", ["Enterprise", "ENTERPRISE", " enterprise "])
def test_vip_by_user_field_value_case_insensitively(value):
    policy = vip_policy(user_fields={"tier": ["enterprise", "VIP"]})
    assert build(snapshot(person(fields={"tier": value})), policy).is_vip
    assert build(snapshot(person(fields={"tier": "vip"})), policy).is_vip


def test_user_field_with_other_value_is_not_vip():
    policy = vip_policy(user_fields={"tier": ["enterprise"]})
    assert not build(snapshot(person(fields={"tier": "starter"})), policy).is_vip
    assert not build(snapshot(person(fields={"plan": "enterprise"})), policy).is_vip


def test_vip_by_organization_field():
    policy = vip_policy(organization_fields={"plan": ["enterprise"]})
    assert build(snapshot(person(), org(fields={"plan": "Enterprise"})), policy).is_vip
    assert not build(snapshot(person(), org(fields={"plan": "basic"})), policy).is_vip


def test_not_vip_otherwise():
    ctx = build(snapshot(person(tags=["premium"]), org(tags=["partner"])))
    assert ctx.tier == "standard" and not ctx.is_vip


def test_no_requester_and_no_organization():
    ctx = build(snapshot())
    assert ctx.tier == "standard"
    assert ctx.name == "" and ctx.account_status is None


# --- account status ---------------------------------------------------------------------------------


def test_account_status_from_configured_user_field():
    assert POLICY.account_status_field == "account_status"
    ctx = build(snapshot(person(fields={"account_status": "Trial"})))
    assert ctx.account_status == "trial"
    assert ctx.name == "Ada Lovelace"


def test_account_status_absent_or_empty_is_none():
    assert build(snapshot(person())).account_status is None
    assert build(snapshot(person(fields={"account_status": ""}))).account_status is None
    # another field does not count
    assert build(snapshot(person(fields={"status": "trial"}))).account_status is None


# --- history ----------------------------------------------------------------------------------------


def test_contacts_within_window_counted_older_and_current_excluded():
    history = [
        past("500", 0),  # the current ticket itself
        past("401", 1),
        past("402", 29.9),
        past("403", 31),
        past("404", 120),
    ]
    ctx = build(snapshot(person(), history=history))
    assert POLICY.history_window_days == 30
    assert ctx.contacts_in_window == 2
    assert ctx.window_days == 30


def test_topics_from_ai_category_tags():
    history = [
        past("401", 2, tags=["ai_triaged", "ai_category_billing"]),
        past("402", 5, tags=["ai_category_billing", "vip"]),
        past("403", 9, tags=["ai_category_feature_request"]),
        past("404", 10, tags=["unrelated"]),
        past("405", 60, tags=["ai_category_billing"]),  # outside the window
    ]
    ctx = build(snapshot(person(), history=history))
    assert dict(ctx.topics) == {"Billing": 2, "Feature request": 1}


def test_topics_from_known_categories_when_tags_absent():
    history = [past("401", 2), past("402", 3), past("403", 4, tags=["ai_category_technical"])]
    known = {"401": "Account access", "402": "Account access", "403": "Billing", "999": "Other"}
    ctx = build(snapshot(person(), history=history), known=known)
    # the tag wins over the store for 403; 999 is not in the history
    assert dict(ctx.topics) == {"Account access": 2, "Technical": 1}


def test_recent_limited_to_configured_number_newest_first():
    history = [past(str(400 + i), i + 1) for i in range(6)]
    ctx = build(snapshot(person(), history=[past("500", 0)] + history))
    assert POLICY.recent_interactions == 3
    assert [t.id for t in ctx.recent] == ["400", "401", "402"]


def test_recent_limit_follows_the_policy():
    raw = copy.deepcopy(RAW_POLICY)
    raw["customer"]["recent_interactions"] = 1
    ctx = build(snapshot(person(), history=[past("401", 1), past("402", 2)]), parse_policy(raw))
    assert [t.id for t in ctx.recent] == ["401"]
