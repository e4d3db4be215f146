"""The Zendesk adapter's reads (bot/helpdesk/zendesk.py: fetch, fetch_ticket) against the
stateful fake Zendesk: the snapshot, sideloads instead of per-object reads, the history page.
See tests/zendesk_adapter_support.py for how the fake is wired in.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

pytest.register_assert_rewrite("tests.zendesk_adapter_support")  # its asserts report like a test's

from tests.zendesk_adapter_support import (  # noqa: E402,F401  (fixtures: imported to be used)
    BASIC,
    HISTORY,
    REQUESTED_100,
    T1,
    assert_clean,
    fake,
    helpdesk,
    no_zenpy_force_env,
    rsps,
    zenpy_must_not_sleep,
)


# ---- fetch --------------------------------------------------------------------------------
def test_fetch_returns_the_full_snapshot(helpdesk, fake):
    snap = helpdesk.fetch("1", history_limit=HISTORY)

    t = snap.ticket
    assert (t.id, t.subject, t.description, t.status, t.priority, t.group_id) == (
        "1", "Refund please", "I was charged twice", "new", "normal", None)
    assert t.tags == ("billing", "refund")
    assert (t.requester_id, t.organization_id) == ("100", "10")
    assert t.created_at == datetime(2024, 4, 20, 8, 0, tzinfo=UTC)
    assert t.updated_at == fake.ticket(1)["updated_at"]  # verbatim: sent back as updated_stamp

    r = snap.requester
    assert (r.id, r.name, r.email, r.organization_id) == ("100", "Ann Customer", "ann@acme.test", "10")
    assert r.tags == ("vip", "gold")
    assert dict(r.fields) == {"tier": "gold", "account_status": "active"}

    o = snap.organization
    assert (o.id, o.name, o.tags) == ("10", "Acme Corp", ("vip", "enterprise"))
    assert dict(o.fields) == {"plan": "enterprise", "seats": 250}

    # Newest first, the current ticket excluded, tags preserved.
    assert [h.id for h in snap.history] == ["3", "4", "2"]
    assert [h.subject for h in snap.history] == ["Newest earlier", "Middle", "Old one"]
    assert [h.status for h in snap.history] == ["open", "closed", "solved"]
    assert snap.history[0].created_at == datetime(2024, 4, 1, tzinfo=UTC)
    assert snap.history[2].tags == ("old", "shipping")
    assert_clean(fake)


def test_fetch_makes_exactly_two_requests_and_no_n_plus_one(helpdesk, fake):
    helpdesk.fetch("1", history_limit=HISTORY)

    assert [(r.method, r.path) for r in fake.requests] == [("GET", T1), ("GET", REQUESTED_100)]
    show, requested = fake.requests
    assert show.query == {"include": "users,organizations"}
    assert requested.query == {"sort_by": "created_at", "sort_order": "desc", "per_page": str(HISTORY + 1)}
    # No per-object reads (zenpy's cache-off N+1): users and organizations came from sideloads.
    assert fake.count("GET", "/api/v2/users/100.json") == 0
    assert fake.count("GET", "/api/v2/organizations") == 0
    assert fake.count() == 2
    for r in fake.requests:
        assert r.headers["Authorization"] == BASIC
        assert r.status == 200
    assert_clean(fake)


def test_fetch_history_is_one_page_of_history_limit(helpdesk, fake):
    snap = helpdesk.fetch("1", history_limit=3)
    # One page of history_limit + 1, because the current ticket is on it too.
    assert fake.requests[1].query["per_page"] == "4"
    assert [h.id for h in snap.history] == ["3", "4", "2"]  # all three earlier, newest first
    assert_clean(fake)


def test_fetch_ticket_without_organization(helpdesk, fake):
    snap = helpdesk.fetch("7", history_limit=HISTORY)
    assert snap.ticket.organization_id is None
    assert snap.requester.id == "300" and snap.requester.organization_id is None
    assert snap.organization is None
    assert snap.history == ()
    assert fake.count() == 2
    assert fake.count("GET", "/api/v2/organizations") == 0
    assert_clean(fake)


def test_fetch_org_only_on_user_not_sideloaded_gives_no_org_and_no_extra_read(helpdesk, fake):
    # Ticket 6 has organization_id null; its requester belongs to org 20. The fake (like a
    # ticket sideload) only includes the ticket's own organization, so it is not resolved,
    # and the adapter must not fall back to an extra GET /organizations/20.
    snap = helpdesk.fetch("6", history_limit=HISTORY)
    assert snap.ticket.organization_id is None
    assert snap.requester.organization_id == "20"
    assert snap.organization is None
    assert fake.count() == 2
    assert fake.count("GET", "/api/v2/organizations") == 0
    assert_clean(fake)


def test_fetch_org_only_on_user_resolved_from_the_sideload_when_present(helpdesk, fake, monkeypatch):
    original = fake._sideloads

    def sideloads_with_user_orgs(tickets, query, base):  # as if Zendesk sideloaded users' orgs
        out = original(tickets, query, base)
        if "organizations" in out:
            have = {o["id"] for o in out["organizations"]}
            for t in tickets:
                oid = fake.users[t["requester_id"]]["organization_id"]
                if oid and oid not in have:
                    out["organizations"].append(fake._org_json(oid, base))
        return out
    monkeypatch.setattr(fake, "_sideloads", sideloads_with_user_orgs)

    snap = helpdesk.fetch("6", history_limit=HISTORY)
    assert snap.ticket.organization_id is None
    assert snap.organization is not None
    assert (snap.organization.id, snap.organization.tags) == ("20", ("smb",))
    assert dict(snap.organization.fields) == {"plan": "team"}
    assert fake.count() == 2
    assert_clean(fake)


def test_fetch_ticket_reads_only_the_ticket(helpdesk, fake):
    ticket = helpdesk.fetch_ticket("1")
    assert (ticket.id, ticket.priority, ticket.tags) == ("1", "normal", ("billing", "refund"))
    assert [(r.method, r.path, r.query) for r in fake.requests] == [("GET", T1, {})]
    assert_clean(fake)
