"""Follow-up webhooks (a teammate's reply, a status change, a rating...): signed like the rest,
they mark a followed ticket for the tracker and ring its bell once; nothing else. Real store,
real Redis broker, the real Zendesk and Intercom receivers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

from bot import create_app
from bot.db.models import TrackedTicket, utcnow
from bot.queue import QUEUE, TRACK_TICKET
from bot.tracking import records
from tests.conftest import load_fixture, signed_headers, web_settings

BROKER_DB = 14
DEAD_BROKER = "redis://127.0.0.1:1/0"
INTERCOM_SECRET = "intercom-app-secret"


def follow_up(ticket_id: str = "7001", kind: str = "ticket.comment_added", actor: str = "381") -> bytes:
    return json.dumps({
        "type": f"zen:event-type:{kind}", "account_id": 1, "id": f"evt-{ticket_id}-{kind}",
        "time": "2026-12-05T10:00:00Z", "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket_id}",
        "detail": {"id": ticket_id, "actor_id": actor, "status": "OPEN"},
        "event": {},
    }).encode()


def followed(app, helpdesk: str, ticket_id: str) -> None:
    with app.extensions["bot"].store.session() as session:
        session.add(TrackedTicket(helpdesk=helpdesk, ticket_id=ticket_id, arrived_at=utcnow(), reopened=0,
                                  reassigned=False, escalated_later=False,
                                  check_after=utcnow() + timedelta(hours=1)))
        session.commit()


def track_messages(broker) -> list[list]:
    bodies = [json.loads(raw) for raw in broker[1].lrange(QUEUE, 0, -1)]
    return [json.loads(base64.b64decode(m["body"]))[0] for m in bodies
            if m["headers"]["task"] == TRACK_TICKET]


def post(client, body: bytes):
    return client.post("/webhooks/zendesk", data=body, headers=signed_headers(body))


def test_activity_on_a_ticket_the_bot_does_not_follow_is_acknowledged_and_ignored(database_url, broker):
    app = create_app(web_settings(database_url, broker[0]))
    response = post(app.test_client(), follow_up("9999"))
    assert response.status_code == 200 and response.get_json() == {
        "status": "ignored", "reason": records.Marked.NOT_FOLLOWED.value}
    assert track_messages(broker) == []


def test_a_burst_of_activity_rings_the_tracker_once_and_marks_the_ticket(database_url, broker):
    app = create_app(web_settings(database_url, broker[0]))
    followed(app, "zendesk", "7001")
    client = app.test_client()
    answers = [post(client, follow_up("7001", kind)) for kind in
               ("ticket.comment_added", "ticket.status_changed", "ticket.group_assignment_changed")]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert [a.get_json()["reason"] for a in answers] == [
        records.Marked.MARKED.value, records.Marked.ALREADY.value, records.Marked.ALREADY.value]
    assert track_messages(broker) == [["zendesk", "7001"]]
    row = records.tracked(app.extensions["bot"].store, "zendesk", "7001")
    assert row.dirty_at is not None and row.check_after <= utcnow()  # due at the next sweep too
    assert [r.ticket_id for r in records.due(app.extensions["bot"].store, utcnow())] == ["7001"]


def test_forged_activity_is_401_and_marks_nothing(database_url, broker):
    app = create_app(web_settings(database_url, broker[0]))
    followed(app, "zendesk", "7001")
    body = follow_up("7001")
    response = app.test_client().post("/webhooks/zendesk", data=body,
                                      headers=signed_headers(body, secret="wrong"))
    assert response.status_code == 401
    assert records.tracked(app.extensions["bot"].store, "zendesk", "7001").dirty_at is None
    assert track_messages(broker) == []


def test_the_bots_own_update_is_not_activity(database_url, broker):
    app = create_app(web_settings(database_url, broker[0], ZENDESK_BOT_USER_ID="1"))
    followed(app, "zendesk", "7001")
    response = post(app.test_client(), follow_up("7001", actor="1"))
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    assert records.tracked(app.extensions["bot"].store, "zendesk", "7001").dirty_at is None


def test_broker_down_is_503_but_the_mark_stays_for_the_sweep(database_url, broker):
    app = create_app(web_settings(database_url, DEAD_BROKER))
    followed(app, "zendesk", "7001")
    response = post(app.test_client(), follow_up("7001"))
    assert response.status_code == 503 and response.headers["Retry-After"]
    store = app.extensions["bot"].store
    assert records.tracked(store, "zendesk", "7001").dirty_at is not None
    assert [r.ticket_id for r in records.due(store, utcnow())] == ["7001"]


def test_an_intercom_teammates_reply_marks_the_conversation(database_url, broker):
    app = create_app(web_settings(database_url, broker[0], INTERCOM_CLIENT_SECRET=INTERCOM_SECRET,
                                  INTERCOM_ADMIN_ID="814860", INTERCOM_ACCESS_TOKEN="t"))
    body = load_fixture("intercom/hull__conversation-admin-replied.json")
    conversation = str(json.loads(body)["data"]["item"]["id"])
    followed(app, "intercom", conversation)
    signature = "sha1=" + hmac.new(INTERCOM_SECRET.encode(), body, hashlib.sha1).hexdigest()
    response = app.test_client().post("/webhooks/intercom", data=body,
                                      headers={"X-Hub-Signature": signature, "Content-Type": "application/json"})
    assert response.status_code == 202 and response.get_json()["status"] == "tracking"
    assert track_messages(broker) == [["intercom", conversation]]
