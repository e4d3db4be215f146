"""The Zendesk adapter's writes (bot/helpdesk/zendesk.py: publish) against the stateful fake
Zendesk: one safe PUT with a private note and merged tags, priority mapping, 409 handling
(keeping an agent's fields, bounded retries), end to end over HTTP, text fidelity.
See tests/zendesk_adapter_support.py for how the fake is wired in.
"""
from __future__ import annotations

import contextlib

import pytest

from bot.domain import TicketUpdate
from bot.errors import BotError, RetryableError
from bot.helpdesks.zendesk.adapter import MAX_CONFLICT_RETRIES
from bot.helpdesks.zendesk.http import RateLimited
from tests.fakes.zendesk_api import CONFLICT

pytest.register_assert_rewrite("tests.zendesk_adapter_support")  # its asserts report like a test's

from tests.zendesk_adapter_support import (  # noqa: E402,F401  (fixtures: imported to be used)
    BASIC,
    HISTORY,
    REQUESTED_100,
    T1,
    UPDATE,
    assert_clean,
    bot_comments,
    fake,
    helpdesk,
    http_helpdesk,
    no_zenpy_force_env,
    rsps,
    zenpy_must_not_sleep,
)


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
    with contextlib.suppress(BotError):  # refusing is acceptable; posting twice is not
        helpdesk.publish(snap.ticket, UPDATE)
    assert len(bot_comments(fake, 1)) == 1
    assert_clean(fake)


def test_publish_409_injected_every_time_is_bounded_too(helpdesk, fake):
    ticket = helpdesk.fetch_ticket("1")
    fake.fail_next("PUT", r"^/api/v2/tickets/1(\.json)?$", 409, body=dict(CONFLICT), times=None)
    with pytest.raises(RetryableError):
        helpdesk.publish(ticket, UPDATE)
    assert len(fake.puts(1)) == MAX_CONFLICT_RETRIES + 1
    assert_clean(fake)


# ---- end to end over the fake's HTTP front-end -----------------------------------------------
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


# ---- never talking over a human ----------------------------------------------------------
def _since(snap):
    # The event arrived when the ticket was created (the fake's clock, not the machine's).
    return snap.ticket.created_at


def test_a_teammates_public_reply_since_the_event_means_nothing_is_written(helpdesk, fake):
    snap = helpdesk.fetch("1", history_limit=HISTORY)
    fake.agent_edit(1, comment="Hi! I refunded the second charge.", public=True, author_id=2)
    before = len(fake.ticket(1)["comments"])

    result = helpdesk.publish(snap.ticket, UPDATE, since=_since(snap))

    assert result.stale is not None and "user 2 replied publicly" in result.stale
    assert not result.applied and fake.puts(1) == []
    assert len(fake.ticket(1)["comments"]) == before


def test_private_notes_and_the_requesters_own_reply_are_no_reason_to_stay_silent(helpdesk, fake):
    snap = helpdesk.fetch("1", history_limit=HISTORY)
    fake.agent_edit(1, comment="checking with billing", public=False, author_id=2)
    fake.agent_edit(1, comment="any news?", public=True, author_id=100)  # the requester

    result = helpdesk.publish(snap.ticket, UPDATE, since=_since(snap))

    assert result.stale is None and result.applied
    assert len(fake.puts(1)) == 2  # the first met the 409 the edits caused; the second wrote


@pytest.mark.parametrize("status", ["solved", "closed"])
def test_a_ticket_solved_or_closed_meanwhile_gets_nothing(helpdesk, fake, status):
    snap = helpdesk.fetch("1", history_limit=HISTORY)
    fake.agent_edit(1, status=status)

    result = helpdesk.publish(snap.ticket, UPDATE, since=_since(snap))

    assert result.stale == f"the ticket is {status}"
    assert [p.status for p in fake.puts(1)] == [409]  # the change was only seen on the 409


def test_a_reply_that_lands_between_our_read_and_our_write_is_seen_after_the_409(helpdesk, fake):
    snap = helpdesk.fetch("1", history_limit=HISTORY)
    fake.on_before_put(lambda tid, body: fake.agent_edit(tid, comment="On it!", public=True, author_id=2))

    result = helpdesk.publish(snap.ticket, UPDATE, since=_since(snap))

    assert result.stale is not None and result.conflicts == 1
    assert [p.status for p in fake.puts(1)] == [409]
    assert not any(c["body"] == UPDATE.note for c in fake.ticket(1)["comments"])
