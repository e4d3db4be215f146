"""The Celery app's configuration, and the one enqueue the web tier performs.

The web tier never imports task code: it sends by task name, so the web process stays small and
a broken task module cannot take webhooks down with it.
"""

from __future__ import annotations

from celery import Celery

from bot.errors import RetryableError
from bot.settings import Settings

PROCESS_TICKET = "tasks.process_ticket"
SYNC_KNOWLEDGE = "tasks.sync_knowledge"
QUEUE = "triage"


def configure(app: Celery, settings: Settings) -> Celery:
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
        broker_transport_options=_transport_options(settings.broker_url),
        worker_hijack_root_logger=False,
        beat_schedule=_beat_schedule(settings),
    )
    return app


def _beat_schedule(settings: Settings) -> dict:
    """`celery -A tasks beat` keeps the knowledge base fresh: every KB_SYNC_INTERVAL seconds."""
    if not (settings.kb_sources and settings.kb_sync_interval > 0):
        return {}
    return {
        "sync-knowledge": {
            "task": SYNC_KNOWLEDGE,
            "schedule": float(settings.kb_sync_interval),
            # A sync still waiting when the next one is due is dropped, not stacked up.
            "options": {"queue": QUEUE, "expires": float(settings.kb_sync_interval)},
        }
    }


def _transport_options(broker_url: str) -> dict:
    if broker_url.startswith(("redis://", "rediss://")):
        return {
            # How long an unacknowledged message waits before redelivery: longer than any task,
            # retries' countdowns included (the worker holds those messages meanwhile).
            "visibility_timeout": 3600,
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

    def process_ticket(self, run_id: int) -> None:
        """Send the task, or raise `RetryableError` quickly when the broker is unreachable.

        Celery would otherwise retry the connection for a long time inside the request;
        Zendesk gives up after 12 s, so we answer 503 and let Zendesk retry the delivery.
        """
        try:
            self.app.send_task(
                PROCESS_TICKET,
                args=[run_id],
                queue=QUEUE,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
            )
        except Exception as exc:  # whatever the transport raises, the answer is "retry later"
            raise RetryableError(f"broker unreachable: {type(exc).__name__}: {exc}") from exc

    def ping(self) -> None:
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=3)
        except Exception as exc:
            raise RetryableError(f"broker unreachable: {type(exc).__name__}: {exc}") from exc
