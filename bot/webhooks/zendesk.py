"""Zendesk webhooks: verify the signature, parse the body into a `TicketEvent`. Pure: no I/O.

Zendesk sends two kinds of body to the same endpoint:
- event-subscription webhooks: a fixed envelope, `type: zen:event-type:ticket.created`, the ticket
  in `detail` with ids as strings;
  https://developer.zendesk.com/api-reference/webhooks/event-types/webhook-event-types/
- trigger webhooks: whatever JSON an admin wrote in the trigger action. The README gives the body
  to paste: `{"ticket_id": "{{ticket.id}}", "event": "created", "actor_id": "{{current_user.id}}"}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Mapping

from bot.domain import TicketEvent
from bot.errors import IgnoredEvent, InvalidPayload

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"

EVENT_TYPE_PREFIX = "zen:event-type:"
# Event-subscription types, and trigger `event` values, mapped onto our event kinds.
KINDS = {"ticket.created": "created", "created": "created", "ticket_created": "created"}


class SignatureError(Exception):
    """Why a delivery was refused; the message is logged, never sent back in detail."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, timestamp + body)), as Zendesk computes it.

    https://developer.zendesk.com/documentation/webhooks/verifying/ : the secret is used as
    given (not base64-decoded), the timestamp header is prepended to the raw body.
    """
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    max_skew_seconds: int = 300,
) -> None:
    """Raise `SignatureError` unless the delivery is signed with `secret` and fresh."""
    if not secret:
        raise SignatureError("no webhook secret configured: refusing every delivery")
    signature = headers.get(SIGNATURE_HEADER, "")
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    if not signature or not timestamp:
        raise SignatureError("missing signature or timestamp header")
    sent_at = _parse_timestamp(timestamp)
    if sent_at is None:
        raise SignatureError("unreadable signature timestamp")
    # Zendesk documents no window; five minutes bounds how long a captured request replays.
    if abs((now - sent_at).total_seconds()) > max_skew_seconds:
        raise SignatureError("signature timestamp outside the allowed window")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode()):
        raise SignatureError("signature does not match")


def parse(body: bytes, headers: Mapping[str, str]) -> TicketEvent:
    """The delivery as a `TicketEvent`; `InvalidPayload` (400) or `IgnoredEvent` (200)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidPayload(f"body is not valid UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise InvalidPayload("body is nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidPayload("body must be a JSON object")
    delivery_id = headers.get(INVOCATION_HEADER) or None
    if "type" in data and str(data["type"]).startswith(EVENT_TYPE_PREFIX):
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
        event_id=_optional_id(data.get("id")),
        actor_id=_optional_id(detail.get("actor_id")),
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
        actor_id=_optional_id(data.get("actor_id")),
    )


def _optional_id(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


MAX_ID = 2**63 - 1  # Zendesk ids are 64-bit integers


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
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed
