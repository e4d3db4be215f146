"""End to end, tracking: the web process, a Celery worker and beat as real processes, real Redis and
PostgreSQL, a fake Zendesk (stamping with the wall clock, recording audits, validating every
request against Zendesk's OpenAPI file). A ticket gets its draft; an agent sends it edited; the
comment_added event turns into a stored review classified as an edit; a redraft note becomes a
second draft that nobody needed a webhook for (the beat's sweep found it)."""

from __future__ import annotations

import json

import pytest
import redis
import requests
from sqlalchemy import select

from bot.db import make_engine
from bot.db.models import Review
from bot.store import Store
from bot.vocabulary import ReviewAction
from tests.conftest import WEBHOOK_SECRET, signed_headers
from tests.fakes.zendesk_api import FakeZendesk
from tests.processes import PostgresSchema, Stack, wait_for

pytestmark = pytest.mark.e2e
BROKER_DB = 11
AGENT, CUSTOMER = 381, 501


@pytest.fixture(scope="module")
def zendesk():
    fake = FakeZendesk(realtime=True)
    fake.add_user(AGENT, name="Sam Rivera", role="agent")
    fake.add_user(CUSTOMER, name="Ana Souza")
    with fake:
        yield fake


@pytest.fixture(scope="module")
def stack(zendesk, postgres_server, redis_url, tmp_path_factory):
    with PostgresSchema(postgres_server) as schema:
        broker_url = redis_url.rsplit("/", 1)[0] + f"/{BROKER_DB}"
        redis.Redis.from_url(broker_url).flushdb()
        processes = Stack({
            "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_URL": zendesk.base_url, "ZENDESK_EMAIL": "bot@example.com",
            "ZENDESK_API_TOKEN": "token", "ZENDESK_WEBHOOK_SECRET": WEBHOOK_SECRET, "ZENDESK_BOT_USER_ID": "1",
            "ZENDESK_DRAFT_FIELD_ID": "777", "DATABASE_URL": schema.url(), "REDIS_URL": broker_url,
            "LLM_PROVIDER": "offline", "SWEEP_INTERVAL": "2", "TRACK_RECHECK": "3",
        }, tmp_path_factory.mktemp("e2e-tracking"))
        try:
            processes.start_web()
            processes.start_worker(pool="threads", concurrency=4)
            processes.start_beat()
            yield processes.base, Store(make_engine(schema.url()))
        finally:
            processes.stop()
            processes.show_logs()


def event(ticket_id: int, kind: str, actor: int) -> bytes:
    return json.dumps({"type": f"zen:event-type:ticket.{kind}", "account_id": 1, "id": f"e-{ticket_id}-{kind}",
                       "time": "2026-12-05T10:00:00Z", "zendesk_event_version": "2022-11-06",
                       "subject": f"zen:ticket:{ticket_id}",
                       "detail": {"id": str(ticket_id), "actor_id": str(actor)}, "event": {}}).encode()


def deliver(base: str, body: bytes) -> requests.Response:
    return requests.post(f"{base}/webhooks/zendesk", data=body, headers=signed_headers(body), timeout=15)


def reviews(store: Store, ticket_id: int) -> list[Review]:
    with store.session() as session:
        return list(session.scalars(select(Review).where(Review.ticket_id == str(ticket_id)).order_by(Review.run_id)))


def test_an_agents_edited_reply_becomes_an_edit_classification(stack, zendesk):
    base, store = stack
    zendesk.add_ticket(8101, subject="Cannot sign in", requester_id=CUSTOMER, status="open",
                       description="I can't sign in to my account, the password reset email never arrives.")
    assert deliver(base, event(8101, "created", CUSTOMER)).status_code == 202
    wait_for(lambda: reviews(store, 8101), 30, "the draft and its review")
    draft = {f["id"]: f["value"] for f in zendesk.ticket(8101)["custom_fields"]}[777]

    # The agent uses the draft (the macro puts the field in the reply), trims it and signs.
    zendesk.agent_edit(8101, comment=draft[: len(draft) * 4 // 5] + "\n\nBest, Sam", public=True,
                       author_id=AGENT)
    answer = deliver(base, event(8101, "comment_added", AGENT))
    assert answer.status_code == 202 and answer.json()["status"] == "tracking"

    (review,) = wait_for(lambda: [r for r in reviews(store, 8101) if r.action], 30, "the review's action")
    assert review.action == ReviewAction.LIGHTLY_EDITED and review.acted_by == str(AGENT)
    assert 0.70 <= review.similarity < 0.95
    assert zendesk.spec_violations == []


def test_a_redraft_note_without_a_webhook_is_found_by_the_sweep(stack, zendesk):
    base, store = stack
    zendesk.add_ticket(8102, subject="Invoice", requester_id=CUSTOMER, status="open",
                       description="Please send me a copy of my last invoice.")
    assert deliver(base, event(8102, "created", CUSTOMER)).status_code == 202
    wait_for(lambda: reviews(store, 8102), 30, "the first draft")
    # No webhook for the note (a lost delivery): the beat's sweep reads the ticket within
    # TRACK_RECHECK (3 s here) plus SWEEP_INTERVAL (2 s), finds the command, and drafts again.
    zendesk.agent_edit(8102, comment="#ai redraft mention the billing page", public=False, author_id=AGENT)
    first, second = wait_for(lambda: reviews(store, 8102) if len(reviews(store, 8102)) == 2 else None,
                             40, "the second draft")
    notes = [c for c in zendesk.ticket(8102)["comments"] if not c["public"] and "DRAFT REPLY" in c["body"]]
    assert len(notes) == 2 and "mention the billing page" in notes[1]["body"]
    wait_for(lambda: reviews(store, 8102)[0].action == ReviewAction.REDRAFT or None, 30, "the redraft recorded")
    assert second.instruction == "mention the billing page"
    assert zendesk.spec_violations == []
