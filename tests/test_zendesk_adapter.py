"""The Zendesk adapter (bot/helpdesk/zendesk.py) against the stateful fake Zendesk.

Most tests drive zenpy's real `requests` session through the `responses` library
(`FakeZendesk.install`), which also emulates urllib3's transport retries, so "exactly one
request" assertions have teeth. A few run against the fake's real HTTP server (`serve()`)
through ZENDESK_URL, for timeouts, refused connections and the end-to-end path.

Every request the fake sees is validated against Zendesk's own OpenAPI file; each test ends
with `fake.spec_violations == []`.
"""
from __future__ import annotations

import base64
import os
import socket
import time
from datetime import datetime, timezone

import pytest
import requests
import responses
from zenpy import Zenpy

from bot.domain import Ticket, TicketUpdate
from bot.errors import BotError, PermanentError, RetryableError, SettingsError
from bot.helpdesk import zendesk as zendesk_module
from bot.helpdesk.zendesk import MAX_CONFLICT_RETRIES, RateLimited, ZendeskHelpdesk
from bot.settings import Settings
from tests.fakes.zendesk_api import CONFLICT, FakeZendesk

BASE_URL = "https://acme.zendesk.com"
EMAIL = "bot@acme.com"
TOKEN = "t0ken"
BASIC = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
FORCE_VARS = ("ZENPY_FORCE_NETLOC", "ZENPY_FORCE_SCHEME")
HISTORY = 50

T1 = "/api/v2/tickets/1.json"
REQUESTED_100 = "/api/v2/users/100/tickets/requested.json"

UPDATE = TicketUpdate(
    note="AI triage: Billing, priority 2.\nReason: duplicate charge.",
    add_tags=("ai_triaged", "billing", "ai_billing"),  # "billing" is already on the ticket
    priority=2,
    group_id=360001234567,
)


# ---- settings, seeding --------------------------------------------------------------------
def make_settings(**overrides: str) -> Settings:
    env = {
        "HELPDESK": "zendesk",
        "ZENDESK_SUBDOMAIN": "acme",
        "ZENDESK_EMAIL": EMAIL,
        "ZENDESK_API_TOKEN": TOKEN,
        "ZENDESK_WEBHOOK_SECRET": "test-signing-secret",
    }
    env.update(overrides)
    return Settings.from_env(env)


def seed(fake: FakeZendesk) -> FakeZendesk:
    fake.add_organization(10, name="Acme Corp", tags=["vip", "enterprise"],
                          organization_fields={"plan": "enterprise", "seats": 250})
    fake.add_organization(20, name="Bob's Org", tags=["smb"], organization_fields={"plan": "team"})
    fake.add_user(100, name="Ann Customer", email="ann@acme.test", tags=["vip", "gold"],
                  user_fields={"tier": "gold", "account_status": "active"}, organization_id=10)
    fake.add_user(200, name="Bob Builder", email="bob@smb.test", tags=["trial"],
                  user_fields={"account_status": "trial"}, organization_id=20)
    fake.add_user(300, name="Cara Solo", email="cara@solo.test")
    fake.add_user(2, name="Alice Agent", email="alice@acme.com", role="agent")
    # Ann: the current ticket (1) plus three earlier ones, seeded out of date order.
    fake.add_ticket(2, subject="Old one", description="first", requester_id=100, organization_id=10,
                    tags=["old", "shipping"], status="solved", created_at="2024-01-01T00:00:00Z")
    fake.add_ticket(3, subject="Newest earlier", description="third", requester_id=100, organization_id=10,
                    tags=["login"], status="open", created_at="2024-04-01T00:00:00Z")
    fake.add_ticket(4, subject="Middle", description="second", requester_id=100, organization_id=10,
                    status="closed", created_at="2024-02-15T12:30:00Z")
    fake.add_ticket(1, subject="Refund please", description="I was charged twice", requester_id=100,
                    organization_id=10, tags=["billing", "refund"], priority="normal",
                    created_at="2024-04-20T08:00:00Z")
    # Bob: organization only on the user, not on the ticket.
    fake.add_ticket(6, subject="Trial question", description="How long is the trial?", requester_id=200,
                    created_at="2024-04-21T08:00:00Z")
    # Cara: no organization at all, no earlier tickets.
    fake.add_ticket(7, subject="Hello", description="Just a question", requester_id=300,
                    created_at="2024-04-22T08:00:00Z")
    return fake


