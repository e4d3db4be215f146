"""Zendesk webhooks: verify the signature, parse the body into a `TicketEvent`. Pure: no I/O.

Zendesk sends two kinds of body to the same endpoint:
- event-subscription webhooks: a fixed envelope, `type: zen:event-type:ticket.created`, the ticket
  in `detail` with ids as strings;
  https://developer.zendesk.com/api-reference/webhooks/event-types/webhook-event-types/
- trigger webhooks: whatever JSON an admin wrote in the trigger action. The README gives the body
  to paste: `{"ticket_id": "{{ticket.id}}", "event": "created", "actor_id": "{{current_user.id}}"}`.

The ids that are stored (the ticket id, the event's `id`, the invocation id header) are checked
here against what their columns can hold, so that a delivery that could never be stored is a 400
(not retried) instead of a failed insert answered with a 503 that Zendesk retries forever.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.db.models import DELIVERY_ID_LENGTH, EVENT_ID_LENGTH
from bot.domain import EventKind, TicketEvent
from bot.errors import IgnoredEvent, InvalidPayload
from bot.helpdesk_settings import ZENDESK_TEST_SECRET
from bot.helpdesks.base import SignatureError, TestDelivery
from bot.helpdesks.ids import json_kind, stored_id

if TYPE_CHECKING:
    from bot.helpdesk_settings import ZendeskSettings
    from bot.helpdesks.base import Headers

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"

# Zendesk's "Test webhook" (Admin Center, `POST /api/v2/webhooks/test`) signs a webhook that is
# not created yet with this static secret, published in its verification guide:
# https://developer.zendesk.com/documentation/webhooks/verifying/ (the example's SIGNING_SECRET)
# https://developer.zendesk.com/documentation/webhooks/creating-and-monitoring-webhooks/
# It is public, so a body signed with it proves nothing: recognised to tell the admin the
# connection works, and never allowed to start a run (it is checked before the real secret,
# and Settings refuses it as ZENDESK_WEBHOOK_SECRET).
TEST_SIGNING_SECRET = ZENDESK_TEST_SECRET

EVENT_TYPE_PREFIX = "zen:event-type:"
# Event-subscription types, and trigger `event` values, mapped onto our event kinds. Everything
# after creation is activity: the tracker reads the ticket's audits (`bot.tracking`), which
# also tell a customer's reply (a re-triage) from an agent's and find `#ai` commands in notes.
# https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/
KINDS = {
    "ticket.created": EventKind.CREATED,
    "created": EventKind.CREATED,
    "ticket_created": EventKind.CREATED,
    **{name: EventKind.ACTIVITY for name in (
        "ticket.comment_added", "ticket.status_changed", "ticket.priority_changed",
        "ticket.group_assignment_changed", "ticket.agent_assignment_changed",
        "ticket.tags_changed", "ticket.custom_field_changed", "ticket.comment_made_private",
        # trigger bodies (README: the "AI tracking" trigger sends `"event": "updated"`)
        "updated", "ticket_updated", "activity", "comment_added", "rated", "solved",
    )},
}


class ZendeskWebhook:
    """`POST /webhooks/zendesk`: this module's `verify` and `parse` with the account's settings.
    Events the bot's own user caused (ZENDESK_BOT_USER_ID) are ignored: its note never starts
    a run."""

    name = "zendesk"

    def __init__(self, settings: ZendeskSettings, max_skew_seconds: int = 300):
        self._secret = settings.webhook_secret
        self._bot_user = settings.bot_user_id
        self._max_skew = max_skew_seconds

    def verify(self, headers: Headers, body: bytes, now: datetime) -> None:
        verify(self._secret, headers, body, now=now, max_skew_seconds=self._max_skew)

    def parse(self, body: bytes, headers: Headers) -> TicketEvent:
        event = parse(body, headers)
        if self._bot_user and event.actor_id == self._bot_user:
            raise IgnoredEvent(f"caused by the bot's own user (ticket {event.ticket_id})")
        return event


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, timestamp + body)), as Zendesk computes it.

    https://developer.zendesk.com/documentation/webhooks/verifying/ : the secret is used as
    given (not base64-decoded), the timestamp header is prepended to the raw body.
    """
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(
    secret: str,
    headers: Headers,
    body: bytes,
    now: datetime,
    max_skew_seconds: int = 300,
) -> None:
    """Raise `SignatureError` unless the delivery is signed with `secret` and fresh, and
    `TestDelivery` when it is signed with Zendesk's public test secret (fresh or not).

    Zendesk sends the timestamp in UTC with a `Z` (`2021-03-25T05:09:27Z`); one with another
    offset is converted, and one without any is taken as UTC (see `_parse_timestamp`).
    """
    if not secret:
        raise SignatureError("no webhook secret configured: refusing every delivery")
    signature = headers.get(SIGNATURE_HEADER, "")
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    if not signature or not timestamp:
        raise SignatureError("missing signature or timestamp header")
    if hmac.compare_digest(sign(TEST_SIGNING_SECRET, timestamp, body).encode(), signature.encode()):
        raise TestDelivery("signed with Zendesk's test secret (the Test webhook button)")
    sent_at = _parse_timestamp(timestamp)
    if sent_at is None:
        raise SignatureError("unreadable signature timestamp")
    # Zendesk documents no window; five minutes bounds how long a captured request replays.
    if abs((now - sent_at).total_seconds()) > max_skew_seconds:
        raise SignatureError("signature timestamp outside the allowed window")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode()):
        raise SignatureError("signature does not match")


