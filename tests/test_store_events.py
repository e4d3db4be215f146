"""Many runs per ticket: each event deduplicated on its own key, a customer's quick replies
merged into the run that has not started yet, and the migration that brought this in. On SQLite
and PostgreSQL, under real concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from bot.db import make_engine, upgrade
from bot.db.models import Delivery, Run, utcnow
from bot.db.models import TicketEvent as EventRow
from bot.domain import EventKind, TicketEvent
from bot.store import Accepted, Store


def created(ticket_id="77", delivery_id="n-1") -> TicketEvent:
    return TicketEvent("intercom", EventKind.CREATED, ticket_id, delivery_id=delivery_id)


def replied(part: str, ticket_id="77", delivery_id: str | None = None) -> TicketEvent:
    return TicketEvent("intercom", EventKind.CUSTOMER_REPLIED, ticket_id,
                       delivery_id=delivery_id or f"n-{part}", event_key=part)


def count(store: Store, model) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_conversation_has_a_run_per_started_event(store):
    first = store.accept(created())
    store.claim(first.run_id, lease_seconds=60)  # a worker has started on it
    reply = store.accept(replied("p1"), merge=True)
    assert reply.outcome is Accepted.NEW and reply.run_id != first.run_id
    runs = store.runs_for_tickets("intercom", ["77"])
    assert [(r.event_kind, r.status) for r in runs] == [("created", "running"), ("customer_replied", "queued")]


def test_the_same_part_twice_is_a_duplicate_even_under_another_notification_id(store):
    store.accept(replied("p1", delivery_id="n-a"), merge=True)
    again = store.accept(replied("p1", delivery_id="n-b"), merge=True)
    assert again.outcome is Accepted.DUPLICATE_EVENT
    assert count(store, Run) == 1 and count(store, EventRow) == 1
    assert count(store, Delivery) == 2  # n-b is remembered: its own retry is known at once
    assert store.accept(replied("p1", delivery_id="n-b")).outcome is Accepted.DUPLICATE_DELIVERY


def test_quick_replies_join_the_run_no_worker_has_started(store):
    first = store.accept(replied("p1"), merge=True, delay=10)
    second = store.accept(replied("p2"), merge=True, delay=10)
    third = store.accept(replied("p3"), merge=True, delay=10)
    assert first.outcome is Accepted.NEW
    assert (second.outcome, second.run_id) == (Accepted.MERGED, first.run_id)
    assert (third.outcome, third.run_id) == (Accepted.MERGED, first.run_id)
    assert count(store, Run) == 1 and count(store, EventRow) == 3
    with store.session() as session:
        keys = session.scalars(select(EventRow.event_key).where(EventRow.run_id == first.run_id))
        assert sorted(keys) == ["p1", "p2", "p3"]


def test_a_new_run_waits_the_merge_delay_before_it_is_due(store):
    before = utcnow()
    run = store.get(store.accept(replied("p1"), merge=True, delay=10).run_id)
    assert run.due_at >= before + timedelta(seconds=10)
    # So the sweep does not take it for stuck before it was even due.
    assert store.stuck_runs(before + timedelta(seconds=11), deadline_seconds=900) == []


def test_without_merge_every_event_gets_its_own_run(store):
    a = store.accept(replied("p1"))
    b = store.accept(replied("p2"))
    assert a.run_id != b.run_id and b.outcome is Accepted.NEW


def test_a_reply_never_joins_another_tickets_run(store):
    store.accept(replied("p1", ticket_id="1", delivery_id="n-1"), merge=True)
    other = store.accept(replied("p1", ticket_id="2", delivery_id="n-2"), merge=True)
    assert other.outcome is Accepted.NEW


def test_forget_removes_the_event_so_the_retry_is_accepted(store):
    first = store.accept(replied("p1"), merge=True)
    store.forget(replied("p1"), first.run_id)
    assert count(store, Run) == 0 and count(store, EventRow) == 0 and count(store, Delivery) == 0
    assert store.accept(replied("p1"), merge=True).outcome is Accepted.NEW


def test_concurrent_replies_make_one_run_or_join_it(store, database_url):
    """Five parts of one conversation arrive at the same instant: exactly one new run, the
    others merged into it (never two runs each believing they are the ticket's waiting one)."""
    barrier = threading.Barrier(5)
    stores = [Store(make_engine(database_url)) for _ in range(5)]
    results: list = [None] * 5

    def accept(i: int) -> None:
        barrier.wait()
        results[i] = stores[i].accept(replied(f"p{i}"), merge=True)

    threads = [threading.Thread(target=accept, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for s in stores:
        s.engine.dispose()
    outcomes = [r.outcome for r in results]
    assert outcomes.count(Accepted.NEW) == 1 and outcomes.count(Accepted.MERGED) == 4
    assert count(store, Run) == 1 and count(store, EventRow) == 5
    assert len({r.run_id for r in results}) == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url_at_0004(request) -> str:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    upgrade(url, "0004")
    return url


def test_migration_0005_keeps_existing_runs_and_their_deduplication(database_url_at_0004):
    url = database_url_at_0004
    engine = make_engine(url)
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO runs (helpdesk, ticket_id, event_kind, status, attempts, recoveries, "
            "due_at, created_at, updated_at) VALUES ('zendesk', '5', 'created', 'succeeded', 1, 0, "
            ":now, :now, :now)"), {"now": now})
        run_id = connection.execute(sa.text("SELECT id FROM runs")).scalar_one()
        connection.execute(sa.text(
            "INSERT INTO deliveries (helpdesk, delivery_id, run_id, received_at) "
            "VALUES ('zendesk', 'inv-5', :run, :now)"), {"run": run_id, "now": now})
    upgrade(url)
    store = Store(engine)
    # The ticket's creation is known: a redelivery of it is a duplicate, not a second note; and
    # the delivery survived the table rebuild (SQLite), so its retry is known as well.
    assert store.accept(TicketEvent("zendesk", "created", "5")).outcome is Accepted.DUPLICATE_EVENT
    retry = store.accept(TicketEvent("zendesk", "created", "5", delivery_id="inv-5"))
    assert (retry.outcome, retry.run_id) == (Accepted.DUPLICATE_DELIVERY, run_id)
    assert count(store, Run) == 1
    engine.dispose()


def test_a_run_the_sweep_failed_before_any_worker_took_it_is_joined_by_nothing(store):
    lost = store.accept(replied("p1"), merge=True)
    assert store.fail(lost.run_id, "stuck after 5 recoveries")
    later = store.accept(replied("p2"), merge=True)
    assert later.outcome is Accepted.NEW and later.run_id != lost.run_id
