"""Tracking on Zendesk, end to end below the web tier: the real adapter (zenpy and its session,
mocked at `requests` by a fake Zendesk that records audits as Zendesk does and validates every
request against Zendesk's OpenAPI file), the offline engine, the tracker, a real store on both
databases. Each test is a sequence of events and the figures it must leave in the store."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import responses
from sqlalchemy import select

from bot.db.models import Review, Run, TrackedTicket, utcnow
from bot.domain import TicketEvent
from bot.events import process_run
from bot.helpdesks.zendesk.adapter import ZendeskHelpdesk
from bot.llm import make_llm
from bot.notes import DRAFT_END, DRAFT_START
from bot.pipeline import Worker
from bot.policy import load_policy
from bot.prompts import load_prompts
from bot.settings import Settings
from bot.tracking import records
from bot.tracking.tracker import track
from bot.vocabulary import BotTag, ReviewAction, RunStatus
from tests.conftest import policy_in_mode
from tests.fakes.zendesk_api import FakeZendesk

ENV = {"ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@example.com", "ZENDESK_API_TOKEN": "token",
       "ZENDESK_WEBHOOK_SECRET": "secret", "ZENDESK_BOT_USER_ID": "1", "ZENDESK_DRAFT_FIELD_ID": "777"}
AGENT, CUSTOMER, TICKET = 381, 501, 7001


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.delenv("ZENPY_FORCE_NETLOC", raising=False)
    monkeypatch.delenv("ZENPY_FORCE_SCHEME", raising=False)
    fake = FakeZendesk(realtime=True)
    fake.add_user(AGENT, name="Sam Rivera", role="agent")
    fake.add_user(CUSTOMER, name="Ana Souza", email="ana@example.com")
    fake.add_ticket(TICKET, subject="Cannot sign in",
                    description="I can't sign in to my account, the password reset email never arrives.",
                    requester_id=CUSTOMER, priority="normal", status="open")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps, base_url="https://acme.zendesk.com")
        yield fake
    assert fake.spec_violations == []


@pytest.fixture
def worker(store):
    return make_worker(store, ENV)


def make_worker(store, env) -> Worker:
    settings = Settings.from_env({"POLICY_FILE": policy_in_mode("draft"), **env})
    return Worker(
        helpdesks={"zendesk": ZendeskHelpdesk.from_settings(settings.zendesk)},
        llm=make_llm("offline", offline_config=settings.offline_config),
        store=store,
        policy=load_policy(settings.policy_file),
        prompts=load_prompts(settings.prompts_dir),
        settings=settings,
    )


def drafted(worker) -> Run:
    run_id = worker.store.accept(TicketEvent("zendesk", "created", str(TICKET), delivery_id="inv-1")).run_id
    assert process_run(run_id, worker) == RunStatus.SUCCEEDED
    (run,) = worker.store.runs([run_id])
    return run


def next_second() -> None:
    """Zendesk stamps whole seconds, and a customer's message stamped in the second a run read
    the ticket counts as read (the bot would rather miss a re-triage than note twice): a
    customer writing back within the same second as the bot's read is not what these test."""
    time.sleep(1.05 - time.time() % 1)


def follow(worker) -> tuple[list[int], object]:
    started: list[int] = []
    result = track(worker, "zendesk", str(TICKET), enqueue=lambda run_id, delay: started.append(run_id))
    assert result.outcome == "read"
    return started, result


def reviews(store) -> list[Review]:
    with store.session() as session:
        return list(session.scalars(select(Review).order_by(Review.run_id)))


def ticket_row(store) -> TrackedTicket:
    row = records.tracked(store, "zendesk", str(TICKET))
    assert row is not None
    return row


