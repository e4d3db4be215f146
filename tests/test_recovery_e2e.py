"""No ticket left behind, with real processes: the web process, Celery workers and beat (the
sweep), real PostgreSQL and a private Redis server; Zendesk is the spec-validating fake.

Each test crashes something (a pool process, a whole worker, the broker with its queue, the
database mid-task, the web process between its commit and its enqueue) and then asserts what the
README promises: every ticket answered 202 ends with exactly one note, or `ai_failed`, within
the recovery bound (`Settings.recovery_bound_seconds`, here with short test limits).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
import requests

from bot.db import make_engine
from bot.settings import Settings
from bot.store import Store
from bot.vocabulary import BotTag, RunStatus
from tests.conftest import WEBHOOK_SECRET
from tests.fakes.zendesk_api import FakeZendesk
from tests.processes import PostgresSchema, RedisServer, Stack, children, wait_for
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e
REQUESTER = 8447388090494
READ_DELAY = 2.0  # seconds a ticket read takes when a test needs work in flight


@pytest.fixture(scope="module")
def zendesk():
    fake = FakeZendesk()
    fake.add_user(REQUESTER, name="Jules Durand")
    with fake:
        yield fake


def recovery_env(zendesk: FakeZendesk, database_url: str, broker_url: str) -> dict[str, str]:
    """Short limits so a test sees every recovery within a minute; lease = 3 + 5 = 8 s."""
    return {
        "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_URL": zendesk.base_url,
        "ZENDESK_EMAIL": "bot@example.com", "ZENDESK_API_TOKEN": "token",
        "ZENDESK_WEBHOOK_SECRET": WEBHOOK_SECRET, "DATABASE_URL": database_url,
        "REDIS_URL": broker_url, "LLM_PROVIDER": "offline", "KB_SOURCES": "none",
        "ZENDESK_TIMEOUT": "5", "LLM_TIMEOUT": "5", "INTERCOM_TIMEOUT": "5",
        "TASK_TIME_LIMIT": "3", "RUN_DEADLINE": "45", "SWEEP_INTERVAL": "1",
        "RECOVERY_AFTER": "3", "RECOVERY_TRIES": "5",
        "TASK_MAX_RETRIES": "5", "TASK_RETRY_BASE": "0.5", "TASK_RETRY_MAX": "2",
    }


@pytest.fixture
def services(zendesk, postgres_server, tmp_path):
    """A fresh schema, a private Redis, and a Stack to start processes with; stopped after."""
    redis_server = RedisServer(tmp_path).start()
    with PostgresSchema(postgres_server) as schema:
        stacks: list[Stack] = []

        def make(database_url: str | None = None) -> Stack:
            env = recovery_env(zendesk, database_url or schema.url(), redis_server.url)
            stack = Stack(env, tmp_path)
            stacks.append(stack)
            return stack

        yield make, schema, redis_server
        for stack in stacks:
            stack.stop()
        if stacks:
            stacks[0].show_logs()
    redis_server.kill()


def ticket(zendesk: FakeZendesk, ticket_id: int, slow: bool = False, delay: float = READ_DELAY) -> bytes:
    zendesk.add_ticket(ticket_id, subject="Invoice copy", description="Please send me a copy of my "
                       "last invoice, the one from October.", requester_id=REQUESTER)
    if slow:
        zendesk.delay_next("GET", rf"/api/v2/tickets/{ticket_id}(\.json)?$", delay)
    return json.dumps({"ticket_id": str(ticket_id), "event": "created"}).encode()


def reading(zendesk: FakeZendesk, ticket_id: int) -> bool:
    return any(r.method == "GET" and r.path.startswith(f"/api/v2/tickets/{ticket_id}")
               for r in zendesk.requests)


def settled(zendesk: FakeZendesk, ticket_id: int) -> bool:
    tags = zendesk.ticket(ticket_id)["tags"]
    return BotTag.TRIAGED in tags or BotTag.FAILED in tags


def assert_exactly_one_outcome(zendesk: FakeZendesk, ticket_id: int) -> str:
    """One private note from the bot, and one of the two tags: never both, never none."""
    found = zendesk.ticket(ticket_id)
    notes = [c["body"] for c in found["comments"] if not c["public"]]
    triaged, failed = BotTag.TRIAGED in found["tags"], BotTag.FAILED in found["tags"]
    assert len(notes) == 1, (ticket_id, notes)
    assert triaged != failed, (ticket_id, found["tags"])
    assert ("AI triage failed" in notes[0]) == failed
    return "note" if triaged else "ai_failed"


def settle_within_bound(zendesk, stack: Stack, accepted_at: dict[int, float]) -> None:
    bound = Settings.from_env(stack.env).recovery_bound_seconds
    for ticket_id, accepted in accepted_at.items():
        remaining = accepted + bound - time.monotonic()
        wait_for(lambda: settled(zendesk, ticket_id), max(remaining, 0.1),
                 f"ticket {ticket_id}'s note or ai_failed within the {bound:g} s bound")


def runs_of(database_url: str) -> dict[str, object]:
    engine = make_engine(database_url)
    try:
        return {run.ticket_id: run for run in Store(engine).runs(limit=1000)}
    finally:
        engine.dispose()


def test_a_killed_pool_process_s_ticket_gets_its_note(services, zendesk):
    """prefork: the pool process dies mid-run; its message comes back at once, finds the dead
    process's live lease, and looks again once the lease has ended."""
    make, schema, _ = services
    stack = make()
    stack.start_web()
    worker = stack.start_worker(pool="prefork", concurrency=1)
    stack.start_beat()
    body = ticket(zendesk, 9101, slow=True)
    assert stack.deliver(body, "inv-9101") == 202
    accepted = time.monotonic()
    wait_for(lambda: reading(zendesk, 9101), 20, "the worker to start reading the ticket")
    (pool_process,) = children(worker.pid)
    os.kill(pool_process, signal.SIGKILL)
    settle_within_bound(zendesk, stack, {9101: accepted})
    time.sleep(3)  # room for a wrong second note
    assert assert_exactly_one_outcome(zendesk, 9101) == "note"
    run = runs_of(schema.url())["9101"]
    assert run.status == RunStatus.SUCCEEDED and run.attempts >= 2
    assert zendesk.spec_violations == []


