"""Zendesk webhook signature (`sign`, `verify`) and body parsing (`parse`): pure functions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from werkzeug.datastructures import Headers

from bot.db.models import DELIVERY_ID_LENGTH, EVENT_ID_LENGTH, TICKET_ID_LENGTH, Delivery, Run
from bot.domain import EventKind, TicketEvent
from bot.errors import IgnoredEvent, InvalidPayload
from bot.helpdesks.zendesk.webhook import (
    INVOCATION_HEADER,
    MAX_ID,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    parse,
    sign,
    verify,
)
from tests.conftest import WEBHOOK_SECRET, load_fixture, load_json_fixture

NOW = datetime(2025, 1, 8, 10, 12, 30, tzinfo=UTC)
TICKET_CREATED = "zendesk/dust__event_ticket_created.json"
USER_EVENT = "zendesk/zendesk_docs__event_user_active_changed.json"
TRIGGER = "zendesk/zulip__trigger_ticket_create_update.json"


# --- builders -------------------------------------------------------------------------------


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Computed here, independently of `sign`: base64(HMAC-SHA256(secret, timestamp + body))."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def headers_for(
    body: bytes,
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: str | None = None,
    signature: str | None = None,
    invocation: str | None = "8350205582",
    lowercase: bool = True,
) -> Headers:
    """Headers as Flask hands them over; Zendesk sends the names in lower case."""
    timestamp = rfc3339(NOW) if timestamp is None else timestamp
    values = {
        SIGNATURE_HEADER: expected_signature(secret, timestamp, body) if signature is None else signature,
        TIMESTAMP_HEADER: timestamp,
    }
    if invocation is not None:
        values[INVOCATION_HEADER] = invocation
    return Headers([(k.lower() if lowercase else k, v) for k, v in values.items()])


def dumps(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def ticket_event(**detail_changes) -> dict:
    data = load_json_fixture(TICKET_CREATED)
    data["detail"].update(detail_changes)
    return data


def parse_obj(obj: object, invocation: str | None = "inv-1") -> TicketEvent:
    headers = Headers({INVOCATION_HEADER: invocation} if invocation else {})
    return parse(dumps(obj), headers)


# --- sign -------------------------------------------------------------------------------------


def test_sign_matches_independent_hmac_of_timestamp_then_body():
    body = load_fixture(TICKET_CREATED)
    timestamp = "2025-01-08T10:12:07Z"
    assert sign(WEBHOOK_SECRET, timestamp, body) == expected_signature(WEBHOOK_SECRET, timestamp, body)


def test_sign_uses_secret_as_raw_string_and_prepends_timestamp_without_separator():
    # The secret Zendesk uses for "test webhook" looks like base64 but is used as given.
    secret = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
    timestamp = "2021-03-25T05:09:27Z"
    body = b'{"ticket_id": "7"}'
    raw_key = hmac.new(secret.encode(), b'2021-03-25T05:09:27Z{"ticket_id": "7"}', hashlib.sha256)
    assert sign(secret, timestamp, body) == base64.b64encode(raw_key.digest()).decode()

    decoded_key = hmac.new(base64.b64decode(secret), timestamp.encode() + body, hashlib.sha256)
    body_first = hmac.new(secret.encode(), body + timestamp.encode(), hashlib.sha256)
    with_dot = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    for wrong in (decoded_key, body_first, with_dot):
        assert sign(secret, timestamp, body) != base64.b64encode(wrong.digest()).decode()


def test_sign_of_empty_body_signs_the_timestamp_alone():
    timestamp = "2021-03-25T05:09:27Z"
    mac = hmac.new(b"s3cret", timestamp.encode(), hashlib.sha256)
    assert sign("s3cret", timestamp, b"") == base64.b64encode(mac.digest()).decode()


# --- verify -----------------------------------------------------------------------------------


@pytest.mark.parametrize("lowercase", [True, False])
def test_verify_accepts_a_good_signature_with_any_header_case(lowercase):
    body = load_fixture(TICKET_CREATED)
    verify(WEBHOOK_SECRET, headers_for(body, lowercase=lowercase), body, now=NOW)


def test_verify_accepts_timestamp_inside_window():
    body = b'{"ticket_id": "7"}'
    timestamp = rfc3339(NOW - timedelta(minutes=4))
    verify(WEBHOOK_SECRET, headers_for(body, timestamp=timestamp), body, now=NOW)


def test_verify_rejects_wrong_secret():
    body = load_fixture(TICKET_CREATED)
    with pytest.raises(SignatureError):
        verify(WEBHOOK_SECRET, headers_for(body, secret="another-secret"), body, now=NOW)


def test_verify_rejects_body_tampered_by_one_byte():
    body = load_fixture(TICKET_CREATED)
    headers = headers_for(body)
    tampered = body.replace(b'"5158"', b'"5159"')
    assert len(tampered) == len(body) and tampered != body
    with pytest.raises(SignatureError):
        verify(WEBHOOK_SECRET, headers, tampered, now=NOW)


def test_verify_rejects_tampered_timestamp():
    body = load_fixture(TICKET_CREATED)
    good = headers_for(body)
    shifted = rfc3339(NOW - timedelta(seconds=1))  # still fresh, but not what was signed
    headers = headers_for(body, timestamp=shifted, signature=good[SIGNATURE_HEADER])
    with pytest.raises(SignatureError):
        verify(WEBHOOK_SECRET, headers, body, now=NOW)


@pytest.mark.parametrize("missing", [SIGNATURE_HEADER, TIMESTAMP_HEADER])
def test_verify_rejects_missing_header(missing):
    body = load_fixture(TICKET_CREATED)
    headers = headers_for(body)
    del headers[missing]
    with pytest.raises(SignatureError):
        verify(WEBHOOK_SECRET, headers, body, now=NOW)


def test_verify_fails_closed_without_a_secret():
    # Even a request "signed" with the empty key must be refused.
    body = load_fixture(TICKET_CREATED)
    with pytest.raises(SignatureError):
        verify("", headers_for(body, secret=""), body, now=NOW)


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_verify_rejects_stale_or_future_timestamp(offset):
    body = load_fixture(TICKET_CREATED)
    timestamp = rfc3339(NOW + offset)
    headers = headers_for(body, timestamp=timestamp)  # correctly signed, just not fresh
    with pytest.raises(SignatureError, match="window"):
        verify(WEBHOOK_SECRET, headers, body, now=NOW)


@pytest.mark.parametrize("timestamp", ["yesterday", "1616649000x", "2021-13-45T99:00:00Z"])
def test_verify_rejects_unparseable_timestamp(timestamp):
    body = load_fixture(TICKET_CREATED)
    headers = headers_for(body, timestamp=timestamp)  # signature valid for that string
    with pytest.raises(SignatureError):
        verify(WEBHOOK_SECRET, headers, body, now=NOW)


@pytest.mark.parametrize("cut", [1, 10])
def test_verify_rejects_signature_of_different_length(cut):
    body = load_fixture(TICKET_CREATED)
    good = expected_signature(WEBHOOK_SECRET, rfc3339(NOW), body)
    for signature in (good[:-cut], good + "A" * cut):
        with pytest.raises(SignatureError):
            verify(WEBHOOK_SECRET, headers_for(body, signature=signature), body, now=NOW)


# --- parse: the real fixtures ---------------------------------------------------------------


def test_parse_event_subscription_ticket_created():
    body = load_fixture(TICKET_CREATED)
    event = parse(body, Headers({INVOCATION_HEADER.lower(): "8350205582"}))
    assert event == TicketEvent(
        helpdesk="zendesk",
        kind="created",
        ticket_id="5158",
        delivery_id="8350205582",
        event_id="cbe4028c-7239-495d-b020-f22348516046",
        actor_id="8447388090494",
    )


def test_parse_user_event_is_ignored():
    with pytest.raises(IgnoredEvent, match="user.active_changed"):
        parse(load_fixture(USER_EVENT), Headers())


def test_parse_trigger_body_without_event_is_created():
    event = parse(load_fixture(TRIGGER), Headers({INVOCATION_HEADER: "inv-7"}))
    assert (event.kind, event.ticket_id, event.delivery_id) == ("created", "7", "inv-7")
    assert event.event_id is None and event.actor_id is None


def test_parse_missing_invocation_header_gives_no_delivery_id():
    assert parse(load_fixture(TICKET_CREATED), Headers()).delivery_id is None
    assert parse(load_fixture(TRIGGER), Headers()).delivery_id is None


# --- parse: event-subscription variants -----------------------------------------------------


@pytest.mark.parametrize("name", ["comment_added", "status_changed", "priority_changed",
                                  "group_assignment_changed", "agent_assignment_changed", "tags_changed"])
def test_parse_follow_up_ticket_events_are_activity_for_the_tracker(name):
    data = ticket_event()
    data["type"] = f"zen:event-type:ticket.{name}"
    event = parse_obj(data)
    assert (event.kind, event.ticket_id) == (EventKind.ACTIVITY, str(data["detail"]["id"]))


def test_parse_other_ticket_event_type_is_ignored():
    data = ticket_event()
    data["type"] = "zen:event-type:ticket.form_changed"
    with pytest.raises(IgnoredEvent, match="form_changed"):
        parse_obj(data)


def test_parse_event_without_detail_is_invalid():
    data = ticket_event()
    del data["detail"]
    with pytest.raises(InvalidPayload, match="detail"):
        parse_obj(data)


def test_parse_detail_without_id_is_invalid():
    data = ticket_event()
    del data["detail"]["id"]
    with pytest.raises(InvalidPayload, match="detail.id"):
        parse_obj(data)


@pytest.mark.parametrize(
    "bad_id",
    ["abc", "51a8", "-5158", "0", "000", 0, -3, 5158.0, "5158.0", True, False, "", "  ",
     "５１５８", "٥١٥٨", None],
)
def test_parse_rejects_ids_that_are_not_positive_integers(bad_id):
    with pytest.raises(InvalidPayload, match="detail.id"):
        parse_obj(ticket_event(id=bad_id))


@pytest.mark.parametrize("given, expected", [(5158, "5158"), ("007", "7"), (7, "7"), (" 42 ", "42")])
def test_parse_accepts_and_normalises_numeric_ids(given, expected):
    assert parse_obj(ticket_event(id=given)).ticket_id == expected


@pytest.mark.parametrize("digits", [20, 65])
def test_parse_rejects_ids_longer_than_a_zendesk_id(digits):
    with pytest.raises(InvalidPayload):
        parse_obj(ticket_event(id="9" * digits))


def test_parse_rejects_huge_id_without_crashing():
    with pytest.raises(InvalidPayload):
        parse_obj(ticket_event(id="9" * 5000))


def test_parse_keeps_html_and_non_ascii_text_in_detail():
    data = ticket_event(
        subject="Rückerstattung für Bestellung 日本",
        description="<script>alert(1)</script><b>Bitte</b> – ¿qué pasó? 😀",
    )
    body = dumps(data)
    assert "日本".encode() in body  # really sent as UTF-8, not \u escapes
    event = parse(body, Headers())
    assert (event.kind, event.ticket_id) == ("created", "5158")


def test_parse_event_without_envelope_id_has_no_event_id():
    data = ticket_event()
    del data["id"]
    assert parse_obj(data).event_id is None


def test_parse_event_without_actor_has_no_actor_id():
    data = ticket_event()
    del data["detail"]["actor_id"]
    assert parse_obj(data).actor_id is None


# --- parse: trigger variants ----------------------------------------------------------------


def test_parse_trigger_with_unrendered_placeholder_is_invalid():
    body = {"ticket_id": "{{ticket.id}}", "event": "created", "actor_id": "{{current_user.id}}"}
    with pytest.raises(InvalidPayload, match="ticket_id"):
        parse_obj(body)


def test_parse_trigger_updated_event_is_activity_and_unknown_ones_are_ignored():
    assert parse_obj({"ticket_id": "7", "event": "updated"}).kind == EventKind.ACTIVITY
    with pytest.raises(IgnoredEvent, match="merged"):
        parse_obj({"ticket_id": "7", "event": "merged"})


@pytest.mark.parametrize("event", ["Created", "CREATED", " created ", "ticket_created"])
def test_parse_trigger_created_event_any_case(event):
    parsed = parse_obj({"ticket_id": "7", "event": event, "actor_id": " 12 "})
    assert (parsed.kind, parsed.ticket_id, parsed.actor_id) == ("created", "7", "12")


def test_parse_trigger_with_int_ticket_id():
    assert parse_obj({"ticket_id": 7}).ticket_id == "7"


def test_parse_trigger_without_ticket_id_is_invalid():
    data = load_json_fixture(TRIGGER)
    del data["ticket_id"]
    with pytest.raises(InvalidPayload, match="ticket_id"):
        parse_obj(data)


# --- parse: bodies that are not a JSON object -----------------------------------------------


@pytest.mark.parametrize(
    "body, message",
    [
        (b"ticket_id=7", "JSON"),
        (b"", "JSON"),
        (b'{"ticket_id": "7"', "JSON"),
        (b'[{"ticket_id": "7"}]', "object"),
        (b'"7"', "object"),
        (b"null", "object"),
        (b'{"ticket_id": "7", "note": "\xff\xfe"}', "UTF-8"),
    ],
)
def test_parse_rejects_bodies_that_are_not_a_json_object(body, message):
    with pytest.raises(InvalidPayload, match=message) as info:
        parse(body, Headers())
    assert str(info.value)  # the message is returned to the caller in the 400


def test_parse_rejects_deeply_nested_json_without_crashing():
    with pytest.raises(InvalidPayload):
        parse(b"[" * 100_000 + b"]" * 100_000, Headers())


# --- parse: the 64-bit bound of ticket ids --------------------------------------------------


@pytest.mark.parametrize("given", [MAX_ID, str(MAX_ID)])
def test_parse_accepts_the_largest_64_bit_id(given):
    assert parse_obj(ticket_event(id=given)).ticket_id == "9223372036854775807"
    assert parse_obj({"ticket_id": given}).ticket_id == "9223372036854775807"


@pytest.mark.parametrize("given", [2**63, str(2**63), 2**64 - 1, str(2**64), 0, "0"])
def test_parse_refuses_ids_past_64_bits_and_zero(given):
    with pytest.raises(InvalidPayload, match="positive 64-bit integer id"):
        parse_obj(ticket_event(id=given))
    with pytest.raises(InvalidPayload, match="positive 64-bit integer id"):
        parse_obj({"ticket_id": given})


def test_every_accepted_ticket_id_fits_its_column():
    assert len(str(MAX_ID)) <= TICKET_ID_LENGTH == Run.__table__.c.ticket_id.type.length


# --- parse: a trigger body with a `type` of its own -------------------------------------------


@pytest.mark.parametrize(
    "type_value",
    ["question", "", "ticket.created", "zen:event-type", None, 7,
     ["zen:event-type:ticket.created"]],
)
def test_parse_trigger_body_with_a_type_key_is_still_a_trigger(type_value):
    # An admin may add `"type": "{{ticket.ticket_type}}"`: that does not make it an event.
    event = parse_obj({"ticket_id": "5", "type": type_value, "actor_id": "12"})
    assert event == TicketEvent(
        helpdesk="zendesk", kind="created", ticket_id="5", delivery_id="inv-1", actor_id="12"
    )


# --- parse: ids that are stored must fit their columns as sent ---------------------------------


def ascii_body(obj: object) -> bytes:
    """JSON with \\u escapes: the only way a lone surrogate can be in a valid body."""
    return json.dumps(obj, ensure_ascii=True).encode("ascii")


def event_with_id(event_id: object) -> dict:
    data = ticket_event()
    data["id"] = event_id
    return data


def test_id_lengths_are_the_columns_lengths():
    assert Run.__table__.c.event_id.type.length == EVENT_ID_LENGTH
    assert Delivery.__table__.c.delivery_id.type.length == DELIVERY_ID_LENGTH


@pytest.mark.parametrize(
    "event_id, message",
    [
        ("e" * (EVENT_ID_LENGTH + 1), f"longer than {EVENT_ID_LENGTH} characters"),
        ("é" * (EVENT_ID_LENGTH + 1), f"longer than {EVENT_ID_LENGTH} characters"),
        (" " + "e" * (EVENT_ID_LENGTH + 1) + " ", f"longer than {EVENT_ID_LENGTH} characters"),
        ("cbe4028c\x00-7239", "control character U+0000"),
        ("\x00", "control character U+0000"),
        ("cbe4028c\n7239", "control character U+000A"),
        ("\x1b[2Jcbe4028c", "control character U+001B"),
        ("cbe4028c\x7f", "control character U+007F"),
        ("cbe4028c\x85", "control character U+0085"),
        ("\ud800", "lone surrogate U+D800"),
        ("cbe4028c\udfff", "lone surrogate U+DFFF"),
        ({"id": "cbe4028c"}, "must be a string id, got an object"),
        (["cbe4028c"], "must be a string id, got an array"),
        (True, "must be a string id, got a boolean"),
        (1.5, "must be a string id, got a non-integer number"),
        (10**(EVENT_ID_LENGTH), f"longer than {EVENT_ID_LENGTH} characters"),
    ],
)
def test_parse_refuses_an_event_id_that_cannot_be_stored(event_id, message):
    with pytest.raises(InvalidPayload, match=re.escape(message)) as info:
        parse(ascii_body(event_with_id(event_id)), Headers({INVOCATION_HEADER: "inv-1"}))
    assert str(info.value).startswith("`id`")  # says which id


@pytest.mark.parametrize(
    "event_id, stored",
    [
        ("e" * EVENT_ID_LENGTH, "e" * EVENT_ID_LENGTH),
        ("é" * EVENT_ID_LENGTH, "é" * EVENT_ID_LENGTH),  # PostgreSQL counts characters
        ("  cbe4028c\t\r\n", "cbe4028c"),  # surrounding JSON whitespace is dropped
        ("cbe4028c 7239", "cbe4028c 7239"),  # inner space is kept
        ("\U0001F600", "\U0001F600"),  # a surrogate *pair* is one character
        (5158, "5158"),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_parse_keeps_an_event_id_as_it_will_be_stored(event_id, stored):
    assert parse(ascii_body(event_with_id(event_id)), Headers()).event_id == stored


@pytest.mark.parametrize(
    "invocation, message",
    [
        ("i" * (DELIVERY_ID_LENGTH + 1), f"longer than {DELIVERY_ID_LENGTH} characters"),
        ("8350205582\x00", "control character U+0000"),
        ("8350\x1b205582", "control character U+001B"),
        ("\ud800", "ASCII"),
        # What WSGI hands over for the UTF-8 bytes of "inv-日" or of a lone surrogate: Latin-1.
        ("inv-日".encode().decode("latin-1"), "ASCII"),
        (b"inv-\xed\xa0\x80".decode("latin-1"), "ASCII"),
        ("inv-é", "ASCII"),
    ],
)
def test_parse_refuses_an_invocation_id_that_cannot_be_stored(invocation, message):
    for body in (load_fixture(TICKET_CREATED), load_fixture(TRIGGER)):
        with pytest.raises(InvalidPayload, match=re.escape(message)) as info:
            parse(body, Headers({INVOCATION_HEADER: invocation}))
        assert INVOCATION_HEADER in str(info.value)


@pytest.mark.parametrize(
    "invocation, stored",
    [
        ("i" * DELIVERY_ID_LENGTH, "i" * DELIVERY_ID_LENGTH),
        (" 8350205582\t", "8350205582"),
        ("", None),
    ],
)
def test_parse_keeps_an_invocation_id_as_it_will_be_stored(invocation, stored):
    headers = Headers({INVOCATION_HEADER: invocation})
    assert parse(load_fixture(TRIGGER), headers).delivery_id == stored


# --- parse: the actor id is only compared, never stored ---------------------------------------


@pytest.mark.parametrize(
    "actor, compared",
    [
        ("8447388090494", "8447388090494"),
        (8447388090494, "8447388090494"),
        (" 12 ", "12"),
        ("\ud800", "\ud800"),  # odd, but harmless: it is compared, not stored
        ("a" * 1000, "a" * 1000),
        ("", None),
        (None, None),
    ],
)
def test_parse_actor_id_is_any_string_or_integer(actor, compared):
    assert parse(ascii_body({"ticket_id": "5", "actor_id": actor}), Headers()).actor_id == compared
    data = ticket_event(actor_id=actor)
    assert parse(ascii_body(data), Headers()).actor_id == compared


@pytest.mark.parametrize("actor", [{"id": 1}, [1], True, 1.5])
def test_parse_refuses_an_actor_id_that_is_not_an_id(actor):
    with pytest.raises(InvalidPayload, match="`actor_id` must be a string or integer id"):
        parse(ascii_body({"ticket_id": "5", "actor_id": actor}), Headers())
    with pytest.raises(InvalidPayload, match="`detail.actor_id` must be a string or integer id"):
        parse(ascii_body(ticket_event(actor_id=actor)), Headers())


# --- verify: a timestamp without a time zone is UTC -----------------------------------------


def naive(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def local_time_zone_far_from_utc():
    """The process's local time zone set to UTC+05:30, so that "local" cannot pass for UTC."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "IST-05:30"  # POSIX form: needs no tz database
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(minutes=-4), timedelta(minutes=4)])
def test_verify_takes_a_timestamp_without_time_zone_as_utc(local_time_zone_far_from_utc, offset):
    body = b'{"ticket_id": "7"}'
    timestamp = naive(NOW + offset)
    assert "Z" not in timestamp and "+" not in timestamp
    verify(WEBHOOK_SECRET, headers_for(body, timestamp=timestamp), body, now=NOW)


@pytest.mark.parametrize(
    "offset", [timedelta(minutes=-6), timedelta(minutes=6), timedelta(hours=5, minutes=30)]
)
def test_verify_refuses_a_stale_timestamp_without_time_zone(local_time_zone_far_from_utc, offset):
    body = b'{"ticket_id": "7"}'
    headers = headers_for(body, timestamp=naive(NOW + offset))  # correctly signed, not fresh
    with pytest.raises(SignatureError, match="window"):
        verify(WEBHOOK_SECRET, headers, body, now=NOW)


def test_verify_converts_a_timestamp_with_another_offset():
    body = b'{"ticket_id": "7"}'
    in_new_york = NOW.astimezone(timezone(timedelta(hours=-5))).isoformat(timespec="seconds")
    verify(WEBHOOK_SECRET, headers_for(body, timestamp=in_new_york), body, now=NOW)
