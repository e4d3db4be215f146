"""Intercom webhooks: verify the signature, parse the body into a `TicketEvent`. Pure: no I/O.

Every delivery is a notification envelope, whatever the topic:
`{"type": "notification_event", "topic": "conversation.user.replied", "id": "notif_...",
"data": {"type": "notification_event_data", "item": {<the conversation>}}, ...}`.
https://developers.intercom.com/docs/references/webhooks/webhook-models

- Signature: `X-Hub-Signature: sha1=<hex>`, an HMAC-SHA1 of the raw body keyed with the app's
  client secret. Intercom signs no timestamp, so a captured delivery could be replayed as is:
  what bounds a replay is the store, which accepts each notification id (`delivery_id`) and
  each event key once. https://developers.intercom.com/docs/webhooks/webhook-notifications
- Intercom waits 5 s for an answer and retries a failed delivery once, a minute later; the
  retry carries the same notification id. A 4xx is retried too, so a body refused here is
  refused twice, then dropped.
- `ping` (sent when the endpoint is saved, always subscribed) has `"id": null`: it is ignored
  before the id is read. Intercom also validates the URL with a HEAD request: the web tier's.
- The conversation in `data.item` has the shape of the app's API version: the classic one
  (`user`, `conversation_message`, `conversation_parts`) in the real bodies in `fixtures/`, the
  2.x one (`source`, `contacts`, `conversation_parts`) of the Conversation model in the spec.

Ids that are stored (the conversation id, the notification id, the event key) are checked here
against their columns, so that a body that could never be stored is a 400, as for Zendesk.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import datetime
from typing import TYPE_CHECKING

from bot.db.models import DELIVERY_ID_LENGTH, EVENT_ID_LENGTH, TICKET_ID_LENGTH
from bot.domain import ONCE_PER_TICKET, EventKind, TicketEvent
from bot.errors import IgnoredEvent, InvalidPayload
from bot.helpdesks.base import SignatureError
from bot.helpdesks.ids import json_kind, stored_id
from bot.helpdesks.intercom.payload import CUSTOMER_AUTHORS, conversation_parts, epoch_seconds, first_message

if TYPE_CHECKING:
    from bot.helpdesk_settings import IntercomSettings
    from bot.helpdesks.base import Headers

SIGNATURE_HEADER = "X-Hub-Signature"
ENVELOPE_TYPE = "notification_event"
PING = "ping"
# The topics processed, mapped onto our event kinds; any other is acknowledged and ignored
# (contacts, tickets...). Teammates' topics and ratings are activity: the tracker reads the
# conversation again (`bot.tracking`); a note may be an agent's `#ai` command.
# https://developers.intercom.com/docs/references/webhooks/webhook-models (topics)
TOPICS = {
    "conversation.user.created": EventKind.CREATED,
    "conversation.user.replied": EventKind.CUSTOMER_REPLIED,
    **{topic: EventKind.ACTIVITY for topic in (
        "conversation.admin.replied", "conversation.admin.noted", "conversation.admin.assigned",
        "conversation.admin.open.assigned", "conversation.admin.closed", "conversation.admin.opened",
        "conversation.admin.snoozed", "conversation.admin.unsnoozed", "conversation.rating.added",
    )},
}
_SIGNATURE = re.compile(r"sha1=([0-9a-fA-F]{40})")
# Conversation ids are digit strings ("21321941764"). Letters, "-" and "_" are let through in
# case that changes; nothing else, since the id goes into the API's URL paths.
_CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]+")


class IntercomWebhook:
    """`POST /webhooks/intercom`: this module's `verify` and `parse` with the app's settings.
    Events the bot's own admin (INTERCOM_ADMIN_ID) caused are ignored: its notes never start
    a run."""

    name = "intercom"

    def __init__(self, settings: IntercomSettings):
        self._secret = settings.client_secret
        self._admin_id = settings.admin_id

    def verify(self, headers: Headers, body: bytes, now: datetime) -> None:
        verify(self._secret, headers, body)  # `now` unused: Intercom signs no timestamp

    def parse(self, body: bytes, headers: Headers) -> TicketEvent:
        event = parse(body, headers)
        if self._admin_id and event.actor_id == self._admin_id:
            raise IgnoredEvent(f"caused by the bot's own admin (conversation {event.ticket_id})")
        return event


def sign(secret: str, body: bytes) -> str:
    """`sha1=` + hex(HMAC-SHA1(client secret, raw body)), as Intercom computes it."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def verify(secret: str, headers: Headers, body: bytes) -> None:
    """Raise `SignatureError` unless `X-Hub-Signature` is the body's HMAC with `secret`."""
    if not secret:
        raise SignatureError("no Intercom client secret configured: refusing every delivery")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not signature:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    match = _SIGNATURE.fullmatch(signature.strip())
    if match is None:
        raise SignatureError(f"{SIGNATURE_HEADER} is not sha1=<40 hex digits>")
    expected = sign(secret, body).removeprefix("sha1=")
    if not hmac.compare_digest(expected.encode(), match.group(1).lower().encode()):
        raise SignatureError("signature does not match")


