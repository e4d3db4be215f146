"""Shared by the Zendesk adapter tests (tests/test_zendesk_{reads,writes,failures}.py):
constants, seeding, helpers and fixtures.

Most tests drive zenpy's real `requests` session through the `responses` library
(`FakeZendesk.install`), which also emulates urllib3's transport retries, so "exactly one
request" assertions have teeth. A few run against the fake's real HTTP server (`serve()`)
through ZENDESK_URL, for timeouts, refused connections and the end-to-end path.

Every request the fake sees is validated against Zendesk's own OpenAPI file; each test ends
with `fake.spec_violations == []`.

Test modules import the fixtures they use by name (the two autouse ones too, so that they
apply there), after `pytest.register_assert_rewrite` for this module.
"""
from __future__ import annotations

import base64
import os
import socket

import pytest
import responses

from bot.domain import TicketUpdate
from bot.helpdesks.zendesk.adapter import ZendeskHelpdesk
from bot.settings import Settings
from tests.fakes.zendesk_api import FakeZendesk

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
    hd = ZendeskHelpdesk.from_settings(make_settings().zendesk)
    for name in FORCE_VARS:
        assert name not in os.environ
    return hd


@pytest.fixture
def http_helpdesk(fake):
    """The adapter pointed at the fake's real HTTP server through ZENDESK_URL."""
    fake.serve()
    hd = ZendeskHelpdesk.from_settings(make_settings(ZENDESK_URL=fake.base_url).zendesk)
    assert os.environ["ZENPY_FORCE_NETLOC"] == fake.netloc
    assert os.environ["ZENPY_FORCE_SCHEME"] == "http"
    return hd