def assert_clean(fake: FakeZendesk) -> None:
    assert fake.spec_violations == []


def bot_comments(fake: FakeZendesk, tid: int) -> list[dict]:
    return [c for c in fake.ticket(tid)["comments"] if c["author_id"] == fake.bot_user_id]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- fixtures -----------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def no_zenpy_force_env(monkeypatch):
    """ZENPY_FORCE_* absent during the test and restored afterwards, even when a test's
    `from_settings(ZENDESK_URL=...)` writes them straight into os.environ.

    (`monkeypatch.delenv(raising=False)` on an absent variable records nothing, so a later
    direct write would leak: setenv first so the original state is recorded, then delete.)"""
    for name in FORCE_VARS:
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    yield


@pytest.fixture(autouse=True)
def zenpy_must_not_sleep(monkeypatch):
    """zenpy's 429 loop and proactive rate limiting sleep through `zenpy.lib.api.sleep`."""
    def forbidden(seconds):
        raise AssertionError(f"zenpy tried to sleep({seconds}) in the calling thread")
    monkeypatch.setattr("zenpy.lib.api.sleep", forbidden)


@pytest.fixture
def fake():
    f = seed(FakeZendesk())
    yield f
    f.close()


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def helpdesk(fake, rsps) -> ZendeskHelpdesk:
    fake.install(rsps, base_url=BASE_URL)
    hd = ZendeskHelpdesk.from_settings(make_settings())
    for name in FORCE_VARS:
        assert name not in os.environ
    return hd


@pytest.fixture
def http_helpdesk(fake):
    """The adapter pointed at the fake's real HTTP server through ZENDESK_URL."""
    fake.serve()
    hd = ZendeskHelpdesk.from_settings(make_settings(ZENDESK_URL=fake.base_url))
    assert os.environ["ZENPY_FORCE_NETLOC"] == fake.netloc
    assert os.environ["ZENPY_FORCE_SCHEME"] == "http"
    return hd


# ---- fetch --------------------------------------------------------------------------------
def test_fetch_returns_the_full_snapshot(helpdesk, fake):
    snap = helpdesk.fetch("1", history_limit=HISTORY)

    t = snap.ticket
    assert (t.id, t.subject, t.description, t.status, t.priority, t.group_id) == (
        "1", "Refund please", "I was charged twice", "new", "normal", None)
    assert t.tags == ("billing", "refund")
    assert (t.requester_id, t.organization_id) == ("100", "10")
    assert t.created_at == datetime(2024, 4, 20, 8, 0, tzinfo=timezone.utc)
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
    assert snap.history[0].created_at == datetime(2024, 4, 1, tzinfo=timezone.utc)
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


# ---- publish ------------------------------------------------------------------------------
def test_publish_sends_one_safe_put_with_private_note_merged_tags_priority_group(helpdesk, fake):
    snap = helpdesk.fetch("1", history_limit=HISTORY)
    stamp = snap.ticket.updated_at
    result = helpdesk.publish(snap.ticket, UPDATE)

    puts = fake.puts(1)
    assert len(puts) == 1
    put = puts[0]
    assert put.path == T1 and put.status == 200
    assert put.headers["Authorization"] == BASIC
    body = put.json["ticket"]
    assert body["comment"] == {"body": UPDATE.note, "public": False}
    assert "public" in body["comment"] and body["comment"]["public"] is False
    assert body["tags"] == ["billing", "refund", "ai_triaged", "ai_billing"]
    assert body["priority"] == "high"
    assert body["group_id"] == 360001234567
    assert body["safe_update"] is True
    assert body["updated_stamp"] == stamp
    assert set(body) <= {"id", "comment", "tags", "priority", "group_id", "safe_update", "updated_stamp"}

    assert result.conflicts == 0
    assert result.kept_agent_fields == ()
    assert result.payload["priority"] == "high"

    state = fake.ticket(1)
    assert state["tags"] == ["billing", "refund", "ai_triaged", "ai_billing"]
    assert state["priority"] == "high"
    assert state["group_id"] == 360001234567
    (note,) = bot_comments(fake, 1)
    assert note["body"] == UPDATE.note and note["public"] is False

    # The whole run for one ticket: 2 reads + 1 write.
    assert fake.count() == 3
    assert fake.count("GET") == 2 and fake.count("PUT") == 1
    assert_clean(fake)