def parse(body: bytes, headers: Headers) -> TicketEvent:
    """The delivery as a `TicketEvent`; `InvalidPayload` (400) or `IgnoredEvent` (200)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidPayload(f"body is not valid UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise InvalidPayload("body is nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidPayload("body must be a JSON object")
    delivery_id = _invocation_id(headers.get(INVOCATION_HEADER))
    # Only a `zen:event-type:` value makes an event subscription: a trigger body may carry a
    # `type` of its own (an admin adding `"type": "{{ticket.ticket_type}}"`, say).
    event_type = data.get("type")
    if isinstance(event_type, str) and event_type.startswith(EVENT_TYPE_PREFIX):
        return _parse_event_subscription(data, delivery_id)
    return _parse_trigger(data, delivery_id)


def _parse_event_subscription(data: dict, delivery_id: str | None) -> TicketEvent:
    event_type = str(data["type"])[len(EVENT_TYPE_PREFIX):]
    if not event_type.startswith("ticket."):
        raise IgnoredEvent(f"not a ticket event: {data['type']}")
    kind = KINDS.get(event_type)
    if kind is None:
        raise IgnoredEvent(f"ticket event not processed: {data['type']}")
    detail = data.get("detail")
    if not isinstance(detail, dict):
        raise InvalidPayload("event has no `detail` object")
    return TicketEvent(
        helpdesk="zendesk",
        kind=kind,
        ticket_id=_ticket_id(detail.get("id"), "detail.id"),
        delivery_id=delivery_id,
        event_id=stored_id(data.get("id"), "id", EVENT_ID_LENGTH),
        actor_id=_actor_id(detail.get("actor_id"), "detail.actor_id"),
    )


def _parse_trigger(data: dict, delivery_id: str | None) -> TicketEvent:
    if "ticket_id" not in data:
        raise InvalidPayload("body has no `ticket_id` (trigger body) nor an event `type`")
    ticket_id = _ticket_id(data["ticket_id"], "ticket_id")
    # A trigger body without `event` is taken as "created": each ticket is processed once
    # per kind, so an update trigger that omits it cannot cause a second run.
    raw_event = str(data.get("event") or "created").strip().lower()
    kind = KINDS.get(raw_event)
    if kind is None:
        raise IgnoredEvent(f"trigger event not processed: {raw_event!r}")
    return TicketEvent(
        helpdesk="zendesk",
        kind=kind,
        ticket_id=ticket_id,
        delivery_id=delivery_id,
        actor_id=_actor_id(data.get("actor_id"), "actor_id"),
    )


def _invocation_id(value: str | None) -> str | None:
    """The invocation id header (`8350205582` in Zendesk's docs), which deduplicates deliveries.

    HTTP gives a header as bytes and WSGI hands them over decoded as Latin-1 (PEP 3333), so a
    non-ASCII value arrives as a guess at characters, not as what the sender meant: it is
    refused, as is anything `_stored_id` refuses.
    https://developer.zendesk.com/documentation/webhooks/anatomy-of-a-webhook-request/
    https://peps.python.org/pep-3333/#unicode-issues
    """
    if value is not None and not value.isascii():
        raise InvalidPayload(f"`{INVOCATION_HEADER}` must be ASCII")
    return stored_id(value, INVOCATION_HEADER, DELIVERY_ID_LENGTH)


def _actor_id(value: object, where: str) -> str | None:
    """Who caused the event: only compared with ZENDESK_BOT_USER_ID, never stored, so any
    string will do; a JSON integer is written in decimal; any other JSON value is refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is not None and not isinstance(value, str):
        raise InvalidPayload(f"`{where}` must be a string or integer id, got {json_kind(value)}")
    return (value or "").strip() or None


MAX_ID = 2**63 - 1  # Zendesk ids are 64-bit integers; 19 digits fit `runs.ticket_id` (64)


def _ticket_id(value: object, where: str) -> str:
    # Zendesk ids are integers, sent as strings in event payloads and in trigger placeholders.
    if isinstance(value, bool) or value is None:
        raise InvalidPayload(f"`{where}` is missing")
    text = str(value).strip()
    # Length first: int() of thousands of digits is refused by Python itself.
    if not text.isascii() or not text.isdigit() or len(text) > 25 or not 0 < int(text) <= MAX_ID:
        raise InvalidPayload(f"`{where}` must be a positive 64-bit integer id, got {text[:40]!r}")
    return str(int(text))


def _parse_timestamp(value: str) -> datetime | None:
    """An ISO 8601 moment, aware; one written without an offset is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