def test_draft_then_an_edited_reply_then_solved_then_rated(fake, worker):
    run = drafted(worker)
    # The draft is in the ticket field the "use AI draft" macro copies from, as sent in the note.
    field = {f["id"]: f["value"] for f in fake.ticket(TICKET)["custom_fields"]}[777]
    assert field == run.draft.strip() and DRAFT_START not in field
    (review,) = reviews(worker.store)
    assert (review.category, review.action, review.engine) == ("Account access", None, "offline")
    assert review.due_at - review.drafted_at == timedelta(minutes=30)  # priority 3: 30 minutes

    # The agent keeps most of it: cuts the last fifth, signs it.
    edited = field[: len(field) * 4 // 5] + "\n\nBest regards, Sam from Acme support"
    fake.agent_edit(TICKET, comment=edited, public=True, author_id=AGENT)
    fake.agent_edit(TICKET, status="solved", author_id=AGENT)
    fake.rate(TICKET, "good", "Fixed quickly")
    started, _ = follow(worker)

    assert started == []  # nothing the bot must do
    (review,) = reviews(worker.store)
    assert review.action == ReviewAction.LIGHTLY_EDITED and review.acted_by == str(AGENT)
    assert 0.70 <= review.similarity < 0.95
    assert review.replied_at is not None and review.replied_at >= review.drafted_at.replace(microsecond=0)
    assert not (review.category_overridden or review.priority_overridden or review.group_overridden)
    row = ticket_row(worker.store)
    assert (row.status, row.reopened, row.first_contact_resolution) == ("solved", 0, True)
    assert (row.csat_score, row.csat_good, row.csat_comment) == ("good", True, "Fixed quickly")
    assert row.dirty_at is None and row.checked_at is not None


def test_overrides_and_a_reopen_are_recorded_per_field(fake, worker):
    drafted(worker)
    fake.agent_edit(TICKET, priority="urgent", group_id=110, author_id=AGENT,
                    tags_remove=["ai_category_account_access"], tags_add=["ai_category_billing"])
    fake.agent_edit(TICKET, status="solved", author_id=AGENT)
    fake.agent_edit(TICKET, status="open", author_id=CUSTOMER)
    follow(worker)
    (review,) = reviews(worker.store)
    assert review.priority_overridden and review.group_overridden and review.category_overridden
    assert review.overrides["priority"]["agent"] == "urgent"
    assert review.overrides["category"]["agent"] == "ai_category_billing"
    row = ticket_row(worker.store)
    assert (row.reopened, row.reassigned, row.first_contact_resolution) == (1, True, None)


def test_redraft_command_makes_a_second_draft_with_the_instruction(fake, worker):
    drafted(worker)
    fake.agent_edit(TICKET, comment="#ai redraft shorter, mention the sign-in page", public=False,
                    author_id=AGENT)
    (redraft_run,), _ = follow(worker)
    assert follow(worker)[0] == []  # the same note twice is one run
    (run,) = worker.store.runs([redraft_run])
    assert run.event_kind == "redraft"
    assert run.request["instruction"] == "shorter, mention the sign-in page"
    assert process_run(redraft_run, worker) == RunStatus.SUCCEEDED
    notes = [c for c in fake.ticket(TICKET)["comments"] if not c["public"] and DRAFT_END in c["body"]]
    assert len(notes) == 2
    assert "Redrafted at an agent's request: \u201cshorter, mention the sign-in page\u201d" in notes[1]["body"]
    follow(worker)
    first, second = reviews(worker.store)
    assert (first.action, second.action) == (ReviewAction.REDRAFT, None)
    assert second.instruction == "shorter, mention the sign-in page"


def test_escalate_command_routes_to_the_supervisors(fake, worker):
    drafted(worker)
    fake.agent_edit(TICKET, comment="#ai escalate the customer mentions a lawyer", public=False,
                    author_id=AGENT)
    (run_id,), _ = follow(worker)
    assert process_run(run_id, worker) == RunStatus.SUCCEEDED
    ticket = fake.ticket(TICKET)
    assert ticket["group_id"] == 101 and {"ai_escalated", "ai_escalation_agent_request"} <= set(ticket["tags"])
    assert "Asked by: agent 381: the customer mentions a lawyer" in ticket["comments"][-1]["body"]
    follow(worker)
    (review,) = reviews(worker.store)
    assert review.action == ReviewAction.ESCALATE
    assert ticket_row(worker.store).escalated_later is True


def test_the_customer_asking_the_same_again_after_a_sent_draft_is_escalated_not_redrafted(fake, worker):
    run = drafted(worker)
    fake.agent_edit(TICKET, comment=run.draft, public=True, author_id=AGENT)
    next_second()
    fake.agent_edit(TICKET, comment="I still can't sign in to my account, the password reset email "
                                    "never arrives.", public=True, author_id=CUSTOMER)
    (reply_run,), _ = follow(worker)
    (run2,) = worker.store.runs([reply_run])
    assert run2.event_kind == "customer_replied"
    assert process_run(reply_run, worker) == RunStatus.SUCCEEDED
    ticket = fake.ticket(TICKET)
    assert "ai_escalation_repeat_question" in ticket["tags"] and ticket["group_id"] == 101
    last = ticket["comments"][-1]
    assert not last["public"] and "asked the same question again" in last["body"] and DRAFT_START not in last["body"]
    follow(worker)
    (review,) = reviews(worker.store)  # no second draft
    assert review.action == ReviewAction.SENT_AS_IS


def test_a_new_question_after_a_sent_draft_is_triaged_and_drafted_again(fake, worker):
    run = drafted(worker)
    fake.agent_edit(TICKET, comment=run.draft, public=True, author_id=AGENT)
    next_second()
    fake.agent_edit(TICKET, comment="Thanks, that worked! Separate thing: please send me last "
                                    "month's invoice as a PDF.", public=True, author_id=CUSTOMER)
    (reply_run,), _ = follow(worker)
    seen: list[str] = []
    triage = worker.llm.triage
    worker.llm.triage = lambda request: seen.append(request.ticket.description) or triage(request)
    assert process_run(reply_run, worker) == RunStatus.SUCCEEDED
    assert "ai_escalation_repeat_question" not in fake.ticket(TICKET)["tags"]
    assert len(reviews(worker.store)) == 2
    # The re-triage read the conversation so far: both of the customer's messages and the
    # agent's reply, each headed by who wrote it; not the bot's note.
    (conversation,) = seen
    assert conversation.startswith("Customer (") and "\n\nAgent (" in conversation
    assert "password reset email never arrives" in conversation and "invoice as a PDF" in conversation
    assert "AI triage" not in conversation


def test_a_draft_nobody_acts_on_is_tagged_overdue_once(fake, worker):
    drafted(worker)
    assert follow(worker)[1].overdue == []  # not due yet
    later = utcnow() + timedelta(minutes=31)
    late_worker = Worker(**{**worker.__dict__, "clock": lambda: later})
    assert [r.helpdesk for r in records.due(worker.store, later)] == ["zendesk"]
    _, result = follow(late_worker)
    assert result.overdue == [reviews(worker.store)[0].run_id]
    assert BotTag.REVIEW_OVERDUE in fake.ticket(TICKET)["tags"]
    puts = len(fake.puts(TICKET))
    _, again = follow(late_worker)
    assert again.overdue == [] and len(fake.puts(TICKET)) == puts  # tagged once
    (review,) = reviews(worker.store)
    assert review.overdue_at is not None and review.action is None


def test_without_the_bot_user_setting_the_bots_own_changes_are_never_an_agents(fake, store):
    worker = make_worker(store, {k: v for k, v in ENV.items() if k != "ZENDESK_BOT_USER_ID"})
    drafted(worker)
    fake.agent_edit(TICKET, comment="#ai escalate", public=False, author_id=AGENT)
    (run_id,), _ = follow(worker)
    assert process_run(run_id, worker) == RunStatus.SUCCEEDED  # the bot moves it to group 101
    follow(worker)
    (review,) = reviews(worker.store)
    # Learnt from GET /api/v2/users/me: the bot's group change is not an agent's override.
    assert review.action == ReviewAction.ESCALATE and not review.group_overridden
    assert fake.count("GET", "/api/v2/users/me") == 1


def test_an_overdue_tag_zendesk_refuses_is_tried_again_soon(fake, worker):
    drafted(worker)
    later = utcnow() + timedelta(minutes=31)
    late_worker = Worker(**{**worker.__dict__, "clock": lambda: later})
    fake.fail_next("PUT", rf"/api/v2/tickets/{TICKET}", 503, headers={"Retry-After": "5"})
    result = track(late_worker, "zendesk", str(TICKET), enqueue=lambda run_id, delay: None)
    assert result.outcome == "read; action failed" and result.overdue == []
    row = ticket_row(worker.store)
    assert row.error and row.check_after == later + timedelta(minutes=5)  # not TRACK_RECHECK
    (review,) = reviews(worker.store)
    assert review.overdue_at is None and review.checked_at is not None  # what was read is kept
    _, again = follow(Worker(**{**worker.__dict__, "clock": lambda: later + timedelta(minutes=5)}))
    assert again.overdue == [review.run_id] and BotTag.REVIEW_OVERDUE in fake.ticket(TICKET)["tags"]


def test_an_overdue_review_goes_to_the_group_the_policy_names(fake, worker):
    from dataclasses import replace

    drafted(worker)
    policy = replace(worker.policy, review=replace(worker.policy.review, overdue_group="supervisor"))
    later = utcnow() + timedelta(minutes=31)
    _, result = follow(Worker(**{**worker.__dict__, "policy": policy, "clock": lambda: later}))
    assert result.overdue and fake.ticket(TICKET)["group_id"] == 101
    assert BotTag.REVIEW_OVERDUE in fake.ticket(TICKET)["tags"]
    # Only a tag and a group: no note is posted for it.
    assert sum(1 for c in fake.ticket(TICKET)["comments"] if not c["public"]) == 1
