"""Tracking on Intercom, below the web tier: the real adapter (python-intercom over HTTP to a fake
Intercom that validates every request and its own answers against Intercom's OpenAPI file), the
offline engine, the tracker and a real store on both databases. The same sequences as on
Zendesk: what each leaves in the store, and what the bot does in the conversation."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from bot.db.models import Review
from bot.domain import EventKind, TicketEvent
from bot.events import process_run
from bot.helpdesks.intercom.adapter import IntercomHelpdesk
from bot.llm import make_llm
from bot.notes import DRAFT_START
from bot.pipeline import Worker
from bot.policy import load_policy
from bot.prompts import load_prompts
from bot.settings import Settings
from bot.tracking import records
from bot.tracking.tracker import track
from bot.vocabulary import ReviewAction, RunStatus
from tests.conftest import policy_in_mode
from tests.fakes.intercom_inbox import FakeIntercomInbox

BOT, AGENT, CONTACT, CONVERSATION = "814860", "991200", "c-1", "6001"


@pytest.fixture
def fake():
    fake = FakeIntercomInbox()
    fake.add_admin(BOT, "Triage Bot")
    fake.add_admin(AGENT, "Sam Rivera")
    for team in ("7101", "7114", "7110"):
        fake.add_team(team, f"Team {team}")
    fake.add_contact(CONTACT, name="Ada Lovelace", email="ada@example.com")
    fake.add_conversation(CONVERSATION, CONTACT, "<p>I can't sign in, the password reset email never arrives</p>")
    with fake:
        yield fake
    assert fake.spec_violations == []


@pytest.fixture
def worker(store, fake):
    settings = Settings.from_env({"INTERCOM_ACCESS_TOKEN": fake.token, "INTERCOM_CLIENT_SECRET": "s",
                                  "INTERCOM_ADMIN_ID": BOT, "INTERCOM_URL": fake.base_url,
                                  "POLICY_FILE": policy_in_mode("draft")})
    return Worker(
        helpdesks={"intercom": IntercomHelpdesk.from_settings(settings.intercom)},
        llm=make_llm("offline", offline_config=settings.offline_config),
        store=store,
        policy=load_policy(settings.policy_file),
        prompts=load_prompts(settings.prompts_dir),
        settings=settings,
    )


def drafted(worker):
    run_id = worker.store.accept(TicketEvent("intercom", "created", CONVERSATION, delivery_id="n-1")).run_id
    assert process_run(run_id, worker) == RunStatus.SUCCEEDED
    (run,) = worker.store.runs([run_id])
    return run


def follow(worker):
    started: list[int] = []
    result = track(worker, "intercom", CONVERSATION, enqueue=lambda run_id, delay: started.append(run_id))
    assert result.outcome == "read"
    return started, result


def next_second() -> None:
    """Intercom stamps whole seconds (see the Zendesk twin of this test)."""
    time.sleep(1.05 - time.time() % 1)


def reviews(store) -> list[Review]:
    with store.session() as session:
        return list(session.scalars(select(Review).order_by(Review.run_id)))


def test_draft_then_a_rewritten_reply_then_closed_then_rated(fake, worker):
    run = drafted(worker)
    fake.admin_replies(CONVERSATION, AGENT, "<p>Hi Ada, I have reset it for you: check your inbox now.</p>")
    fake.close_conversation(CONVERSATION, AGENT)
    fake.rate(CONVERSATION, 5, "great")
    assert follow(worker)[0] == []
    (review,) = reviews(worker.store)
    assert review.run_id == run.id and review.acted_by == AGENT
    assert review.action in (ReviewAction.MAJOR_REWRITE, ReviewAction.NOT_USED) and review.similarity < 0.70
    row = records.tracked(worker.store, "intercom", CONVERSATION)
    assert (row.status, row.first_contact_resolution, row.csat_score, row.csat_good) == ("closed", True, "5", True)


def test_a_low_rating_after_a_reopen_is_not_fcr(fake, worker):
    drafted(worker)
    fake.close_conversation(CONVERSATION, AGENT)
    fake.reopen(CONVERSATION, AGENT)
    fake.close_conversation(CONVERSATION, AGENT)
    fake.rate(CONVERSATION, 2, "slow")
    follow(worker)
    row = records.tracked(worker.store, "intercom", CONVERSATION)
    assert (row.reopened, row.first_contact_resolution, row.csat_good, row.csat_comment) == (1, False, False, "slow")


def test_a_team_a_teammate_chose_after_the_draft_is_an_override(fake, worker):
    drafted(worker)
    fake.assign_team(CONVERSATION, AGENT, "7110")
    follow(worker)
    (review,) = reviews(worker.store)
    assert review.group_overridden and review.overrides["group"]["agent"] == "7110"
    assert records.tracked(worker.store, "intercom", CONVERSATION).reassigned


def test_redraft_command_in_an_intercom_note(fake, worker):
    drafted(worker)
    fake.admin_notes(CONVERSATION, AGENT, "<p>#ai redraft mention the spam folder</p>")
    (run_id,), _ = follow(worker)
    assert process_run(run_id, worker) == RunStatus.SUCCEEDED
    notes = [n for n in fake.notes(CONVERSATION) if n["author"]["id"] == BOT]
    assert len(notes) == 2 and "mention the spam folder" in notes[1]["body"]
    follow(worker)
    first, second = reviews(worker.store)
    assert (first.action, second.action, second.instruction) == (ReviewAction.REDRAFT, None, "mention the spam folder")


def test_escalate_command_overrules_a_teammates_team(fake, worker):
    drafted(worker)
    fake.assign_team(CONVERSATION, AGENT, "7110")
    fake.admin_notes(CONVERSATION, AGENT, "<p>#ai escalate</p>")
    (run_id,), _ = follow(worker)
    assert process_run(run_id, worker) == RunStatus.SUCCEEDED
    assert fake.conversation(CONVERSATION)["team_assignee_id"] == 7101  # supervisors
    assert "ai_escalation_agent_request" in fake.tags_of(CONVERSATION)
    follow(worker)
    assert reviews(worker.store)[0].action == ReviewAction.ESCALATE
    assert records.tracked(worker.store, "intercom", CONVERSATION).escalated_later


def test_the_same_question_again_after_the_draft_was_sent_is_escalated(fake, worker):
    run = drafted(worker)
    fake.admin_replies(CONVERSATION, AGENT, "<p>" + run.draft.replace("\n", "<br>") + "</p>")
    next_second()
    part = fake.customer_replies(CONVERSATION, "<p>I still can't sign in, the password reset email never arrives</p>")
    # Intercom delivers the customer's reply by webhook: the same key as the tracker would use.
    accepted = worker.store.accept(TicketEvent("intercom", EventKind.CUSTOMER_REPLIED, CONVERSATION,
                                               delivery_id="n-2", event_key=part["id"]), merge=True)
    assert follow(worker)[0] == []  # the tracker finds the same message: already a run
    assert process_run(accepted.run_id, worker) == RunStatus.SUCCEEDED
    notes = [n for n in fake.notes(CONVERSATION) if n["author"]["id"] == BOT]
    assert "asked the same question again" in notes[-1]["body"] and DRAFT_START not in notes[-1]["body"]
    assert fake.conversation(CONVERSATION)["team_assignee_id"] == 7101
    assert "ai_escalation_repeat_question" in fake.tags_of(CONVERSATION)
    follow(worker)
    assert records.tracked(worker.store, "intercom", CONVERSATION).escalated_later
