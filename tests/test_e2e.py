"""End to end: the web process and a Celery worker as real processes, real Redis and PostgreSQL, and
ZENDESK_URL pointing at a stateful fake Zendesk that validates every request against Zendesk's
own OpenAPI file."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from bot.db import make_engine
from bot.kb.sources.files import load_articles
from bot.kb.store import ArticleStore
from tests.conftest import WEBHOOK_SECRET, load_fixture, signed_headers
from tests.fakes.zendesk_api import FakeZendesk
from tests.processes import ROOT, PostgresSchema, Stack, wait_for

pytestmark = pytest.mark.e2e
BROKER_DB = 13


@pytest.fixture(scope="module")
def zendesk():
    fake = FakeZendesk()
    fake.add_organization(8447346622462, name="Dust Inc")
    fake.add_user(8447388090494, name="Jules Durand", organization_id=8447346622462)
    with fake:
        yield fake


@pytest.fixture(scope="module")
def stack(zendesk, postgres_server, redis_url, tmp_path_factory):
    """Web and worker processes, started the way the Procfile starts them."""
    with PostgresSchema(postgres_server) as schema:
        # The help center the worker grounds its drafts in, as `python -m bot kb import` loads it.
        ArticleStore(make_engine(schema.url())).replace_all(
            "help", load_articles(ROOT / "tests" / "fixtures" / "kb" / "help_center.jsonl", "help")
        )
        broker_url = redis_url.rsplit("/", 1)[0] + f"/{BROKER_DB}"
        redis.Redis.from_url(broker_url).flushdb()
        processes = Stack({
            "ZENDESK_SUBDOMAIN": "acme",
            "ZENDESK_URL": zendesk.base_url,
            "ZENDESK_EMAIL": "bot@example.com",
            "ZENDESK_API_TOKEN": "token",
            "ZENDESK_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": schema.url(),
            "REDIS_URL": broker_url,
            "LLM_PROVIDER": "offline",
            "TASK_MAX_RETRIES": "2",
            "TASK_RETRY_BASE": "0.2",
            # BM25: with hybrid (the default) and this three-article fixture, the calibrated
            # relevance of "Update the payment method" for the Swiss-francs invoice question
            # below is 0.45, above min_relevance (the margin to two unrelated articles is large),
            # so that ticket would cite it. The hybrid calibration was fitted on the Arduino
            # help center; this test is about the pipeline, not about that ranking.
            "KB_RANKING": "bm25",
        }, tmp_path_factory.mktemp("e2e"))
        try:
            processes.start_web()
            processes.start_worker(pool="threads", concurrency=4)
            yield processes.base
        finally:
            processes.stop()
            processes.show_logs()


def deliver(base: str, body: bytes, invocation: str) -> int:
    response = requests.post(f"{base}/webhooks/zendesk", data=body,
                             headers=signed_headers(body, invocation=invocation), timeout=15)
    return response.status_code


def test_new_ticket_delivered_many_times_gets_exactly_one_update(stack, zendesk):
    zendesk.add_ticket(5158, subject="Cannot login to mobile app",
                       description="I cannot log in to the mobile app, the password reset email never arrives.",
                       requester_id=8447388090494, organization_id=8447346622462,
                       tags=["mobile", "login"], priority="normal")
    body = load_fixture("zendesk/dust__event_ticket_created.json")
    trigger = json.dumps({"ticket_id": "{{ticket.id}}".replace("{{ticket.id}}", "5158"),
                          "event": "created"}).encode()
    # The same invocation five times at once, then a trigger webhook for the same new ticket.
    with ThreadPoolExecutor(max_workers=5) as pool:
        codes = list(pool.map(lambda _: deliver(stack, body, "inv-5158"), range(5)))
    codes.append(deliver(stack, trigger, "inv-trigger-5158"))
    assert sorted(codes) == [200, 200, 200, 200, 200, 202]

    wait_for(lambda: zendesk.puts(5158), 30, "the worker's update")
    time.sleep(2)  # room for a wrong second update to show up
    (put,) = zendesk.puts(5158)
    sent = put.json["ticket"]
    assert sent["comment"]["public"] is False
    assert sent["safe_update"] is True
    ticket = zendesk.ticket(5158)
    private = [c for c in ticket["comments"] if not c["public"]]
    assert len(private) == 1 and "DRAFT REPLY" in private[0]["body"]
    assert ticket["tags"][:2] == ["mobile", "login"]
    assert {"ai_triaged", "ai_category_account_access"} <= set(ticket["tags"])
    assert ticket["priority"] == sent["priority"] and ticket["group_id"] == sent["group_id"]
    assert sent["group_id"] in (114, 101, 102, 103, 104)
    assert zendesk.spec_violations == []


def test_rate_limited_read_is_retried_after_retry_after(stack, zendesk):
    zendesk.add_ticket(6001, subject="Invoice copy", description="Please send me a copy of my invoice.",
                       requester_id=8447388090494)
    zendesk.fail_next("GET", r"/api/v2/tickets/6001", 429, headers={"Retry-After": "1"})
    body = json.dumps({"ticket_id": "6001", "event": "created"}).encode()
    assert deliver(stack, body, "inv-6001") == 202
    wait_for(lambda: zendesk.puts(6001), 30, "the update after the 429")
    statuses = [r.status for r in zendesk.requests if r.path.startswith("/api/v2/tickets/6001")]
    assert statuses[0] == 429 and statuses[-1] == 200
    assert "ai_triaged" in zendesk.ticket(6001)["tags"]
    assert zendesk.spec_violations == []


def test_exhausted_retries_leave_ai_failed_and_a_note(stack, zendesk):
    zendesk.add_ticket(6002, subject="Help", description="My card does not work.",
                       requester_id=8447388090494, tags=["card"])
    # Every attempt's full read fails (3 attempts: TASK_MAX_RETRIES=2); the failure note works.
    zendesk.fail_next("GET", r"/api/v2/tickets/6002", 503, times=3,
                      headers={"Retry-After": "0"})
    body = json.dumps({"ticket_id": "6002", "event": "created"}).encode()
    assert deliver(stack, body, "inv-6002") == 202
    wait_for(lambda: zendesk.puts(6002), 60, "the failure note")
    ticket = zendesk.ticket(6002)
    assert "ai_failed" in ticket["tags"] and "card" in ticket["tags"]
    assert "ai_triaged" not in ticket["tags"]
    (note,) = [c for c in ticket["comments"] if not c["public"]]
    assert "AI triage failed" in note["body"] and "503" in note["body"]
    assert zendesk.spec_violations == []


def test_drafts_cite_the_help_center_and_unanswered_tickets_escalate_no_source(stack, zendesk):
    zendesk.add_ticket(7101, subject="How do I change the card for my subscription payment?",
                       description="My card expired. How can I update the payment method so the "
                       "next invoice is charged to my new card?", requester_id=8447388090494)
    zendesk.add_ticket(7102, subject="Billing question about my invoice currency",
                       description="Can I be invoiced in Swiss francs instead of euros?",
                       requester_id=8447388090494)
    for ticket_id in (7101, 7102):
        body = json.dumps({"ticket_id": str(ticket_id), "event": "created"}).encode()
        assert deliver(stack, body, f"inv-{ticket_id}") == 202
    wait_for(lambda: zendesk.puts(7101) and zendesk.puts(7102), 30, "both updates")

    grounded = zendesk.ticket(7101)
    (note,) = [c["body"] for c in grounded["comments"] if not c["public"]]
    assert "https://help.example.com/articles/101 [cited]" in note
    assert "[1]" in note.split("----- END OF DRAFT -----")[0]
    assert "ai_escalation_no_source" not in grounded["tags"]

    unanswered = zendesk.ticket(7102)
    (note,) = [c["body"] for c in unanswered["comments"] if not c["public"]]
    assert "Sources: none. No approved help-center article matched this ticket" in note
    assert {"ai_escalated", "ai_escalation_no_source"} <= set(unanswered["tags"])
    assert zendesk.spec_violations == []


# Written for this test, in no training or evaluation file: a refund asked for with none of the
# policy's refund words, and an account takeover reported in Spanish.
PARAPHRASED_REFUND = (
    "Charged twice this month",
    "Hi, my card shows two identical payments of 19.90 for the March plan. Please reverse the "
    "second one and put it back on my card.\n\nThanks,\nMarta",
)
SPANISH_TAKEOVER = (
    "No puedo entrar a mi cuenta",
    "Hola, esta mañana alguien cambió el correo de mi cuenta y la contraseña, yo no fui. "
    "Ahora no puedo entrar y veo pedidos que no hice. ¿Qué hago?",
)


@pytest.mark.parametrize(
    "ticket_id, text, intent, group_id",
    [(7201, PARAPHRASED_REFUND, "refund", 101), (7202, SPANISH_TAKEOVER, "security", 103)],
    ids=["paraphrased-refund", "spanish-security"],
)
def test_intents_without_keywords_reach_their_group_with_the_words_quoted(
    stack, zendesk, ticket_id, text, intent, group_id
):
    subject, description = text
    zendesk.add_ticket(ticket_id, subject=subject, description=description,
                       requester_id=8447388090494)
    body = json.dumps({"ticket_id": str(ticket_id), "event": "created"}).encode()
    assert deliver(stack, body, f"inv-{ticket_id}") == 202
    wait_for(lambda: zendesk.puts(ticket_id), 30, "the update")

    ticket = zendesk.ticket(ticket_id)
    assert ticket["group_id"] == group_id
    assert f"ai_escalation_{intent}" in ticket["tags"]
    (note,) = [c["body"] for c in ticket["comments"] if not c["public"]]
    (line,) = [x for x in note.splitlines() if x.strip().startswith(f"- {_LABEL[intent]}:")]
    # The local model fired (no keyword list has these words), and quotes the customer.
    assert "(local model)" in line and "(keyword list)" not in line
    quote = line.split('"')[1]
    assert len(quote) > 10 and quote in f"{subject}\n{description}"
    assert zendesk.spec_violations == []


_LABEL = {"refund": "refund request", "security": "security concern"}
