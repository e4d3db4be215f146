"""A Zendesk ticket as the tracker reads it (`bot.tracking.history`). Pure.

From the ticket (`GET /api/v2/tickets/{id}`: status, group, priority, tags, the current
satisfaction rating) and its audits (`GET /api/v2/tickets/{id}/audits?include=users`, oldest
first): every `Comment` event is a message (`public: false` is an internal note), every
`Change` or `Create` of status, group, priority, assignee or tags is a change by the audit's
author, and a `SatisfactionRating` event dates the rating.
https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_audits/
https://developer.zendesk.com/documentation/ticketing/reference-guides/ticket-audit-events-reference/

Who is a customer: the sideloaded user's role (`end-user`); without it, the requester. An
audit made by a trigger or automation (`via.channel: rule`) or by Zendesk itself (author -1)
is the system's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from bot.helpdesks.zendesk.payload import parse_time
from bot.kb.text import html_to_text
from bot.tracking.history import Change, Field, Message, Rating, Role, TicketHistory

_EPOCH = datetime.fromtimestamp(0, tz=UTC)
FIELDS = {
    "status": Field.STATUS,
    "group_id": Field.GROUP,
    "priority": Field.PRIORITY,
    "assignee_id": Field.ASSIGNEE,
    "tags": Field.TAGS,
}
SYSTEM_CHANNELS = frozenset({"rule", "system"})


def history_from_audits(
    ticket: Mapping, audits: Iterable[Mapping], users: Mapping[str, Mapping], bot_user_id: str
) -> TicketHistory:
    ticket_id = str(ticket["id"])
    requester = _id(ticket.get("requester_id"))
    messages: list[Message] = []
    changes: list[Change] = []
    rated_at: datetime | None = None
    for audit in audits:
        at = parse_time(audit.get("created_at")) or _EPOCH
        actor = _id(audit.get("author_id"))
        via = audit.get("via") if isinstance(audit.get("via"), Mapping) else {}
        system = (via or {}).get("channel") in SYSTEM_CHANNELS or actor in (None, "-1")
        for event in audit.get("events") or ():
            if not isinstance(event, Mapping):
                continue
            kind = event.get("type")
            if kind == "Comment":
                author = _id(event.get("author_id")) or actor
                messages.append(Message(
                    id=str(event.get("id") or ""),
                    at=at,
                    author_id=author,
                    role=_role(author, users, requester, bot_user_id, system=False),
                    public=bool(event.get("public")),
                    text=_text(event),
                ))
            elif kind in ("Change", "Create") and event.get("field_name") in FIELDS:
                changes.append(Change(
                    field=FIELDS[str(event["field_name"])],
                    at=at,
                    actor_id=actor,
                    role=Role.SYSTEM if system else _role(actor, users, requester, bot_user_id, system=False),
                    value=_value(event.get("value")),
                    previous=_value(event.get("previous_value")),
                ))
            elif kind == "SatisfactionRating":
                rated_at = at
    return TicketHistory(
        helpdesk="zendesk",
        ticket_id=ticket_id,
        status=str(ticket.get("status") or "new"),
        group_id=_id(ticket.get("group_id")),
        priority=ticket.get("priority") or None,
        tags=tuple(ticket.get("tags") or ()),
        messages=tuple(messages),
        changes=tuple(changes),
        rating=_rating(ticket.get("satisfaction_rating"), rated_at),
        requester_id=requester,
    )


def _role(user_id: str | None, users: Mapping[str, Mapping], requester: str | None,
          bot_user_id: str, *, system: bool) -> Role:
    if system or user_id in (None, "-1"):
        return Role.SYSTEM
    if bot_user_id and user_id == bot_user_id:
        return Role.BOT
    user = users.get(str(user_id))
    if user is not None and user.get("role"):
        return Role.CUSTOMER if user.get("role") == "end-user" else Role.AGENT
    return Role.CUSTOMER if user_id == requester else Role.AGENT


def _text(comment: Mapping) -> str:
    plain = comment.get("plain_body")
    if isinstance(plain, str) and plain:
        return plain
    return html_to_text(str(comment.get("html_body") or comment.get("body") or ""))


def _rating(data: object, at: datetime | None) -> Rating | None:
    """`good`/`bad` are ratings; `offered` and `unoffered` are not (yet)."""
    if not isinstance(data, Mapping) or data.get("score") not in ("good", "bad"):
        return None
    return Rating(score=str(data["score"]), good=data["score"] == "good",
                  comment=str(data.get("comment") or ""), at=at)


def _value(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def _id(value: object) -> str | None:
    return None if value in (None, "", 0, "0") or isinstance(value, bool) else str(value)