@pytest.mark.parametrize("ours, zendesk", [(1, "urgent"), (2, "high"), (3, "normal"), (4, "low"), (5, "low")])
def test_publish_maps_priority(helpdesk, fake, ours, zendesk):
    ticket = helpdesk.fetch_ticket("7")
    helpdesk.publish(ticket, TicketUpdate(note="n", add_tags=("ai_triaged",), priority=ours))
    assert fake.puts(7)[0].json["ticket"]["priority"] == zendesk
    assert fake.ticket(7)["priority"] == zendesk
    assert_clean(fake)


def test_publish_without_priority_or_group_sends_neither(helpdesk, fake):
    ticket = helpdesk.fetch_ticket("1")
    helpdesk.publish(ticket, TicketUpdate(note="just a note", add_tags=()))
    body = fake.puts(1)[0].json["ticket"]
    assert "priority" not in body and "group_id" not in body
    assert body["tags"] == ["billing", "refund"]  # the existing list, never emptied
    assert fake.ticket(1)["priority"] == "normal"
    assert_clean(fake)


# ---- 409: an agent changed the ticket between our read and our write ------------------------
def test_publish_409_keeps_the_agents_priority_and_merges_tags(helpdesk, fake):
    snap = helpdesk.fetch("1", history_limit=HISTORY)
    stamps = []
    fake.on_before_put(lambda tid, body: stamps.append(
        fake.agent_edit(tid, priority="urgent", tags_add=["agent_tag"])))
    before = fake.count()

    result = helpdesk.publish(snap.ticket, UPDATE)

    # PUT (409) -> GET the ticket -> PUT (200)
    assert [(r.method, r.path, r.status) for r in fake.requests[before:]] == [
        ("PUT", T1, 409), ("GET", T1, 200), ("PUT", T1, 200)]
    assert fake.requests[before + 1].query == {}
    assert fake.count() - before == 3
    assert result.conflicts == 1
    assert "priority" in result.kept_agent_fields
    assert result.kept_agent_fields == ("priority",)

    first, second = (p.json["ticket"] for p in fake.puts(1))
    assert first["priority"] == "high" and first["updated_stamp"] == snap.ticket.updated_at
    assert "priority" not in second
    assert "priority" not in result.payload
    assert second["updated_stamp"] == stamps[0]
    assert second["tags"] == ["billing", "refund", "agent_tag", "ai_triaged", "ai_billing"]
    assert second["group_id"] == 360001234567
    assert second["comment"] == {"body": UPDATE.note, "public": False}

    state = fake.ticket(1)
    assert state["priority"] == "urgent"  # the agent's, not ours
    assert state["tags"] == ["billing", "refund", "agent_tag", "ai_triaged", "ai_billing"]
    assert state["group_id"] == 360001234567
    assert len(bot_comments(fake, 1)) == 1  # the refused PUT applied nothing
    assert_clean(fake)


def test_publish_409_keeps_the_agents_group(helpdesk, fake):
    snap = helpdesk.fetch("1", history_limit=HISTORY)
    fake.on_before_put(lambda tid, body: fake.agent_edit(tid, group_id=42))
    result = helpdesk.publish(snap.ticket, UPDATE)
    assert result.conflicts == 1 and result.kept_agent_fields == ("group_id",)
    second = fake.puts(1)[1].json["ticket"]
    assert "group_id" not in second and second["priority"] == "high"
    state = fake.ticket(1)
    assert (state["group_id"], state["priority"]) == (42, "high")
    assert_clean(fake)


def test_publish_409_on_a_tags_only_agent_change_still_applies_our_priority_and_group(helpdesk, fake):
    snap = helpdesk.fetch("1", history_limit=HISTORY)
    fake.on_before_put(lambda tid, body: fake.agent_edit(tid, tags_add=["agent_tag"], tags_remove=["refund"],
                                                         comment="Looking into it", public=False))
    result = helpdesk.publish(snap.ticket, UPDATE)

    assert result.conflicts == 1
    assert result.kept_agent_fields == ()
    assert len(fake.puts(1)) == 2
    second = fake.puts(1)[1].json["ticket"]
    assert second["priority"] == "high" and second["group_id"] == 360001234567
    state = fake.ticket(1)
    assert state["priority"] == "high"
    assert state["group_id"] == 360001234567
    # The agent's tag edit (added agent_tag, removed refund) survives; ours are added.
    assert state["tags"] == ["billing", "agent_tag", "ai_triaged", "ai_billing"]
    assert [c["body"] for c in state["comments"]][-2:] == ["Looking into it", UPDATE.note]
    assert_clean(fake)


