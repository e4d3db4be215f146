"""End to end on Intercom: the web process and a Celery worker as real processes, real Redis and
PostgreSQL, one deployment serving a Zendesk account and an Intercom workspace at once, and
INTERCOM_URL pointing at a stateful fake Intercom that validates every request against
Intercom's own OpenAPI file. Deliveries are signed as Intercom signs them."""

from __future__ import annotations

import copy
import json
import time
import uuid

import pytest
import redis
import requests

from bot.db import make_engine
from bot.db.models import Run
from bot.helpdesks.intercom.webhook import SIGNATURE_HEADER, sign
from bot.kb.sources.files import load_articles
from bot.kb.store import ArticleStore
from bot.store import Store
from bot.vocabulary import RunStatus
from tests.conftest import WEBHOOK_SECRET
from tests.fakes.intercom_inbox import FakeIntercomInbox
from tests.processes import ROOT, PostgresSchema, Stack, wait_for

pytestmark = pytest.mark.e2e
BROKER_DB = 10
CLIENT_SECRET = "intercom-e2e-client-secret"
BOT, AGENT = "814860", "991200"
CONTACT = "6762f0d01bb69f9f2193bb7d"


@pytest.fixture(scope="module")
def intercom():
    fake = FakeIntercomInbox()
    fake.add_admin(BOT, "Triage Bot")
    fake.add_admin(AGENT, "Sam Rivera")
    # The policy's Intercom teams (config/policy.yaml): supervisor, security, and the categories.
    for team in ("7101", "7102", "7103", "7104", "7110", "7111", "7112", "7113", "7114", "7115"):
        fake.add_team(team, f"Team {team}")
    fake.add_contact(CONTACT, name="Marta Ruiz", email="marta@example.com",
                     custom_attributes={"account_status": "active"})
    with fake:
        yield fake


@pytest.fixture(scope="module")
def stack(intercom, postgres_server, redis_url, tmp_path_factory):
    with PostgresSchema(postgres_server) as schema:
        ArticleStore(make_engine(schema.url())).replace_all(
            "help", load_articles(ROOT / "tests" / "fixtures" / "kb" / "help_center.jsonl", "help")
        )
        broker_url = redis_url.rsplit("/", 1)[0] + f"/{BROKER_DB}"
        redis.Redis.from_url(broker_url).flushdb()
        processes = Stack({
            # Both helpdesks: the Zendesk account is never called here, the Intercom one is.
            "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_URL": "http://127.0.0.1:1",
            "ZENDESK_EMAIL": "bot@example.com", "ZENDESK_API_TOKEN": "token",
            "ZENDESK_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "INTERCOM_ACCESS_TOKEN": intercom.token,
            "INTERCOM_CLIENT_SECRET": CLIENT_SECRET,
            "INTERCOM_ADMIN_ID": BOT,
            "INTERCOM_URL": intercom.base_url,
            "KB_SOURCES": "none",
            "REPLY_MERGE_WINDOW": "1",
            "DATABASE_URL": schema.url(),
            "REDIS_URL": broker_url,
            "LLM_PROVIDER": "offline",
            "TASK_MAX_RETRIES": "2",
            "TASK_RETRY_BASE": "0.2",
            "KB_RANKING": "bm25",  # as in tests/test_e2e.py: this is about the pipeline
        }, tmp_path_factory.mktemp("e2e-intercom"))
        try:
            processes.start_web()
            processes.start_worker(pool="threads", concurrency=4)
            processes.store = Store(make_engine(schema.url()))
            yield processes
        finally:
            processes.stop()
            processes.show_logs()


def notification(topic: str, conversation: dict, notification_id: str | None = None) -> bytes:
    """The envelope Intercom posts (https://developers.intercom.com/docs/references/webhooks/webhook-models)."""
    return json.dumps({
        "type": "notification_event", "app_id": "a86dr8yl", "topic": topic,
        "id": notification_id or f"notif_{uuid.uuid4()}", "created_at": int(time.time()),
        "delivery_attempts": 1, "first_sent_at": int(time.time()),
        "data": {"type": "notification_event_data", "item": conversation},
    }).encode()


def deliver(stack: Stack, body: bytes) -> int:
    response = requests.post(f"{stack.base}/webhooks/intercom", data=body, timeout=5,
                             headers={"Content-Type": "application/json",
                                      SIGNATURE_HEADER: sign(CLIENT_SECRET, body)})
    return response.status_code


def runs_of(stack: Stack, conversation_id: str) -> list[Run]:
    return list(stack.store.runs_for_tickets("intercom", [conversation_id]))


