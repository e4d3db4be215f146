"""The webhook endpoint: 401 / 400 / 200 / 202 / 503, against a real store and a real Redis broker."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import func, select

from bot import create_app
from bot.db.models import Run
from bot.queue import PROCESS_TICKET, QUEUE
from tests.conftest import DEFAULT_POLICY, load_fixture, signed_headers, web_settings

BROKER_DB = 14  # a Redis database of its own, emptied before each test
DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def queued_messages(redis_client) -> list[dict]:
    return [json.loads(raw) for raw in redis_client.lrange(QUEUE, 0, -1)]


def runs_in(app_client) -> int:
    store = app_client.application.extensions["bot"].store
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(Run))


def post(client, body: bytes, headers: dict):
    return client.post("/webhooks/zendesk", data=body, headers=headers)


def test_signed_ticket_created_is_accepted_and_enqueued_once(client, broker):
    body = load_fixture("zendesk/dust__event_ticket_created.json")
    response = post(client, body, signed_headers(body, invocation="inv-1"))
    assert response.status_code == 202
    run_id = response.get_json()["run_id"]
    messages = queued_messages(broker[1])
    assert len(messages) == 1
    assert messages[0]["headers"]["task"] == PROCESS_TICKET
    assert json.loads(base64.b64decode(messages[0]["body"]))[0] == [run_id]
    store = client.application.extensions["bot"].store
    assert store.get(run_id).ticket_id == "5158"


def test_redelivery_and_trigger_for_the_same_ticket_are_absorbed(client, broker):
    body = load_fixture("zendesk/dust__event_ticket_created.json")
    assert post(client, body, signed_headers(body, invocation="inv-1")).status_code == 202
    again = post(client, body, signed_headers(body, invocation="inv-1"))
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    trigger = json.dumps({"ticket_id": "5158", "event": "created"}).encode()
    other = post(client, trigger, signed_headers(trigger, invocation="inv-2"))
    assert other.status_code == 200 and other.get_json()["status"] == "duplicate"
    assert len(queued_messages(broker[1])) == 1 and runs_in(client) == 1


@pytest.mark.parametrize(
    "make_headers",
    [
        lambda body: {"Content-Type": "application/json"},
        lambda body: signed_headers(body, secret="not-the-secret"),
        lambda body: signed_headers(body + b" "),
        lambda body: signed_headers(body, timestamp="2020-01-01T00:00:00Z"),
    ],
    ids=["unsigned", "wrong-secret", "signature-of-other-body", "stale-timestamp"],
)
def test_unsigned_or_forged_is_401_and_nothing_is_enqueued(client, broker, make_headers):
    body = load_fixture("zendesk/dust__event_ticket_created.json")
    response = post(client, body, make_headers(body))
    assert response.status_code == 401
    assert "5158" not in response.get_data(as_text=True)
    assert queued_messages(broker[1]) == [] and runs_in(client) == 0


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", "not valid UTF-8 JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"event": "created"}', "ticket_id"),
        (b'{"type": "zen:event-type:ticket.created", "detail": {}}', "detail.id"),
        (b'{"ticket_id": "{{ticket.id}}"}', "positive 64-bit integer id"),
    ],
)
def test_malformed_is_400_with_a_message(client, broker, body, message):
    response = post(client, body, signed_headers(body))
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert queued_messages(broker[1]) == [] and runs_in(client) == 0


def test_non_ticket_event_is_acknowledged_and_ignored(client, broker):
    body = load_fixture("zendesk/zendesk_docs__event_user_active_changed.json")
    response = post(client, body, signed_headers(body))
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    assert queued_messages(broker[1]) == [] and runs_in(client) == 0


def test_event_caused_by_the_bot_user_is_ignored(database_url, broker):
    app = create_app(web_settings(database_url, broker[0], ZENDESK_BOT_USER_ID="8447388090494"))
    body = load_fixture("zendesk/dust__event_ticket_created.json")  # actor_id 8447388090494
    response = post(app.test_client(), body, signed_headers(body))
    assert response.status_code == 200 and "bot" in response.get_json()["reason"]
    assert queued_messages(broker[1]) == []


def test_broker_down_is_503_with_retry_after_and_the_retry_is_accepted(database_url, broker):
    down = create_app(web_settings(database_url, DEAD_BROKER)).test_client()
    body = load_fixture("zendesk/dust__event_ticket_created.json")
    headers = signed_headers(body, invocation="inv-1")
    response = post(down, body, headers)
    assert response.status_code == 503
    # Zendesk retries a 503 only with Retry-After under 60 s.
    assert 0 < int(response.headers["Retry-After"]) < 60
    assert runs_in(down) == 0  # nothing half-recorded that would swallow the retry

    up = create_app(web_settings(database_url, broker[0])).test_client()
    assert post(up, body, headers).status_code == 202
    assert len(queued_messages(broker[1])) == 1


def test_health_and_readiness(database_url, broker):
    up = create_app(web_settings(database_url, broker[0])).test_client()
    assert up.get("/healthz").status_code == 200
    ready = up.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"] == {"database": "ok", "broker": "ok"}

    down = create_app(web_settings(database_url, DEAD_BROKER)).test_client()
    assert down.get("/healthz").status_code == 200  # alive, just not ready
    not_ready = down.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.get_json()["checks"]["database"] == "ok"
    assert not_ready.get_json()["checks"]["broker"].startswith("error")


def test_start_up_refuses_without_a_webhook_secret(database_url):
    from bot.errors import SettingsError

    with pytest.raises(SettingsError, match="ZENDESK_WEBHOOK_SECRET"):
        create_app(web_settings(database_url, "", ZENDESK_WEBHOOK_SECRET=""))


def test_an_oversized_body_is_refused_before_anything_else(client, broker):
    body = b'{"ticket_id": "1", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = post(client, body, signed_headers(body))
    assert response.status_code == 413
    assert queued_messages(broker[1]) == [] and runs_in(client) == 0


def _chunked(client, body: bytes, headers: dict, terminated: bool = True):
    """As a WSGI server hands Flask a chunked body: no Content-Length, and (when the server
    knows where the body ends) `wsgi.input_terminated`."""
    import io

    environ = {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked",
               "wsgi.input_terminated": terminated}  # the test client would set a length
    return client.post("/webhooks/zendesk", input_stream=io.BytesIO(body), headers=headers,
                       environ_overrides=environ)


def test_a_chunked_body_over_the_cap_is_413_not_a_truncated_401(client, broker):
    from bot import MAX_BODY_BYTES

    body = b'{"ticket_id": "1", "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = _chunked(client, body, signed_headers(body))
    assert response.status_code == 413
    assert queued_messages(broker[1]) == [] and runs_in(client) == 0


def test_a_chunked_body_under_the_cap_is_read_whole(client, broker):
    body = json.dumps({"ticket_id": "5158", "event": "created", "pad": "x" * 100_000}).encode()
    assert _chunked(client, body, signed_headers(body)).status_code == 202


def test_a_body_with_no_length_and_no_end_is_411(client, broker):
    body = b'{"ticket_id": "5158"}'
    assert _chunked(client, body, signed_headers(body), terminated=False).status_code == 411


# --- Zendesk's "Test webhook" button -------------------------------------------------------

ZENDESK_TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="  # published by Zendesk


@pytest.mark.parametrize("timestamp", [None, "2020-01-01T00:00:00Z"], ids=["fresh", "stale"])
def test_a_delivery_signed_with_zendesks_test_secret_is_answered_200_and_starts_nothing(
    client, broker, caplog, timestamp
):
    # A real ticket body, so that nothing but the signature decides: it must never run.
    body = load_fixture("zendesk/dust__event_ticket_created.json")
    headers = signed_headers(body, secret=ZENDESK_TEST_SECRET, invocation="test-1")
    if timestamp:
        headers = signed_headers(body, secret=ZENDESK_TEST_SECRET, timestamp=timestamp)
    with caplog.at_level("INFO", logger="bot.webhooks"):
        response = post(client, body, headers)
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["status"] == "test"
    assert "nothing was stored" in answer["message"] and "own signature" in answer["message"]
    assert queued_messages(broker[1]) == [] and runs_in(client) == 0
    assert [r for r in caplog.records if getattr(r, "event", "") == "webhook.test"]
    # The same body signed with the real secret is a ticket: the test path is the signature's.
    real = post(client, body, signed_headers(body, invocation="real-1"))
    assert real.status_code == 202 and runs_in(client) == 1


def test_a_test_secret_signature_over_a_tampered_body_is_still_refused(client, broker):
    body = load_fixture("zendesk/dust__event_ticket_created.json")
    headers = signed_headers(body, secret=ZENDESK_TEST_SECRET)
    response = post(client, body + b" ", headers)
    assert response.status_code == 401 and runs_in(client) == 0


def test_a_helpdesk_whose_rollout_is_off_everywhere_is_acknowledged_and_nothing_stored(database_url, broker, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(DEFAULT_POLICY.read_text().replace(
        "  helpdesks: {}    ", "  helpdesks: {zendesk: {mode: off}}    "))
    app = create_app(web_settings(database_url, broker[0], POLICY_FILE=str(policy)))
    body = load_fixture("zendesk/dust__event_ticket_created.json")
    response = post(app.test_client(), body, signed_headers(body, invocation="off-1"))
    assert response.status_code == 200
    assert response.get_json() == {"status": "ignored", "reason": "rollout is off for zendesk"}
    assert queued_messages(broker[1]) == [] and runs_in(app.test_client()) == 0
