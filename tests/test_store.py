"""The store's deduplication and run leases, on SQLite and PostgreSQL, under real concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from bot.db import make_engine
from bot.db.models import Delivery, Run, RunStatus, utcnow
from bot.domain import TicketEvent
from bot.store import Store


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


def test_claim_takes_a_run_once(store):
    run_id = store.accept(event()).run_id
    claimed = store.claim(run_id, lease_seconds=60)
    assert claimed.status == RunStatus.RUNNING and claimed.attempts == 1
    assert store.claim(run_id, lease_seconds=60) is None


def test_claim_after_an_expired_lease_takes_it_again(store):
    run_id = store.accept(event()).run_id
    store.claim(run_id, lease_seconds=60)
    store.save(run_id, lease_expires_at=utcnow() - timedelta(seconds=1))
    again = store.claim(run_id, lease_seconds=60)
    assert again is not None and again.attempts == 2


def test_retrying_run_can_be_claimed_and_finished_cannot(store):
    run_id = store.accept(event()).run_id
    store.claim(run_id, lease_seconds=60)
    store.release_for_retry(run_id, "Zendesk answered 503")
    assert store.get(run_id).status == RunStatus.RETRYING
    assert store.claim(run_id, lease_seconds=60) is not None
    store.finish(run_id, RunStatus.SUCCEEDED)
    assert store.claim(run_id, lease_seconds=60) is None
    assert store.get(run_id).finished_at is not None


def test_json_fields_round_trip(store):
    run_id = store.accept(event()).run_id
    triage = {"category": "Billing", "reasoning": "Rückerstattung für Bestellung 日本"}
    store.save(run_id, triage=triage, actions={"update": {"tags": ["a", "b"]}})
    run = store.get(run_id)
    assert run.triage == triage and run.actions["update"]["tags"] == ["a", "b"]


def test_migrations_match_the_models(store):
    """The schema Alembic builds is the one the ORM expects: no drift on either database."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.db.models import Base

    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