def test_publish_persistent_409_gives_up_after_bounded_attempts(helpdesk, fake):
    ticket = helpdesk.fetch_ticket("1")
    fake.on_before_put(lambda tid, body: fake.agent_edit(tid, tags_add=["busy"]), times=None)
    before = fake.count()

    with pytest.raises(RetryableError) as info:
        helpdesk.publish(ticket, UPDATE)

    assert not isinstance(info.value, RateLimited)
    assert info.value.retry_after is None
    puts = fake.puts(1)
    assert len(puts) == MAX_CONFLICT_RETRIES + 1
    assert all(p.status == 409 for p in puts)
    rereads = fake.count("GET") - 1
    # One re-read per refused PUT; the last one is never used (see the report).
    assert MAX_CONFLICT_RETRIES <= rereads <= MAX_CONFLICT_RETRIES + 1
    assert fake.count() - before == len(puts) + rereads
    assert bot_comments(fake, 1) == []
    assert fake.ticket(1)["priority"] == "normal"
    assert_clean(fake)


def test_publish_persistent_409_does_not_reread_after_the_last_attempt(helpdesk, fake):
    ticket = helpdesk.fetch_ticket("1")
    fake.on_before_put(lambda tid, body: fake.agent_edit(tid, tags_add=["busy"]), times=None)
    with pytest.raises(RetryableError):
        helpdesk.publish(ticket, UPDATE)
    assert fake.count("GET") - 1 == MAX_CONFLICT_RETRIES
    assert_clean(fake)


def test_publish_409_caused_by_a_concurrent_triage_posts_no_second_note(helpdesk, fake):
    snap = helpdesk.fetch("1", history_limit=HISTORY)
    fake.on_before_put(lambda tid, body: fake.agent_edit(
        tid, tags_add=list(UPDATE.add_tags), priority="high", group_id=UPDATE.group_id,
        comment="AI triage (another run)", public=False, author_id=fake.bot_user_id))
    try:
        helpdesk.publish(snap.ticket, UPDATE)
    except BotError:
        pass  # refusing is acceptable; posting twice is not
    assert len(bot_comments(fake, 1)) == 1
    assert_clean(fake)


def test_publish_409_injected_every_time_is_bounded_too(helpdesk, fake):
    ticket = helpdesk.fetch_ticket("1")
    fake.fail_next("PUT", r"^/api/v2/tickets/1(\.json)?$", 409, body=dict(CONFLICT), times=None)
    with pytest.raises(RetryableError):
        helpdesk.publish(ticket, UPDATE)
    assert len(fake.puts(1)) == MAX_CONFLICT_RETRIES + 1
    assert_clean(fake)


# ---- 429: never sleep in the worker -------------------------------------------------------
def test_429_on_get_raises_rate_limited_at_once(helpdesk, fake):
    fake.fail_next("GET", r"^/api/v2/tickets/1", 429, headers={"Retry-After": "7"})
    started = time.monotonic()
    with pytest.raises(RetryableError) as info:
        helpdesk.fetch("1", history_limit=HISTORY)
    assert time.monotonic() - started < 1.0
    assert isinstance(info.value, RateLimited)
    assert info.value.retry_after == 7
    assert [(r.method, r.path, r.status) for r in fake.requests] == [("GET", T1, 429)]
    assert_clean(fake)


def test_429_on_the_history_read_raises_rate_limited(helpdesk, fake):
    fake.fail_next("GET", r"/tickets/requested", 429, headers={"Retry-After": "12"})
    with pytest.raises(RateLimited) as info:
        helpdesk.fetch("1", history_limit=HISTORY)
    assert info.value.retry_after == 12
    assert [(r.path, r.status) for r in fake.requests] == [(T1, 200), (REQUESTED_100, 429)]
    assert_clean(fake)


def test_429_on_put_raises_rate_limited_at_once_without_zenpy_sleeping(helpdesk, fake):
    ticket = helpdesk.fetch_ticket("1")
    fake.fail_next("PUT", r"^/api/v2/tickets/1", 429, headers={"Retry-After": "7"})
    started = time.monotonic()
    with pytest.raises(RetryableError) as info:
        helpdesk.publish(ticket, UPDATE)
    assert time.monotonic() - started < 1.0
    assert isinstance(info.value, RateLimited)
    assert info.value.retry_after == 7
    assert [(p.status) for p in fake.puts(1)] == [429]
    assert fake.count() == 2  # the read before, the one PUT: no re-send
    assert bot_comments(fake, 1) == []
    assert_clean(fake)


