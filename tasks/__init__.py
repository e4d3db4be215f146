"""The Celery app (`celery -A tasks worker`) and its tasks. Thin: ids in, plain functions called.

Configuration is read when Celery first needs it (worker start-up), not at import time.
"""

from __future__ import annotations

import logging
import sys
import threading

from celery import Celery, signals

from bot.queue import (
    FOLLOW_TICKETS,
    PROCESS_TICKET,
    SWEEP_RUNS,
    SYNC_KNOWLEDGE,
    TRACK_TICKET,
    Enqueuer,
    configure,
)

log = logging.getLogger(__name__)


def _settings_or_exit():
    """The settings, or one readable message and exit 1 (not Celery's traceback)."""
    from bot.errors import SettingsError
    from bot.settings import Settings

    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(1) from None


class BotCelery(Celery):
    def on_configure(self) -> None:
        configure(self, _settings_or_exit())


app = BotCelery("tasks")
_worker = None
_worker_lock = threading.Lock()  # the threads pool may start several tasks at once


@signals.setup_logging.connect
def _logging(**_kwargs) -> None:
    """The worker and beat log like the web process (LOG_FORMAT, LOG_LEVEL): connecting this
    signal keeps Celery from configuring logging its own way.
    https://docs.celeryq.dev/en/stable/userguide/signals.html#setup-logging"""
    from bot.logs import configure_logging

    settings = _settings_or_exit()
    configure_logging(settings.log_format, settings.log_level)


@signals.worker_init.connect
def _check_configuration(**_kwargs) -> None:
    """Fail at start-up, not at the first ticket, on bad settings, policy or prompts."""
    from bot.errors import SettingsError
    from bot.runtime import check_configuration

    try:
        check_configuration(_settings_or_exit())
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(1) from None


def get_worker():
    """The pipeline's dependencies, built once per worker process on first use."""
    global _worker
    with _worker_lock:
        if _worker is None:
            from bot.runtime import build_worker
            from bot.settings import Settings

            _worker = build_worker(Settings.from_env())
    return _worker


@app.task(name=PROCESS_TICKET, bind=True, acks_late=True, max_retries=None)
def process_ticket(self, run_id: int) -> str:
    """One attempt at a run (`bot.attempt`); the broker rings again when the outcome asks."""
    from bot.attempt import attempt

    outcome = attempt(run_id, get_worker())
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@app.task(name=SWEEP_RUNS, ignore_result=True)
def sweep_runs() -> dict:
    """Scheduled by beat every SWEEP_INTERVAL seconds: re-enqueue or fail stuck runs
    (`bot.recovery`). Not retried: the next sweep reads the store afresh."""
    from bot.recovery import sweep

    report = sweep(get_worker(), enqueue=Enqueuer(app).process_ticket)
    return report.as_dict()


@app.task(name=SYNC_KNOWLEDGE, ignore_result=True)
def sync_knowledge(full: bool = False) -> dict:
    """Scheduled by beat. Not retried: the next scheduled run picks up where this one stopped
    (each page's cursor is saved), and the failure is kept per source (`kb status`)."""
    from bot.kb.sources import make_sources
    from bot.kb.sync import run_sync

    worker = get_worker()
    outcome = run_sync(make_sources(worker.settings), worker.knowledge.store, full=full)
    for error in outcome.errors:  # a desk without a help center is not among them: logged once
        log.warning("knowledge sync failed: %s", error)
    return {"synced": [r.as_dict() for r in outcome.reports], "errors": outcome.errors}


@app.task(name=TRACK_TICKET, ignore_result=True)
def track_ticket(helpdesk: str, ticket_id: str) -> str:
    """Read one followed ticket's history and record what became of its drafts
    (`bot.tracking.tracker`). Not retried: a failed read is due again at a later sweep."""
    from bot.tracking.tracker import track

    enqueuer = Enqueuer(app)
    return track(get_worker(), helpdesk, ticket_id,
                 enqueue=lambda run_id, delay: enqueuer.process_ticket(run_id, countdown=delay)).outcome


@app.task(name=FOLLOW_TICKETS, ignore_result=True)
def follow_tickets() -> dict:
    """Scheduled by beat every SWEEP_INTERVAL: reviews a crash left unmade, and a read of
    every followed ticket that is due (`bot.tracking.follow`)."""
    from bot.tracking.follow import follow_up_sweep

    return follow_up_sweep(get_worker(), track=Enqueuer(app).track_ticket).as_dict()
