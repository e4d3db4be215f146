"""Zendesk webhook signature (`sign`, `verify`) and body parsing (`parse`): pure functions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.datastructures import Headers

from bot.domain import TicketEvent
from bot.errors import IgnoredEvent, InvalidPayload
from bot.webhooks.zendesk import (
    INVOCATION_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    parse,
    sign,
    verify,
)
from tests.conftest import WEBHOOK_SECRET, load_fixture, load_json_fixture

NOW = datetime(2025, 1, 8, 10, 12, 30, tzinfo=timezone.utc)
TICKET_CREATED = "zendesk/dust__event_ticket_created.json"
USER_EVENT = "zendesk/zendesk_docs__event_user_active_changed.json"
TRIGGER = "zendesk/zulip__trigger_ticket_create_update.json"


# --- builders -------------------------------------------------------------------------------


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def test_parse_other_ticket_event_type_is_ignored():
    data = ticket_event()
    data["type"] = "zen:event-type:ticket.status_changed"
    with pytest.raises(IgnoredEvent, match="status_changed"):
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


def test_parse_trigger_updated_event_is_ignored():
    with pytest.raises(IgnoredEvent, match="updated"):
        parse_obj({"ticket_id": "7", "event": "updated"})


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
