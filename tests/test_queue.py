"""The Celery configuration agrees with the recovery settings the README promises."""

from __future__ import annotations

from bot.queue import QUEUE, SWEEP_RUNS, make_celery
from bot.settings import Settings

SAMPLE = {"HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": "s"}


def test_beat_sweeps_for_stuck_runs_every_interval_and_drops_stale_sweeps():
    app = make_celery(Settings.from_env({**SAMPLE, "SWEEP_INTERVAL": "30"}))
    entry = app.conf.beat_schedule["sweep-runs"]
    assert (entry["task"], entry["schedule"]) == (SWEEP_RUNS, 30.0)
    assert entry["options"] == {"queue": QUEUE, "expires": 30.0}


def test_redis_gives_a_dead_worker_s_message_back_after_two_leases():
    settings = Settings.from_env({**SAMPLE, "REDIS_URL": "redis://127.0.0.1:6379/0",
                                  "TASK_TIME_LIMIT": "120", "ZENDESK_TIMEOUT": "20",
                                  "LLM_TIMEOUT": "30"})
    assert settings.lease_seconds == 150  # the attempt's limit plus its longest request
    app = make_celery(settings)
    assert app.conf.broker_transport_options["visibility_timeout"] == 300  # 5 minutes
    # The longest countdown the broker is asked to hold is one lease (bot.attempt), below it.
    assert app.conf.broker_transport_options["visibility_timeout"] > settings.lease_seconds
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.task_time_limit == settings.lease_seconds + 60  # prefork's last resort


def test_the_defaults_give_the_bound_the_readme_states():
    settings = Settings.from_env(SAMPLE)
    assert (settings.run_deadline, settings.step_timeout, settings.sweep_interval) == (900, 30, 60)
    assert settings.recovery_bound_seconds == 990  # 16.5 minutes: README, "Failures"


def test_the_sqlite_broker_gets_no_redis_options():
    assert make_celery(Settings.from_env(SAMPLE)).conf.broker_transport_options == {}