def test_429_with_an_http_date_retry_after_still_raises_rate_limited(helpdesk, fake):
    fake.fail_next("GET", r"^/api/v2/tickets/1", 429, headers={"Retry-After": "Wed, 01 May 2024 10:00:07 GMT"})
    with pytest.raises(RateLimited) as info:
        helpdesk.fetch_ticket("1")
    assert info.value.retry_after is None  # unparsed: the task falls back to its own backoff
    assert fake.count() == 1
    assert_clean(fake)


# ---- 5xx: no transport-level retries -------------------------------------------------------
@pytest.mark.parametrize("status", [500, 503])
def test_5xx_on_get_is_retryable_and_sent_once(helpdesk, fake, status):
    fake.fail_next("GET", r"^/api/v2/tickets/1", status)
    with pytest.raises(RetryableError) as info:
        helpdesk.fetch("1", history_limit=HISTORY)
    assert not isinstance(info.value, RateLimited)
    assert [(r.method, r.path, r.status) for r in fake.requests] == [("GET", T1, status)]
    assert_clean(fake)


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_on_put_is_retryable_and_sent_once(helpdesk, fake, status):
    ticket = helpdesk.fetch_ticket("1")
    fake.fail_next("PUT", r"^/api/v2/tickets/1", status)
    with pytest.raises(RetryableError) as info:
        helpdesk.publish(ticket, UPDATE)
    assert not isinstance(info.value, RateLimited)
    assert [p.status for p in fake.puts(1)] == [status]
    assert fake.count() == 2
    assert bot_comments(fake, 1) == []
    assert_clean(fake)


def test_harness_sanity_zenpys_default_session_would_retry_503(fake, rsps):
    """Proves the "sent once" tests above can fail: under `responses`, zenpy's own default
    transport (Retry(total=3, status_forcelist=[413, 503])) re-sends a 503 three times."""
    fake.install(rsps, base_url=BASE_URL)
    client = Zenpy(subdomain="acme", email=EMAIL, token=TOKEN, disable_cache=True)
    fake.fail_next("GET", r"^/api/v2/tickets/1", 503, times=None)
    with pytest.raises(Exception):
        client.tickets(id=1)
    assert fake.count("GET", T1) == 4
    assert_clean(fake)


# ---- permanent failures --------------------------------------------------------------------
def test_404_ticket_is_permanent(helpdesk, fake):
    with pytest.raises(PermanentError, match="404"):
        helpdesk.fetch("999", history_limit=HISTORY)
    assert [(r.path, r.status) for r in fake.requests] == [("/api/v2/tickets/999.json", 404)]
    assert_clean(fake)


@pytest.mark.parametrize("status", [401, 403])
def test_bad_credentials_on_get_are_permanent(helpdesk, fake, status):
    fake.fail_next("GET", r"^/api/v2/tickets/1", status, body={"error": "Couldn't authenticate you"})
    with pytest.raises(PermanentError):
        helpdesk.fetch("1", history_limit=HISTORY)
    assert fake.count() == 1
    assert_clean(fake)


def test_401_on_put_is_permanent(helpdesk, fake):
    ticket = helpdesk.fetch_ticket("1")
    fake.fail_next("PUT", r"^/api/v2/tickets/1", 401, body={"error": "Couldn't authenticate you"})
    with pytest.raises(PermanentError):
        helpdesk.publish(ticket, UPDATE)
    assert len(fake.puts(1)) == 1
    assert_clean(fake)


def test_404_on_put_is_permanent(helpdesk, fake):
    ticket = helpdesk.fetch_ticket("1")
    fake.fail_next("PUT", r"^/api/v2/tickets/1", 404, body={"error": "RecordNotFound", "description": "Not found"})
    with pytest.raises(PermanentError):
        helpdesk.publish(ticket, UPDATE)
    assert len(fake.puts(1)) == 1
    assert_clean(fake)


