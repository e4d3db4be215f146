"""The Intercom adapter against a fake Intercom over real HTTP, which checks every request (and
its own answers) against Intercom's OpenAPI file: reads, the note in HTML, tags by id, the team,
never twice, never over a teammate, and Intercom's failures in the bot's vocabulary."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import TicketUpdate
from bot.errors import PermanentError, RetryableError
from bot.helpdesk_settings import IntercomSettings
from bot.helpdesks.intercom.adapter import IntercomHelpdesk
from tests.fakes.intercom_inbox import FakeIntercomInbox

BOT, AGENT, CONTACT = "814860", "991200", "c-1"
NOTE = ("AI triage (internal note: nothing has been sent to the customer)\n\nCategory: Billing\n"
        "Escalated, because:\n  - refund request: \"give me my <money> back\" (local model)\n\n"
        "----- DRAFT REPLY: review and edit before sending -----\nHi Ada,\nSorry about that.\n"
        "----- END OF DRAFT -----\n\nPrompt: triage@2. Policy: 1. [run 41]")
UPDATE = TicketUpdate(note=NOTE, add_tags=("ai_triaged", "ai_escalation_refund"), priority=2,
                      group_id="7101", reference="[run 41]")


@pytest.fixture
def fake():
    fake = FakeIntercomInbox()
    fake.add_admin(BOT, "Triage Bot")
    fake.add_admin(AGENT, "Sam Rivera")
    fake.add_team("7101", "Supervisors")
    fake.add_team("7200", "Billing")
    fake.add_contact(CONTACT, name="Ada Lovelace", email="ada@example.com",
                     custom_attributes={"tier": "vip", "account_status": "trial"})
    fake.add_conversation("5001", CONTACT, "<p>I was charged twice, give me my &lt;money&gt; back</p>",
                          subject="Charged twice")
    fake.add_conversation("4001", CONTACT, "<p>older</p>", created_at=int(time.time()) - 5 * 86400)
    fake.add_conversation("4002", CONTACT, "<p>newer</p>", created_at=int(time.time()) - 86400)
    with fake:
        yield fake
    assert fake.spec_violations == []


@pytest.fixture
def intercom(fake) -> IntercomHelpdesk:
    return IntercomHelpdesk.from_settings(IntercomSettings(
        access_token=fake.token, client_secret="s", admin_id=BOT, url=fake.base_url, timeout=5))


def since() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=2)


def test_fetch_reads_the_conversation_its_contact_and_their_other_conversations(intercom, fake):
    snapshot = intercom.fetch("5001", history_limit=50)
    ticket = snapshot.ticket
    assert (ticket.id, ticket.subject, ticket.status, ticket.requester_id) == ("5001", "Charged twice", "open", CONTACT)
    assert ticket.description == "I was charged twice, give me my <money> back"
    assert snapshot.requester is not None and snapshot.requester.fields == {"tier": "vip", "account_status": "trial"}
    assert [t.id for t in snapshot.history] == ["4002", "4001"]  # newest first, this one left out
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/conversations/5001"), ("GET", f"/contacts/{CONTACT}"), ("POST", "/conversations/search")]
    assert {r.headers.get("Intercom-Version") for r in fake.requests} == {"2.14"}


def test_publish_writes_an_html_note_tags_by_id_and_the_team(intercom, fake):
    ticket = intercom.fetch_ticket("5001")
    result = intercom.publish(ticket, UPDATE, since=since())
    (note,) = fake.notes("5001")
    assert note["author"]["id"] == BOT
    assert "&lt;money&gt;" in note["body"] and "<money>" not in note["body"]
    assert "<blockquote>" in note["body"] and "[run 41]" in note["body"]
    assert fake.tags_of("5001") == ["ai_triaged", "ai_escalation_refund"]
    assert fake.conversation("5001")["team_assignee_id"] == 7101
    assert result.applied and result.stale is None and result.payload["tags"] == list(UPDATE.add_tags)


def test_a_second_publish_of_the_same_run_adds_nothing_and_tags_are_created_once(intercom, fake):
    ticket = intercom.fetch_ticket("5001")
    intercom.publish(ticket, UPDATE, since=since())
    again = intercom.publish(intercom.fetch_ticket("5001"), UPDATE, since=since())
    assert len(fake.notes("5001")) == 1 and "skipped" in again.payload["note"]
    assert len(fake.assignments("5001")) == 1
    # Another conversation: the tag ids are cached, so no second POST /tags.
    fake.add_conversation("5002", CONTACT, "<p>hello</p>")
    before = sum(1 for r in fake.requests if (r.method, r.path) == ("POST", "/tags"))
    intercom.publish(intercom.fetch_ticket("5002"), UPDATE, since=since())
    assert sum(1 for r in fake.requests if (r.method, r.path) == ("POST", "/tags")) == before == 2
    assert fake.tags_of("5002") == ["ai_triaged", "ai_escalation_refund"]


def test_a_teammates_reply_or_a_close_since_the_event_means_nothing_is_written(intercom, fake):
    ticket = intercom.fetch_ticket("5001")
    fake.admin_replies("5001", AGENT, "<p>Refunded!</p>")
    result = intercom.publish(ticket, UPDATE, since=since())
    assert result.stale is not None and f"admin {AGENT} replied" in result.stale and not result.applied
    assert fake.notes("5001") == [] and fake.tags_of("5001") == []

    fake.add_conversation("5003", CONTACT, "<p>hi</p>")
    ticket = intercom.fetch_ticket("5003")
    fake.close_conversation("5003", AGENT)
    assert intercom.publish(ticket, UPDATE, since=since()).stale == "the conversation is closed"
    assert fake.notes("5003") == []


def test_a_team_a_teammate_chose_is_kept(intercom, fake):
    ticket = intercom.fetch_ticket("5001")
    fake.assign_team("5001", AGENT, "7200")
    result = intercom.publish(ticket, UPDATE, since=None)
    assert result.kept_agent_fields == ("group_id",)
    assert fake.conversation("5001")["team_assignee_id"] == 7200
    assert len(fake.notes("5001")) == 1  # the note and tags still go in


def test_rate_limit_is_retryable_after_intercoms_reset_time(intercom, fake):
    reset = int(time.time()) + 7
    fake.fail_next("GET", r"^/conversations/5001", 429, headers={
        "X-RateLimit-Limit": "167", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
    with pytest.raises(RetryableError) as info:
        intercom.fetch_ticket("5001")
    assert "429" in str(info.value) and 5 <= info.value.retry_after <= 8


@pytest.mark.parametrize("status, error", [(500, RetryableError), (503, RetryableError),
                                           (404, PermanentError), (401, PermanentError)])
def test_intercoms_failures_are_named(intercom, fake, status, error):
    fake.fail_next("POST", r"/reply", status)
    with pytest.raises(error) as info:
        intercom.publish(intercom.fetch_ticket("5001"), UPDATE)
    assert str(status) in str(info.value)
    assert sum(1 for r in fake.requests if r.path.endswith("/reply")) == 1  # no SDK retries


def test_a_contact_that_cannot_be_read_leaves_the_run_without_it(intercom, fake):
    fake.fail_next("GET", r"^/contacts/", 404)
    snapshot = intercom.fetch("5001", history_limit=10)
    assert snapshot.requester is None and snapshot.ticket.id == "5001"


def test_an_unreachable_intercom_is_retryable():
    dead = IntercomHelpdesk.from_settings(IntercomSettings(
        access_token="t", client_secret="s", admin_id=BOT, url="http://127.0.0.1:1", timeout=2))
    with pytest.raises(RetryableError):
        dead.fetch_ticket("5001")
