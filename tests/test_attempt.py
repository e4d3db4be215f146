"""One attempt at a run (`bot.attempt`): the one layer that retries or gives up, over a real
store on both databases. Attempts are counted in the store, so they survive crashes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.attempt import STORE_RETRY_SECONDS, attempt, retry_delay
from bot.db.models import utcnow
from bot.domain import TicketEvent
from bot.errors import PermanentError, RetryableError
from bot.helpdesks.sample import SampleHelpdesk
from bot.llm import make_llm
from bot.pipeline import Worker
from bot.policy import load_policy
from bot.prompts import load_prompts
from bot.settings import Settings
from bot.store import Store
from bot.vocabulary import BotTag, RunStatus
from tests.conftest import policy_in_mode

SAMPLE = {
    "users": [{"id": "1", "name": "Ada", "tags": [], "fields": {}}],
    "tickets": [{"id": "10", "subject": "Charged twice", "description": "I was charged twice.",
                 "requester_id": "1", "tags": ["web"], "created_at": "2026-11-20T10:00:00Z"}],
}


class FlakyHelpdesk(SampleHelpdesk):
    """Fails the full read with a scripted error; the failure note's path still works."""

    def __init__(self, data, error):
        super().__init__(data)
        self.error = error

    def fetch(self, ticket_id, history_limit, conversation=False):
        raise self.error


@pytest.fixture
def make_worker(store, tmp_path):
    sample_file = tmp_path / "sample.json"
    sample_file.write_text(json.dumps(SAMPLE))

    def build(error=None, **env):
        settings = Settings.from_env({"HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": "s",
                                      "SAMPLE_HELPDESK_FILE": str(sample_file), "POLICY_FILE": policy_in_mode("draft"),
                                      "TASK_MAX_RETRIES": "3", "TASK_RETRY_BASE": "10", **env})
        helpdesk = FlakyHelpdesk(SAMPLE, error) if error else SampleHelpdesk(SAMPLE)
        return Worker(helpdesks={"zendesk": helpdesk}, llm=make_llm("offline", offline_config=settings.offline_config),
                      store=store, policy=load_policy(settings.policy_file),
                      prompts=load_prompts(settings.prompts_dir), settings=settings)

    return build


def accept(store) -> int:
    return store.accept(TicketEvent("zendesk", "created", "10")).run_id


def test_success_returns_the_run_status(make_worker):
    worker = make_worker()
    run_id = accept(worker.store)
    assert attempt(run_id, worker).status == RunStatus.SUCCEEDED
    assert worker.helpdesks["zendesk"].published[0]["ticket"]["comment"]["public"] is False
    assert attempt(run_id, worker).status == "not claimed"  # redelivered after success: dropped


def test_vendor_retry_after_is_honoured_and_recorded_in_the_store(make_worker):
    worker = make_worker(RetryableError("Zendesk rate limit (429)", retry_after=7))
    run_id = accept(worker.store)
    before = utcnow()
    outcome = attempt(run_id, worker)
    assert outcome.status == "retrying" and 7 <= outcome.retry_in <= 8
    run = worker.store.get(run_id)
    assert run.status == RunStatus.RETRYING and "429" in run.error
    # Due when the broker's countdown ends: if that message is lost, the sweep knows when.
    assert before + timedelta(seconds=7) <= run.due_at <= utcnow() + timedelta(seconds=8)
    assert worker.helpdesks["zendesk"].published == []


def test_backoff_grows_exponentially_with_jitter_counted_from_the_store(make_worker):
    worker = make_worker(RetryableError("Zendesk answered 503"))
    run_id = accept(worker.store)
    for attempts, ceiling in ((1, 10), (2, 20), (3, 40)):
        outcome = attempt(run_id, worker)
        assert outcome.status == "retrying" and 5 <= outcome.retry_in <= ceiling
        assert worker.store.get(run_id).attempts == attempts


def test_a_long_wait_is_left_to_the_sweep_not_the_broker(make_worker):
    worker = make_worker(RetryableError("Zendesk rate limit (429)", retry_after=400))
    run_id = accept(worker.store)
    outcome = attempt(run_id, worker)
    assert outcome.status == "retrying" and outcome.retry_in is None  # 400 s > one lease
    assert worker.store.get(run_id).due_at > utcnow() + timedelta(seconds=390)


def test_exhausted_retries_fail_the_run_with_a_visible_note(make_worker):
    worker = make_worker(RetryableError("Zendesk answered 503"))
    run_id = accept(worker.store)
    outcomes = [attempt(run_id, worker).status for _ in range(4)]
    assert outcomes == ["retrying", "retrying", "retrying", "failed"]  # TASK_MAX_RETRIES=3
    run = worker.store.get(run_id)
    assert run.status == RunStatus.FAILED and "gave up after 4 attempts" in run.error
    assert run.failure_noted_at is not None
    (update,) = worker.helpdesks["zendesk"].published
    assert BotTag.FAILED in update["ticket"]["tags"] and "web" in update["ticket"]["tags"]
    assert update["ticket"]["comment"]["public"] is False
    assert "Zendesk answered 503" in update["ticket"]["comment"]["body"]
    assert "priority" not in update["ticket"] and "group_id" not in update["ticket"]


