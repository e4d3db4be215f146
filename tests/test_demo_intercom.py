"""The demo's Intercom workspace: its conversations read through the real Intercom shapes, the
calls the adapter would make recorded (the note in HTML), and its customers' words get the
escalations a reader expects from the bundled engine."""

from __future__ import annotations

import json

import pytest

from bot.domain import CustomerContext, Ticket, TicketUpdate
from bot.helpdesks.intercom.sample import SampleIntercom
from bot.helpdesks.sample import sample_helpdesks
from bot.llm.base import TriageRequest
from bot.llm.offline import OfflineEngine
from bot.policy import load_policy
from bot.rules import customer_text, intent_signals
from bot.settings import DEFAULT_MODEL_DIR, PROJECT_ROOT

SAMPLE_FILE = PROJECT_ROOT / "bot" / "demo" / "sample_helpdesk.json"
DATA = json.loads(SAMPLE_FILE.read_text(encoding="utf-8"))
UPDATE = TicketUpdate(
    note="AI triage (internal note)\n\nCategory: Billing\n----- DRAFT REPLY: review and edit before "
         "sending -----\nHallo <Jonas>,\n----- END OF DRAFT -----\nPolicy: x. [run 7]",
    add_tags=("ai_triaged", "ai_escalation_refund"), priority=2, group_id="7101", reference="[run 7]")


def test_the_demo_file_serves_both_helpdesks():
    helpdesks = sample_helpdesks(SAMPLE_FILE)
    assert set(helpdesks) == {"zendesk", "intercom"}
    assert isinstance(helpdesks["intercom"], SampleIntercom)


def test_a_conversation_reads_as_a_ticket_with_its_contact_and_history():
    snapshot = SampleIntercom(DATA).fetch("3102", history_limit=50)
    assert snapshot.ticket.id == "3102" and "6,99 €" in snapshot.ticket.description
    assert "<p>" not in snapshot.ticket.description  # HTML read as text
    assert snapshot.requester is not None and snapshot.requester.fields["account_status"] == "active"
    assert [t.id for t in snapshot.history] == ["3001"]  # the contact's earlier conversation


def test_publish_records_the_html_note_tags_and_team_once_per_run():
    workspace = SampleIntercom(DATA)
    ticket = workspace.fetch_ticket("3102")
    first = workspace.publish(ticket, UPDATE)
    note = first.payload["note"]
    assert (note["message_type"], note["admin_id"]) == ("note", DATA["intercom_admin_id"])
    assert "&lt;Jonas&gt;" in note["body"] and "<Jonas>" not in note["body"]  # escaped
    assert "<blockquote>" in note["body"]  # the draft, set apart
    assert first.payload["tags"] == ["ai_triaged", "ai_escalation_refund"]
    assert first.payload["assignment"]["assignee_id"] == "7101"
    again = workspace.publish(workspace.fetch_ticket("3102"), UPDATE)
    assert "skipped" in again.payload["note"] and len(workspace.published) == 1


def test_the_customers_follow_up_shows_only_after_the_first_note():
    workspace = SampleIntercom(DATA)
    before = workspace.fetch_ticket("3104")
    assert "crushed" not in before.description
    workspace.publish(before, UPDATE)
    after = workspace.fetch_ticket("3104")
    assert "crushed" in after.description and "ai_triaged" in after.tags


def test_an_unknown_conversation_is_a_permanent_error():
    from bot.errors import PermanentError

    with pytest.raises(PermanentError):
        SampleIntercom(DATA).fetch_ticket("9")


@pytest.mark.parametrize("conversation", DATA["conversations"], ids=lambda c: c["id"])
def test_the_conversations_get_the_escalations_a_reader_expects(conversation):
    engine = OfflineEngine.from_files(PROJECT_ROOT / "config" / "offline.yaml", DEFAULT_MODEL_DIR)
    policy = load_policy(PROJECT_ROOT / "config" / "policy.yaml")
    workspace = SampleIntercom(DATA)
    ticket = workspace.fetch_ticket(conversation["id"])
    expect = conversation["written_for"]["expect"]
    if "after_reply" in expect:  # what the second triage, after the follow-up, must see
        workspace.publish(ticket, UPDATE)
        ticket, expect = workspace.fetch_ticket(conversation["id"]), expect["after_reply"]
    request = TriageRequest((), Ticket(ticket.id, ticket.subject, ticket.description), CustomerContext())
    triage = engine.triage(request).triage
    found = {s.intent for s in intent_signals(customer_text(ticket.subject, ticket.description), triage, policy)}
    assert set(expect["escalations"]) <= found
