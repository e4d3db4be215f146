"""`GET /metrics`, in Prometheus' text format (prometheus_client).

Two kinds of figures, because the web and worker processes are separate:
- The web tier's own, counted in the web process: webhooks by helpdesk and result, and how
  long answering them took.
- Everything the workers and the tracker do, read from the store at scrape time (the store is
  the source of truth, and it survives restarts). Counters only for what never goes down: runs
  that ended, by how; decisions, tokens and cost of ended runs; review actions taken. What is
  in flight (runs waiting or running, reviews pending) and what can change (ratings) are
  gauges: a "counter" that drops reads as a reset to Prometheus and fakes `rate()` spikes.
If the store cannot be read within a few seconds, the endpoint still answers, with
`bot_store_up 0`: a scrape must never hold a web thread that webhooks need.
https://prometheus.github.io/client_python/collector/custom/
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy import Integer, case, create_engine, func, select, text
from sqlalchemy.orm import Session

from bot.db.models import Review, Run, TrackedTicket
from bot.store import Store
from bot.vocabulary import RunStatus

log = logging.getLogger(__name__)

# Seconds; a run is a few reads, a model call or two and a write.
RUN_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_RESULTS = {401: "unauthorized", 400: "invalid", 404: "unknown_helpdesk", 411: "length_required",
            413: "too_large", 503: "unavailable"}


def install(app: Flask, store: Store) -> None:
    """The web tier's metrics on a registry of this app's own, and `GET /metrics`."""
    registry = CollectorRegistry()
    webhooks = Counter("bot_webhooks", "Webhook deliveries answered, by helpdesk and result",
                       ["helpdesk", "result"], registry=registry)
    seconds = Histogram("bot_webhook_seconds", "Time to answer a webhook delivery", ["helpdesk"],
                        registry=registry)
    registry.register(StoreCollector(store))
    app.extensions["metrics"] = registry

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        if request.endpoint != "webhooks.webhook" or request.method != "POST":
            return response
        name = (request.view_args or {}).get("name", "")
        # Only the served helpdesks' names: a label per made-up URL would grow without end.
        helpdesk = name if name in app.extensions["bot"].receivers else "unknown"
        webhooks.labels(helpdesk, _result(response)).inc()
        seconds.labels(helpdesk).observe(time.perf_counter() - g.get("metrics_started", time.perf_counter()))
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _result(response: Response) -> str:
    if response.status_code in _RESULTS:
        return _RESULTS[response.status_code]
    body = response.get_json(silent=True) if response.is_json else None
    status = body.get("status") if isinstance(body, dict) else None
    return str(status) if status else str(response.status_code)


# A scrape gives up on the database after this long (connecting, then each statement).
SCRAPE_TIMEOUT_SECONDS = 3


class StoreCollector(Collector):
    def __init__(self, store: Store):
        url = store.engine.url
        if url.get_backend_name() == "postgresql":
            # Its own small pool with a connect timeout: a database that accepts connections
            # but never answers would otherwise hold the scrape (and a web thread) for minutes.
            self._engine = create_engine(url, pool_pre_ping=True, pool_size=1, max_overflow=1,
                                         connect_args={"connect_timeout": SCRAPE_TIMEOUT_SECONDS})
            self._timeout_sql: str | None = f"SET LOCAL statement_timeout = {SCRAPE_TIMEOUT_SECONDS * 1000}"
        else:
            self._engine, self._timeout_sql = store.engine, None

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("bot_store_up", "1 when the store could be read for these metrics")
        try:
            families = list(self._families())
        except Exception as exc:  # the scrape must answer whatever the database does
            log.warning("metrics: the store could not be read: %s", exc, extra={"event": "metrics.store_down"})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        with Session(self._engine) as session, session.begin():
            if self._timeout_sql:
                session.execute(text(self._timeout_sql))
            runs = CounterMetricFamily("bot_runs", "Runs that ended, by helpdesk, event kind and how they ended",
                                       labels=["helpdesk", "event", "status"])
            in_flight = GaugeMetricFamily("bot_runs_in_flight", "Runs waiting for a worker or running",
                                          labels=["helpdesk", "event", "status"])
            ended = {str(s) for s in RunStatus.terminal()}
            for helpdesk, event, status, count in session.execute(
                select(Run.helpdesk, Run.event_kind, Run.status, func.count()).group_by(
                    Run.helpdesk, Run.event_kind, Run.status)):
                (runs if status in ended else in_flight).add_metric([helpdesk, event, status], count)
            yield runs
            yield in_flight

            decided = CounterMetricFamily("bot_triage_decisions", "Runs by the engine that triaged",
                                          labels=["engine"])
            for engine, count in session.execute(
                select(Run.triage_engine, func.count()).where(Run.triage_engine.is_not(None))
                .where(Run.status.in_(list(ended))).group_by(Run.triage_engine)):
                decided.add_metric([str(engine)], count)
            yield decided

            drafts = CounterMetricFamily("bot_drafts", "Drafts posted, by category and whether the bot escalated",
                                         labels=["category", "escalated"])
            for category, escalated, count in session.execute(
                select(Review.category, Review.escalated, func.count()).group_by(Review.category, Review.escalated)):
                drafts.add_metric([category or "none", "true" if escalated else "false"], count)
            yield drafts

            tokens = CounterMetricFamily("bot_llm_tokens", "Model tokens, by engine and kind",
                                         labels=["engine", "kind"])
            cost = CounterMetricFamily("bot_llm_cost_usd", "Model cost in USD (priced models only), by engine",
                                       labels=["engine"])
            for engine, prompt, completion, usd in session.execute(
                select(Run.engine, func.sum(Run.prompt_tokens), func.sum(Run.completion_tokens),
                       func.sum(Run.cost_usd)).where(Run.engine.is_not(None))
                .where(Run.status.in_(list(ended))).group_by(Run.engine)):
                tokens.add_metric([str(engine), "prompt"], int(prompt or 0))
                tokens.add_metric([str(engine), "completion"], int(completion or 0))
                cost.add_metric([str(engine)], float(usd or 0))
            yield tokens
            yield cost

            yield self._latency(session)

            reviews = CounterMetricFamily("bot_reviews", "Drafts by what agents did first with them",
                                          labels=["action"])
            pending = 0
            for action, count in session.execute(select(Review.action, func.count()).group_by(Review.action)):
                if action is None:
                    pending = count
                else:
                    reviews.add_metric([action], count)
            yield reviews
            yield GaugeMetricFamily("bot_reviews_pending", "Drafts no agent has acted on yet", value=pending)
            overdue = session.scalar(select(func.count()).where(Review.overdue_at.is_not(None)))
            yield CounterMetricFamily("bot_reviews_overdue", "Drafts tagged ai_review_overdue", value=overdue or 0)

            # A customer may change their rating: a gauge.
            ratings = GaugeMetricFamily("bot_csat_ratings", "Rated tickets, by whether the rating is good",
                                        labels=["good"])
            for good, count in session.execute(
                select(TrackedTicket.csat_good, func.count()).where(TrackedTicket.csat_good.is_not(None))
                .group_by(TrackedTicket.csat_good)):
                ratings.add_metric(["true" if good else "false"], count)
            yield ratings

    @staticmethod
    def _latency(session) -> Metric:
        """Finished runs' latency as a histogram, its buckets counted in SQL."""
        bounds = [int(b * 1000) for b in RUN_LATENCY_BUCKETS]
        columns = [func.sum(case((Run.latency_ms <= b, 1), else_=0), type_=Integer) for b in bounds]
        row = session.execute(
            select(func.count(), func.sum(Run.latency_ms), *columns).where(Run.latency_ms.is_not(None))).one()
        total, summed, cumulative = int(row[0] or 0), int(row[1] or 0), [int(n or 0) for n in row[2:]]
        family = HistogramMetricFamily("bot_run_latency_seconds", "Time a run took, from its claim to its write")
        buckets = [(floatToGoString(b), n) for b, n in zip(RUN_LATENCY_BUCKETS, cumulative, strict=True)]
        buckets.append(("+Inf", total))
        family.add_metric([], buckets, sum_value=summed / 1000)
        return family