def finished(stack: Stack, conversation_id: str, count: int) -> list[Run]:
    def done():
        runs = runs_of(stack, conversation_id)
        return runs if len(runs) >= count and all(r.status in RunStatus.terminal() for r in runs) else None
    return wait_for(done, 45, f"{count} finished run(s) of conversation {conversation_id}")


def test_a_new_conversation_delivered_twice_gets_one_note_its_tags_and_its_team(stack, intercom):
    intercom.add_conversation(
        "2001", CONTACT, subject="Charged twice",
        body="<p>Hi, my card shows two identical payments of 19.90 for the March plan. Please "
             "reverse the second one and put it back on my card.</p><p>Thanks, Marta</p>")
    body = notification("conversation.user.created", intercom.conversation("2001"), "notif_2001")
    assert deliver(stack, body) == 202
    assert deliver(stack, body) == 200  # Intercom's retry of the same notification
    (run,) = finished(stack, "2001", 1)
    time.sleep(1.5)  # room for a wrong second note to show up

    assert run.status == RunStatus.SUCCEEDED
    (note,) = intercom.notes("2001")
    assert note["author"]["id"] == BOT
    assert "<blockquote>" in note["body"] and "[run " in note["body"]  # the draft, and the run
    assert "refund request" in note["body"]  # the paraphrased refund, found by the local model
    tags = intercom.tags_of("2001")
    assert {"ai_triaged", "ai_escalated", "ai_escalation_refund"} <= set(tags)
    assert len(tags) == len(set(tags))
    (assignment,) = intercom.assignments("2001")
    assert assignment["assigned_to"] == {"type": "team", "id": "7101"}  # the supervisors
    assert intercom.conversation("2001")["team_assignee_id"] == 7101
    assert all(r.headers.get("Intercom-Version") == "2.14" for r in intercom.requests)
    assert intercom.spec_violations == []


def test_the_customer_writing_again_gets_one_fresh_triage_for_several_quick_messages(stack, intercom):
    intercom.add_conversation("2002", CONTACT, subject="Board",
                              body="<p>How do I update the firmware of my board?</p>")
    assert deliver(stack, notification("conversation.user.created", intercom.conversation("2002"))) == 202
    finished(stack, "2002", 1)
    assert len(intercom.notes("2002")) == 1

    # Two messages in a row, each its own notification: one run, one new note.
    intercom.customer_replies("2002", "<p>Also, someone logged into my account from another country.</p>")
    first = intercom.conversation("2002")
    intercom.customer_replies("2002", "<p>I did not do that, please lock it!</p>")
    second = intercom.conversation("2002")
    for conversation in (first, second):
        item = copy.deepcopy(conversation)
        item["conversation_parts"]["conversation_parts"] = item["conversation_parts"]["conversation_parts"][-1:]
        assert deliver(stack, notification("conversation.user.replied", item)) == 202
    runs = finished(stack, "2002", 2)
    time.sleep(1.5)

    assert [r.event_kind for r in runs] == ["created", "customer_replied"]
    assert all(r.status == RunStatus.SUCCEEDED for r in runs)
    notes = intercom.notes("2002")
    assert len(notes) == 2
    # The second triage read the whole conversation: the takeover went to the security team.
    assert "security concern" in notes[1]["body"]
    assert intercom.conversation("2002")["team_assignee_id"] == 7103
    assert intercom.spec_violations == []


def test_a_teammate_who_answers_while_the_bot_works_is_not_talked_over(stack, intercom):
    intercom.add_conversation("2003", CONTACT, subject="Invoice",
                              body="<p>Where can I download my invoice for November?</p>")
    # The teammate's answer lands while the worker reads the customer (after its first read of
    # the conversation, before it drafts and re-reads it).
    intercom.on_request(r"^/contacts/", lambda fake: fake.admin_replies(
        "2003", AGENT, "<p>Hi Marta, it is under Billing, Invoices.</p>"))
    assert deliver(stack, notification("conversation.user.created", intercom.conversation("2003"))) == 202
    (run,) = finished(stack, "2003", 1)

    assert run.status == RunStatus.STALE and f"admin {AGENT} replied" in run.error
    assert intercom.notes("2003") == [] and intercom.tags_of("2003") == []
    assert intercom.assignments("2003") == []
    assert run.draft  # what the bot would have said is kept
    assert intercom.spec_violations == []


def test_the_bots_own_note_and_teammates_topics_never_start_a_run(stack, intercom):
    intercom.add_conversation("2004", CONTACT, body="<p>Hello?</p>")
    conversation = intercom.conversation("2004")
    before = len(runs_of(stack, "2004"))
    for topic in ("conversation.admin.noted", "conversation.admin.replied", "conversation.admin.closed"):
        assert deliver(stack, notification(topic, conversation)) == 200
    assert runs_of(stack, "2004") == [] and before == 0
