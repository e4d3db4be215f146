"""The Celery task: the one layer that retries, and makes exhausted retries visible."""

from __future__ import annotations

import json

import pytest

import tasks
from bot.db.models import RunStatus
from bot.domain import TicketEvent
from bot.errors import PermanentError, RetryableError
from bot.helpdesk.sample import SampleHelpdesk
from bot.llm import make_llm
from bot.pipeline import FAILED_TAG, Worker
from bot.policy import load_policy
from bot.prompts import load_prompts
from bot.settings import Settings

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

    def fetch(self, ticket_id, history_limit):
        raise self.error


class Retried(Exception):
    def __init__(self, countdown):
        self.countdown = countdown


@pytest.fixture(autouse=True)
def celery_settings(monkeypatch):
    """The Celery app reads its settings from the environment when first configured."""
    monkeypatch.setenv("HELPDESK", "sample")
    monkeypatch.setenv("ZENDESK_WEBHOOK_SECRET", "s")


@pytest.fixture
def make_worker(store, monkeypatch, tmp_path):
    sample_file = tmp_path / "sample.json"
    sample_file.write_text(json.dumps(SAMPLE))
    settings = Settings.from_env({"HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": "s",
                                  "SAMPLE_HELPDESK_FILE": str(sample_file),
                                  "TASK_MAX_RETRIES": "3", "TASK_RETRY_BASE": "10"})

    def build(error=None):
        helpdesk = FlakyHelpdesk(SAMPLE, error) if error else SampleHelpdesk(SAMPLE)
        worker = Worker(helpdesk=helpdesk, llm=make_llm("offline", offline_config=settings.offline_config),
                        store=store, policy=load_policy(settings.policy_file),
                        prompts=load_prompts(settings.prompts_dir), settings=settings)
        monkeypatch.setattr(tasks, "get_worker", lambda: worker)
        return worker

    return build


@pytest.fixture
def retry_spy(monkeypatch):
    def fake_retry(exc=None, countdown=None, **_):
        return Retried(countdown)

    monkeypatch.setattr(tasks.process_ticket, "retry", fake_retry)


def run_task(run_id: int, retries: int = 0):
    tasks.process_ticket.push_request(retries=retries, id=f"task-{run_id}-{retries}")
    try:
        return tasks.process_ticket.run(run_id)
    finally:
        tasks.process_ticket.pop_request()


def accept(store) -> int:
    return store.accept(TicketEvent("sample", "created", "10")).run_id


def test_success_returns_the_run_status(make_worker):
    worker = make_worker()
    run_id = accept(worker.store)
    assert run_task(run_id) == RunStatus.SUCCEEDED
    assert worker.helpdesk.published[0]["ticket"]["comment"]["public"] is False


def test_vendor_retry_after_is_honoured(make_worker, retry_spy):
    worker = make_worker(RetryableError("Zendesk rate limit (429)", retry_after=7))
    run_id = accept(worker.store)
    with pytest.raises(Retried) as retried:
        run_task(run_id)
    assert 7 <= retried.value.countdown <= 8  # the vendor's wait, plus under a second of jitter
    run = worker.store.get(run_id)
    assert run.status == RunStatus.RETRYING and "429" in run.error
    assert worker.helpdesk.published == []


def test_backoff_grows_exponentially_with_jitter(make_worker, retry_spy):
    worker = make_worker(RetryableError("Zendesk answered 503"))
    run_id = accept(worker.store)
    for retries, ceiling in ((0, 10), (1, 20), (2, 40)):
        with pytest.raises(Retried) as retried:
            run_task(run_id, retries=retries)
        assert 5 <= retried.value.countdown <= ceiling


def test_exhausted_retries_fail_the_run_with_a_visible_note(make_worker, retry_spy):
    worker = make_worker(RetryableError("Zendesk answered 503"))
    run_id = accept(worker.store)
    assert run_task(run_id, retries=3) == "failed"
    run = worker.store.get(run_id)
    assert run.status == RunStatus.FAILED and "gave up after 4 attempts" in run.error
    (update,) = worker.helpdesk.published
    assert FAILED_TAG in update["ticket"]["tags"] and "web" in update["ticket"]["tags"]
    assert update["ticket"]["comment"]["public"] is False
    assert "Zendesk answered 503" in update["ticket"]["comment"]["body"]
    assert "priority" not in update["ticket"] and "group_id" not in update["ticket"]


def test_permanent_error_fails_at_once(make_worker, retry_spy):
    worker = make_worker(PermanentError("GET ticket 10: not found in Zendesk (404)"))
    run_id = accept(worker.store)
    assert run_task(run_id) == "failed"
    assert worker.store.get(run_id).status == RunStatus.FAILED
    assert "404" in worker.helpdesk.published[0]["ticket"]["comment"]["body"]


def test_a_bug_fails_visibly_instead_of_hanging(make_worker, retry_spy):
    worker = make_worker(KeyError("detail"))
    run_id = accept(worker.store)
    assert run_task(run_id) == "failed"
    run = worker.store.get(run_id)
    assert run.status == RunStatus.FAILED and run.error.startswith("internal error: KeyError")


def test_retry_delay_bounds():
    assert tasks.retry_delay(0, base=10, cap=600, retry_after=None) <= 10
    assert 5 <= tasks.retry_delay(6, base=10, cap=600, retry_after=None) <= 600
    assert 600 <= tasks.retry_delay(0, base=10, cap=600, retry_after=3600) <= 601
