"""The Celery app (`celery -A tasks worker`) and its one task. Thin: ids in, pipeline called.

Configuration is read when Celery first needs it (worker start-up), not at import time.
"""

from __future__ import annotations

import logging
import random
import threading

from celery import Celery, signals

from bot.errors import PermanentError, RetryableError
from bot.queue import PROCESS_TICKET, SYNC_KNOWLEDGE, configure

log = logging.getLogger(__name__)


class BotCelery(Celery):
    def on_configure(self) -> None:
        from bot.settings import Settings

        configure(self, Settings.from_env())


app = BotCelery("tasks")
_worker = None
_worker_lock = threading.Lock()  # the threads pool may start several tasks at once


@signals.worker_init.connect
def _check_configuration(**_kwargs) -> None:
    """Fail at start-up, not at the first ticket, on bad settings, policy or prompts."""
    from bot.runtime import check_configuration
    from bot.settings import Settings

    check_configuration(Settings.from_env())


def get_worker():
    """The pipeline's dependencies, built once per worker process on first use."""
    global _worker
    with _worker_lock:
        if _worker is None:
            from bot.runtime import build_worker
            from bot.settings import Settings

            _worker = build_worker(Settings.from_env())
    return _worker


def retry_delay(retries: int, base: float, cap: float, retry_after: float | None) -> float:
    """What the vendor asked for (plus < 1 s, so retries don't arrive in lockstep), or else
    exponential backoff with jitter: anywhere between half the base and base * 2**retries."""
    if retry_after is not None:
        return min(retry_after, cap) + random.uniform(0, 1)
    return random.uniform(base / 2, min(cap, base * (2**retries)))


@app.task(name=PROCESS_TICKET, bind=True, acks_late=True, max_retries=None)
def process_ticket(self, run_id: int) -> str:
    from bot.pipeline import give_up, process_run

    worker = get_worker()
    settings = worker.settings
    try:
        return process_run(run_id, worker)
    except RetryableError as exc:
        if self.request.retries >= settings.task_max_retries:
            give_up(run_id, worker, f"{exc} (gave up after {self.request.retries + 1} attempts)")
            return "failed"
        delay = retry_delay(
            self.request.retries, settings.task_retry_base, settings.task_retry_max, exc.retry_after
        )
        log.warning("run %s: %s; retrying in %.1f s", run_id, exc, delay)
        worker.store.release_for_retry(run_id, str(exc))
        raise self.retry(exc=exc, countdown=delay)
    except PermanentError as exc:
        give_up(run_id, worker, str(exc))
        return "failed"
    except Exception as exc:  # a bug: fail visibly rather than leave the run hanging
        log.exception("run %s: unexpected error", run_id)
        give_up(run_id, worker, f"internal error: {type(exc).__name__}: {exc}")
        return "failed"


@app.task(name=SYNC_KNOWLEDGE, ignore_result=True)
def sync_knowledge(full: bool = False) -> dict:
    """Scheduled by beat. Not retried: the next scheduled run picks up where this one stopped
    (each page's cursor is saved), and the failure is kept per source (`kb status`)."""
    from bot.kb.sources import make_sources
    from bot.kb.sync import sync_all

    worker = get_worker()
    store = worker.knowledge.store
    reports, errors = sync_all(make_sources(worker.settings), store, full=full)
    for error in errors:
        log.warning("knowledge sync failed: %s", error)
    return {"synced": [r.as_dict() for r in reports], "errors": errors}