def test_a_killed_worker_s_tickets_get_their_notes_from_another_worker(services, zendesk):
    """The whole worker dies with three runs in flight; their messages sit unacknowledged in
    Redis. The sweep re-enqueues the runs once their leases end; a new worker takes them; the
    messages Redis gives back later find the runs finished."""
    make, schema, _ = services
    stack = make()
    stack.start_web()
    stack.start_worker(pool="threads", concurrency=4)
    stack.start_beat()
    ids = (9201, 9202, 9203)
    accepted = {}
    for ticket_id in ids:
        assert stack.deliver(ticket(zendesk, ticket_id, slow=True), f"inv-{ticket_id}") == 202
        accepted[ticket_id] = time.monotonic()
    wait_for(lambda: all(reading(zendesk, t) for t in ids), 20, "three runs in flight")
    stack.kill("worker")
    stack.start_worker("worker2", pool="threads", concurrency=4)
    settle_within_bound(zendesk, stack, accepted)
    # Redis gives the dead worker's messages back after the visibility timeout: they must not
    # make a second note.
    time.sleep(Settings.from_env(stack.env).visibility_timeout + 3)
    for ticket_id in ids:
        assert assert_exactly_one_outcome(zendesk, ticket_id) == "note"
    runs = runs_of(schema.url())
    assert {runs[str(t)].status for t in ids} == {RunStatus.SUCCEEDED}


def test_the_broker_killed_with_its_queue_loses_no_accepted_ticket(services, zendesk):
    """Redis is killed (keeping nothing on disk) in the middle of a stream of webhooks and comes
    back empty. Deliveries answered 503 are retried, as Zendesk does; every delivery answered
    202 ends with exactly one note."""
    make, schema, redis_server = services
    stack = make()
    stack.start_web()
    stack.start_worker(pool="threads", concurrency=1)  # slower than the stream: a queue builds
    stack.start_beat()
    ids = list(range(9301, 9341))
    accepted: dict[int, float] = {}
    for n, ticket_id in enumerate(ids):
        body = ticket(zendesk, ticket_id, slow=True, delay=0.3)
        if n == 12:  # killed now, back (empty) in 3 s, while deliveries go on
            redis_server.kill()
            threading.Timer(3, redis_server.start).start()
        for _ in range(60):  # Zendesk retries a 503 that carries Retry-After
            status = stack.deliver(body, f"inv-{ticket_id}")
            if status != 503:
                break
            time.sleep(0.5)
        assert status == 202, (ticket_id, status)
        accepted[ticket_id] = time.monotonic()
    settle_within_bound(zendesk, stack, accepted)
    time.sleep(3)
    outcomes = [assert_exactly_one_outcome(zendesk, t) for t in ids]
    assert outcomes.count("note") == len(ids)
    runs = runs_of(schema.url())
    assert all(runs[str(t)].status == RunStatus.SUCCEEDED for t in ids)
    # The queue was lost with the broker: those runs were found by the sweep, not by luck.
    assert sum(runs[str(t)].recoveries for t in ids) >= 1


