"""The demo's Intercom workspace (`SampleIntercom`): its conversations read through the real
Intercom shapes, and the calls the Intercom adapter would make recorded, by the adapter's rules
(the note in HTML, only missing tags, the policy's team, one note per run). What the engine finds
in the conversations: tests/test_demo_tickets.py."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime

import pytest

from bot.context import build_context
from bot.domain import TicketUpdate
from bot.errors import PermanentError
from bot.helpdesks.intercom.sample import SampleIntercom
from bot.helpdesks.sample import sample_helpdesks
from bot.policy import load_policy
from bot.settings import PROJECT_ROOT

SAMPLE_FILE = PROJECT_ROOT / "bot" / "demo" / "sample_helpdesk.json"
DATA = json.loads(SAMPLE_FILE.read_text(encoding="utf-8"))
POLICY = load_policy(PROJECT_ROOT / "config" / "policy.yaml")
SUPERVISORS = POLICY.groups["supervisor"]["intercom"]  # the team of refunds, in Intercom
NOTE = ("AI triage (internal note)\n\nCategory: Billing\n----- DRAFT REPLY: review and edit before "
        "sending -----\nHallo <Jonas>,\n----- END OF DRAFT -----\nPolicy: x. [run 7]")
UPDATE = TicketUpdate(note=NOTE, add_tags=("ai_triaged", "ai_escalation_refund"), priority=2,
                      group_id=SUPERVISORS, reference="[run 7]")


def test_the_demo_file_serves_both_helpdesks():
    helpdesks = sample_helpdesks(SAMPLE_FILE)
    assert set(helpdesks) == {"zendesk", "intercom"}
    assert isinstance(helpdesks["intercom"], SampleIntercom) and helpdesks["intercom"].name == "intercom"


def test_a_conversation_reads_as_a_ticket_with_its_contact_and_history():
    snapshot = SampleIntercom(DATA).fetch("3102", history_limit=50)
    ticket = snapshot.ticket
    assert (ticket.id, ticket.subject, ticket.status, ticket.group_id) == ("3102", "", "open", None)
    assert ticket.description.startswith("Hallo, ich habe mein Cloud-Abo") and "6,99 €" in ticket.description
    assert "<p>" not in ticket.description  # HTML read as text
    assert snapshot.requester is not None and snapshot.requester.name == "Jonas Becker"
    assert snapshot.requester.fields["account_status"] == "active"  # custom attributes
    assert [t.id for t in snapshot.history] == ["3001"]  # the contact's earlier conversation
    assert SampleIntercom(DATA).fetch("3101", history_limit=50).history == ()  # not the other demo ones


def test_publish_records_the_html_note_the_tags_and_the_team_assignment():
    workspace = SampleIntercom(DATA)
    before = workspace.fetch_ticket("3102")
    result = workspace.publish(before, UPDATE)
    note = result.payload["note"]
    assert {k: note[k] for k in ("message_type", "type", "admin_id")} == {
        "message_type": "note", "type": "admin", "admin_id": DATA["intercom_admin_id"]}
    assert "&lt;Jonas&gt;" in note["body"] and "<Jonas>" not in note["body"]  # escaped
    assert "<blockquote><p>Hallo &lt;Jonas&gt;,</p></blockquote>" in note["body"]  # the draft, set apart
    assert result.payload["tags"] == ["ai_triaged", "ai_escalation_refund"]
    assert result.payload["assignment"] == {"message_type": "assignment", "type": "team",
                                            "admin_id": DATA["intercom_admin_id"], "assignee_id": SUPERVISORS}
    assert workspace.published == [{"conversation_id": "3102", "reference": "[run 7]", **result.payload}]
    # Intercom then shows them: the tags, the team, the note (which is not the customer's words).
    after = workspace.fetch_ticket("3102")
    assert after.tags == ("ai_triaged", "ai_escalation_refund") and after.group_id == SUPERVISORS
    assert after.description == before.description


def test_the_same_run_never_posts_a_second_note():
    workspace = SampleIntercom(DATA)
    workspace.publish(workspace.fetch_ticket("3102"), UPDATE)
    again = workspace.publish(workspace.fetch_ticket("3102"), UPDATE)
    assert again.payload == {"note": {"skipped": "already posted [run 7]"}, "tags": [], "assignment": None}
    assert len(workspace.published) == 1


def test_a_team_a_teammate_chose_meanwhile_is_kept():
    workspace = SampleIntercom(DATA)
    read_first = workspace.fetch_ticket("3101")  # no team yet
    workspace.publish(workspace.fetch_ticket("3101"), dataclasses.replace(UPDATE, group_id="7111"))
    result = workspace.publish(read_first, dataclasses.replace(UPDATE, reference="[run 8]"))
    assert result.payload["assignment"] is None and result.kept_agent_fields == ("group_id",)


def test_nothing_is_written_when_a_teammate_answered_since_the_event():
    data = copy.deepcopy(DATA)
    conversation = next(c for c in data["conversations"] if c["id"] == "3101")
    conversation["conversation_parts"]["conversation_parts"].append(
        {"type": "conversation_part", "id": "p1", "part_type": "comment", "body": "<p>On it!</p>",
         "created_at": 1796460400, "author": {"type": "admin", "id": "42"}})
    workspace = SampleIntercom(data)
    since = datetime.fromtimestamp(1796460100, tz=UTC)
    result = workspace.publish(workspace.fetch_ticket("3101"), UPDATE, since=since)
    assert not result.applied and result.stale == "admin 42 replied at 2026-12-05T08:46:40+00:00"
    assert workspace.published == []


def test_the_customers_follow_up_shows_only_after_the_bots_first_note():
    workspace = SampleIntercom(DATA)
    before = workspace.fetch_ticket("3104")
    assert "crushed" not in before.description
    workspace.publish(before, UPDATE)
    after = workspace.fetch_ticket("3104")
    assert after.description.startswith("Customer (") and "crushed" in after.description
    assert "AI triage" not in after.description  # the note is there, but it is no message
    assert "ai_triaged" in after.tags


def test_an_unknown_conversation_is_a_permanent_error():
    with pytest.raises(PermanentError):
        SampleIntercom(DATA).fetch_ticket("9")


def test_the_vip_contact_is_read_with_its_custom_attributes():
    snapshot = SampleIntercom(DATA).fetch("3103", history_limit=50)
    assert snapshot.requester is not None and snapshot.requester.fields["tier"] == "vip"
    naming_tier = dataclasses.replace(POLICY, vip=dataclasses.replace(POLICY.vip, user_fields={"tier": ("vip",)}))
    assert build_context(snapshot, naming_tier, datetime.now(UTC)).tier == "vip"


def test_the_vip_contact_is_vip_under_the_shipped_policy():
    snapshot = SampleIntercom(DATA).fetch("3103", history_limit=50)
    assert build_context(snapshot, POLICY, datetime.now(UTC)).tier == "vip"


def test_every_conversation_says_what_a_reader_expects_and_is_sent_without_it():
    from bot.demo.intercom import intercom_json

    for conversation in DATA["conversations"]:
        assert conversation["demo_source"]["written_for"] == "demo"
        assert set(conversation["demo_source"]["expect"]) >= {"escalations", "topics", "answerable"}
        assert "demo_source" not in intercom_json(conversation) and "later_parts" not in intercom_json(conversation)


def test_the_demos_notifications_are_what_the_intercom_receiver_accepts():
    from bot.demo.intercom import intercom_json, notification, replied
    from bot.domain import EventKind
    from bot.helpdesks.intercom.webhook import parse

    conversation = next(c for c in DATA["conversations"] if c.get("later_parts"))
    created = parse(notification("conversation.user.created", intercom_json(conversation)))
    assert (created.kind, created.ticket_id, created.actor_id) == (EventKind.CREATED, "3104", "ic-704")
    reply = parse(notification("conversation.user.replied", replied(conversation)))
    assert (reply.kind, reply.ticket_id) == (EventKind.CUSTOMER_REPLIED, "3104")
    assert reply.event_key == conversation["later_parts"][0]["id"]  # one run per customer message


def test_a_note_reads_in_a_terminal_as_in_the_inbox():
    from bot.demo.intercom import readable
    from bot.helpdesks.intercom.payload import note_html

    text = readable(note_html("AI triage\n\nEscalated, because:\n  - refund request\n  - no source\n" + NOTE))
    assert "Escalated, because:\n- refund request\n- no source" in text
    assert "│ Hallo <Jonas>," in text and "<b>" not in text
