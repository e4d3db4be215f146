"""The follow-up sweep and the review records: a draft whose review a crash left unmade is
still followed, reads are asked only when due, a failed read is tried again later, and a
ticket stops being followed after `review.follow_days`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.db.models import Review, Run, TrackedTicket, utcnow
from bot.review_policy import ReviewPolicy
from bot.tracking import records
from bot.tracking.assess import Assessment, Outcome, ReviewFacts
from bot.vocabulary import ReviewAction, RunStatus

POLICY = ReviewPolicy()


def add_run(store, ticket_id="7001", status=RunStatus.SUCCEEDED, draft="Hello", priority=2, **extra) -> int:
    now = utcnow()
    with store.session() as session:
        run = Run(helpdesk="zendesk", ticket_id=ticket_id, event_kind="created", status=status, attempts=1,
                  recoveries=0, due_at=now, created_at=now - timedelta(seconds=20), finished_at=now,
                  draft=draft, draft_engine="offline", prompt_version="billing@3", latency_ms=900,
                  rules={"category": "Billing", "priority": priority, "escalate": False, "group_key": "Billing",
                         "group_id": 110, "tags": ["ai_triaged", "ai_category_billing"]},
                  triage={"triage": {"language": "pt"}}, sources=[{"id": "a-9", "title": "Refunds"}], **extra)
        session.add(run)
        session.commit()
        return run.id


def test_reviews_a_crash_left_unmade_are_made_once_by_the_sweep(store):
    done = add_run(store)
    add_run(store, "7002", status=RunStatus.FAILED)  # no note: nothing to review
    add_run(store, "7003", draft=None)  # escalated without a draft: nothing to review
    assert records.start_reviews(store, POLICY) == [done]
    assert records.start_reviews(store, POLICY) == []
    with store.session() as session:
        (review,) = session.scalars(select(Review))
        (ticket,) = session.scalars(select(TrackedTicket))
    assert (review.category, review.priority, review.language, review.prompt_version, review.sources) == (
        "Billing", 2, "pt", "billing@3", ["a-9"])
    assert review.due_at - review.drafted_at == timedelta(minutes=5)  # priority 2: the urgent SLA
    assert (ticket.first_run_id, ticket.check_after) == (done, review.due_at)


def test_a_second_draft_keeps_one_followed_ticket_and_its_first_run(store):
    first = add_run(store)
    records.start_reviews(store, POLICY)
    add_run(store, priority=4)
    records.start_reviews(store, POLICY)
    with store.session() as session:
        (ticket,) = session.scalars(select(TrackedTicket))
        assert ticket.first_run_id == first
        assert len(session.scalars(select(Review)).all()) == 2


def test_reads_are_due_when_marked_or_at_their_check_and_failed_reads_wait(store):
    add_run(store)
    records.start_reviews(store, POLICY)
    now = utcnow()
    ref = records.TicketRef("zendesk", "7001")
    assert records.due(store, now) == []  # the 5-minute review SLA is not over yet
    assert records.due(store, now + timedelta(minutes=6)) == [ref]
    records.failed(store, ref, "Zendesk unreachable", now, timedelta(minutes=10))
    assert records.due(store, now + timedelta(minutes=6)) == []
    assert records.tracked(store, "zendesk", "7001").error == "Zendesk unreachable"
    assert records.mark_dirty(store, "zendesk", "7001", now) is records.Marked.MARKED
    assert records.due(store, now) == [ref]


def test_saving_keeps_a_mark_made_during_the_read_and_stops_following_old_tickets(store):
    add_run(store)
    records.start_reviews(store, POLICY)
    ref = records.TicketRef("zendesk", "7001")
    t0 = utcnow()
    records.mark_dirty(store, "zendesk", "7001", t0)
    seen = records.tracked(store, "zendesk", "7001").dirty_at
    records.mark_dirty(store, "zendesk", "7001", t0 + timedelta(seconds=1))  # already marked: kept as is
    (run,) = store.runs()
    facts = ReviewFacts(action=ReviewAction.SENT_AS_IS, similarity=0.99, acted_by="381", acted_at=t0)
    assessment = Assessment({run.id: facts}, Outcome(status="solved", first_contact_resolution=True))
    records.save(store, ref, assessment, now=t0, dirty_seen=seen, recheck=timedelta(hours=1),
                 follow_for=timedelta(days=14))
    row = records.tracked(store, "zendesk", "7001")
    assert row.dirty_at is None and row.closed_at is None and row.first_contact_resolution is True
    # An event during a read (the ticket was clean when it began, or marked earlier than
    # now) leaves the ticket marked for another read.
    records.mark_dirty(store, "zendesk", "7001", t0 + timedelta(seconds=5))
    records.save(store, ref, assessment, now=t0, dirty_seen=None, recheck=timedelta(hours=1),
                 follow_for=timedelta(days=14))
    assert records.tracked(store, "zendesk", "7001").dirty_at is not None
    records.save(store, ref, assessment, now=t0, dirty_seen=t0, recheck=timedelta(hours=1),
                 follow_for=timedelta(days=14))
    assert records.tracked(store, "zendesk", "7001").dirty_at is not None
    # Past `follow_days` after its last draft, a ticket is no longer read on a schedule.
    later = t0 + timedelta(days=15)
    records.save(store, ref, assessment, now=later, dirty_seen=later, recheck=timedelta(hours=1),
                 follow_for=timedelta(days=14))
    row = records.tracked(store, "zendesk", "7001")
    assert row.closed_at == later
    assert records.due(store, later + timedelta(days=1)) == []
    assert records.mark_dirty(store, "zendesk", "7001", later) is records.Marked.MARKED  # a late rating
    assert records.due(store, later + timedelta(seconds=1)) == [ref]


def test_the_follow_up_sweep_makes_missing_reviews_and_asks_for_due_reads(store):
    from types import SimpleNamespace

    from bot.policy import load_policy
    from bot.settings import Settings
    from bot.tracking.follow import follow_up_sweep

    settings = Settings.from_env({"HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": "s", "TRACK_RECHECK": "60"})
    now = utcnow()
    clock = {"now": now}
    worker = SimpleNamespace(store=store, policy=load_policy(settings.policy_file), settings=settings,
                             clock=lambda: clock["now"])
    run_id = add_run(store)  # its worker died before making the review
    asked: list[tuple[str, str]] = []
    report = follow_up_sweep(worker, track=lambda h, t: asked.append((h, t)))
    assert report.as_dict() == {"reviews_started": [run_id], "reads_asked": []}  # not due yet
    clock["now"] = now + timedelta(seconds=61)  # TRACK_RECHECK (60 s) before the 5-minute SLA
    report = follow_up_sweep(worker, track=lambda h, t: asked.append((h, t)))
    assert report.as_dict() == {"reviews_started": [], "reads_asked": ["zendesk:7001"]}
    assert asked == [("zendesk", "7001")]