def test_a_retry_that_would_land_after_the_deadline_gives_up_now(make_worker):
    worker = make_worker(RetryableError("Zendesk rate limit (429)", retry_after=600),
                         RUN_DEADLINE="600", TASK_RETRY_MAX="900")
    run_id = accept(worker.store)
    outcome = attempt(run_id, worker)
    assert outcome.status == "failed"
    assert "after RUN_DEADLINE" in worker.store.get(run_id).error


def test_permanent_error_fails_at_once(make_worker):
    worker = make_worker(PermanentError("GET ticket 10: not found in Zendesk (404)"))
    run_id = accept(worker.store)
    assert attempt(run_id, worker).status == "failed"
    assert worker.store.get(run_id).status == RunStatus.FAILED
    assert "404" in worker.helpdesks["zendesk"].published[0]["ticket"]["comment"]["body"]


def test_a_bug_fails_visibly_instead_of_hanging(make_worker):
    worker = make_worker(KeyError("detail"))
    run_id = accept(worker.store)
    assert attempt(run_id, worker).status == "failed"
    run = worker.store.get(run_id)
    assert run.status == RunStatus.FAILED and run.error.startswith("internal error: KeyError")
    assert worker.helpdesks["zendesk"].published  # visible in the helpdesk too


def test_a_redelivered_task_finding_a_live_lease_looks_again_after_it(make_worker):
    """A killed pool process's message comes back at once, while its lease still runs."""
    worker = make_worker()
    run_id = accept(worker.store)
    claim = worker.store.claim(run_id, lease_seconds=worker.settings.lease_seconds)
    outcome = attempt(run_id, worker)
    assert outcome.status == "held" and worker.helpdesks["zendesk"].published == []
    remaining = (claim.lease_expires_at - utcnow()).total_seconds()
    assert remaining < outcome.retry_in <= remaining + 2.5
    # Once the lease has ended, the next look takes the run and finishes it.
    worker.store.hold_until(run_id, claim.token, utcnow() - timedelta(seconds=1))
    assert attempt(run_id, worker).status == RunStatus.SUCCEEDED
    assert worker.store.get(run_id).attempts == 2 and len(worker.helpdesks["zendesk"].published) == 1


def test_an_attempt_past_the_run_deadline_fails_the_run_visibly(make_worker):
    worker = make_worker(RUN_DEADLINE="300")
    run_id = accept(worker.store)
    worker.clock = lambda: datetime.now(UTC) + timedelta(seconds=301)
    assert attempt(run_id, worker).status == "failed"
    assert "not processed within RUN_DEADLINE (300 s)" in worker.store.get(run_id).error
    assert BotTag.FAILED in worker.helpdesks["zendesk"].published[0]["ticket"]["tags"]


def test_an_attempt_stops_at_its_time_limit_and_the_next_goes_on(make_worker):
    """Between steps, an attempt past TASK_TIME_LIMIT stops (retryable); nothing is written."""
    worker = make_worker()
    run_id = accept(worker.store)
    elapsed = [0.0]
    start = utcnow()
    worker.clock = lambda: start + timedelta(seconds=elapsed[0])

    class SlowHelpdesk(SampleHelpdesk):
        def fetch(self, ticket_id, history_limit, conversation=False):
            elapsed[0] += 200  # the read took longer than TASK_TIME_LIMIT (120 s)
            return super().fetch(ticket_id, history_limit)

    worker.helpdesks = {"zendesk": SlowHelpdesk(SAMPLE)}
    outcome = attempt(run_id, worker)
    assert outcome.status == "retrying" and worker.helpdesks["zendesk"].published == []
    assert "out of time before triage" in worker.store.get(run_id).error
    worker.helpdesks, worker.clock = {"zendesk": SampleHelpdesk(SAMPLE)}, lambda: datetime.now(UTC)
    assert attempt(run_id, worker).status == RunStatus.SUCCEEDED


def test_the_database_down_is_retried_by_the_broker_and_recovered_by_the_lease(make_worker, store):
    worker = make_worker()
    run_id = accept(worker.store)
    from bot.db import make_engine

    worker.store = Store(make_engine("postgresql://postgres@127.0.0.1:1/test"))  # nothing there
    outcome = attempt(run_id, worker)
    assert outcome.status == "store unavailable"
    assert STORE_RETRY_SECONDS <= outcome.retry_in <= STORE_RETRY_SECONDS + 1
    worker.store = store
    assert attempt(run_id, worker).status == RunStatus.SUCCEEDED


def test_the_database_lost_mid_attempt_leaves_the_run_to_its_lease(make_worker, store):
    """The store fails after the claim: no give-up that would fail again, the lease covers it."""
    worker = make_worker()
    run_id = accept(worker.store)

    class StoreDownAfterClaim(Store):
        def save_output(self, *args, **kwargs):
            from sqlalchemy.exc import OperationalError

            raise OperationalError("UPDATE runs", {}, Exception("server closed the connection"))

    worker.store = StoreDownAfterClaim(store.engine)
    outcome = attempt(run_id, worker)
    assert outcome.status == "store unavailable" and outcome.retry_in is not None
    run = store.get(run_id)
    assert run.status == RunStatus.RUNNING and run.lease_expires_at is not None
    assert worker.helpdesks["zendesk"].published == []


def test_retry_delay_bounds():
    assert retry_delay(0, base=10, cap=600, retry_after=None) <= 10
    assert 5 <= retry_delay(6, base=10, cap=600, retry_after=None) <= 600
    assert 600 <= retry_delay(0, base=10, cap=600, retry_after=3600) <= 601
