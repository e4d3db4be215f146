"""GET /metrics: the web tier's webhook counters, and the store's figures read at scrape time,
parsed with prometheus_client's own parser and compared with what was done and seeded."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot import create_app
from bot.db.models import Review, Run, TrackedTicket, utcnow
from tests.conftest import load_fixture, signed_headers, web_settings

BROKER_DB = 10


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_webhooks_are_counted_by_helpdesk_and_result(database_url, broker):
    client = create_app(web_settings(database_url, broker[0])).test_client()
    body = load_fixture("zendesk/dust__event_ticket_created.json")
    headers = signed_headers(body, invocation="inv-1")
    assert client.post("/webhooks/zendesk", data=body, headers=headers).status_code == 202
    assert client.post("/webhooks/zendesk", data=body, headers=headers).status_code == 200  # duplicate
    assert client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, secret="x")).status_code == 401
    bad = b"not json"
    assert client.post("/webhooks/zendesk", data=bad, headers=signed_headers(bad)).status_code == 400
    assert client.post("/webhooks/made-up", data=body).status_code == 404
    samples = scrape(client)
    assert value(samples, "bot_webhooks_total", helpdesk="zendesk", result="accepted") == 1
    assert value(samples, "bot_webhooks_total", helpdesk="zendesk", result="duplicate") == 1
    assert value(samples, "bot_webhooks_total", helpdesk="zendesk", result="unauthorized") == 1
    assert value(samples, "bot_webhooks_total", helpdesk="zendesk", result="invalid") == 1
    assert value(samples, "bot_webhooks_total", helpdesk="unknown", result="unknown_helpdesk") == 1
    assert value(samples, "bot_webhook_seconds_count", helpdesk="zendesk") == 4
    # The accepted delivery's run is in the store's figures too.
    # Waiting runs are in flight (a gauge): a counter must never go down when they end.
    assert value(samples, "bot_runs_in_flight", helpdesk="zendesk", event="created", status="queued") == 1
    assert not any(name == "bot_runs_total" for name, _ in samples)
    assert value(samples, "bot_store_up") == 1


def test_the_stores_figures(database_url, broker):
    app = create_app(web_settings(database_url, broker[0]))
    now = utcnow()
    with app.extensions["bot"].store.session() as session:
        for i, (latency, status, tokens, cost) in enumerate([(300, "succeeded", (1000, 200), 0.002),
                                                              (4000, "succeeded", (500, 100), None),
                                                              (70000, "failed", (0, 0), None)]):
            run = Run(helpdesk="intercom", ticket_id=str(i), event_kind="created", status=status, attempts=1,
                      recoveries=0, due_at=now, latency_ms=latency, engine="hybrid", triage_engine="offline",
                      prompt_tokens=tokens[0], completion_tokens=tokens[1], cost_usd=cost, draft="x")
            session.add(run)
            session.flush()
            if status == "succeeded":
                session.add(Review(run_id=run.id, helpdesk="intercom", ticket_id=str(i), arrived_at=now,
                                   drafted_at=now, due_at=now, category="Billing", escalated=i == 1,
                                   action="sent_as_is" if i == 0 else None, overdue_at=now if i == 1 else None,
                                   category_overridden=False, priority_overridden=False, group_overridden=False))
                session.add(TrackedTicket(helpdesk="intercom", ticket_id=str(i), arrived_at=now, reopened=0,
                                          reassigned=False, escalated_later=False, check_after=now,
                                          csat_good=i == 0))
        session.commit()
    samples = scrape(app.test_client())
    assert value(samples, "bot_runs_total", helpdesk="intercom", event="created", status="succeeded") == 2
    assert value(samples, "bot_runs_total", helpdesk="intercom", event="created", status="failed") == 1
    assert value(samples, "bot_triage_decisions_total", engine="offline") == 3
    assert value(samples, "bot_drafts_total", category="Billing", escalated="false") == 1
    assert value(samples, "bot_drafts_total", category="Billing", escalated="true") == 1
    assert value(samples, "bot_llm_tokens_total", engine="hybrid", kind="prompt") == 1500
    assert value(samples, "bot_llm_tokens_total", engine="hybrid", kind="completion") == 300
    assert value(samples, "bot_llm_cost_usd_total", engine="hybrid") == 0.002
    # 0.3 s, 4 s and 70 s: cumulative buckets, as Prometheus defines them.
    assert value(samples, "bot_run_latency_seconds_bucket", le="0.5") == 1
    assert value(samples, "bot_run_latency_seconds_bucket", le="5.0") == 2
    assert value(samples, "bot_run_latency_seconds_bucket", le="60.0") == 2
    assert value(samples, "bot_run_latency_seconds_bucket", le="+Inf") == 3
    assert value(samples, "bot_run_latency_seconds_count") == 3
    assert value(samples, "bot_run_latency_seconds_sum") == 74.3
    assert value(samples, "bot_reviews_total", action="sent_as_is") == 1
    assert value(samples, "bot_reviews_pending") == 1
    assert value(samples, "bot_reviews_total", action="pending") == 0
    assert value(samples, "bot_reviews_overdue_total") == 1
    assert value(samples, "bot_csat_ratings", good="true") == 1  # a gauge: a rating may change
    assert value(samples, "bot_csat_ratings", good="false") == 1


def test_a_store_that_cannot_be_read_still_answers(database_url, broker):
    app = create_app(web_settings(database_url, broker[0]))
    app.extensions["bot"].store.engine.dispose()
    with app.extensions["bot"].store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE reviews")
    samples = scrape(app.test_client())
    assert value(samples, "bot_store_up") == 0
    assert not any(name == "bot_runs_total" for name, _ in samples)


def test_metrics_is_not_a_webhook(database_url, broker):
    client = create_app(web_settings(database_url, broker[0])).test_client()
    client.get("/metrics")
    client.get("/healthz")
    assert not any(name.startswith("bot_webhooks") and v for (name, _), v in scrape(client).items()
                   if name == "bot_webhooks_total")


def test_a_database_that_never_answers_does_not_hold_the_scrape(broker):
    """A listener that accepts connections and says nothing (a partition, a stuck proxy)."""
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        app = create_app(web_settings(f"postgresql://postgres@127.0.0.1:{port}/test", broker[0]))
        started = time.monotonic()
        samples = scrape(app.test_client())
        assert time.monotonic() - started < 10  # the connect timeout, not minutes
        assert value(samples, "bot_store_up") == 0
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()