@pytest.mark.parametrize("body", [
    {"error": "RecordInvalid", "description": "Record validation errors",
     "details": {"group": [{"description": "Group: is invalid", "error": "InvalidValue"}]}},
    {"error": "invalid", "description": "Invalid"},  # zenpy maps this one to SearchResponseLimitExceeded
])
def test_422_on_put_is_permanent(helpdesk, fake, body):
    ticket = helpdesk.fetch_ticket("1")
    fake.fail_next("PUT", r"^/api/v2/tickets/1", 422, body=body)
    with pytest.raises(PermanentError, match="422"):
        helpdesk.publish(ticket, UPDATE)
    assert len(fake.puts(1)) == 1
    assert bot_comments(fake, 1) == []
    assert_clean(fake)


def test_non_json_5xx_body_on_put_is_retryable(helpdesk, fake, rsps):
    ticket = helpdesk.fetch_ticket("1")
    # A load balancer's HTML error page: zenpy falls back to raise_for_status (HTTPError).
    rsps.add(responses.PUT, BASE_URL + T1, body="<html>Bad gateway</html>", status=502,
             content_type="text/html")
    rsps.registered().insert(0, rsps.registered().pop())  # checked before the fake's catch-all
    with pytest.raises(RetryableError):
        helpdesk.publish(ticket, UPDATE)
    assert fake.puts(1) == []  # never reached the fake
    assert_clean(fake)


# ---- the HTTP front-end: timeouts, refused connections, end to end ----------------------------
def test_http_timeout_on_get_is_retryable(fake):
    fake.serve()
    hd = ZendeskHelpdesk.from_settings(make_settings(ZENDESK_URL=fake.base_url, ZENDESK_TIMEOUT="0.5"))
    fake.delay_next("GET", r"^/api/v2/tickets/1", 2)
    started = time.monotonic()
    with pytest.raises(RetryableError) as info:
        hd.fetch("1", history_limit=HISTORY)
    assert time.monotonic() - started < 1.9
    assert not isinstance(info.value, RateLimited)
    assert isinstance(info.value.__cause__, requests.Timeout)
    assert fake.count() == 1
    assert_clean(fake)


def test_http_timeout_on_put_is_retryable(fake):
    fake.serve()
    hd = ZendeskHelpdesk.from_settings(make_settings(ZENDESK_URL=fake.base_url, ZENDESK_TIMEOUT="0.5"))
    ticket = hd.fetch_ticket("1")
    fake.delay_next("PUT", r"^/api/v2/tickets/1", 2)
    started = time.monotonic()
    with pytest.raises(RetryableError) as info:
        hd.publish(ticket, UPDATE)
    assert time.monotonic() - started < 1.9
    assert isinstance(info.value.__cause__, requests.Timeout)
    assert len(fake.puts(1)) == 1
    assert_clean(fake)


def test_connection_refused_is_retryable(fake):
    port = free_port()
    hd = ZendeskHelpdesk.from_settings(make_settings(ZENDESK_URL=f"http://127.0.0.1:{port}", ZENDESK_TIMEOUT="2"))
    with pytest.raises(RetryableError) as info:
        hd.fetch("1", history_limit=HISTORY)
    assert isinstance(info.value.__cause__, requests.ConnectionError)
    with pytest.raises(RetryableError) as info:
        hd.publish(Ticket(id="1", subject="s", description="d", updated_at="2024-05-01T10:00:00Z"), UPDATE)
    assert isinstance(info.value.__cause__, requests.ConnectionError)
    assert fake.requests == []


def test_http_end_to_end_fetch_and_publish(http_helpdesk, fake):
    snap = http_helpdesk.fetch("1", history_limit=HISTORY)
    assert snap.requester.name == "Ann Customer" and snap.organization.name == "Acme Corp"
    assert [h.id for h in snap.history] == ["3", "4", "2"]
    result = http_helpdesk.publish(snap.ticket, UPDATE)
    assert result.conflicts == 0

    assert [(r.method, r.path, r.status) for r in fake.requests] == [
        ("GET", T1, 200), ("GET", REQUESTED_100, 200), ("PUT", T1, 200)]
    assert all(r.headers["Authorization"] == BASIC for r in fake.requests)
    state = fake.ticket(1)
    assert state["priority"] == "high" and state["group_id"] == 360001234567
    assert state["tags"] == ["billing", "refund", "ai_triaged", "ai_billing"]
    assert bot_comments(fake, 1)[0]["body"] == UPDATE.note
    assert_clean(fake)


