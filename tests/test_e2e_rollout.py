"""Each rollout mode end to end: the web process and a Celery worker as real processes, real
Redis and PostgreSQL, the fake Zendesk (every request validated against Zendesk's OpenAPI file),
and a policy that rolls out per category: Billing `draft`, Account access `tag`, Feature request
`off`, everything else `shadow` (a new install's default)."""

from __future__ import annotations

import json
import time

import pytest
import redis
import requests
from sqlalchemy import select

from bot.db import make_engine
from bot.db.models import Run
from bot.kb.sources.files import load_articles
from bot.kb.store import ArticleStore
from bot.vocabulary import RunStatus
from tests.conftest import DEFAULT_POLICY, FIXTURES, WEBHOOK_SECRET, signed_headers
from tests.fakes.zendesk_api import FakeZendesk
from tests.processes import PostgresSchema, Stack, wait_for

pytestmark = pytest.mark.e2e
BROKER_DB = 12
ROLLOUT = """rollout:
  mode: shadow
  categories: {Billing: draft, Account access: tag, Feature request: off}
"""
TICKETS = {  # id: (subject, description, the category the local engine gives it)
    8101: ("Charged twice", "I was charged twice for my subscription this month, please refund one.", "Billing"),
    8102: ("Cannot log in", "I cannot log in to my account, the password reset email never arrives.",
           "Account access"),
    8103: ("Dark mode please", "It would be great if you could add a dark mode to the dashboard.",
           "Feature request"),
    8104: ("Export to CSV", "How do I export my reports to a CSV file? I cannot find the option.", "Technical"),
}


@pytest.fixture(scope="module")
def zendesk():
    fake = FakeZendesk()
    fake.add_user(601, name="Sam Lee")
    for ticket_id, (subject, description, _) in TICKETS.items():
        fake.add_ticket(ticket_id, subject=subject, description=description, requester_id=601, priority="normal")
    with fake:
        yield fake


@pytest.fixture(scope="module")
def stack(zendesk, postgres_server, redis_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("rollout")
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    policy = folder / "policy.yaml"
    policy.write_text(text[: text.index("rollout:")] + ROLLOUT, encoding="utf-8")
    with PostgresSchema(postgres_server) as schema:
        ArticleStore(make_engine(schema.url())).replace_all(
            "help", load_articles(FIXTURES / "kb" / "help_center.jsonl", "help"))
        broker_url = redis_url.rsplit("/", 1)[0] + f"/{BROKER_DB}"
        redis.Redis.from_url(broker_url).flushdb()
        processes = Stack({
            "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_URL": zendesk.base_url, "ZENDESK_EMAIL": "bot@example.com",
            "ZENDESK_API_TOKEN": "token", "ZENDESK_WEBHOOK_SECRET": WEBHOOK_SECRET, "DATABASE_URL": schema.url(),
            "REDIS_URL": broker_url, "LLM_PROVIDER": "offline", "KB_RANKING": "bm25", "POLICY_FILE": str(policy),
        }, folder)
        try:
            processes.start_web()
            processes.start_worker(pool="threads", concurrency=4)
            yield processes.base, schema.url()
        finally:
            processes.stop()
            processes.show_logs()


def test_each_category_gets_what_its_rollout_mode_allows(stack, zendesk):
    base, database = stack
    for ticket_id in TICKETS:
        body = json.dumps({"ticket_id": str(ticket_id), "event": "created"}).encode()
        response = requests.post(f"{base}/webhooks/zendesk", data=body, timeout=15,
                                 headers=signed_headers(body, invocation=f"inv-{ticket_id}"))
        assert response.status_code == 202
    engine = make_engine(database)

    def runs() -> dict[int, Run]:
        with engine.connect() as connection:
            rows = connection.execute(select(Run)).all()
        return {int(r.ticket_id): r for r in rows if r.status in RunStatus.terminal()}

    def all_ended() -> dict[int, Run] | None:
        found = runs()
        return found if len(found) == len(TICKETS) else None

    ended = wait_for(all_ended, 60, "the four runs")
    time.sleep(1)  # room for a wrong write to show up
    assert {t: ended[t].rules["category"] for t in TICKETS} == {t: c for t, (_, _, c) in TICKETS.items()}

    # draft: the private note with the draft, tags, group
    (put,) = zendesk.puts(8101)
    assert put.json["ticket"]["comment"]["public"] is False and ended[8101].status == RunStatus.SUCCEEDED
    assert ended[8101].draft in put.json["ticket"]["comment"]["body"]
    # tag: tags, priority and group, and no note at all
    (put,) = zendesk.puts(8102)
    assert "comment" not in put.json["ticket"] and ended[8102].status == RunStatus.SUCCEEDED
    assert "ai_category_account_access" in zendesk.ticket(8102)["tags"]
    assert [c for c in zendesk.ticket(8102)["comments"] if not c["public"]] == []
    # off: triaged only; nothing drafted, nothing written
    assert zendesk.puts(8103) == [] and ended[8103].status == RunStatus.SKIPPED and ended[8103].draft is None
    # shadow: drafted and stored, nothing written
    assert zendesk.puts(8104) == [] and ended[8104].status == RunStatus.SHADOW and ended[8104].draft
    assert ended[8104].actions["would_write"]["note"]
    # In no mode does anything public reach the customer.
    assert all(c["public"] is False for t in TICKETS for c in zendesk.ticket(t)["comments"][1:])
    assert zendesk.spec_violations == []
