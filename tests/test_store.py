"""The store's deduplication and run leases, on SQLite and PostgreSQL, under real concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from bot.db import make_engine
from bot.db.models import Delivery, Run, utcnow
from bot.domain import TicketEvent
from bot.leases import ClaimState
from bot.store import Accepted, Store
from bot.vocabulary import RunStatus


def event(ticket_id="42", delivery_id="inv-1", kind="created") -> TicketEvent:
    return TicketEvent(helpdesk="zendesk", kind=kind, ticket_id=ticket_id, delivery_id=delivery_id)


def count(store: Store, model) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_accept_creates_a_queued_run(store):
    acceptance = store.accept(event())
    assert not acceptance.duplicate and acceptance.run_id is not None
    run = store.get(acceptance.run_id)
    assert (run.ticket_id, run.event_kind, run.status, run.attempts) == ("42", "created", "queued", 0)


def test_same_invocation_is_a_duplicate_delivery(store):
    first = store.accept(event())
    again = store.accept(event())
    assert again.duplicate and again.reason == "duplicate delivery"
    assert count(store, Run) == 1 and first.run_id is not None


def test_other_invocation_of_same_ticket_event_is_a_duplicate_and_remembered(store):
    store.accept(event(delivery_id="inv-1"))
    other = store.accept(event(delivery_id="inv-2"))
    assert other.duplicate and other.reason == "already received for this ticket"
    # inv-2 was recorded, so its own retry is recognised as a duplicate delivery at once.
    assert store.accept(event(delivery_id="inv-2")).reason == "duplicate delivery"
    assert count(store, Run) == 1


def test_other_event_kind_or_ticket_is_not_a_duplicate(store):
    store.accept(event(ticket_id="42", delivery_id=None))
    assert not store.accept(event(ticket_id="43", delivery_id=None)).duplicate
    assert not store.accept(event(ticket_id="42", delivery_id=None, kind="other")).duplicate


def test_forget_lets_the_retry_of_a_failed_enqueue_in(store):
    first = store.accept(event())
    store.forget(event(), first.run_id)
    assert count(store, Run) == 0 and count(store, Delivery) == 0
    retry = store.accept(event())
    assert not retry.duplicate


def _race(store_url: str, events: list[TicketEvent]) -> list:
    """Each event accepted by its own thread and engine, released at the same instant."""
    barrier = threading.Barrier(len(events))
    results: list = [None] * len(events)
    stores = [Store(make_engine(store_url)) for _ in events]

    def accept(i: int) -> None:
        barrier.wait()
        results[i] = stores[i].accept(events[i])

    threads = [threading.Thread(target=accept, args=(i,)) for i in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for s in stores:
        s.engine.dispose()
    return results


def test_five_concurrent_deliveries_of_one_invocation_make_one_run(store, database_url):
    results = _race(database_url, [event(delivery_id="same") for _ in range(5)])
    assert sum(not r.duplicate for r in results) == 1
    assert count(store, Run) == 1 and count(store, Delivery) == 1


def test_five_concurrent_invocations_of_one_ticket_make_one_run(store, database_url):
    results = _race(database_url, [event(delivery_id=f"inv-{i}") for i in range(5)])
    assert sum(not r.duplicate for r in results) == 1
    assert count(store, Run) == 1
    assert count(store, Delivery) == 5  # every invocation remembered


def test_claim_takes_a_run_once_and_then_says_who_holds_it(store):
    run_id = store.accept(event()).run_id
    claimed = store.claim(run_id, lease_seconds=60)
    assert claimed.state is ClaimState.CLAIMED
    assert claimed.run.status == RunStatus.RUNNING and claimed.token == 1
    again = store.claim(run_id, lease_seconds=60)
    assert again.state is ClaimState.HELD and again.run is None
    assert again.lease_expires_at == claimed.lease_expires_at  # when to look again
    assert store.claim(999_999, lease_seconds=60).state is ClaimState.MISSING


def test_claim_after_an_expired_lease_takes_it_again_and_the_old_holder_is_locked_out(store):
    run_id = store.accept(event()).run_id
    store.claim(run_id, lease_seconds=60)
    assert store.hold_until(run_id, 1, utcnow() - timedelta(seconds=1))
    again = store.claim(run_id, lease_seconds=60)
    assert again.state is ClaimState.CLAIMED and again.token == 2
    # Attempt 1 stalled past its lease: none of its writes land any more.
    assert not store.holds(run_id, 1) and store.holds(run_id, 2)
    assert not store.save_output(run_id, 1, draft="stale")
    assert not store.finish(run_id, 1, RunStatus.SUCCEEDED)
    assert not store.schedule_retry(run_id, 1, "503", utcnow())
    assert not store.fail(run_id, "stale failure", token=1)
    assert store.get(run_id).status == RunStatus.RUNNING and store.get(run_id).draft is None


def test_retrying_run_can_be_claimed_and_finished_cannot(store):
    run_id = store.accept(event()).run_id
    store.claim(run_id, lease_seconds=60)
    due = utcnow() + timedelta(seconds=30)
    assert store.schedule_retry(run_id, 1, "Zendesk answered 503", due)
    run = store.get(run_id)
    assert run.status == RunStatus.RETRYING and run.due_at == due and run.lease_expires_at is None
    assert store.claim(run_id, lease_seconds=60).state is ClaimState.CLAIMED
    assert store.finish(run_id, 2, RunStatus.SUCCEEDED)
    assert store.claim(run_id, lease_seconds=60).state is ClaimState.FINISHED
    assert store.get(run_id).finished_at is not None


def test_json_fields_round_trip(store):
    run_id = store.accept(event()).run_id
    store.claim(run_id, lease_seconds=60)
    triage = {"category": "Billing", "reasoning": "Rückerstattung für Bestellung 日本"}
    assert store.save_output(run_id, 1, triage=triage, actions={"update": {"tags": ["a", "b"]}})
    run = store.get(run_id)
    assert run.triage == triage and run.actions["update"]["tags"] == ["a", "b"]


def test_times_come_back_aware_in_utc_on_both_databases(store):
    run_id = store.accept(event()).run_id
    run = store.get(run_id)
    assert run.created_at.utcoffset() == timedelta(0) and run.due_at.utcoffset() == timedelta(0)
    assert abs((utcnow() - run.created_at).total_seconds()) < 60


# -- what "stuck" means, and what the sweep and the web tier do about it ----------------------

def stuck_store(store: Store, seconds: float = 120) -> Store:
    return Store(store.engine, recovery_after=seconds)


def test_a_waiting_run_is_stuck_only_after_recovery_after(store):
    store = stuck_store(store)
    run_id = store.accept(event()).run_id
    now = utcnow()
    assert store.stuck_runs(now + timedelta(seconds=119), deadline_seconds=900) == []
    (stuck,) = store.stuck_runs(now + timedelta(seconds=121), deadline_seconds=900)
    assert stuck.id == run_id
    # An overdue run is listed whatever its due time, as long as no lease holds it.
    assert [r.id for r in store.stuck_runs(now + timedelta(seconds=5), deadline_seconds=1)] == [run_id]


def test_a_running_run_is_stuck_once_its_lease_has_ended(store):
    store = stuck_store(store)
    run_id = store.accept(event()).run_id
    claim = store.claim(run_id, lease_seconds=60)
    assert store.stuck_runs(utcnow(), deadline_seconds=900) == []
    later = claim.lease_expires_at + timedelta(seconds=1)
    assert [r.id for r in store.stuck_runs(later, deadline_seconds=900)] == [run_id]


def test_requeue_makes_a_stuck_run_due_again_once_and_counts_it(store):
    store = stuck_store(store)
    run_id = store.accept(event()).run_id
    claim = store.claim(run_id, lease_seconds=60)
    later = claim.lease_expires_at + timedelta(seconds=1)
    assert store.requeue(run_id, later)
    assert not store.requeue(run_id, later)  # a second sweep finds it no longer stuck
    run = store.get(run_id)
    assert (run.status, run.recoveries, run.due_at, run.lease_expires_at) == (
        RunStatus.QUEUED, 1, later, None)
    assert store.claim(run_id, lease_seconds=60, now=later).token == 2


def test_fail_without_a_token_never_takes_a_run_from_a_live_lease(store):
    run_id = store.accept(event()).run_id
    store.claim(run_id, lease_seconds=60)
    assert not store.fail(run_id, "stuck")
    assert store.hold_until(run_id, 1, utcnow() - timedelta(seconds=1))
    assert store.fail(run_id, "stuck")
    run = store.get(run_id)
    assert run.status == RunStatus.FAILED and run.failure_noted_at is None
    store.mark_failure_noted(run_id, "posted")
    assert store.get(run_id).failure_noted_at is not None and store.get(run_id).error == "stuck (posted)"


def test_a_redelivery_of_a_stuck_run_rings_again_and_of_a_live_one_is_a_duplicate(store):
    store = stuck_store(store, seconds=0.2)
    first = store.accept(event(delivery_id="inv-1"))
    assert store.accept(event(delivery_id="inv-1")).outcome is Accepted.DUPLICATE_DELIVERY
    import time

    time.sleep(0.3)  # the run's doorbell is now older than RECOVERY_AFTER: its message is lost
    again = store.accept(event(delivery_id="inv-1"))
    assert again.outcome is Accepted.REQUEUED and again.run_id == first.run_id
    assert not again.duplicate
    other = store.accept(event(delivery_id="inv-2"))  # just rung again: not stuck any more
    assert other.outcome is Accepted.DUPLICATE_EVENT and other.run_id == first.run_id
    run = store.get(first.run_id)
    assert run.recoveries == 0  # the helpdesk's redelivery is not one of the sweep's tries
    store.claim(first.run_id, lease_seconds=60)
    time.sleep(0.3)
    assert store.accept(event(delivery_id="inv-1")).duplicate  # held by a live lease


def test_failures_to_note_lists_only_failed_runs_whose_note_is_owed(store):
    ids = [store.accept(event(ticket_id=str(n), delivery_id=None)).run_id for n in (1, 2, 3)]
    for run_id in ids:
        store.claim(run_id, lease_seconds=60)
    store.fail(ids[0], "x", token=1)
    store.fail(ids[1], "y", token=1)
    store.mark_failure_noted(ids[1])
    later = utcnow() + timedelta(seconds=1)
    owed = store.failures_to_note(older_than=later, newer_than=later - timedelta(days=1))
    assert [r.id for r in owed] == [ids[0]]
    assert store.failures_to_note(older_than=later - timedelta(hours=1),
                                  newer_than=later - timedelta(days=1)) == []


def test_migrations_match_the_models(store):
    """The schema Alembic builds is the one the ORM expects: no drift on either database."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.db.models import Base

    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
