"""The Celery app's configuration, and the one enqueue the web tier performs.

The web tier never imports task code: it sends by task name, so the web process stays small and
a broken task module cannot take webhooks down with it.
"""

from __future__ import annotations

from celery import Celery

from bot.db import ensure_sqlite_folder
from bot.errors import RetryableError
from bot.settings import Settings

PROCESS_TICKET = "tasks.process_ticket"
SYNC_KNOWLEDGE = "tasks.sync_knowledge"
SWEEP_RUNS = "tasks.sweep_runs"
TRACK_TICKET = "tasks.track_ticket"
FOLLOW_TICKETS = "tasks.follow_tickets"
QUEUE = "triage"


def configure(app: Celery, settings: Settings) -> Celery:
    ensure_sqlite_folder(settings.broker_url)
    app.conf.update(
        broker_url=settings.broker_url,
        task_default_queue=QUEUE,
        task_ignore_result=True,  # results live in the runs table, not in a result backend
        # A message is acknowledged only once its task has finished: a worker that dies
        # mid-run leaves it on the queue for another worker (the run's lease guards reruns).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        broker_transport_options=_transport_options(settings),
        worker_hijack_root_logger=False,
        # The pipeline bounds its own work (`bot.pipeline.Budget`), which is what holds with the
        # threads pool the Procfile runs; under prefork, Celery also kills a child that outlives
        # its lease by more than a minute (Celery's time limits need prefork).
        task_time_limit=settings.lease_seconds + 60,
        beat_schedule=_beat_schedule(settings),
    )
    return app


def _beat_schedule(settings: Settings) -> dict:
    """`celery -A tasks beat`: the sweep for stuck runs, and the knowledge-base sync."""
    schedule = {
        "sweep-runs": {
            "task": SWEEP_RUNS,
            "schedule": settings.sweep_interval,
            # A sweep still waiting when the next one is due is dropped, not stacked up.
            "options": {"queue": QUEUE, "expires": settings.sweep_interval},
        },
        # Review and tracking (`bot.tracking`): reviews a crash left unmade, and the followed
        # tickets whose read is due (an event came, a periodic check, a review SLA).
        "follow-tickets": {
            "task": FOLLOW_TICKETS,
            "schedule": settings.sweep_interval,
            "options": {"queue": QUEUE, "expires": settings.sweep_interval},
        },
    }
    if settings.kb_sources and settings.kb_sync_interval > 0:
        schedule["sync-knowledge"] = {
            "task": SYNC_KNOWLEDGE,
            "schedule": float(settings.kb_sync_interval),
            "options": {"queue": QUEUE, "expires": float(settings.kb_sync_interval)},
        }
    return schedule


def _transport_options(settings: Settings) -> dict:
    if settings.broker_url.startswith(("redis://", "rediss://")):
        return {
            # How long a message a worker took waits before Redis delivers it again (the worker
            # died): longer than any attempt and any countdown we ask for, both at most a lease.
            # https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#visibility-timeout
            "visibility_timeout": settings.visibility_timeout,
            "socket_connect_timeout": 3,
            "socket_timeout": 10,
        }
    # Kombu's SQLAlchemy transport passes every option to create_engine(): give it none.
    return {}


def make_celery(settings: Settings) -> Celery:
    return configure(Celery("bot"), settings)


class Enqueuer:
    def __init__(self, app: Celery):
        self.app = app

    def process_ticket(self, run_id: int, countdown: float = 0.0) -> None:
        """Send the task (to start `countdown` seconds from now), or raise `RetryableError`
        quickly when the broker is unreachable.

        Celery would otherwise retry the connection for a long time inside the request;
        Zendesk gives up after 12 s and Intercom after 5 s, so we answer 503 and let the
        helpdesk retry the delivery.
        """
        try:
            self.app.send_task(
                PROCESS_TICKET,
                args=[run_id],
                countdown=countdown or None,
                queue=QUEUE,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
            )
        except Exception as exc:  # whatever the transport raises, the answer is "retry later"
            raise RetryableError(f"broker unreachable: {type(exc).__name__}: {exc}") from exc

    def track_ticket(self, helpdesk: str, ticket_id: str) -> None:
        """Send the tracker's read of one ticket; `RetryableError` when the broker is down."""
        try:
            self.app.send_task(
                TRACK_TICKET,
                args=[helpdesk, ticket_id],
                queue=QUEUE,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
            )
        except Exception as exc:
            raise RetryableError(f"broker unreachable: {type(exc).__name__}: {exc}") from exc

    def ping(self) -> None:
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=3)
        except Exception as exc:
            raise RetryableError(f"broker unreachable: {type(exc).__name__}: {exc}") from exc
