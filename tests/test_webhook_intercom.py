"""Intercom webhook signature (`sign`, `verify`) and body parsing (`parse`, `IntercomWebhook`):
pure functions, on the real bodies in bot/helpdesks/intercom/fixtures and their variants."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug.datastructures import Headers

from bot.db.models import DELIVERY_ID_LENGTH, EVENT_ID_LENGTH, TICKET_ID_LENGTH
from bot.domain import ONCE_PER_TICKET, EventKind, TicketEvent
from bot.errors import IgnoredEvent, InvalidPayload
from bot.helpdesk_settings import IntercomSettings
from bot.helpdesks.base import SignatureError
from bot.helpdesks.intercom.webhook import SIGNATURE_HEADER, TOPICS, IntercomWebhook, parse, sign, verify
from tests.conftest import load_fixture

SECRET = "intercom-client-secret"
NOW = datetime(2026, 12, 5, 10, 3, 5, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parent.parent / "bot" / "helpdesks" / "intercom" / "fixtures"
CREATED_CLASSIC = "intercom/zulip__conversation_user_created.json"
CREATED_2X = "intercom/variant__conversation_user_created_2x_html_unicode.json"
CREATED_STRING_TIMES = "intercom/variant__conversation_user_created_string_times.json"
REPLIED_2X = "intercom/variant__conversation_user_replied_2x_two_parts.json"
CUSTOMER = "6762f0dd1bb69f9f2193bb83"


def expected_signature(secret: str, body: bytes) -> str:
    """Computed here, independently of `sign`: "sha1=" + hex HMAC-SHA1 of the raw body."""
    return "sha1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


def fixture_json(name: str) -> dict:
    return json.loads(load_fixture(name))


def dumps(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def receiver(admin_id: str = "991299", secret: str = SECRET) -> IntercomWebhook:
    return IntercomWebhook(IntercomSettings(access_token="t", client_secret=secret, admin_id=admin_id))


# --- the signature --------------------------------------------------------------------------


def test_sign_is_intercoms_hmac_sha1_of_the_raw_body():
    body = load_fixture(CREATED_CLASSIC)
    assert sign(SECRET, body) == expected_signature(SECRET, body)
    assert sign(SECRET, body).startswith("sha1=") and len(sign(SECRET, body)) == 5 + 40


@pytest.mark.parametrize("name", [CREATED_CLASSIC, CREATED_2X, REPLIED_2X])
def test_a_good_signature_is_accepted_whatever_the_header_case(name):
    body = load_fixture(name)
    verify(SECRET, {SIGNATURE_HEADER: expected_signature(SECRET, body)}, body)
    # Flask's Headers are case-insensitive; Intercom's own spelling, and a hex digest in capitals.
    verify(SECRET, Headers([("x-hub-signature", expected_signature(SECRET, body))]), body)
    upper = "sha1=" + expected_signature(SECRET, body)[5:].upper()
    receiver().verify(Headers([(SIGNATURE_HEADER, upper)]), body, NOW)


@pytest.mark.parametrize("headers, message", [
    ({}, "missing X-Hub-Signature"),
    ({SIGNATURE_HEADER: ""}, "missing X-Hub-Signature"),
    ({SIGNATURE_HEADER: "sha256=" + "0" * 64}, "not sha1=<40 hex digits>"),
    ({SIGNATURE_HEADER: "sha1=" + "g" * 40}, "not sha1=<40 hex digits>"),
    ({SIGNATURE_HEADER: "sha1=" + "0" * 39}, "not sha1=<40 hex digits>"),
    ({SIGNATURE_HEADER: "0" * 40}, "not sha1=<40 hex digits>"),
    ({SIGNATURE_HEADER: "sha1=" + "0" * 40}, "does not match"),
])
def test_a_missing_malformed_or_wrong_signature_is_refused(headers, message):
    with pytest.raises(SignatureError, match=message):
        verify(SECRET, headers, load_fixture(CREATED_2X))


def test_a_body_changed_after_signing_or_signed_with_another_secret_is_refused():
    body = load_fixture(REPLIED_2X)
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, {SIGNATURE_HEADER: expected_signature(SECRET, body)}, body + b" ")
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, {SIGNATURE_HEADER: expected_signature("another-secret", body)}, body)


def test_without_a_secret_every_delivery_is_refused():
    body = load_fixture(CREATED_2X)
    with pytest.raises(SignatureError, match="no Intercom client secret"):
        verify("", {SIGNATURE_HEADER: expected_signature("", body)}, body)
    with pytest.raises(SignatureError, match="no Intercom client secret"):
        receiver(secret="").verify({SIGNATURE_HEADER: expected_signature("", body)}, body, NOW)


# --- the events processed ---------------------------------------------------------------------


def test_a_classic_conversation_user_created_is_a_creation_once_per_conversation():
    event = parse(load_fixture(CREATED_CLASSIC), {})
    assert event == TicketEvent(
        helpdesk="intercom",
        kind=EventKind.CREATED,
        ticket_id="21321941764",
        delivery_id="notif_3ac27816-d27c-45fd-a65a-bbaf021cf780",
        event_key=ONCE_PER_TICKET,
        actor_id="5c9553cb27e377f24eed49f7",  # the lead who wrote the first message
    )


def test_a_2x_conversation_user_created_with_html_and_non_ascii_text():
    event = parse(load_fixture(CREATED_2X), {})
    assert (event.kind, event.ticket_id, event.event_key, event.actor_id) == (
        EventKind.CREATED, "1911149811", ONCE_PER_TICKET, CUSTOMER)
    assert event.delivery_id == "notif_6b0a3d5e-5f3c-4c9b-9a51-2f1d7e0c8a11"


def test_created_at_as_a_string_is_read_like_a_number():
    event = parse(load_fixture(CREATED_STRING_TIMES), {})
    assert fixture_json(CREATED_STRING_TIMES)["data"]["item"]["created_at"] == "1553290198"
    assert (event.kind, event.ticket_id, event.delivery_id) == (
        EventKind.CREATED, "21321941764", "notif_3ac27816-d27c-45fd-a65a-bbaf021cf781")


def test_a_reply_is_keyed_by_the_customers_newest_part():
    event = parse(load_fixture(REPLIED_2X), {})
    assert event == TicketEvent(
        helpdesk="intercom",
        kind=EventKind.CUSTOMER_REPLIED,
        ticket_id="1911149811",
        delivery_id="notif_0c9e6f1a-77d2-4a4e-8f0b-5b2e3c9d4f22",
        event_key="7004",  # of the customer's two parts (7003, 7004), the newer
        actor_id=CUSTOMER,
    )


def test_the_newest_customer_part_is_by_time_then_by_order_not_by_position():
    data = fixture_json(REPLIED_2X)
    parts = data["data"]["item"]["conversation_parts"]["conversation_parts"]
    parts[2]["created_at"], parts[3]["created_at"] = parts[3]["created_at"], parts[2]["created_at"]
    assert parse(dumps(data), {}).event_key == "7003"  # listed first, but newer
    parts[2]["created_at"] = str(parts[3]["created_at"])  # a tie (one as a string): the later listed
    assert parse(dumps(data), {}).event_key == "7004"
    for part in parts:  # a `lead` and a `contact` are customers too
        part["author"]["type"] = "lead" if part["id"] == "7003" else "admin"
    parts[2]["created_at"] = parts[3]["created_at"] + 1
    assert parse(dumps(data), {}).event_key == "7003"


def test_a_reply_without_customer_parts_is_keyed_by_updated_at_else_by_the_notification():
    data = fixture_json(REPLIED_2X)
    item = data["data"]["item"]
    item["conversation_parts"]["conversation_parts"] = []
    event = parse(dumps(data), {})
    assert (event.event_key, event.actor_id) == ("updated_at:1796464980", None)
    item["updated_at"] = "1796464980"
    assert parse(dumps(data), {}).event_key == "updated_at:1796464980"
    del item["updated_at"], item["conversation_parts"]
    assert parse(dumps(data), {}).event_key == data["id"]


def test_numbers_for_ids_are_written_in_decimal():
    data = fixture_json(REPLIED_2X)
    data["data"]["item"]["id"] = 1911149811
    data["data"]["item"]["conversation_parts"]["conversation_parts"][3]["id"] = 7004
    event = parse(dumps(data), {})
    assert (event.ticket_id, event.event_key) == ("1911149811", "7004")


def test_the_customer_topics_start_runs_and_teammates_topics_are_activity():
    assert {t: k for t, k in TOPICS.items() if k != EventKind.ACTIVITY} == {
        "conversation.user.created": EventKind.CREATED,
        "conversation.user.replied": EventKind.CUSTOMER_REPLIED}
    assert {"conversation.admin.replied", "conversation.admin.noted", "conversation.admin.assigned",
            "conversation.admin.closed", "conversation.rating.added"} <= {
        t for t, k in TOPICS.items() if k == EventKind.ACTIVITY}


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("hull__conversation-admin-*.json")))
def test_every_real_teammate_topic_is_activity_for_the_tracker(name):
    data = fixture_json(f"intercom/{name}")
    event = parse(load_fixture(f"intercom/{name}"), {})
    assert event.kind == EventKind.ACTIVITY
    assert event.ticket_id == str(data["data"]["item"]["id"])
    parts = data["data"]["item"]["conversation_parts"]["conversation_parts"]
    assert event.actor_id == str(parts[-1]["author"]["id"])  # the teammate, never the bot's admin


# --- what is ignored ----------------------------------------------------------------------------


def test_the_bots_own_note_is_not_activity():
    name = "intercom/hull__conversation-admin-noted.json"
    data = fixture_json(name)
    admin = str(data["data"]["item"]["conversation_parts"]["conversation_parts"][-1]["author"]["id"])
    with pytest.raises(IgnoredEvent, match="bot's own admin"):
        receiver(admin_id=admin).parse(load_fixture(name), {})


@pytest.mark.parametrize("name, message", [
    ("intercom/serverless_offline__ping.json", "^ping$"),  # its `id` is null: never read
    ("intercom/intercom_ruby__user_created.json", "topic not processed: 'user.created'"),
    ("intercom/variant__unknown_topic.json", "topic not processed: 'conversation.priority.updated'"),
])
def test_pings_and_other_topics_are_ignored(name, message):
    with pytest.raises(IgnoredEvent, match=message):
        parse(load_fixture(name), {})


def test_the_bots_own_admin_never_triggers_a_run():
    data = fixture_json(REPLIED_2X)
    for part in data["data"]["item"]["conversation_parts"]["conversation_parts"]:
        part["author"] = {"type": "user", "id": "991299"}  # whoever wrote it has the bot's id
    with pytest.raises(IgnoredEvent, match="bot's own admin"):
        receiver(admin_id="991299").parse(dumps(data), {})
    assert receiver(admin_id="").parse(dumps(data), {}).actor_id == "991299"  # no admin configured
    assert receiver().parse(load_fixture(REPLIED_2X), {}).actor_id == CUSTOMER
    assert receiver().name == "intercom"


# --- what is refused (400) ----------------------------------------------------------------------


@pytest.mark.parametrize("name, message", [
    ("intercom/variant__missing_item.json", "no `data.item` object"),
    ("intercom/variant__missing_id.json", "no `id`"),
])
def test_broken_fixtures_are_refused_with_their_reason(name, message):
    with pytest.raises(InvalidPayload, match=message):
        parse(load_fixture(name), {})


def changed(name: str = REPLIED_2X, **envelope) -> bytes:
    data = fixture_json(name)
    data.update(envelope)
    return dumps(data)


def with_item(**item) -> bytes:
    data = fixture_json(CREATED_2X)
    data["data"]["item"].update(item)
    return dumps(data)


@pytest.mark.parametrize("body, message", [
    (b"\xff\xfe", "not valid UTF-8 JSON"),
    (b"{not json", "not valid UTF-8 JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b"[" * 100_000 + b"]" * 100_000, "not valid UTF-8 JSON|nested too deeply"),
    (changed(type="event"), "not an Intercom notification: `type` is 'event'"),
    (changed(type=None), "not an Intercom notification"),
    (changed(topic=None), "no `topic`"),
    (changed(topic=7), "no `topic`"),
    (changed(id=""), "no `id`"),
    (changed(id={"a": 1}), "`id` must be a string id, got an object"),
    (changed(id="n" * (DELIVERY_ID_LENGTH + 1)), f"longer than {DELIVERY_ID_LENGTH}"),
    (changed(id="notif_\x00"), "control character U\\+0000"),
    (changed(data=[]), "no `data.item` object"),
    (changed(data={"item": "1911149811"}), "no `data.item` object"),
    (with_item(id=None), "conversation id\\) is missing"),
    (with_item(id=True), "conversation id\\) is missing"),
    (with_item(id=1.5), "must be a string id, got a non-integer number"),
    (with_item(id=""), "must be an Intercom conversation id"),
    (with_item(id="1" * (TICKET_ID_LENGTH + 1)), "must be an Intercom conversation id"),
    (with_item(id="19111\u00e9"), "must be an Intercom conversation id"),
    (with_item(id="1911\n149811"), "must be an Intercom conversation id"),
    (with_item(id="../admins"), "must be an Intercom conversation id"),
])
def test_bodies_that_cannot_be_stored_or_read_are_refused(body, message):
    with pytest.raises(InvalidPayload, match=message):
        parse(body, {})


def test_a_customer_part_id_that_cannot_be_stored_is_refused():
    data = fixture_json(REPLIED_2X)
    parts = data["data"]["item"]["conversation_parts"]["conversation_parts"]
    parts[3]["id"] = "p" * (EVENT_ID_LENGTH + 1)
    with pytest.raises(InvalidPayload, match=f"longer than {EVENT_ID_LENGTH}"):
        parse(dumps(data), {})
    parts[3]["id"] = " "
    with pytest.raises(InvalidPayload, match="empty `id`"):
        parse(dumps(data), {})


def test_edge_whitespace_around_ids_is_dropped():
    data = fixture_json(REPLIED_2X)
    data["id"] = "  notif_x\t"
    data["data"]["item"]["id"] = " 1911149811 "
    event = parse(dumps(data), {})
    assert (event.delivery_id, event.ticket_id) == ("notif_x", "1911149811")


@pytest.mark.parametrize("stamp", [float("inf"), float("nan"), 10**400, "soon", None, True])
def test_an_unreadable_updated_at_falls_back_to_the_notification_id(stamp):
    data = fixture_json(REPLIED_2X)
    data["data"]["item"]["conversation_parts"]["conversation_parts"] = []
    data["data"]["item"]["updated_at"] = stamp
    assert parse(dumps(data), {}).event_key == data["id"]
