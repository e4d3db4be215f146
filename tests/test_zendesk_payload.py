"""Zendesk shapes both ways: the one ticket update, and JSON -> domain values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain import Ticket, TicketUpdate
from bot.helpdesks.zendesk.payload import (
    organization_from_json,
    past_ticket_from_json,
    person_from_json,
    ticket_from_json,
    update_payload,
)

UPDATED_AT = "2025-01-08T10:12:07Z"


# --- builders -------------------------------------------------------------------------------


def ticket(tags=("mobile", "login"), updated_at=UPDATED_AT) -> Ticket:
    return Ticket(id="5158", subject="s", description="d", tags=tuple(tags), updated_at=updated_at)


def update(add_tags=("ai_triaged", "ai_category_billing"), priority=2, group_id=101) -> TicketUpdate:
    return TicketUpdate(note="AI triage (internal note)", add_tags=tuple(add_tags),
                        priority=priority, group_id=group_id)


# Realistic bodies, shaped as GET /api/v2/tickets/{id}, /users/{id}, /organizations/{id} return.
TICKET_JSON = {
    "id": 5158,
    "url": "https://acme.zendesk.com/api/v2/tickets/5158.json",
    "subject": "Cannot login to mobile app",
    "raw_subject": "Cannot login to mobile app",
    "description": "Customer is experiencing login issues with the mobile app",
    "status": "open",
    "priority": "high",
    "group_id": 8447320466430,
    "tags": ["mobile", "login"],
    "requester_id": 8447388090494,
    "organization_id": 8447346622462,
    "created_at": "2025-01-08T10:12:07Z",
    "updated_at": "2025-01-08T10:15:00Z",
}
USER_JSON = {
    "id": 8447388090494,
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "role": "end-user",
    "tags": ["vip"],
    "organization_id": 8447346622462,
    "user_fields": {"account_status": "Trial", "tier": None},
}
ORG_JSON = {
    "id": 8447346622462,
    "name": "Acme",
    "tags": ["enterprise"],
    "organization_fields": {"plan": "enterprise"},
}


# --- update_payload -----------------------------------------------------------------------------


def test_comment_is_private_and_public_key_is_explicit():
    payload = update_payload(ticket(), update())
    assert payload["comment"] == {"body": "AI triage (internal note)", "public": False}
    assert payload["comment"]["public"] is False


def test_tags_keep_existing_first_then_new_without_duplicates():
    payload = update_payload(
        ticket(tags=("mobile", "ai_triaged", "login")),
        update(add_tags=("ai_triaged", "ai_category_billing", "ai_category_billing", "ai_priority_2")),
    )
    assert payload["tags"] == ["mobile", "ai_triaged", "login", "ai_category_billing", "ai_priority_2"]


def test_tags_when_ticket_has_none():
    assert update_payload(ticket(tags=()), update(add_tags=("a", "b")))["tags"] == ["a", "b"]


@pytest.mark.parametrize(
    "ours, zendesk", [(1, "urgent"), (2, "high"), (3, "normal"), (4, "low"), (5, "low")]
)
def test_priority_mapping(ours, zendesk):
    assert update_payload(ticket(), update(priority=ours))["priority"] == zendesk


def test_group_and_safe_update():
    payload = update_payload(ticket(), update(group_id=103))
    assert payload["group_id"] == 103
    assert payload["safe_update"] is True
    assert payload["updated_stamp"] == UPDATED_AT


def test_keep_priority_leaves_priority_out():
    payload = update_payload(ticket(), update(), keep=frozenset({"priority"}))
    assert "priority" not in payload
    assert payload["group_id"] == 101


def test_keep_group_leaves_group_out():
    payload = update_payload(ticket(), update(), keep=frozenset({"group_id"}))
    assert "group_id" not in payload
    assert payload["priority"] == "high"


def test_no_priority_or_group_in_update_means_none_sent():
    payload = update_payload(ticket(), update(priority=None, group_id=None))
    assert "priority" not in payload and "group_id" not in payload
    assert payload["comment"]["public"] is False


# --- JSON -> domain -------------------------------------------------------------------------------


def test_ticket_from_json():
    t = ticket_from_json(TICKET_JSON)
    assert t.id == "5158"
    assert t.subject == "Cannot login to mobile app"
    assert t.description.startswith("Customer is experiencing")
    assert (t.status, t.priority, t.group_id) == ("open", "high", 8447320466430)
    assert t.tags == ("mobile", "login")
    assert t.requester_id == "8447388090494"
    assert t.organization_id == "8447346622462"
    assert t.created_at == datetime(2025, 1, 8, 10, 12, 7, tzinfo=UTC)
    assert t.updated_at == "2025-01-08T10:15:00Z"  # verbatim, for updated_stamp


@pytest.mark.parametrize("org_id", [0, None, "0", ""])
def test_ticket_without_organization(org_id):
    assert ticket_from_json({**TICKET_JSON, "organization_id": org_id}).organization_id is None


def test_ticket_with_missing_optional_fields():
    t = ticket_from_json({"id": 7, "raw_subject": "Only raw", "description": None, "tags": None,
                          "status": None})
    assert (t.id, t.subject, t.description, t.status, t.tags) == ("7", "Only raw", "", "new", ())
    assert t.created_at is None and t.requester_id is None


def test_person_from_json():
    p = person_from_json(USER_JSON)
    assert p.id == "8447388090494"
    assert (p.name, p.email, p.tags) == ("Ada Lovelace", "ada@example.com", ("vip",))
    assert dict(p.fields) == {"account_status": "Trial", "tier": None}
    assert p.organization_id == "8447346622462"


@pytest.mark.parametrize("org_id", [0, None])
def test_person_without_organization(org_id):
    assert person_from_json({**USER_JSON, "organization_id": org_id}).organization_id is None


def test_person_without_fields():
    p = person_from_json({"id": 1, "name": None, "user_fields": None})
    assert (p.id, p.name, p.email, p.tags, dict(p.fields)) == ("1", "", "", (), {})


def test_organization_from_json():
    o = organization_from_json(ORG_JSON)
    assert (o.id, o.name, o.tags) == ("8447346622462", "Acme", ("enterprise",))
    assert dict(o.fields) == {"plan": "enterprise"}


def test_past_ticket_from_json():
    p = past_ticket_from_json({"id": 4001, "subject": "Old", "status": "solved",
                               "created_at": "2025-01-01T00:00:00Z", "tags": ["ai_category_billing"]})
    assert (p.id, p.subject, p.status, p.tags) == ("4001", "Old", "solved", ("ai_category_billing",))
    assert p.created_at == datetime(2025, 1, 1, tzinfo=UTC)
