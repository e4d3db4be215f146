"""The webhook endpoint on input the store cannot hold, odd timestamps, and a store that is down.

Like tests/test_web.py: a real store (SQLite and PostgreSQL) and a real Redis broker, through
Flask's test client. Headers are given as WSGI hands them to Flask: each byte of the request as
one Latin-1 character (PEP 3333), which is what the invocation id tests send.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import func, select

from bot import create_app
from bot.db import upgrade
from bot.db.models import DELIVERY_ID_LENGTH, EVENT_ID_LENGTH, TICKET_ID_LENGTH, Delivery, Run
from bot.queue import QUEUE
from tests.conftest import load_fixture, load_json_fixture, signed_headers, web_settings

BROKER_DB = 10  # a Redis database of its own, emptied before each test
CLOSED_DATABASE = "postgresql://postgres@127.0.0.1:1/test"  # nothing listens on port 1
TICKET_CREATED = "zendesk/dust__event_ticket_created.json"  # ticket 5158, actor 8447388090494


def queued(redis_client) -> list[bytes]:
    return redis_client.lrange(QUEUE, 0, -1)


def stored(app_client) -> tuple[int, int]:
    """How many runs and deliveries the store holds."""
    store = app_client.application.extensions["bot"].store
    with store.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Run)),
            session.scalar(select(func.count()).select_from(Delivery)),
        )


def post(client, body: bytes, headers: dict):
    return client.post("/webhooks/zendesk", data=body, headers=headers)


def event_body(event_id: object = "cbe4028c-7239-495d-b020-f22348516046", **detail) -> bytes:
    """The ticket.created envelope, with \\u escapes: how a lone surrogate can be valid JSON."""
    data = load_json_fixture(TICKET_CREATED)
    data["id"] = event_id
    data["detail"].update(detail)
    return json.dumps(data, ensure_ascii=True).encode("ascii")


def assert_refused_and_nothing_kept(response, client, broker, message: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert message in response.get_json()["error"]
    assert stored(client) == (0, 0)
    assert queued(broker[1]) == []


# --- ids that cannot be stored are a 400, not a 503 retried forever ----------------------------


def test_the_migrated_columns_have_the_lengths_the_parser_checks(postgres_url):
    upgrade(postgres_url)
    with psycopg.connect(postgres_url) as conn:
        lengths = dict(
            conn.execute(
                "SELECT table_name || '.' || column_name, character_maximum_length"
                " FROM information_schema.columns WHERE table_schema = current_schema()"
                " AND (table_name, column_name) IN"
                " (('runs', 'ticket_id'), ('runs', 'event_id'), ('deliveries', 'delivery_id'))"
            ).fetchall()
        )
    assert lengths == {
        "runs.ticket_id": TICKET_ID_LENGTH,
        "runs.event_id": EVENT_ID_LENGTH,
        "deliveries.delivery_id": DELIVERY_ID_LENGTH,
    }


@pytest.mark.parametrize(
    "event_id, message",
    [
        ("e" * (EVENT_ID_LENGTH + 1), f"longer than {EVENT_ID_LENGTH} characters"),
        ("cbe4028c\x00-7239", "control character U+0000"),
        ("\ud800", "lone surrogate U+D800"),
        ({"id": "cbe4028c"}, "must be a string id"),
        (["cbe4028c"], "must be a string id"),
    ],
    ids=["too-long", "nul", "lone-surrogate", "object", "array"],
)
def test_an_event_id_that_cannot_be_stored_is_400_and_nothing_is_kept(
    client, broker, event_id, message
):
    body = event_body(event_id)
    response = post(client, body, signed_headers(body, invocation="8350205582"))
    assert_refused_and_nothing_kept(response, client, broker, message)
    assert response.get_json()["error"].startswith("`id`")


@pytest.mark.parametrize(
    "invocation, message",
    [
        ("i" * (DELIVERY_ID_LENGTH + 1), f"longer than {DELIVERY_ID_LENGTH} characters"),
        ("8350205582\x00", "control character U+0000"),
        ("8350\x1b[2J205582", "control character U+001B"),
        # The UTF-8 bytes of U+D800 (as a lax encoder writes them), and of "日", as WSGI gives them.
        (b"inv-\xed\xa0\x80".decode("latin-1"), "must be ASCII"),
        ("inv-日".encode().decode("latin-1"), "must be ASCII"),
    ],
    ids=["too-long", "nul", "escape", "surrogate-bytes", "utf-8-bytes"],
)
def test_an_invocation_id_that_cannot_be_stored_is_400_and_nothing_is_kept(
    client, broker, invocation, message
):
    for body in (event_body(), b'{"ticket_id": "7", "event": "created"}'):
        response = post(client, body, signed_headers(body, invocation=invocation))
        assert_refused_and_nothing_kept(response, client, broker, message)
        assert "X-Zendesk-Webhook-Invocation-Id" in response.get_json()["error"]


def test_ids_at_the_column_lengths_are_stored_as_sent(client, broker):
    event_id = "e" * (EVENT_ID_LENGTH - 1) + "é"  # characters, not bytes, are counted
    invocation = "i" * DELIVERY_ID_LENGTH
    body = event_body(f" {event_id}\n")  # surrounding whitespace is dropped
    response = post(client, body, signed_headers(body, invocation=invocation))
    assert response.status_code == 202, response.get_data(as_text=True)
    store = client.application.extensions["bot"].store
    run = store.get(response.get_json()["run_id"])
    assert (run.ticket_id, run.event_id) == ("5158", event_id)
    with store.session() as session:
        assert session.scalars(select(Delivery.delivery_id)).all() == [invocation]
    assert len(queued(broker[1])) == 1

    again = post(client, body, signed_headers(body, invocation=invocation))
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"


def test_the_actor_id_is_only_compared_and_never_a_500(database_url, broker):
    app = create_app(web_settings(database_url, broker[0], ZENDESK_BOT_USER_ID="8447388090494"))
    client = app.test_client()

    odd = event_body(actor_id="\ud800")  # not stored: harmless
    assert post(client, odd, signed_headers(odd)).status_code == 202

    not_an_id = event_body(actor_id={"id": 8447388090494})
    response = post(client, not_an_id, signed_headers(not_an_id))
    assert response.status_code == 400
    assert "`detail.actor_id` must be a string or integer id" in response.get_json()["error"]

    number = json.dumps({"ticket_id": "7", "actor_id": 8447388090494}).encode()
    response = post(client, number, signed_headers(number))
    assert response.status_code == 200 and "bot" in response.get_json()["reason"]
    assert len(queued(broker[1])) == 1 and stored(client) == (1, 1)


@pytest.mark.parametrize(
    "ticket_id, status", [(2**63 - 1, 202), (str(2**63 - 1), 202), (2**63, 400), ("0", 400)]
)
def test_a_ticket_id_must_be_a_positive_64_bit_integer(client, broker, ticket_id, status):
    body = json.dumps({"ticket_id": ticket_id}).encode()
    response = post(client, body, signed_headers(body))
    assert response.status_code == status
    if status == 400:
        assert "positive 64-bit integer id" in response.get_json()["error"]
        assert stored(client) == (0, 0) and queued(broker[1]) == []


# --- a signature timestamp without a time zone is UTC ----------------------------------------


def naive_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_a_timestamp_without_time_zone_inside_the_window_is_accepted(client, broker):
    body = load_fixture(TICKET_CREATED)
    timestamp = naive_utc(datetime.now(UTC) - timedelta(minutes=1))
    response = post(client, body, signed_headers(body, timestamp=timestamp))
    assert response.status_code == 202, response.get_data(as_text=True)
    assert len(queued(broker[1])) == 1


@pytest.mark.parametrize("offset", [timedelta(minutes=-10), timedelta(minutes=10)])
def test_a_timestamp_without_time_zone_outside_the_window_is_401(client, broker, offset):
    body = load_fixture(TICKET_CREATED)
    timestamp = naive_utc(datetime.now(UTC) + offset)
    response = post(client, body, signed_headers(body, timestamp=timestamp))  # signed correctly
    assert response.status_code == 401
    assert stored(client) == (0, 0) and queued(broker[1]) == []


# --- the store down while a delivery comes in -------------------------------------------------


def test_store_down_is_503_with_retry_after_and_nothing_is_enqueued(broker):
    client = create_app(web_settings(CLOSED_DATABASE, broker[0])).test_client()
    body = load_fixture(TICKET_CREATED)
    response = post(client, body, signed_headers(body, invocation="8350205582"))
    assert response.status_code == 503
    # Zendesk retries a 503 only with Retry-After under 60 s.
    assert 0 < int(response.headers["Retry-After"]) < 60
    assert "retry later" in response.get_json()["error"]
    assert queued(broker[1]) == []
