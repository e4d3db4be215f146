"""The sweep (`bot.recovery`): stuck runs are re-enqueued a bounded number of times, then failed
visibly; overdue runs are failed; owed failure notes are posted. Real store, both databases."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.db.models import utcnow
from bot.domain import TicketEvent
from bot.helpdesks.sample import SampleHelpdesk
from bot.llm import make_llm
from bot.pipeline import Worker
from bot.policy import load_policy
from bot.prompts import load_prompts
from bot.recovery import sweep
from bot.settings import Settings
from bot.store import Store
from bot.vocabulary import BotTag, RunStatus
from tests.conftest import policy_in_mode

SAMPLE = {
    "users": [{"id": "1", "name": "Ada"}],
    "tickets": [{"id": str(n), "subject": "Charged twice", "description": "I was charged twice.",
                 "requester_id": "1", "tags": ["web"], "created_at": "2026-11-20T10:00:00Z"}
                for n in range(1, 6)],
}


class DownHelpdesk(SampleHelpdesk):
    def fetch_ticket(self, ticket_id):
        from bot.errors import RetryableError

        raise RetryableError("Zendesk answered 503")


@pytest.fixture
def worker(store, tmp_path):
    sample_file = tmp_path / "sample.json"
    sample_file.write_text(json.dumps(SAMPLE))
    settings = Settings.from_env({"HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": "s",
                                  "SAMPLE_HELPDESK_FILE": str(sample_file), "POLICY_FILE": policy_in_mode("draft"),
                                  "RECOVERY_AFTER": "120", "RECOVERY_TRIES": "2",
                                  "RUN_DEADLINE": "900", "SWEEP_INTERVAL": "60"})
    return Worker(helpdesks={"zendesk": SampleHelpdesk(SAMPLE)},
                  llm=make_llm("offline", offline_config=settings.offline_config),
                  store=Store(store.engine, recovery_after=settings.recovery_after),
                  policy=load_policy(settings.policy_file), prompts=load_prompts(settings.prompts_dir),
                  settings=settings)


def accept(worker, ticket_id: str) -> int:
    return worker.store.accept(TicketEvent("zendesk", "created", ticket_id)).run_id


def at(worker, seconds: float) -> None:
    """Move the worker's clock to `seconds` from now."""
    moment = utcnow() + timedelta(seconds=seconds)
    worker.clock = lambda: moment


def test_a_lost_message_is_re_enqueued_then_the_run_fails_visibly_after_its_tries(worker):
    run_id = accept(worker, "1")
    sent: list[int] = []
    at(worker, 60)
    assert sweep(worker, sent.append).requeued == []  # not stuck yet: RECOVERY_AFTER is 120 s
    at(worker, 130)
    assert sweep(worker, sent.append).requeued == [run_id] and sent == [run_id]
    assert sweep(worker, sent.append).requeued == []  # just rung again: not stuck
    at(worker, 260)
    assert sweep(worker, sent.append).requeued == [run_id]
    run = worker.store.get(run_id)
    assert run.recoveries == 2 and run.status == RunStatus.QUEUED
    at(worker, 390)  # RECOVERY_TRIES (2) used and still nobody took it: fail, visibly
    report = sweep(worker, sent.append)
    assert report.failed == [run_id] and report.noted == [run_id] and sent == [run_id, run_id]
    run = worker.store.get(run_id)
    assert run.status == RunStatus.FAILED and "stuck after 2 recoveries" in run.error
    (update,) = worker.helpdesks["zendesk"].published
    assert BotTag.FAILED in update["ticket"]["tags"] and "stuck after 2" in update["ticket"]["comment"]["body"]


def test_a_dead_workers_run_is_re_enqueued_once_its_lease_ends(worker):
    run_id = accept(worker, "2")
    claim = worker.store.claim(run_id, lease_seconds=worker.settings.lease_seconds)
    sent: list[int] = []
    at(worker, worker.settings.lease_seconds - 5)
    assert sweep(worker, sent.append).requeued == []  # the lease still holds it
    at(worker, worker.settings.lease_seconds + 5)
    assert sweep(worker, sent.append).requeued == [run_id]
    run = worker.store.get(run_id)
    assert (run.status, run.attempts, run.lease_expires_at) == (RunStatus.QUEUED, claim.token, None)


def test_a_run_past_its_deadline_fails_even_if_it_was_just_re_enqueued(worker):
    run_id = accept(worker, "3")
    at(worker, 901)
    report = sweep(worker, lambda _: None)
    assert report.failed == [run_id] and report.requeued == []
    assert "not processed within RUN_DEADLINE (900 s)" in worker.store.get(run_id).error


def test_a_retry_whose_message_was_lost_is_rung_once_it_is_overdue(worker):
    run_id = accept(worker, "4")
    worker.store.claim(run_id, lease_seconds=60)
    worker.store.schedule_retry(run_id, 1, "Zendesk answered 503", utcnow() + timedelta(seconds=300))
    sent: list[int] = []
    at(worker, 300 + 60)
    assert sweep(worker, sent.append).requeued == []  # due, but its own countdown may still ring
    at(worker, 300 + 121)
    assert sweep(worker, sent.append).requeued == [run_id]


def test_a_failure_note_the_helpdesk_refused_is_posted_by_a_later_sweep(worker):
    run_id = accept(worker, "5")
    worker.store.claim(run_id, lease_seconds=60)
    worker.store.fail(run_id, "Zendesk answered 503 (gave up after 6 attempts)", token=1)
    helpdesk = worker.helpdesks["zendesk"]
    worker.helpdesks = {"zendesk": DownHelpdesk(SAMPLE)}
    at(worker, 61)
    assert sweep(worker, lambda _: None).noted == []
    assert worker.store.get(run_id).failure_noted_at is None
    worker.helpdesks = {"zendesk": helpdesk}
    at(worker, 120)
    assert sweep(worker, lambda _: None).noted == [run_id]
    assert worker.store.get(run_id).failure_noted_at is not None
    assert len(helpdesk.published) == 1
    at(worker, 180)
    assert sweep(worker, lambda _: None).noted == []  # once


def test_a_broker_that_refuses_the_enqueue_leaves_the_run_due_for_the_next_sweep(worker):
    run_id = accept(worker, "1")

    def broker_down(_run_id):
        raise ConnectionError("broker unreachable")

    at(worker, 130)
    assert sweep(worker, broker_down).requeued == []
    run = worker.store.get(run_id)
    assert run.status == RunStatus.QUEUED and run.recoveries == 1
    sent: list[int] = []
    at(worker, 260)
    assert sweep(worker, sent.append).requeued == [run_id]