def test_the_database_down_mid_task_ends_in_one_note(services, zendesk):
    """Every process reaches PostgreSQL through a proxy the test cuts while a run is in flight
    (connections reset, new ones refused), then restores."""
    make, schema, _ = services
    proxy = TcpProxy("127.0.0.1", 5432).start()
    try:
        stack = make(schema.url(port=proxy.port))
        stack.start_web()
        stack.start_worker(pool="threads", concurrency=2)
        stack.start_beat()
        assert stack.deliver(ticket(zendesk, 9401, slow=True), "inv-9401") == 202
        accepted = time.monotonic()
        wait_for(lambda: reading(zendesk, 9401), 20, "the worker to start reading the ticket")
        proxy.stop()
        time.sleep(READ_DELAY + 4)  # the read ends; every write meanwhile fails
        proxy.start()
        settle_within_bound(zendesk, stack, {9401: accepted})
        time.sleep(3)
        assert assert_exactly_one_outcome(zendesk, 9401) == "note"
        run = runs_of(schema.url())["9401"]
        assert run.status == RunStatus.SUCCEEDED and run.attempts >= 2
    finally:
        proxy.stop()


def test_a_web_process_killed_between_commit_and_enqueue_loses_no_ticket(services, zendesk):
    """The run is committed, the process dies before the enqueue, Zendesk gets no answer. A
    redelivery once the run counts as stuck re-enqueues it (202); without one, the sweep does."""
    make, schema, _ = services
    stack = make()
    crashing = stack.start_web(module="tests.crashing_web", name="crashing-web")
    stack.start_worker(pool="threads", concurrency=2)
    body_a = ticket(zendesk, 9501)
    with pytest.raises(requests.ConnectionError):  # the connection drops: no answer at all
        stack.deliver(body_a, "inv-9501")
    accepted = {9501: time.monotonic()}
    crashing.wait(10)
    stack.processes.pop("crashing-web")
    stack.start_web()
    time.sleep(max(0.0, accepted[9501] + 3.5 - time.monotonic()))  # RECOVERY_AFTER has passed
    assert stack.deliver(body_a, "inv-9501") == 202  # Zendesk's retry rings again
    settle_within_bound(zendesk, stack, accepted)

    stack.kill("web")
    crashing = stack.start_web(module="tests.crashing_web", name="crashing-web")
    body_b = ticket(zendesk, 9502)
    with pytest.raises(requests.ConnectionError):
        stack.deliver(body_b, "inv-9502")
    accepted = {9502: time.monotonic()}
    stack.start_beat()  # no redelivery this time: the sweep finds the run
    settle_within_bound(zendesk, stack, accepted)
    time.sleep(3)
    assert [assert_exactly_one_outcome(zendesk, t) for t in (9501, 9502)] == ["note", "note"]
    runs = runs_of(schema.url())
    assert runs["9502"].recoveries >= 1 and runs["9501"].recoveries == 0


def test_a_ticket_that_never_succeeds_ends_in_ai_failed_within_the_bound(services, zendesk):
    """Zendesk refuses every write of the bot's note with 503 but lets the failure note
    through after: the ticket ends with `ai_failed` and one note, within the bound."""
    make, schema, _ = services
    stack = make()
    stack.start_web()
    stack.start_worker(pool="threads", concurrency=2)
    stack.start_beat()
    body = ticket(zendesk, 9601)
    zendesk.fail_next("PUT", r"/api/v2/tickets/9601", 503, headers={"Retry-After": "0"}, times=6)
    assert stack.deliver(body, "inv-9601") == 202
    settle_within_bound(zendesk, stack, {9601: time.monotonic()})
    time.sleep(2)
    assert assert_exactly_one_outcome(zendesk, 9601) == "ai_failed"
    run = runs_of(schema.url())["9601"]
    assert run.status == RunStatus.FAILED and run.failure_noted_at is not None
