"""The dispatch table and the shared accept step: every helpdesk's events go through the same
door, and only those the table names are processed. Real store and Redis broker."""

from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest
from sqlalchemy import func, select

from bot import create_app
from bot.db.models import Run
from bot.db.models import TicketEvent as EventRow
from bot.domain import EventKind, TicketEvent
from bot.errors import InvalidPayload
from bot.events import HANDLERS, process_run, route_for
from bot.queue import QUEUE
from bot.store import Store
from bot.vocabulary import RunStatus
from tests.conftest import web_settings

BROKER_DB = 12


class StubReceiver:
    """A helpdesk's webhook module reduced to its contract: the body is the event, as JSON."""

    def __init__(self, name: str):
        self.name = name

    def verify(self, headers, body: bytes, now: datetime) -> None:
        return None

    def parse(self, body: bytes, headers) -> TicketEvent:
        data = json.loads(body)
        if "ticket" not in data:
            raise InvalidPayload("no ticket")
        return TicketEvent(self.name, data["kind"], data["ticket"],
                           delivery_id=data.get("delivery"), event_key=data.get("key", ""))


@pytest.fixture
def app(database_url, broker):
    app = create_app(web_settings(database_url, broker[0], REPLY_MERGE_WINDOW="7"))
    app.extensions["bot"].receivers = {
        "zendesk": StubReceiver("zendesk"), "intercom": StubReceiver("intercom"),
    }
    return app


def deliver(app, name: str, **event):
    return app.test_client().post(f"/webhooks/{name}", data=json.dumps(event).encode())


def messages(broker) -> list[dict]:
    return [json.loads(raw) for raw in broker[1].lrange(QUEUE, 0, -1)]


def count(app, model) -> int:
    with app.extensions["bot"].store.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_the_table_names_what_each_helpdesk_processes():
    kinds = (EventKind.CREATED, EventKind.CUSTOMER_REPLIED, EventKind.REDRAFT, EventKind.ESCALATE)
    assert set(HANDLERS) == {(h, k) for h in ("zendesk", "intercom") for k in kinds}
    for helpdesk in ("zendesk", "intercom"):
        reply = route_for(helpdesk, EventKind.CUSTOMER_REPLIED)
        assert reply is not None and reply.merges and reply.waits_for_more
        created = route_for(helpdesk, EventKind.CREATED)
        assert created is not None and not created.waits_for_more
        # An agent's command is its own run, never merged into a customer's waiting one.
        for kind in (EventKind.REDRAFT, EventKind.ESCALATE):
            route = route_for(helpdesk, kind)
            assert route is not None and not route.merges and not route.waits_for_more
    # Activity starts no run: the web tier marks the ticket for the tracker.
    assert route_for("zendesk", EventKind.ACTIVITY) is None


def test_an_event_without_a_handler_is_acknowledged_and_nothing_is_stored(app, broker):
    response = deliver(app, "zendesk", kind="something_new", ticket="5", delivery="d1")
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    assert count(app, Run) == 0 and count(app, EventRow) == 0 and messages(broker) == []


def test_quick_replies_make_one_delayed_run_and_one_message(app, broker):
    first = deliver(app, "intercom", kind=EventKind.CUSTOMER_REPLIED, ticket="9", delivery="n1", key="p1")
    second = deliver(app, "intercom", kind=EventKind.CUSTOMER_REPLIED, ticket="9", delivery="n2", key="p2")
    assert first.status_code == 202 and first.get_json()["status"] == "accepted"
    assert second.status_code == 202 and second.get_json() == {
        "status": "merged", "run_id": first.get_json()["run_id"]}
    (message,) = messages(broker)
    assert json.loads(base64.b64decode(message["body"]))[0] == [first.get_json()["run_id"]]
    # REPLY_MERGE_WINDOW: the task starts 7 s later, so that more messages can still join.
    assert message["headers"]["eta"] is not None
    assert count(app, Run) == 1 and count(app, EventRow) == 2


def test_a_new_ticket_is_enqueued_at_once(app, broker):
    response = deliver(app, "intercom", kind=EventKind.CREATED, ticket="10", delivery="n3")
    assert response.status_code == 202
    (message,) = messages(broker)
    assert message["headers"]["eta"] is None


def test_a_helpdesk_the_deployment_does_not_serve_is_404(database_url, broker):
    app = create_app(web_settings(database_url, broker[0]))  # Zendesk settings only
    response = app.test_client().post("/webhooks/intercom", data=b"{}")
    assert response.status_code == 404 and "does not serve" in response.get_json()["error"]
    assert app.test_client().head("/webhooks/intercom").status_code == 404


def test_head_answers_200_for_a_served_helpdesk(app):
    # Intercom validates a webhook URL with HEAD before it subscribes it.
    assert app.test_client().head("/webhooks/intercom").status_code == 200
    assert count(app, Run) == 0


def test_a_stored_run_whose_event_has_no_handler_is_skipped_with_the_reason(store: Store):
    run_id = store.accept(TicketEvent("zendesk", "ticket_merged", "3")).run_id

    class Worker:  # only what the dispatch reads before it finds no handler
        settings = web_settings("sqlite://", "redis://127.0.0.1:1/0")
        clock = staticmethod(lambda: datetime.now().astimezone())

    Worker.store = store
    assert process_run(run_id, Worker) == RunStatus.SKIPPED
    run = store.get(run_id)
    assert run.status == RunStatus.SKIPPED and "no handler for zendesk ticket_merged" in run.error
