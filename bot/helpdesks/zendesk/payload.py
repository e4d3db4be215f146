"""Zendesk's shapes, both ways: JSON -> domain values, and the one ticket update. Pure.

https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket
https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from bot.domain import Organization, PastTicket, Person, Ticket, TicketUpdate

# Zendesk has four priorities; ours has five (1 most urgent).
PRIORITY_TO_ZENDESK = {1: "urgent", 2: "high", 3: "normal", 4: "low", 5: "low"}


def update_payload(ticket: Ticket, update: TicketUpdate, keep: frozenset[str] = frozenset(),
                   draft_field_id: str = "") -> dict:
    """The body of `PUT /api/v2/tickets/{id}` (inside `{"ticket": ...}`).

    - `comment.public` is always sent: a new comment inherits the previous one's visibility
      when the key is absent, and the bot must never post publicly.
    - `tags` replaces the whole list, so the ticket's current tags are merged in.
    - `safe_update` + `updated_stamp`: Zendesk answers 409 instead of applying if anyone
      changed the ticket since we read it.
    `keep` names fields (priority, group_id) an agent changed meanwhile: they are left out.
    An update with no note (the overdue tag) has no comment; `draft_field_id` set: the draft
    goes into that ticket field too.
    """
    tags = list(dict.fromkeys([*ticket.tags, *update.add_tags]))
    payload: dict = {"tags": tags}
    if update.note:
        payload["comment"] = {"body": update.note, "public": False}
    if draft_field_id and update.draft:
        payload["custom_fields"] = [{"id": int(draft_field_id), "value": update.draft}]
    if ticket.updated_at:
        payload.update(safe_update=True, updated_stamp=ticket.updated_at)
    if update.priority is not None and "priority" not in keep:
        payload["priority"] = PRIORITY_TO_ZENDESK[update.priority]
    if update.group_id is not None and "group_id" not in keep:
        payload["group_id"] = update.group_id
    return payload


def parse_time(value: object) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _id(value: object) -> str | None:
    return None if value in (None, "", 0, "0") else str(value)


def ticket_from_json(data: dict) -> Ticket:
    return Ticket(
        id=str(data["id"]),
        subject=data.get("subject") or data.get("raw_subject") or "",
        description=data.get("description") or "",
        status=data.get("status") or "new",
        priority=data.get("priority"),
        group_id=data.get("group_id"),
        tags=tuple(data.get("tags") or ()),
        requester_id=_id(data.get("requester_id")),
        organization_id=_id(data.get("organization_id")),
        created_at=parse_time(data.get("created_at")),
        updated_at=data.get("updated_at"),
        custom_fields=custom_fields_from_json(data.get("custom_fields")),
    )


def custom_fields_from_json(items: object) -> dict[str, object]:
    """Ticket `custom_fields: [{"id": 123, "value": "x"}]` -> `{"123": "x"}`; entries whose value
    is null (a field nobody set) are left out. Values are kept as sent (string, number, bool,
    or a list for multi-select fields)."""
    out: dict[str, object] = {}
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and item.get("id") is not None and item.get("value") is not None:
            out[str(item["id"])] = item["value"]
    return out


def export_ticket_from_json(data: dict) -> Ticket | None:
    """One ticket of the incremental ticket export; None for a deleted one.

    The export lists deleted tickets too, with `status: "deleted"` ("Excluding deleted tickets"
    in https://developer.zendesk.com/documentation/ticketing/managing-tickets/using-the-incremental-export-api).
    Otherwise an exported ticket has the shape of a shown one (the spec's
    CursorBasedExportIncrementalTicketsResponse lists TicketObject items).
    """
    if data.get("status") == "deleted":
        return None
    return ticket_from_json(data)


def person_from_json(data: dict) -> Person:
    return Person(
        id=str(data["id"]),
        name=data.get("name") or "",
        email=data.get("email") or "",
        tags=tuple(data.get("tags") or ()),
        fields=dict(data.get("user_fields") or data.get("fields") or {}),
        organization_id=_id(data.get("organization_id")),
    )


def organization_from_json(data: dict) -> Organization:
    return Organization(
        id=str(data["id"]),
        name=data.get("name") or "",
        tags=tuple(data.get("tags") or ()),
        fields=dict(data.get("organization_fields") or data.get("fields") or {}),
    )


def past_ticket_from_json(data: dict) -> PastTicket:
    return PastTicket(
        id=str(data["id"]),
        subject=data.get("subject") or "",
        status=data.get("status") or "",
        created_at=parse_time(data.get("created_at")) or datetime.min.replace(tzinfo=UTC),
        tags=tuple(data.get("tags") or ()),
    )


def conversation_text(comments: Iterable[dict], requester_id: str | None, bot_user_id: str) -> str:
    """The public comments, oldest first, as the triage model reads a conversation: each headed
    by who wrote it and when, "Customer (2026-12-05 10:02):" or "Agent (...):", as Intercom's
    (`bot.helpdesks.intercom.payload`). Internal notes and the bot's own comments are left out."""
    blocks = []
    for comment in comments:
        author = str(comment.get("author_id") or "")
        text = (comment.get("plain_body") or comment.get("body") or "").strip()
        if not comment.get("public") or not text or (bot_user_id and author == bot_user_id):
            continue
        at = parse_time(comment.get("created_at"))
        label = "Customer" if author == (requester_id or "") else "Agent"
        blocks.append(f"{label}{f' ({at:%Y-%m-%d %H:%M})' if at else ''}:\n{text}")
    return "\n\n".join(blocks)
