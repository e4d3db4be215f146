"""An Intercom conversation as the tracker reads it (`bot.tracking.history`). Pure.

From one `GET /conversations/{id}` (at most its 500 newest parts): the opening message and every
part with a body are messages (notes are internal); `close` and `open` parts change the state;
a part whose `assigned_to` is a team changes the team; `conversation_rating` is the CSAT
(1..5; 4 and 5 count as good, as Intercom's own reports count "Great" and "Amazing").
https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/retrieveconversation
https://www.intercom.com/help/en/articles/3206-how-to-measure-customer-satisfaction-csat
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.helpdesks.intercom import payload as shapes
from bot.kb.text import html_to_text
from bot.tracking.history import Change, Field, Message, Rating, Role, TicketHistory

_EPOCH = datetime.fromtimestamp(0, tz=UTC)
OPENING_PARTS = frozenset({"open", "assign_and_reopen", "note_and_reopen", "unsnoozed"})
GOOD_RATINGS = frozenset({4, 5})


def history_from_conversation(data: dict, bot_admin_id: str) -> TicketHistory:
    ticket = shapes.ticket_from_conversation(data, bot_admin_id)
    messages: list[Message] = []
    opening = shapes.first_message(data)
    if opening:
        messages.append(_message(opening, str(opening.get("id") or f"{ticket.id}:source"),
                                 shapes.epoch_time(data.get("created_at")), bot_admin_id, public=True))
    changes: list[Change] = []
    status = "open"
    for part in shapes.conversation_parts(data):
        at = shapes.epoch_time(part.get("created_at")) or _EPOCH
        kind, who = _author(part)
        role = _role(kind, who, bot_admin_id)
        part_type = part.get("part_type")
        if (part.get("body") or "").strip():
            public = part_type not in shapes.NOTE_PARTS
            messages.append(_message(part, str(part.get("id") or ""), at, bot_admin_id, public=public))
        if part_type == "close" and status != "closed":
            changes.append(Change(Field.STATUS, at, who or None, role, "closed", status))
            status = "closed"
        elif part_type in OPENING_PARTS and status == "closed":
            changes.append(Change(Field.STATUS, at, who or None, role, "open", status))
            status = "open"
        assigned = part.get("assigned_to")
        if isinstance(assigned, dict) and assigned.get("type") == "team":
            team = str(assigned.get("id")) if assigned.get("id") not in (None, "", 0, "0") else None
            changes.append(Change(Field.GROUP, at, who or None, role, team))
    return TicketHistory(
        helpdesk="intercom",
        ticket_id=ticket.id,
        status=ticket.status,
        group_id=None if ticket.group_id is None else str(ticket.group_id),
        priority=ticket.priority,
        tags=ticket.tags,
        messages=tuple(messages),
        changes=tuple(changes),
        rating=_rating(data.get("conversation_rating")),
        requester_id=ticket.requester_id,
    )


def _message(part: dict, part_id: str, at: datetime | None, bot_admin_id: str, *, public: bool) -> Message:
    kind, who = _author(part)
    return Message(
        id=part_id,
        at=at or _EPOCH,
        author_id=who or None,
        role=_role(kind, who, bot_admin_id),
        public=public,
        text=html_to_text(part.get("body") or ""),
    )


def _author(part: dict) -> tuple[str, str]:
    author = part.get("author")
    if not isinstance(author, dict):
        return "", ""
    return str(author.get("type") or ""), str(author.get("id") or "")


def _role(kind: str, who: str, bot_admin_id: str) -> Role:
    if kind in shapes.CUSTOMER_AUTHORS:
        return Role.CUSTOMER
    if kind in ("admin", "team"):
        return Role.BOT if who and who == bot_admin_id else Role.AGENT
    return Role.SYSTEM  # `bot` (Fin, workflows, assignment rules)


def _rating(data: object) -> Rating | None:
    if not isinstance(data, dict):
        return None
    value = data.get("rating")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    score = int(value)
    return Rating(
        score=str(score),
        good=score in GOOD_RATINGS,
        comment=str(data.get("remark") or ""),
        # `created_at` is when the rating was requested; `updated_at`, when it was (last) given.
        at=shapes.epoch_time(data.get("updated_at") or data.get("created_at")),
    )