def test_http_end_to_end_409_retry(http_helpdesk, fake):
    snap = http_helpdesk.fetch("1", history_limit=HISTORY)
    fake.on_before_put(lambda tid, body: fake.agent_edit(tid, priority="low", tags_add=["agent_tag"]))
    result = http_helpdesk.publish(snap.ticket, UPDATE)
    assert (result.conflicts, result.kept_agent_fields) == (1, ("priority",))
    assert [(r.method, r.status) for r in fake.requests[2:]] == [("PUT", 409), ("GET", 200), ("PUT", 200)]
    assert fake.ticket(1)["priority"] == "low"
    assert "agent_tag" in fake.ticket(1)["tags"] and "ai_triaged" in fake.ticket(1)["tags"]
    assert_clean(fake)


def test_from_settings_without_zendesk_url_ignores_stale_force_env(fake, rsps, monkeypatch):
    fake.install(rsps, base_url=BASE_URL)
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", "127.0.0.1:9")  # e.g. left by an earlier instance
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    hd = ZendeskHelpdesk.from_settings(make_settings())
    ticket = hd.fetch_ticket("1")  # read: https://acme.zendesk.com, as configured
    hd.publish(ticket, UPDATE)  # write: must go to the same place
    assert len(fake.puts(1)) == 1
    assert_clean(fake)


def test_zero_timeout_is_rejected_or_handled_consistently(fake):
    fake.serve()
    try:
        settings = make_settings(ZENDESK_URL=fake.base_url, ZENDESK_TIMEOUT="0")
    except SettingsError:
        return  # rejecting it at start-up is a fine fix
    hd = ZendeskHelpdesk.from_settings(settings)
    try:
        hd.fetch_ticket("1")
    except BotError:
        pass
    except ValueError as exc:
        pytest.fail(f"raw ValueError escaped the adapter: {exc}")
    assert hd._client.tickets.timeout == hd._timeout


def test_zendesk_url_env_vars_do_not_leak_between_tests():
    # Runs after the HTTP tests in file order: the autouse fixture restored the environment.
    for name in FORCE_VARS:
        assert name not in os.environ


# ---- text fidelity ------------------------------------------------------------------------
SUBJECT = "Ünïcödé «facture» — 請求書 <b>urgent</b> & \"quotes\" 🚀"
DESCRIPTION = "<p>Hello</p>\n<script>alert('x')</script>\nZażółć gęślą jaźń — ΑΒΓ — مرحبا 🙂 &amp; &lt;"
NOTE = ("**AI triage** — Catégorie: Facturation 💳\n<ul><li>Priorité: haute</li></ul>\n"
        "Kunde schrieb: «Ich wurde doppelt belastet» & <script>x</script> 日本語")


def _round_trip(hd, fake):
    fake.add_ticket(50, subject=SUBJECT, description=DESCRIPTION, requester_id=300, tags=["überprüfen"])
    snap = hd.fetch("50", history_limit=HISTORY)
    assert snap.ticket.subject == SUBJECT
    assert snap.ticket.description == DESCRIPTION
    assert snap.ticket.tags == ("überprüfen",)
    hd.publish(snap.ticket, TicketUpdate(note=NOTE, add_tags=("ai_triaged",), priority=3))
    assert fake.puts(50)[0].json["ticket"]["comment"] == {"body": NOTE, "public": False}
    (note,) = bot_comments(fake, 50)
    assert note["body"] == NOTE and note["public"] is False
    assert fake.ticket(50)["tags"] == ["überprüfen", "ai_triaged"]
    assert_clean(fake)


def test_non_ascii_and_html_survive_the_round_trip(helpdesk, fake):
    _round_trip(helpdesk, fake)


def test_non_ascii_and_html_survive_the_round_trip_over_http(http_helpdesk, fake):
    _round_trip(http_helpdesk, fake)


# ---- construction ---------------------------------------------------------------------------
def test_from_settings_session_has_no_transport_retries_and_a_rate_limit_hook(fake, rsps):
    hd = ZendeskHelpdesk.from_settings(make_settings(ZENDESK_TIMEOUT="3"))
    session = hd._session
    for prefix in ("https://", "http://"):
        assert session.get_adapter(prefix + "x").max_retries.total == 0
    assert zendesk_module._raise_on_rate_limit in session.hooks["response"]
    assert session.auth == (f"{EMAIL}/token", TOKEN)
    assert hd._client.tickets.timeout == 3.0
