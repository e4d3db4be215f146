"""The Celery tasks are thin: an attempt's outcome becomes a broker retry, nothing more."""

from __future__ import annotations

import pytest

import tasks
from bot.attempt import Outcome


class Retried(Exception):
    def __init__(self, countdown):
        self.countdown = countdown


@pytest.fixture
def task(monkeypatch):
    # The Celery app reads its settings from the environment when first configured.
    monkeypatch.setenv("HELPDESK", "sample")
    monkeypatch.setenv("ZENDESK_WEBHOOK_SECRET", "s")
    monkeypatch.setattr(tasks, "get_worker", lambda: "worker")
    monkeypatch.setattr(tasks.process_ticket, "retry",
                        lambda exc=None, countdown=None, **_: Retried(countdown))
    tasks.process_ticket.push_request(retries=0, id="task-1")
    yield tasks.process_ticket
    tasks.process_ticket.pop_request()


@pytest.mark.parametrize("outcome, retried", [
    (Outcome("succeeded"), None),
    (Outcome("retrying", retry_in=7.5), 7.5),
    (Outcome("held", retry_in=151.0), 151.0),
    (Outcome("retrying", retry_in=None), None),  # a long wait: the sweep rings, not the broker
])
def test_the_task_turns_an_outcome_into_a_broker_retry(task, monkeypatch, outcome, retried):
    calls = []
    monkeypatch.setattr("bot.attempt.attempt", lambda run_id, worker: calls.append(run_id) or outcome)
    if retried is None:
        assert task.run(42) == outcome.status
    else:
        with pytest.raises(Retried) as raised:
            task.run(42)
        assert raised.value.countdown == retried
    assert calls == [42]