def parse(body: bytes, headers: Headers | None = None) -> TicketEvent:
    """The delivery as a `TicketEvent`; `InvalidPayload` (400) or `IgnoredEvent` (200).
    `headers` are not read: everything Intercom says is in the body."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidPayload(f"body is not valid UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise InvalidPayload("body is nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidPayload("body must be a JSON object")
    if data.get("type") != ENVELOPE_TYPE:
        raise InvalidPayload(f"not an Intercom notification: `type` is {_short(data.get('type'))}, "
                             f"not {ENVELOPE_TYPE!r}")
    topic = data.get("topic")
    if not isinstance(topic, str) or not topic.strip():
        raise InvalidPayload("notification has no `topic`")
    if topic == PING:
        raise IgnoredEvent("ping")
    kind = TOPICS.get(topic)
    if kind is None:
        raise IgnoredEvent(f"topic not processed: {_short(topic)}")
    delivery_id = stored_id(data.get("id"), "id", DELIVERY_ID_LENGTH)
    if delivery_id is None:
        raise InvalidPayload("notification has no `id`")
    payload = data.get("data")
    item = payload.get("item") if isinstance(payload, dict) else None
    if not isinstance(item, dict):
        raise InvalidPayload("notification has no `data.item` object")
    ticket_id = _conversation_id(item.get("id"))
    if kind == EventKind.CREATED:
        event_key: str = ONCE_PER_TICKET
        actor = _author_id(first_message(item))
    elif kind == EventKind.ACTIVITY:  # not stored as an event: only marks the conversation
        parts = conversation_parts(item)
        event_key, actor = delivery_id, (_author_id(parts[-1]) if parts else None)
    else:
        event_key, actor = _reply_key(item, delivery_id)
    return TicketEvent(
        helpdesk="intercom",
        kind=kind,
        ticket_id=ticket_id,
        delivery_id=delivery_id,
        event_key=event_key,
        actor_id=actor,
    )


def _reply_key(item: dict, delivery_id: str) -> tuple[str, str | None]:
    """(event key, actor) of a customer's reply: the id of the customer's newest part, and its
    author. Without one (a notification whose item carries no customer part), the key is the
    conversation's `updated_at`, which names the reply as well and, unlike the notification
    id, is the same in a second notification of the same reply; failing that, the
    notification id, which at least is the same in Intercom's retry of the notification."""
    part = newest_customer_part(item)
    if part is not None:
        key = stored_id(part.get("id"), "conversation_parts[].id", EVENT_ID_LENGTH)
        if key is None:
            raise InvalidPayload("the customer's conversation part has an empty `id`")
        return key, _author_id(part)
    stamp = epoch_seconds(item.get("updated_at"))
    if stamp is None:
        return delivery_id, None
    return stored_id(f"updated_at:{stamp}", "data.item.updated_at", EVENT_ID_LENGTH) or delivery_id, None


def newest_customer_part(item: dict) -> dict | None:
    """The customer's newest part: the highest `created_at`, the later one in the list on a tie."""
    newest, newest_at = None, -1
    for part in conversation_parts(item):
        author = part.get("author")
        if isinstance(author, dict) and author.get("type") in CUSTOMER_AUTHORS and part.get("id") is not None:
            at = epoch_seconds(part.get("created_at"))
            at = -1 if at is None else at
            if at >= newest_at:
                newest, newest_at = part, at
    return newest


def _author_id(message: dict) -> str | None:
    author = message.get("author")
    value = author.get("id") if isinstance(author, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return (value.strip() or None) if isinstance(value, str) else None


def _conversation_id(value: object) -> str:
    if isinstance(value, bool) or value is None:
        raise InvalidPayload("`data.item.id` (the conversation id) is missing")
    if not isinstance(value, str | int):
        raise InvalidPayload(f"`data.item.id` must be a string id, got {json_kind(value)}")
    text = str(value).strip()
    if not text or len(text) > TICKET_ID_LENGTH or not text.isascii() or not _CONVERSATION_ID.fullmatch(text):
        raise InvalidPayload(
            f"`data.item.id` must be an Intercom conversation id (ASCII letters and digits, at most "
            f"{TICKET_ID_LENGTH} characters), got {text[:40]!r}"
        )
    return text


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
