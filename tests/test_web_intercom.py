"""`POST /webhooks/intercom` through the shared accept step, with Intercom's real bodies: the
same answers as Zendesk's endpoint, against a real store and Redis broker."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from bot import create_app
from bot.db.models import Run
from bot.db.models import TicketEvent as EventRow
from bot.helpdesks.intercom.webhook import SIGNATURE_HEADER, sign
from bot.queue import QUEUE
from tests.conftest import load_fixture, web_settings

BROKER_DB = 11
SECRET = "intercom-client-secret"


@pytest.fixture
def client(database_url, broker):
    settings = web_settings(database_url, broker[0], INTERCOM_ACCESS_TOKEN="tok",
                            INTERCOM_CLIENT_SECRET=SECRET, INTERCOM_ADMIN_ID="814860")
    assert settings.helpdesks == ("zendesk", "intercom")  # one deployment, both helpdesks
    return create_app(settings).test_client()


def post(client, body: bytes, secret: str = SECRET, **headers):
    return client.post("/webhooks/intercom", data=body,
                       headers={"Content-Type": "application/json",
                                SIGNATURE_HEADER: sign(secret, body), **headers})


def stored(client, model) -> int:
    with client.application.extensions["bot"].store.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def queued(broker) -> int:
    return broker[1].llen(QUEUE)


def test_a_new_conversation_is_accepted_once_however_often_it_is_delivered(client, broker):
    body = load_fixture("intercom/zulip__conversation_user_created.json")
    first = post(client, body)
    assert first.status_code == 202 and first.get_json()["status"] == "accepted"
    run = client.application.extensions["bot"].store.get(first.get_json()["run_id"])
    assert (run.helpdesk, run.ticket_id, run.event_kind) == ("intercom", "21321941764", "created")
    # Intercom's retry of the same notification, then another notification of the same event.
    again = post(client, body)
    assert again.status_code == 200 and again.get_json()["reason"] == "duplicate delivery"
    other = json.loads(body)
    other["id"] = "notif_another"
    other = json.dumps(other).encode()
    assert post(client, other).get_json()["reason"] == "already received for this ticket"
    assert stored(client, Run) == 1 and queued(broker) == 1


def test_a_customer_reply_is_keyed_on_its_part_and_joins_the_run_not_yet_started(client, broker):
    created = load_fixture("intercom/variant__conversation_user_created_2x_html_unicode.json")
    replied = load_fixture("intercom/variant__conversation_user_replied_2x_two_parts.json")
    first = post(client, created)
    assert first.status_code == 202
    reply = post(client, replied)
    # No worker has taken the new conversation's run yet: it will read the reply too.
    assert reply.status_code == 202
    assert reply.get_json() == {"status": "merged", "run_id": first.get_json()["run_id"]}
    with client.application.extensions["bot"].store.session() as session:
        keys = {(e.ticket_id, e.event_kind, e.event_key) for e in session.scalars(select(EventRow))}
    # The newest of the customer's parts (7003, 7004) names the reply; the teammate's 7001 not.
    assert keys == {("1911149811", "created", ""), ("1911149811", "customer_replied", "7004")}
    assert stored(client, Run) == 1 and queued(broker) == 1


@pytest.mark.parametrize("secret, status", [("wrong-secret", 401), (SECRET, 202)])
def test_the_signature_is_checked_on_the_raw_bytes(client, broker, secret, status):
    body = load_fixture("intercom/zulip__conversation_user_created.json")
    assert post(client, body, secret=secret).status_code == status
    assert stored(client, Run) == (1 if status == 202 else 0)


def test_unsigned_is_401_and_nothing_is_stored(client, broker):
    body = load_fixture("intercom/zulip__conversation_user_created.json")
    response = client.post("/webhooks/intercom", data=body)
    assert response.status_code == 401 and stored(client, Run) == 0 and queued(broker) == 0


@pytest.mark.parametrize("fixture", [
    "hull__conversation-admin-noted.json", "hull__conversation-admin-replied.json",
    "hull__conversation-admin-assigned.json", "hull__conversation-admin-closed.json",
    "intercom_ruby__user_created.json", "serverless_offline__ping.json",
    "variant__unknown_topic.json",
])
def test_teammates_topics_contacts_and_pings_are_acknowledged_and_ignored(client, broker, fixture):
    response = post(client, load_fixture(f"intercom/{fixture}"))
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    assert stored(client, Run) == 0 and stored(client, EventRow) == 0 and queued(broker) == 0


@pytest.mark.parametrize("fixture", ["variant__missing_item.json", "variant__missing_id.json"])
def test_malformed_is_400_with_a_message(client, broker, fixture):
    response = post(client, load_fixture(f"intercom/{fixture}"))
    assert response.status_code == 400 and response.get_json()["error"]
    assert stored(client, Run) == 0


def test_head_validates_the_url(client):
    assert client.head("/webhooks/intercom").status_code == 200


def test_broker_down_is_503_and_the_retry_is_accepted(database_url, broker):
    down = web_settings(database_url, "redis://127.0.0.1:1/0", INTERCOM_ACCESS_TOKEN="tok",
                        INTERCOM_CLIENT_SECRET=SECRET, INTERCOM_ADMIN_ID="814860")
    body = load_fixture("intercom/zulip__conversation_user_created.json")
    response = post(create_app(down).test_client(), body)
    assert response.status_code == 503 and response.headers["Retry-After"]
    up = web_settings(database_url, broker[0], INTERCOM_ACCESS_TOKEN="tok",
                      INTERCOM_CLIENT_SECRET=SECRET, INTERCOM_ADMIN_ID="814860")
    assert post(create_app(up).test_client(), body).status_code == 202
